#!/usr/bin/env bash
# What an attached capture costs a running job, part by part, inside one process:
#
#   injector/tools/gpu_attach_cost.sh [BUILD_DIR]        ($OUT/attach_cost.tar.gz)
#
# One GPT-2 small training job (samples/pytorch/gpt_train.py, its own per-step
# log) is attached and detached over and over: each VARIANT (a name and the
# `vramscope-attach` options it adds) CYCLES times, ATTACH_S seconds attached,
# GAP_S seconds not, the variants interleaved. attach_steps.py sets every
# attached window against the gaps on either side of it (the same job, seconds
# apart) and prints the median ratio per variant. The first attach builds the
# PyTorch bridge with the job's own interpreter (the path users get); the
# others are given the bridge, so that nothing but the capture runs in a window.
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
W="$(mktemp -d)/attach_cost"
mkdir -p "$W"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1 VRAMSCOPE_CACHE_DIR="$W/cache"
pack() { tar -C "$(dirname "$W")" --exclude=attach_cost/cache --exclude='*.vtrace' -czf "$out/attach_cost.tar.gz" attach_cost; }
trap pack EXIT
now() { date +%s%N; }
if [[ ! -x "$build/injector/vramscope-attach" ]]; then
  cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
    -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DVRAMSCOPE_BUILD_SAMPLES=OFF -DCMAKE_BUILD_TYPE=Release >"$W/cmake.log" 2>&1
  cmake --build "$build" -j"$(nproc)" --target vramscope_inject vramscope_attach_tool vtrace_count vramscope_torch_bridge \
    >"$W/build.log" 2>&1 || { grep -B2 -A6 error "$W/build.log" | head -40; exit 1; }
fi
A="$PWD/$build/injector/vramscope-attach"
bridge="$PWD/$build/injector/libvramscope_torch_bridge.so"
IFS='|' read -r -a variants <<<"${VARIANTS:-default:|nokernels:--no-kernels|nopython:--no-bridge --no-phase-hooks|minimal:--no-kernels --no-copies --no-callbacks --no-bridge --no-phase-hooks --meminfo-ms 0}"
cycles="${CYCLES:-3}"; attach_s="${ATTACH_S:-4}"; gap_s="${GAP_S:-4}"
steps=$(( (cycles * ${#variants[@]} * (attach_s + gap_s) + 40) * 36 ))
python3 samples/pytorch/gpt_train.py --layers 12 --dim 768 --heads 12 --seq 1024 --batch 8 --vocab 50304 \
  --warmup 10 --steps "$steps" --log-steps "$W/gpt.steps" >"$W/gpt.out" 2>&1 &
job=$!
for _ in $(seq 1 600); do grep -q "^step 200 " "$W/gpt.steps" 2>/dev/null && break; sleep 0.1; done
windows=()
# The first attach as a user makes it: the bridge built by the job's own interpreter.
"$A" $job -o "$W/first.vtrace" --duration 2 --verbose >"$W/first.out" 2>&1; echo "first attach exit $?"
head -4 "$W/first.out"
c=$(sed -n 's/^capture_started_unix_ns //p' "$W/first.out"); d=$(sed -n 's/^capture_stopped_unix_ns //p' "$W/first.out")
[[ -n "$c" && -n "$d" ]] && windows+=("first:$c:$d")
sleep "$gap_s"
export VRAMSCOPE_TORCH_BRIDGE="$bridge"
for ((k = 0; k < cycles; k++)); do
  for v in "${variants[@]}"; do
    name="${v%%:*}"; opts="${v#*:}"
    # shellcheck disable=SC2086
    "$A" $job -o "$W/$name.$k.vtrace" --duration "$attach_s" --verbose --no-summary $opts >"$W/$name.$k.out" 2>&1 \
      || { echo "attach $name $k failed"; cat "$W/$name.$k.out"; }
    c=$(sed -n 's/^capture_started_unix_ns //p' "$W/$name.$k.out"); d=$(sed -n 's/^capture_stopped_unix_ns //p' "$W/$name.$k.out")
    [[ -n "$c" && -n "$d" ]] && windows+=("$name:$c:$d")
    grep -o "was held [0-9.]* ms" "$W/$name.$k.out" | sed "s/^/$name $k /"
    sleep "$gap_s"
  done
done
kill $job 2>/dev/null; wait $job 2>/dev/null
python3 injector/tools/attach_steps.py "$W/gpt.steps" "${windows[@]}" --warmup 50 | tee "$W/steps.txt"
