#!/usr/bin/env bash
# The PyTorch bridge on a GPU machine: builds the injector and the bridge,
# checks the on-first-use build path, records the GPT sample (plain with
# PyTorch's own snapshot for comparison, checkpointing, leak, two batch
# sizes, gradient accumulation) and the LoRA sample, then measures the
# overhead (plain / traced without bridge / traced with bridge, alternating).
# Everything lands in $OUT/torch.tar.gz; progress in stdout.
set -uo pipefail
build="${1:-build-gpu}"
reps="${REPS:-5}"
out="${OUT:-$PWD}"
W="$(mktemp -d)/torch"
mkdir -p "$W/o"
export PATH=/usr/local/cuda/bin:$PATH CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc} PYTHONUNBUFFERED=1
export VRAMSCOPE_CACHE_DIR="$W/cache"
# Hardware counters (pm_sampler.cpp, another capture source) stay off here
# unless COUNTERS is given: this script measures the bridge alone.
export VRAMSCOPE_COUNTERS="${COUNTERS:-off}"
pack() { tar -C "$(dirname "$W")" --exclude=torch/o --exclude=torch/cache -czf "$out/torch.tar.gz" torch; }
python3 -c 'import torch;print("torch", torch.__version__, torch.cuda.get_device_name(0))'
t0=$(date +%s)
cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
  -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DVRAMSCOPE_BUILD_SAMPLES=OFF -DCMAKE_BUILD_TYPE=Release >"$W/cmake.log" 2>&1
grep -i "bridge\|torch" "$W/cmake.log"
cmake --build "$build" -j"$(nproc)" --target vramscope_inject vtrace_count vtrace_tensor_steps vramscope_record >"$W/build.log" 2>&1 \
  || { grep -B2 -A5 error "$W/build.log" | head -40; pack; exit 1; }
cmake --build "$build" -j"$(nproc)" --target vramscope_torch_bridge >"$W/bridge_build.log" 2>&1 \
  || grep -A5 error "$W/bridge_build.log" | head -40
echo "build_s $(( $(date +%s) - t0 ))"
ls -la "$build"/injector/*.so
REC="$PWD/$build/injector/vramscope-record"
C="$PWD/$build/injector/vtrace_count"
T="$PWD/$build/injector/vtrace_tensor_steps"

echo "== on-first-use build into an empty cache (background)"
( s=$(date +%s.%N); PYTHONPATH=python python3 -c 'import torch; from vramscope import _bridge; p=_bridge.build(torch); print("cache_build", p)'
  echo "cache_build_s $(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" ) >"$W/cache_build.txt" 2>&1 &
cache_pid=$!

S=(python3 samples/pytorch/gpt_train.py --layers 2 --dim 256 --heads 4 --seq 128 --vocab 4096 --warmup 2)
rec() { local name="$1"; shift; echo "== $name: $*"; VRAMSCOPE_VERBOSE=1 "$REC" -o "$W/$name.vtrace" -- "$@" 2>&1 | tee "$W/$name.out" | grep -v "^  note" | cut -c1-220;
        "$T" "$W/$name.vtrace" $(awk '$1=="pytorch_step_bounds_us"{print $2}' "$W/$name.out") | tee "$W/$name.counts" | paste -sd' '; ls -la "$W/$name.vtrace" | awk '{print "bytes", $5}'; }
rec torch_gpt_plain "${S[@]}" --batch 4 --steps 6 --snapshot "$W/torch_gpt.pickle"
ls -la "$W/torch_gpt.pickle"
rec torch_gpt_ckpt "${S[@]}" --batch 4 --steps 6 --checkpointing
rec torch_gpt_leak "${S[@]}" --batch 4 --steps 6 --leak
rec torch_gpt_b4 "${S[@]}" --batch 4 --steps 6
rec torch_gpt_b8 "${S[@]}" --batch 8 --steps 6
rec torch_gpt_accum "${S[@]}" --batch 4 --steps 4 --grad-accum 3
[[ -n "${LORA:-}" ]] && rec torch_lora_ckpt python3 samples/pytorch/lora_finetune.py --layers 2 --dim 256 --heads 4 --seq 128 --vocab 4096 --batch 4 --steps 6 --warmup 2 --checkpointing
echo "== exit status per capture source (small model, 3 steps)"
for v in "counters=off bridge=on:off:" "counters=pm bridge=off:pm:0" "counters=off bridge=off:off:0"; do
  IFS=: read -r label counters bridge <<<"$v"
  VRAMSCOPE_COUNTERS=$counters VRAMSCOPE_TORCH_BRIDGE=${bridge:-} "$REC" -o "$W/o/exit.vtrace" -- "${S[@]}" --steps 3 >"$W/o/exit.out" 2>&1
  echo "$label: $(grep -E 'exited with|killed by' "$W/o/exit.out" | cut -c1-80) footer=$("$C" "$W/o/exit.vtrace" | awk '$1=="footer"{print $2}')"
done
pack
wait $cache_pid; cat "$W/cache_build.txt"; cat "$W"/cache/*/build.log 2>/dev/null | grep -m5 error

echo "== overhead ($reps alternating reps: plain / traced, no bridge / traced with bridge)"
G=(python3 samples/pytorch/gpt_train.py --steps ${STEPS:-40} --warmup 10)
ms() { awk '$1=="step_ms_median"{print $2}'; }
for ((i = 1; i <= reps; i++)); do
  p=$("${G[@]}" 2>/dev/null | ms)
  n=$(VRAMSCOPE_TORCH_BRIDGE=0 "$REC" --quiet -o "$W/o/nb.$i.vtrace" -- "${G[@]}" 2>/dev/null | ms)
  f=$("$REC" --quiet -o "$W/o/full.$i.vtrace" -- "${G[@]}" 2>/dev/null | ms)
  echo "rep$i plain $p nobridge $n bridge $f"
done | tee "$W/overhead.txt"
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
pm=$(awk '{print $3}' "$W/overhead.txt" | median); nm=$(awk '{print $5}' "$W/overhead.txt" | median); fm=$(awk '{print $7}' "$W/overhead.txt" | median)
{ echo "median_ms plain $pm nobridge $nm bridge $fm"
  echo "ratio bridge/nobridge $(awk -v a="$fm" -v b="$nm" 'BEGIN{printf "%.4f", a/b}') bridge/plain $(awk -v a="$fm" -v b="$pm" 'BEGIN{printf "%.4f", a/b}') nobridge/plain $(awk -v a="$nm" -v b="$pm" 'BEGIN{printf "%.4f", a/b}')"
  echo "pair_ratio_median bridge/nobridge $(awk '{printf "%.5f\n", $7/$5}' "$W/overhead.txt" | median) bridge/plain $(awk '{printf "%.5f\n", $7/$3}' "$W/overhead.txt" | median)"
  "$T" "$W/o/full.1.vtrace" | paste -sd' '; "$C" "$W/o/full.1.vtrace" | grep -E "^count" | paste -sd' '; } | tee -a "$W/overhead.txt"
pack
if [[ -n "${COMPILE:-}" ]]; then
  rec torch_gpt_compile "${S[@]}" --batch 4 --steps 6 --compile
  pack
fi
ls -la "$out"
