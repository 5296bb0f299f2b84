#!/usr/bin/env bash
# Overhead attribution and PyTorch captures on a GPU machine: which capture
# source costs what on a launch-bound loop, the overhead on a GPU-bound loop
# and on a small GPT, plus a PyTorch trace. Results in $OUT/overhead.tar.gz.
#   injector/tools/gpu_overhead_matrix.sh [BUILD_DIR]
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
R="$(mktemp -d)/ovh"
mkdir -p "$R"
export PATH=/usr/local/cuda/bin:$PATH CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}
if [[ ! -f "$build/injector/libvramscope_inject.so" ]]; then
  cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
    -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Release >"$R/cmake.log" 2>&1
  cmake --build "$build" -j"$(nproc)" >"$R/build.log" 2>&1 || grep error "$R/build.log" | head
fi
LIB="$PWD/$build/injector/libvramscope_inject.so"
S="$PWD/$build/samples/vramscope_samples"
C="$PWD/$build/injector/vtrace_count"
REC="$PWD/$build/injector/vramscope-record"
B=bench/injector_overhead.sh
pack() { tar -C "$(dirname "$R")" --exclude=ovh/o -czf "$out/overhead.tar.gz" ovh; }

echo "== OOM seen through driver callbacks alone (runtime callbacks off)"
VRAMSCOPE_RUNTIME_CALLBACKS=0 VRAMSCOPE_OUTPUT="$R/oom_driver_only.vtrace" LD_PRELOAD="$LIB" "$S" oom >/dev/null 2>&1
"$C" "$R/oom_driver_only.vtrace" | grep -E "alloc_failure|count.alloc" | paste -sd' '

echo "== GPT captured with vramscope-record (4 steps, NVTX phases)"
"$REC" -o "$R/gpt_small.vtrace" -- python3 samples/pytorch/gpt_train.py --steps 4 --warmup 0 --nvtx >"$R/gpt_rec.out" 2>&1
echo "rc=$?"; cat "$R/gpt_rec.out" | cut -c1-200
"$C" "$R/gpt_small.vtrace" >"$R/gpt_small.count"; grep -vE "^kernel " "$R/gpt_small.count" | paste -sd' ' | cut -c1-1500
grep -c "^kernel " "$R/gpt_small.count"
"$C" "$R/gpt_small.vtrace" --dump driver_memory 30 | grep "^dm" > "$R/gpt_small.dump"; head -30 "$R/gpt_small.dump"

echo "== a trace cut off by SIGKILL (for the reader's tests)"
VRAMSCOPE_OUTPUT="$R/killed.vtrace" LD_PRELOAD="$LIB" "$S" bench --iters 100000 --layers 8 >/dev/null 2>&1 &
pid=$!; sleep 1.5; kill -KILL $pid; wait $pid 2>/dev/null
"$C" "$R/killed.vtrace" | grep -E "^(footer|truncated|chunks|count.kernel|count.driver|problem)" | paste -sd' '
ls -la "$R/killed.vtrace"
pack
small=("$S" bench --iters 200 --layers 48 --mb 8)
ratio() { grep -E "^(step_time_ratio|plain_step_ms_median|traced_step_ms_median)" | awk '{print $1"="$2}' | paste -sd' '; }
echo "== launch-bound loop (97 kernels + 96 cudaMallocAsync/FreeAsync per ~1.8 ms step), 7 alternating reps each"
echo "default:          $($B -n 7 -l "$LIB" -o "$R/o" -- "${small[@]}" | tee "$R/small_default.txt" | ratio)"
echo "no callbacks:     $(VRAMSCOPE_CALLBACKS=0 $B -n 7 -l "$LIB" -o "$R/o" -- "${small[@]}" | tee "$R/small_nocb.txt" | ratio)"
echo "no runtime cb:    $(VRAMSCOPE_RUNTIME_CALLBACKS=0 $B -n 7 -l "$LIB" -o "$R/o" -- "${small[@]}" | tee "$R/small_nort.txt" | ratio)"
echo "no kernels:       $(VRAMSCOPE_KERNELS=0 $B -n 7 -l "$LIB" -o "$R/o" -- "${small[@]}" | tee "$R/small_nokern.txt" | ratio)"
echo "no meminfo:       $(VRAMSCOPE_MEMINFO_MS=0 $B -n 7 -l "$LIB" -o "$R/o" -- "${small[@]}" | tee "$R/small_nomi.txt" | ratio)"
echo "memory2 only:     $(VRAMSCOPE_CALLBACKS=0 VRAMSCOPE_KERNELS=0 VRAMSCOPE_COPIES=0 VRAMSCOPE_NVTX=0 VRAMSCOPE_MEMINFO_MS=0 $B -n 7 -l "$LIB" -o "$R/o" -- "${small[@]}" | tee "$R/small_mem2.txt" | ratio)"
pack
echo "== GPU-bound loop (24 layers x up to 256 MiB activations), 9 reps"
echo "default:          $($B -n 9 -l "$LIB" -o "$R/o" -- "$S" bench --iters 60 --layers 24 --mb 256 | tee "$R/large_default.txt" | ratio)"

pack
echo "== PyTorch GPT (6 x 512, batch 8 x 512, bf16, fused AdamW)"
python3 samples/pytorch/gpt_train.py --steps 30 2>&1 | tee "$R/gpt_plain.out" | paste -sd' '
echo "gpt default:      $($B -n 5 -l "$LIB" -o "$R/o" -- python3 samples/pytorch/gpt_train.py --steps 40 | tee "$R/gpt_default.txt" | ratio)"
echo "gpt with nvtx:    $($B -n 5 -l "$LIB" -o "$R/o" -- python3 samples/pytorch/gpt_train.py --steps 40 --nvtx | tee "$R/gpt_nvtx.txt" | ratio)"
ls -la "$R/o" | head -3
rm -rf "$R/o"
pack
ls -la "$out/overhead.tar.gz"
