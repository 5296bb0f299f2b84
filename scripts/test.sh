#!/usr/bin/env bash
# README command 2: install, build, and pass every test: the Qt Test suites
# under ctest (GUI tests on the offscreen platform / Xvfb), then the libFuzzer
# targets (trace reader, pickle reader, analysis) for a bounded time each
# (VRAMSCOPE_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --preset release -j"$(nproc)" --timeout 600
fuzz_seconds="${VRAMSCOPE_FUZZ_SECONDS:-60}"
cmake --preset fuzz -DVRAMSCOPE_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build --preset fuzz -j"$(nproc)"
ctest --test-dir build-fuzz --output-on-failure -j"$(nproc)" --timeout $((fuzz_seconds + 120))
