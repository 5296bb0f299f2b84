#!/usr/bin/env bash
# Kernel classes of real training jobs against ncu, as a new user would check
# them (docs/boundness.md, "Checked against ncu"):
#
#   [WORKLOADS="gpt2 cnn lora gpt_medium compile"] [INTERVALS="1000 100"] [SKIP_RECORD=1] [SKIP_NCU=1] \
#   [NCU_EXTRA="--target-processes application-only"] injector/tools/gpu_kernel_class_check.sh [BUILD_DIR]
#
# (NCU_EXTRA as shown is needed for compile: without it ncu crashed, exit
# 139, in the compiler's worker processes.)
# For each workload: records it with PM sampling (class_<name>.vtrace), then
# runs one steady step of the same job (fewer layers for the GPTs: the same
# kernels with the same shapes, fewer of them) under ncu --clock-control none
# --cache-control none, one row per kernel: duration, sm__throughput,
# dram__throughput and the tensor pipes (ncu_<name>.csv). Compare here with
#   injector/tools/ncu_class_check.py --vramscope build/profiler/cli/vramscope class_<name>.vtrace ncu_<name>.csv
# Everything goes into $OUT/class_check.tar (the device tool returns few
# files), what every run printed also into $OUT/class_log.txt.
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}/class_check"
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1
log="${OUT:-$PWD}/class_log.txt"
: >"$log"
if [[ -z "${SKIP_RECORD:-}" ]]; then
  (cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
       -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DVRAMSCOPE_BUILD_SAMPLES=OFF -DCMAKE_BUILD_TYPE=Release &&
   cmake --build "$build" -j"$(nproc)" --target vramscope_inject vtrace_count vramscope_record vramscope_torch_bridge) \
      >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
REC="$PWD/$build/injector/vramscope-record"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >>"$log" 2>&1
ncu --version | tail -1 >>"$log" 2>&1

# Tensor pipes: the first of these the chip's ncu lists.
ncu --query-metrics >"$out/ncu_metrics.txt" 2>&1
grep -E "^sm__pipe_tensor" "$out/ncu_metrics.txt" | cut -c1-160 >>"$log"
tensor=""
for m in sm__pipe_tensor_cycles_active sm__pipe_tensor_op_gmma_cycles_active sm__pipe_tensor_op_hmma_cycles_active; do
  if grep -qE "^$m( |$)" "$out/ncu_metrics.txt"; then tensor="$m.avg.pct_of_peak_sustained_elapsed"; break; fi
done
echo "tensor metric: ${tensor:-none}" | tee -a "$log"
metrics="gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed"
[[ -n $tensor ]] && metrics="$metrics,$tensor"

P=samples/pytorch
GPT2="--dim 768 --heads 12 --seq 1024 --vocab 50304 --batch 8"
MED="--dim 1024 --heads 16 --seq 1024 --vocab 50304 --batch 8"
# name | recorded command | the command ncu profiles (step 3 of it)
jobs_of() {
  case "$1" in
    gpt2) echo "$P/gpt_train.py --layers 12 $GPT2 --steps 10 --warmup 3|$P/gpt_train.py --layers 2 $GPT2 --steps 5 --warmup 1" ;;
    gpt_medium) echo "$P/gpt_train.py --layers 24 $MED --steps 8 --warmup 3|$P/gpt_train.py --layers 2 $MED --steps 5 --warmup 1" ;;
    cnn) echo "$P/cnn_train.py --batch 128 --steps 12 --warmup 4|$P/cnn_train.py --batch 128 --steps 5 --warmup 1" ;;
    lora) echo "$P/lora_finetune.py --layers 12 $GPT2 --steps 10 --warmup 3|$P/lora_finetune.py --layers 2 $GPT2 --steps 5 --warmup 1" ;;
    compile) echo "$P/gpt_train.py --compile --layers 12 $GPT2 --steps 12 --warmup 4|$P/gpt_train.py --compile --layers 2 $GPT2 --steps 5 --warmup 1" ;;
  esac
}
for w in ${WORKLOADS:-gpt2 cnn lora gpt_medium compile}; do
  spec="$(jobs_of "$w")"
  [[ -z $spec ]] && { echo "unknown workload $w" | tee -a "$log"; continue; }
  IFS='|' read -r recorded profiled <<<"$spec"
  # INTERVALS: counter sampling periods in µs, one trace each
  # (class_<name>.vtrace for the default 1000, class_<name>_<us>.vtrace else).
  for us in ${INTERVALS:-1000}; do
    [[ -n "${SKIP_RECORD:-}" ]] && break
    trace="$out/class_$w.vtrace"; [[ $us != 1000 ]] && trace="$out/class_${w}_$us.vtrace"
    start=$(date +%s)
    # shellcheck disable=SC2086
    VRAMSCOPE_COUNTERS=pm VRAMSCOPE_COUNTER_INTERVAL_US=$us timeout 240 "$REC" -o "$trace" -- python3 $recorded \
        >"$out/rec_$w.txt" 2>&1
    echo "== record $w every $us us: exit $? in $(( $(date +%s) - start )) s: $recorded" | tee -a "$log"
    grep -E "step_ms_median|images_per_s|vramscope:" "$out/rec_$w.txt" | head -5 | tee -a "$log"
    "$PWD/$build/injector/vtrace_count" "$trace" | grep -E "^(footer|counter_median|kernels)" | tee -a "$log"
    rm -f "$out/rec_$w.txt"
  done
  if [[ -z "${SKIP_NCU:-}" ]]; then
    start=$(date +%s)
    # shellcheck disable=SC2086
    # NCU_EXTRA: more ncu options (e.g. --target-processes application-only).
    timeout "${NCU_TIMEOUT:-300}" ncu --profile-from-start off --clock-control none --cache-control none ${NCU_EXTRA:-} \
        --print-kernel-base demangled --csv --page raw --print-units base --metrics "$metrics" \
        --log-file "$out/ncu_$w.csv" python3 $profiled --profile-step 3 >"$out/ncu_run_$w.txt" 2>&1
    echo "== ncu $w: exit $? in $(( $(date +%s) - start )) s, $(grep -c . "$out/ncu_$w.csv" 2>/dev/null) lines: $profiled" \
        | tee -a "$log"
    grep -E "step_ms_median|==ERROR==|==WARNING==" "$out/ncu_run_$w.txt" | head -5 | tee -a "$log"
    rm -f "$out/ncu_run_$w.txt"
  fi
done
tar -C "$out" -cf "${OUT:-$PWD}/class_check.tar" . && rm -rf "$out"
