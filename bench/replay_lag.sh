#!/usr/bin/env bash
# Issue #6: replay lag in continuous mode (upload of a log -> restored in restore details),
# p50/p99 over 50 logs, for the default 2 s poll interval and a short 0.1 s one.
# Needs azurite-blob on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lrs-bench --bin engine_bench
exec target/release/engine_bench replay-lag "$@"
