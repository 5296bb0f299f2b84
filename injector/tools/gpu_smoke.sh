#!/usr/bin/env bash
# Quick check of a fresh build on a GPU machine: three samples under the
# injector, their counts, a SIGKILLed run. Prints "name key value" lines.
set -uo pipefail
build="${1:-build-gpu}"
export PATH=/usr/local/cuda/bin:$PATH
cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
  -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null 2>&1
cmake --build "$build" -j"$(nproc)" --target vramscope_inject vtrace_count vramscope_samples >/dev/null 2>&1 || exit 1
LIB="$PWD/$build/injector/libvramscope_inject.so" S="$PWD/$build/samples/vramscope_samples" C="$PWD/$build/injector/vtrace_count"
T=$(mktemp -d)
for args in "train --iters 3" "vmm --iters 3" "oom"; do
  name=${args%% *}
  VRAMSCOPE_OUTPUT="$T/$name.vtrace" LD_PRELOAD="$LIB" "$S" $args >"$T/$name.out" 2>"$T/$name.err"; rc=$?
  echo "$name rc=$rc printed: $(grep -E '^(allocations|frees|kernels|nvtx_ranges|vmm_create|vmm_map|alloc_failures) ' "$T/$name.out" | paste -sd' ')"
  echo "$name trace:   $("$C" "$T/$name.vtrace" | grep -E '^(footer|allocs|frees|count.kernel|count.range|vmm_create|vmm_map|count.alloc_failure) ' | paste -sd' ')"
  grep -v "tracing pid\|wrote " "$T/$name.err"
done
VRAMSCOPE_OUTPUT="$T/killed.vtrace" LD_PRELOAD="$LIB" "$S" bench --iters 100000 --layers 8 >/dev/null 2>&1 &
pid=$!; sleep 2; kill -KILL $pid; wait $pid 2>/dev/null
echo "killed trace: $("$C" "$T/killed.vtrace" | grep -E '^(footer|truncated|chunks|count.kernel) ' | paste -sd' ')"
