#!/usr/bin/env bash
# Issue #6: the first scan of a 10,000-file Azurite folder (requests and bytes per file, time
# to a built plan, against a bare listing), then the idle poll of that big folder.
# Needs azurite-blob on PATH (scripts/services/azurite.sh install). Options go to the bench,
# e.g. ./bench/first_scan.sh --files 2000; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lrs-bench --bin engine_bench
exec target/release/engine_bench first-scan "$@"
