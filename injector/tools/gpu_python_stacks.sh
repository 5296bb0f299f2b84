#!/usr/bin/env bash
# Python callsites and Hugging Face-style loops on a GPU machine.
#
#   injector/tools/gpu_python_stacks.sh [BUILD_DIR]     (after the GPU build,
#   see gpu_torch_bridge.sh; REPS=N adds the overhead comparison)
#
# 1. records the GPT sample with Python callsites (the default) and its leak
#    variant, and shows how many allocations carry a callsite;
# 2. records samples/pytorch/hf_style_train.py with transformers' Trainer
#    (when installed) and with an accelerate-style loop, printing the
#    optimizer steps each made (a trace must find that many iterations);
# 3. with REPS set: step time plain / traced without callsites / traced with
#    callsites, alternating, on the default GPT (6×512, batch 8×512).
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
  "$C" "$W/$name.vtrace" | grep -E "^(footer|count\.(tensor_memory|callsite|phase|string) )" | paste -sd' '
  ls -la "$W/$name.vtrace" | awk '{print "bytes", $5}'
}
if [[ -z "${SKIP_RECORD:-}" ]]; then
rec torch_gpt_stacks "${S[@]}"
rec torch_gpt_leak_stacks "${S[@]}" --leak
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

if [[ -n "${REPS:-}" ]]; then
  # GPT_ARGS: the workload (default: the injector benchmark's GPT-2 small,
  # 12 layers × 768, batch 8 × 1024 tokens, bf16).
  read -r -a G <<<"python3 samples/pytorch/gpt_train.py ${GPT_ARGS:---layers 12 --dim 768 --heads 12 --seq 1024 --batch 8 --vocab 8192 --steps 25 --warmup 5}"
  echo "== overhead ($REPS alternating reps of ${G[*]}):"
  echo "   plain / traced, no bridge / bridge without callsites / with callsites (default) / default + PM counters"
  ms() { awk '$1=="step_ms_median"{print $2}'; }
  for ((i = 1; i <= REPS; i++)); do
    p=$("${G[@]}" 2>/dev/null | ms)
    b=$(VRAMSCOPE_TORCH_BRIDGE=0 "$REC" --quiet -o "$W/nb.vtrace" -- "${G[@]}" 2>/dev/null | ms)
    n=$(VRAMSCOPE_PYTHON_STACKS=0 "$REC" --quiet -o "$W/ns.vtrace" -- "${G[@]}" 2>/dev/null | ms)
    s=$("$REC" --quiet -o "$W/st.vtrace" -- "${G[@]}" 2>/dev/null | ms)
    c=$(VRAMSCOPE_COUNTERS=pm "$REC" --quiet -o "$W/pm.vtrace" -- "${G[@]}" 2>/dev/null | ms)
    echo "rep$i plain $p nobridge $b nostacks $n stacks $s stacks_pm $c" | tee -a "$out/python_stacks_overhead.txt"
  done
  median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
  f="$out/python_stacks_overhead.txt"
  col() { awk -v c="$1" '{print $c}' "$f" | median; }
  pair() { awk -v a="$1" -v b="$2" '{printf "%.5f\n", $a/$b}' "$f" | median; }
  summary=$(echo "median_ms plain $(col 3) nobridge $(col 5) nostacks $(col 7) stacks $(col 9) stacks_pm $(col 11)"
    echo "pair_ratio_median nobridge/plain $(pair 5 3) nostacks/plain $(pair 7 3) stacks/plain $(pair 9 3) stacks_pm/plain $(pair 11 3)"
    echo "pair_ratio_median nostacks/nobridge $(pair 7 5) stacks/nostacks $(pair 9 7) stacks_pm/stacks $(pair 11 9)")
  echo "$summary" | tee -a "$f"
fi
if [[ -n "${COUNTERS_GPT:-}" ]]; then
  # The GPT training step with hardware counters: phases classified from real samples.
  VRAMSCOPE_COUNTERS=pm rec torch_gpt_counters python3 samples/pytorch/gpt_train.py --layers 6 --dim 768 --heads 12 \
      --seq 512 --vocab 8192 --batch 8 --steps 6 --warmup 2
  [[ -f "$W/torch_gpt_counters.vtrace" ]] && cp "$W/torch_gpt_counters.vtrace" "$out/"
fi
