#!/usr/bin/env bash
# Issues #6 and #7: memory per active job of `lrs serve` with 100 continuous migrations, and
# the p50/p99 latency of GET restoreDetails over HTTPS at a fixed rate (open loop) while they
# run; then wrk (closed loop) for the saturation throughput when wrk is installed.
# Needs azurite-blob on PATH; wrk optional (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lrs
cargo build --release -p lrs-bench --bin arm_bench
wrk_duration=0
if command -v wrk >/dev/null 2>&1; then wrk_duration=15; fi
exec target/release/arm_bench --lrs target/release/lrs --wrk-duration "$wrk_duration" "$@"
