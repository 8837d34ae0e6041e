#!/usr/bin/env bash
# Seed the header_reader corpus from the local real-backup fixtures and fuzz for a fixed time.
# See docs/fuzzing.md.
#
#   fuzz/run.sh [extra libFuzzer flags...]
#
# Environment:
#   LRS_REAL_FIXTURES  folder of real .bak/.trn files (default: ../shared/fixtures/real,
#                      relative to the repository root)
#   FUZZ_SECONDS       run time in seconds (default: 600)
#   FUZZ_SANITIZER     cargo fuzz --sanitizer value (default: address; "none" also works)
#
# The fixtures are not redistributable: they are copied only into fuzz/corpus/header_reader,
# which is gitignored. Never commit them.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

fixtures="${LRS_REAL_FIXTURES:-../shared/fixtures/real}"
seconds="${FUZZ_SECONDS:-600}"
sanitizer="${FUZZ_SANITIZER:-address}"
corpus="fuzz/corpus/header_reader"

mkdir -p "$corpus"
if [[ -d "$fixtures" ]]; then
    seeded=0
    # Whole files (the largest is ~3.7 MB), named by content hash like libFuzzer's own entries.
    while IFS= read -r -d '' f; do
        hash="$(sha1sum "$f" | cut -d' ' -f1)"
        if [[ ! -e "$corpus/$hash" ]]; then
            cp "$f" "$corpus/$hash"
            chmod u+w "$corpus/$hash"
        fi
        seeded=$((seeded + 1))
    done < <(find "$fixtures" -type f \( -iname '*.bak' -o -iname '*.trn' \) -print0)
    echo "run.sh: seeded $corpus from $seeded fixture files in $fixtures" >&2
else
    echo "run.sh: fixture folder $fixtures not found; fuzzing with the existing corpus only" >&2
fi

# cargo fuzz uses unstable rustc flags (-Zsanitizer, -Cpasses=sancov-module, ...);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
cd fuzz
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --sanitizer "$sanitizer" header_reader -- \
    -max_len=4194304 \
    -timeout=30 \
    -workers=1 \
    -max_total_time="$seconds" \
    "$@"
