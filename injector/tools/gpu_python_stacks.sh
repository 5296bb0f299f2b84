#!/usr/bin/env bash
# Python callsites and Hugging Face-style loops on a GPU machine.
#
#   injector/tools/gpu_python_stacks.sh [BUILD_DIR]     (after the GPU build,
#   see gpu_torch_bridge.sh; REPS=N adds the overhead comparison)
#
# 1. records the GPT sample with Python callsites (--python-stacks) and its leak
#    variant, and shows how many allocations carry a callsite;
# 2. records samples/pytorch/hf_style_train.py with transformers' Trainer
#    (when installed) and with an accelerate-style loop, printing the
#    optimizer steps each made (a trace must find that many iterations);
# 3. with REPS set: step time of the CONFIGS below (plain, default capture,
#    callsites, PM counters, launch times, ...), alternating, on the
#    injector benchmark's GPT-2 small (GPT_ARGS overrides the workload);
# 4. with COUNTERS_GPT set: GPT training runs recorded with PM counters, one
#    of them also with kernel launch times.
#
# Next checks, one device call each after the build (~45 s):
#   COUNTERS_GPT=1 SKIP_RECORD=1 ...   then `vramscope summary` on torch_gpt2_launch.vtrace
#   REPS=10 CONFIGS="plain default pm launch" SKIP_RECORD=1 ...
#   DUTY_TRACES=1 REPS=16 CONFIGS="plain pmduty" SKIP_RECORD=1 ...
#   REPS=12 CONFIGS="default pminit pmenable pm" SKIP_RECORD=1 ...   (which set-up step costs)
#   PAUSE_TRACES="nvtx all kernels flush,meminfo tensors" SKIP_RECORD=1 ...   (which part of the
#       capture costs, inside one process: duty_cost.py --paused on each trace; with
#       VRAMSCOPE_CUPTI_ZEROED_BUFFERS=1 exported, the same with CUPTI told our buffers come zeroed)
#   COUNTERS_GPT=launch REPS=12 CONFIGS="plain pm pmslow" KEEP=1 SKIP_RECORD=1 ...
# Traces and logs go to $OUT (or the current directory).
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
W="$(mktemp -d)"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1 VRAMSCOPE_COUNTERS="${COUNTERS:-off}"
export VRAMSCOPE_CACHE_DIR="$W/cache"
REC="$PWD/$build/injector/vramscope-record"
C="$PWD/$build/injector/vtrace_count"
python3 -c 'import sys,sysconfig,os;i=sysconfig.get_paths()["include"];print("python", sys.version.split()[0], "Python.h", os.path.isfile(i+"/Python.h"))'
for m in transformers accelerate; do python3 -c "import $m;print('$m', $m.__version__)" 2>/dev/null || echo "$m absent"; done
ls "$build"/injector/libvramscope_torch_bridge.so 2>/dev/null || echo "no CMake-built bridge: built on first use"

S=(python3 samples/pytorch/gpt_train.py --layers 2 --dim 256 --heads 4 --seq 128 --vocab 4096 --warmup 2 --batch 4 --steps 6)
rec() {
  local name="$1"; shift
  echo "== $name: $*"
  VRAMSCOPE_VERBOSE=1 timeout 300 "$REC" -o "$W/$name.vtrace" -- "$@" >"$W/$name.out" 2>&1
  echo "exit $?"
  grep -E "^vramscope: (Python|PyTorch|could|the )|stats:|^(loop|optimizer_steps|micro_batches|eval_passes|step_ms_median) " "$W/$name.out" \
    | sed -E 's/stats: .*(tensorEvents=[0-9]+).*(callsites=[0-9]+)/stats: \1 \2/' | cut -c1-200
  "$C" "$W/$name.vtrace" | grep -E "^(footer|count\.(tensor_memory|callsite|phase|string|counter_sample) |kernel_l)" | paste -sd' '
  ls -la "$W/$name.vtrace" | awk '{print "bytes", $5}'
}
if [[ -z "${SKIP_RECORD:-}" ]]; then
VRAMSCOPE_PYTHON_STACKS=1 rec torch_gpt_stacks "${S[@]}"
VRAMSCOPE_PYTHON_STACKS=1 rec torch_gpt_leak_stacks "${S[@]}" --leak
VRAMSCOPE_PYTHON_STACKS=0 rec torch_gpt_nostacks "${S[@]}"
rec torch_hf_accelerate python3 samples/pytorch/hf_style_train.py --loop accelerate --steps 6 --grad-accum 2
if python3 -c "import transformers" 2>/dev/null; then
  rec torch_hf_trainer python3 samples/pytorch/hf_style_train.py --loop trainer --steps 6 --grad-accum 2
