#!/usr/bin/env bash
# Seed a fuzz target's corpus from the local real-backup fixtures and fuzz for a fixed time.
# See docs/fuzzing.md.
#
#   fuzz/run.sh [TARGET] [extra libFuzzer flags...]
#
# TARGET is a file name under fuzz/fuzz_targets/ without `.rs`: header_reader (the default),
# mtf_stream or set_verifier. If the first argument starts with `-`, it is a libFuzzer flag and the
# target is header_reader.
#
# Environment:
#   LRS_REAL_FIXTURES  folder of real .bak/.trn files (default: ../shared/fixtures/real,
#                      relative to the repository root)
#   FUZZ_SECONDS       run time in seconds (default: 600)
#   FUZZ_SANITIZER     cargo fuzz --sanitizer value (default: address; "none" also works)
#
# For mtf_stream, two small plain fixtures are also wrapped in ZSTD containers (the
# `zstd_container` example of lrs-backup) and added as seeds: no real ZSTD backup exists.
#
# The fixtures are not redistributable: they (and containers made from them) are copied only
# into fuzz/corpus/TARGET, which is gitignored. Never commit them.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

target="header_reader"
if [[ $# -gt 0 && "$1" != -* ]]; then
    target="$1"
    shift
fi
if [[ ! -f "fuzz/fuzz_targets/$target.rs" ]]; then
    echo "run.sh: unknown fuzz target '$target' (no fuzz/fuzz_targets/$target.rs)" >&2
    exit 2
fi

fixtures="${LRS_REAL_FIXTURES:-../shared/fixtures/real}"
seconds="${FUZZ_SECONDS:-600}"
sanitizer="${FUZZ_SANITIZER:-address}"
corpus="fuzz/corpus/$target"

# Add file $1 to the corpus under its SHA-1, like libFuzzer's own entries.
add_seed() {
    local hash
    hash="$(sha1sum "$1" | cut -d' ' -f1)"
    if [[ ! -e "$corpus/$hash" ]]; then
        cp "$1" "$corpus/$hash"
        chmod u+w "$corpus/$hash"
    fi
}

mkdir -p "$corpus"
if [[ -d "$fixtures" ]]; then
    seeded=0
    # Whole files (the largest is ~3.7 MB).
    while IFS= read -r -d '' f; do
        add_seed "$f"
        seeded=$((seeded + 1))
    done < <(find "$fixtures" -type f \( -iname '*.bak' -o -iname '*.trn' \) -print0)
    # The real-more fixtures beside them: SQL Server 2005 and 2012 layouts.
    if [[ -d "$fixtures/../real-more" ]]; then
        while IFS= read -r -d '' f; do
            add_seed "$f"
            seeded=$((seeded + 1))
        done < <(find "$fixtures/../real-more" -type f \( -iname '*.bak' -o -iname '*.trn' \) -print0)
    fi
    echo "run.sh: seeded $corpus from $seeded fixture files in $fixtures (and real-more)" >&2

    # Small forged chains in the 2005 and 2012 layouts (full, diff, log), plain and, for 2012,
    # XPRESS-compressed: the layouts whose final configuration block needs the fallbacks.
    forged="$(mktemp -d)"
    for variant in "2005 512 none" "2012 4096 none" "2012 4096 xpress"; do
        read -r layout block compress <<<"$variant"
        cargo run --quiet -p lrs -- forge chain --db Fuzz --out "$forged/$layout-$compress" \
            --layout "$layout" --block-size "$block" --compress "$compress" \
            --data-size 256KiB --log-size 64KiB --diffs 1 --logs 1 --checksum >/dev/null
    done
    while IFS= read -r -d '' f; do add_seed "$f"; done < <(find "$forged" -type f -print0)
    rm -rf "$forged"
    echo "run.sh: added forged 2005/2012 seeds to $corpus" >&2

    if [[ "$target" == mtf_stream ]]; then
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        for plain in \
            dataplat-appveyor-lab/sql2008-backups/dbareports/LOG/SQL2008_dbareports_LOG_20170518_041837.trn \
            dataplat-appveyor-lab/sql2008-backups/StopAt/StopAt_21.trn; do
            if [[ ! -f "$fixtures/$plain" ]]; then
                echo "run.sh: $fixtures/$plain not found; no ZSTD seed made from it" >&2
                continue
            fi
            out="$tmp/$(basename "$plain").zstd.bak"
            cargo run --quiet --release -p lrs-backup --example zstd_container -- \
                "$fixtures/$plain" "$out"
            add_seed "$out"
        done
        rm -rf "$tmp"
        trap - EXIT
        echo "run.sh: added ZSTD container seeds to $corpus" >&2
    fi
else
    echo "run.sh: fixture folder $fixtures not found; fuzzing with the existing corpus only" >&2
fi

# cargo fuzz uses unstable rustc flags (-Zsanitizer, -Cpasses=sancov-module, ...);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
cd fuzz
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --sanitizer "$sanitizer" "$target" -- \
    -max_len=4194304 \
    -timeout=30 \
    -workers=1 \
    -max_total_time="$seconds" \
    "$@"
