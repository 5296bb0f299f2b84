#!/usr/bin/env bash
# README command 2: install, build, and pass every test: the Qt Test suites
# under ctest (GUI tests on the offscreen platform / Xvfb), the capture-only
# build a GPU server without Qt makes, then the libFuzzer
# targets (trace reader, pickle reader, analysis) for a bounded time each
# (VRAMSCOPE_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --preset release -j"$(nproc)" --timeout 600
# The README's capture-only build (a GPU server without Qt) must keep building:
# the injector, vramscope-record, vramscope-attach and the samples, nothing of Qt.
cmake -S . -B build-capture -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF >/dev/null
cmake --build build-capture -j"$(nproc)"
fuzz_seconds="${VRAMSCOPE_FUZZ_SECONDS:-60}"
cmake --preset fuzz -DVRAMSCOPE_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build --preset fuzz -j"$(nproc)"
ctest --test-dir build-fuzz --output-on-failure -j"$(nproc)" --timeout $((fuzz_seconds + 120))
