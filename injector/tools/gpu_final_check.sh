#!/usr/bin/env bash
# One GPU pass: counters (PM sampling) on by default with PyTorch jobs (exit
# code and footer), the SM metric against the gemm/stream fixtures, and a
# GPT/LoRA trace with counters for phase boundness.
# Usage on the GPU machine: bash injector/tools/gpu_final_check.sh build-gpu
set -uo pipefail
build=${1:-build-gpu}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
      -DVRAMSCOPE_BUILD_BENCHMARKS=OFF >/tmp/build.log 2>&1
cmake --build "$build" -j"$(nproc)" --target vramscope_inject vtrace_count vramscope_record vramscope_samples \
      >>/tmp/build.log 2>&1 || { tail -30 /tmp/build.log; exit 1; }
REC="$PWD/$build/injector/vramscope-record"
S="$PWD/$build/samples/vramscope_samples"
COUNT="$PWD/$build/injector/vtrace_count"
export VRAMSCOPE_VERBOSE=1
run() {
  local name=$1; shift
  mkdir -p /tmp/traces; "$REC" -o "/tmp/traces/$name.vtrace" -- "$@" >"/tmp/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc"
  grep -iE "counter|pm sampl|gpm|metric|sm__|dram__|error|signal" "/tmp/$name.log" | head -8; tail -3 "/tmp/$name.log"
  cp "/tmp/traces/$name.vtrace" "$OUT/" 2>/dev/null; "$COUNT" "/tmp/traces/$name.vtrace" 2>&1 | tail -8
}
run counters_gemm "$S" gemm --n 4096 --reps 100
run counters_stream "$S" stream --mb 1024 --reps 1500
run torch_gpt_counters python3 samples/pytorch/gpt_train.py --layers 2 --dim 256 --heads 4 --seq 128 --vocab 4096 --warmup 2 --steps 6 --batch 4
run torch_lora_ckpt python3 samples/pytorch/lora_finetune.py --layers 2 --dim 256 --heads 4 --seq 128 --vocab 4096 --batch 4 --steps 6 --warmup 2 --checkpointing
ls -la "$OUT"
