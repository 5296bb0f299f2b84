#!/usr/bin/env bash
# The hardware-counter fixtures of tests/data, recorded on a GPU machine
# with PM sampling as the injector ships it (docs/boundness.md):
#
#   injector/tools/gpu_counter_fixtures.sh [BUILD_DIR]
#
# builds the injector and samples, then records the tiled GEMM
# (compute-bound), the triad (bandwidth-bound), the launch storm (neither),
# GPT-2 small and a smaller GPT (with and without kernel launch times) and a
# LoRA fine-tune with activation checkpointing, each with
# VRAMSCOPE_COUNTERS=pm. Traces go to $OUT (or the current directory); what
# each run printed, the counter medians (vtrace_count) and the build log to
# $OUT/all.txt.
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
T="$(mktemp -d)"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
(cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
     -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DVRAMSCOPE_BUILD_SAMPLES=ON -DCMAKE_BUILD_TYPE=Release &&
 cmake --build "$build" -j"$(nproc)" --target vramscope_inject vtrace_count vramscope_record vramscope_torch_bridge \
     vramscope_samples) >"$T/build.log" 2>&1 || { tail -30 "$T/build.log"; exit 1; }
REC="$PWD/$build/injector/vramscope-record"
S="$PWD/$build/samples/vramscope_samples"
C="$PWD/$build/injector/vtrace_count"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >"$T/gpu.txt" 2>&1
rec() {
  local name="$1"; shift
  VRAMSCOPE_COUNTERS=pm VRAMSCOPE_VERBOSE=1 timeout 200 "$REC" -o "$out/$name.vtrace" -- "$@" >"$T/$name.out" 2>&1
  echo "== $name: exit $? $*" | tee -a "$T/rec.txt"
  grep -E "hardware counters|refuse|step_ms_median" "$T/$name.out" | cut -c1-400 | tee -a "$T/rec.txt"
  "$C" "$out/$name.vtrace" | grep -E "^(footer|counter_median)" | tee -a "$T/rec.txt"
}
rec counters_gemm "$S" gemm --n 4096 --reps 100
rec counters_stream "$S" stream --mb 1024 --reps 1500
rec counters_tiny "$S" tiny --reps 300000
G=(python3 samples/pytorch/gpt_train.py)
GPT2=(--layers 12 --dim 768 --heads 12 --seq 1024 --vocab 50304 --batch 8 --steps 8 --warmup 3)
rec torch_gpt2_counters "${G[@]}" "${GPT2[@]}"
rec torch_gpt_counters "${G[@]}" --layers 6 --dim 768 --heads 12 --seq 512 --vocab 8192 --batch 8 --steps 6 --warmup 2
VRAMSCOPE_LAUNCH_TIMES=1 rec torch_gpt2_launch "${G[@]}" "${GPT2[@]}"
rec torch_lora_counters python3 samples/pytorch/lora_finetune.py --layers 12 --dim 768 --heads 12 --seq 1024 \
    --vocab 50304 --batch 4 --steps 8 --warmup 3 --checkpointing
for f in "$T"/*; do echo "##### ${f##*/}"; cat "$f"; done >"$out/all.txt"
