#!/usr/bin/env bash
# The overhead figure on the reference workload (GPT-2 small: 12 x 768,
# batch 8 x 1024, bf16, fused AdamW; DESIGN.md measured ~28 ms/step), plus
# SIGINT through `vramscope record` into Python and the torch.profiler
# conflict. Results in $OUT/gpt2.tar.gz.
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
R="$(mktemp -d)/gpt2"
mkdir -p "$R"
export PATH=/usr/local/cuda/bin:$PATH CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}
if [[ ! -f "$build/injector/libvramscope_inject.so" ]]; then
  cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
    -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Release >"$R/cmake.log" 2>&1
  cmake --build "$build" -j"$(nproc)" --target vramscope_inject vtrace_count vramscope_record >"$R/build.log" 2>&1 || grep error "$R/build.log" | head
fi
LIB="$PWD/$build/injector/libvramscope_inject.so"
C="$PWD/$build/injector/vtrace_count"
REC="$PWD/$build/injector/vramscope-record"
pack() { tar -C "$(dirname "$R")" --exclude=gpt2/o -czf "$out/gpt2.tar.gz" gpt2; }
GPT=(python3 samples/pytorch/gpt_train.py --layers 12 --dim 768 --heads 12 --batch 8 --seq 1024 --vocab 50304 --steps 40 --warmup 10)
sel() { grep -E "^(step_time_ratio|pair_ratio_median|pair_ratio_min|pair_ratio_max|plain_step_ms_median|traced_step_ms_median)" | awk '{print $1"="$2}' | paste -sd' '; }

echo "== SIGINT to vramscope record while Python trains (timeout sends it after 25 s)"
timeout -s INT 25 "$REC" -o "$R/sigint.vtrace" -- "${GPT[@]}" --steps 100000 >"$R/sigint.out" 2>&1
echo "record rc=$? (130: Python died of SIGINT after its KeyboardInterrupt)"; tail -5 "$R/sigint.out" | cut -c1-200
"$C" "$R/sigint.vtrace" | grep -E "^(footer|truncated|count.kernel|count.driver|count.mem_info)" | paste -sd' '
pack
echo "== GPT-2 small: plain once"
"${GPT[@]}" | paste -sd' '
echo "== overhead, alternating"
echo "default (7 pairs):       $(bench/injector_overhead.sh -n 7 -l "$LIB" -o "$R/o" -- "${GPT[@]}" | tee "$R/gpt2_default.txt" | sel)"
pack
echo "no meminfo (5 pairs):    $(VRAMSCOPE_MEMINFO_MS=0 bench/injector_overhead.sh -n 5 -l "$LIB" -o "$R/o" -- "${GPT[@]}" | tee "$R/gpt2_nomi.txt" | sel)"
pack
"$C" "$R/o/overhead.1.vtrace" | grep -E "^(count|footer)" | paste -sd' '
rm -rf "$R/o"
pack
ls -la "$out/gpt2.tar.gz"