fi
grep -h "error" "$W"/cache/*/build.log 2>/dev/null | head -5
for f in torch_gpt_stacks torch_gpt_leak_stacks torch_hf_accelerate torch_hf_trainer; do
  [[ -f "$W/$f.vtrace" ]] && cp "$W/$f.vtrace" "$out/"
done
cat "$W"/*.out > "$out/python_stacks_runs.log" 2>/dev/null
fi

if [[ -n "${DUTY_TRACES:-}" ]]; then
  # PM sampling in 500 ms bursts, 500 ms apart, over 300 GPT-2 small steps:
  # steps sampled and steps not sampled alternate within one process, so
  # injector/tools/duty_cost.py measures what sampling costs a step without
  # the drift between processes.
  for i in 1 2; do
    VRAMSCOPE_COUNTERS=pm VRAMSCOPE_COUNTER_DUTY=500:500 rec "torch_gpt2_duty$i" python3 samples/pytorch/gpt_train.py \
        --layers 12 --dim 768 --heads 12 --seq 1024 --vocab 50304 --batch 8 --steps 300 --warmup 10
    [[ -f "$W/torch_gpt2_duty$i.vtrace" ]] && cp "$W/torch_gpt2_duty$i.vtrace" "$W/torch_gpt2_duty$i.out" "$out/"
  done
fi
if [[ -n "${PAUSE_TRACES:-}" ]]; then
  # Parts of the capture paused in turns (VRAMSCOPE_TEST_PAUSE=ON:OFF:PARTS,
  # PAUSE_MS or 250:250) over PAUSE_STEPS (400, ~7 MB of trace: $OUT takes 64 MB
  # and 8 files) GPT-2 small steps, one trace
  # per word of PAUSE_TRACES (e.g. "nvtx all kernels flush,meminfo tensors";
  # nvtx, a handful of ranges per step, is the control): then
  # `injector/tools/duty_cost.py --paused TRACE` compares the steps with and
  # without those parts inside one process.
  # PAUSE_ATTRS: one run per word and part, with VRAMSCOPE_TEST_CUPTI_ATTRS set
  # to the word ("default": CUPTI's own settings), e.g. "default pinned=1
  # device_buffer_kb=32768,preallocate=8": where CUPTI keeps the kernel
  # timestamps, and what that changes in what kernel records cost.
  # PAUSE_REPORT=1 runs duty_cost.py here, into pause_costs.txt, and keeps the
  # traces out of $OUT.
  for attrs in ${PAUSE_ATTRS:-default}; do
  for parts in $PAUSE_TRACES; do
    tag="torch_gpt2_pause_${parts//,/-}"
    [[ "$attrs" != default ]] && tag="${tag}_${attrs//[=,]/-}"
    # An empty VRAMSCOPE_TEST_CUPTI_ATTRS counts as unset.
    VRAMSCOPE_TEST_CUPTI_ATTRS="${attrs/#default/}" VRAMSCOPE_TEST_PAUSE="${PAUSE_MS:-250:250}:$parts" \
        rec "$tag" python3 samples/pytorch/gpt_train.py --layers 12 \
        --dim 768 --heads 12 --seq 1024 --vocab 50304 --batch 8 --steps "${PAUSE_STEPS:-400}" --warmup 10
    grep -h "test CUPTI attribute" "$W/$tag.out" | head -5
    if [[ -n "${PAUSE_REPORT:-}" ]]; then
      { echo "== $tag (VRAMSCOPE_TEST_CUPTI_ATTRS=$attrs)"
        python3 injector/tools/duty_cost.py --paused --vtrace-count "$C" "$W/$tag.vtrace" 2>&1 | tail -8; } \
        | tee -a "$out/pause_costs.txt"
    elif [[ -f "$W/$tag.vtrace" ]]; then
      cp "$W/$tag.vtrace" "$out/"
    fi
  done
  done
fi
if [[ -n "${REPS:-}" ]]; then
  # GPT_ARGS: the workload (default: the injector benchmark's GPT-2 small,
  # 12 layers × 768, batch 8 × 1024 tokens, vocabulary 50304, bf16; the same
  # as gpu_gpt2_overhead.sh). CONFIGS: which runs alternate, from
  #   plain     not traced
  #   preload   the injector alone through LD_PRELOAD (no Python hooks, no
  #             bridge: what bench/injector_overhead.sh measures)
  #   preloadpm preload plus PM-sampled counters (the injector benchmark with
  #             counters on)
  #   nohooks   `vramscope record` without the Python side (VRAMSCOPE_PYTHON_HOOKS=0)
  #   all       the default, but every module hooked all along (VRAMSCOPE_PHASE_HOOKS=all)
  #   nobridge  traced without the PyTorch bridge (driver level only)
  #   default   traced as `vramscope record` does by default
  #   stacks    the default plus Python callsites
  #   pm        the default plus PM-sampled hardware counters
  #   pmslow    pm, decoded every 100 ms instead of 20 (VRAMSCOPE_COUNTER_DECODE_MS)
  #   gpm       the default plus NVML GPM counters (no CUPTI profiler, 100 ms)
  #   pminit, pmenable, pmconfig
  #             pm with its set-up stopped after cuptiProfilerInitialize,
  #             cuptiPmSamplingEnable or SetConfig (VRAMSCOPE_TEST_PM_STAGE):
  #             what each step of the set-up costs without any sampling
  #   pmduty    pm in bursts (VRAMSCOPE_COUNTER_DUTY, DUTY or 200:800 ms)
  #   launch    the default plus kernel launch times (--launch-times)
  #   pmlaunch  pm and launch times together
  # PIN (e.g. "taskset -c 2-9") runs every config on the same CPU cores.
  read -r -a G <<<"python3 samples/pytorch/gpt_train.py ${GPT_ARGS:---layers 12 --dim 768 --heads 12 --seq 1024 --batch 8 --vocab 50304 --steps 40 --warmup 10}"
  read -r -a CF <<<"${CONFIGS:-plain default stacks pm}"
  f="$out/python_stacks_overhead.txt"
  echo "== overhead ($REPS alternating reps of ${G[*]}): ${CF[*]}" | tee -a "$f"
  # MS_KEY=step_ms_mean compares mean step times (stalls included) instead;
  # the other key's rows go to python_stacks_overhead_other.txt either way.
  key="${MS_KEY:-step_ms_median}"
  other=step_ms_mean; [[ "$key" == step_ms_mean ]] && other=step_ms_median
  fo="$out/python_stacks_overhead_other.txt"
  echo "== $other of the runs below" >>"$fo"
  ms() { awk -v k="$1" '$1==k{print $2}' "$W/run.out"; }
  read -r -a P <<<"${PIN:-}"
  run() {
    case "$1" in
      plain) "${P[@]}" "${G[@]}" ;;
      preload) VRAMSCOPE_QUIET=1 VRAMSCOPE_OUTPUT="$W/preload.vtrace" LD_PRELOAD="$PWD/$build/injector/libvramscope_inject.so" "${P[@]}" "${G[@]}" ;;
      preloadpm) VRAMSCOPE_COUNTERS=pm VRAMSCOPE_QUIET=1 VRAMSCOPE_OUTPUT="$W/preloadpm.vtrace" LD_PRELOAD="$PWD/$build/injector/libvramscope_inject.so" "${P[@]}" "${G[@]}" ;;
      nohooks) VRAMSCOPE_PYTHON_HOOKS=0 "${P[@]}" "$REC" --quiet -o "$W/nohooks.vtrace" -- "${G[@]}" ;;
      all) VRAMSCOPE_PHASE_HOOKS=all "${P[@]}" "$REC" --quiet -o "$W/all.vtrace" -- "${G[@]}" ;;
      nobridge) VRAMSCOPE_TORCH_BRIDGE=0 "${P[@]}" "$REC" --quiet -o "$W/nobridge.vtrace" -- "${G[@]}" ;;
      default) "${P[@]}" "$REC" --quiet -o "$W/default.vtrace" -- "${G[@]}" ;;
      stacks) "${P[@]}" "$REC" --quiet --python-stacks -o "$W/stacks.vtrace" -- "${G[@]}" ;;
      pm) VRAMSCOPE_COUNTERS=pm "${P[@]}" "$REC" --quiet -o "$W/pm.vtrace" -- "${G[@]}" ;;
      pmslow) VRAMSCOPE_COUNTERS=pm VRAMSCOPE_COUNTER_DECODE_MS=100 "${P[@]}" "$REC" --quiet -o "$W/pmslow.vtrace" -- "${G[@]}" ;;
      gpm) VRAMSCOPE_COUNTERS=gpm "${P[@]}" "$REC" --quiet -o "$W/gpm.vtrace" -- "${G[@]}" ;;
      pminit) VRAMSCOPE_COUNTERS=pm VRAMSCOPE_TEST_PM_STAGE=initialize "${P[@]}" "$REC" --quiet -o "$W/pminit.vtrace" -- "${G[@]}" ;;
      pmenable) VRAMSCOPE_COUNTERS=pm VRAMSCOPE_TEST_PM_STAGE=enable "${P[@]}" "$REC" --quiet -o "$W/pmenable.vtrace" -- "${G[@]}" ;;
      pmconfig) VRAMSCOPE_COUNTERS=pm VRAMSCOPE_TEST_PM_STAGE=configure "${P[@]}" "$REC" --quiet -o "$W/pmconfig.vtrace" -- "${G[@]}" ;;
      pmduty) VRAMSCOPE_COUNTERS=pm VRAMSCOPE_COUNTER_DUTY="${DUTY:-200:800}" "${P[@]}" "$REC" --quiet -o "$W/pmduty.vtrace" -- "${G[@]}" ;;
      launch) "${P[@]}" "$REC" --quiet --launch-times -o "$W/launch.vtrace" -- "${G[@]}" ;;
      pmlaunch) VRAMSCOPE_COUNTERS=pm "${P[@]}" "$REC" --quiet --launch-times -o "$W/pmlaunch.vtrace" -- "${G[@]}" ;;
    esac 2>/dev/null >"$W/run.out"
  }
  # Odd reps run the configs in order, even reps backwards: a drift within a
  # rep favours none of them. Rows list the configs in CONFIGS order.
  for ((i = 1; i <= REPS; i++)); do
    declare -A got=() oth=()
    order=("${CF[@]}")
    if ((i % 2 == 0)); then order=(); for ((k = ${#CF[@]} - 1; k >= 0; k--)); do order+=("${CF[$k]}"); done; fi
    for c in "${order[@]}"; do run "$c"; got[$c]="$(ms "$key")"; oth[$c]="$(ms "$other")"; done
    line="rep$i" lo="rep$i"
    for c in "${CF[@]}"; do line+=" $c ${got[$c]}"; lo+=" $c ${oth[$c]}"; done
    echo "$line" | tee -a "$f"
    echo "$lo" >>"$fo"
    unset got oth
    # KEEP=1: the latest rep's traces go to $OUT as overhead_CONFIG.vtrace
    # (after every rep, so a run cut short by a timeout still leaves them).
    for c in "${CF[@]}"; do
      [[ -n "${KEEP:-}" && -f "$W/$c.vtrace" ]] && cp "$W/$c.vtrace" "$out/overhead_$c.vtrace"
    done
  done
  for c in "${CF[@]}"; do
    [[ -f "$W/$c.vtrace" ]] && echo "trace $c $("$C" "$W/$c.vtrace" | grep -E "^(footer|count\.(tensor_memory|callsite|counter_sample|kernel|phase) )" | paste -sd' ')"
  done | tee -a "$f"
  median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
  # Column of config c in this run's rows: field 2k+3 for the k-th config.
  field() { local k; for k in "${!CF[@]}"; do [[ "${CF[$k]}" == "$1" ]] && echo $((2 * k + 3)); done; }
  rows() { grep "^rep[0-9]* ${CF[0]} " "$f" | tail -n "$REPS"; }
  line="median_ms"
  for c in "${CF[@]}"; do line+=" $c $(rows | awk -v c="$(field "$c")" '{print $c}' | median)"; done
  echo "$line" | tee -a "$f"
  line="pair_ratio_median"
  for c in "${CF[@]:1}"; do
    line+=" $c/${CF[0]} $(rows | awk -v a="$(field "$c")" -v b="$(field "${CF[0]}")" '{printf "%.5f\n", $a/$b}' | median)"
  done
  echo "$line" | tee -a "$f"
fi
if [[ -n "${COUNTERS_GPT:-}" && "$COUNTERS_GPT" != launch ]]; then
  # GPT training steps with hardware counters: phases classified from real
  # samples. GPT-2 small keeps the GPU busy; the 6 × 768 model on 4096 tokens
  # leaves it waiting for launches most of each step.
  VRAMSCOPE_COUNTERS=pm rec torch_gpt2_counters python3 samples/pytorch/gpt_train.py --layers 12 --dim 768 --heads 12 \
      --seq 1024 --vocab 50304 --batch 8 --steps 8 --warmup 3
  VRAMSCOPE_COUNTERS=pm rec torch_gpt_counters python3 samples/pytorch/gpt_train.py --layers 6 --dim 768 --heads 12 \
      --seq 512 --vocab 8192 --batch 8 --steps 6 --warmup 2
fi
if [[ -n "${COUNTERS_GPT:-}" ]]; then
  # The GPT-2 run with kernel launch times: phases by launch, not CPU time
  # (COUNTERS_GPT=launch records this one alone).
  VRAMSCOPE_COUNTERS=pm VRAMSCOPE_LAUNCH_TIMES=1 rec torch_gpt2_launch python3 samples/pytorch/gpt_train.py --layers 12 \
      --dim 768 --heads 12 --seq 1024 --vocab 50304 --batch 8 --steps 8 --warmup 3
  for f in torch_gpt2_counters torch_gpt_counters torch_gpt2_launch; do
    [[ -f "$W/$f.vtrace" ]] && cp "$W/$f.vtrace" "$W/$f.out" "$out/"
  done
fi
