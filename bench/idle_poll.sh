#!/usr/bin/env bash
# Issue #6: what each poll of an unchanged folder costs (requests, bytes, CPU), counted over
# N polls of a continuous job whose backups are all restored. Needs azurite-blob on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lrs-bench --bin engine_bench
exec target/release/engine_bench idle-poll "$@"
