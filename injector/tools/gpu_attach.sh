#!/usr/bin/env bash
# `vramscope attach` on a GPU machine, into jobs started without vramscope:
#
#   injector/tools/gpu_attach.sh [BUILD_DIR]      (everything lands in $OUT/attach.tar.gz)
#
# 1. GPT-2 small training (samples/pytorch/gpt_train.py, its own per-step log):
#    attach after WAIT_STEP steps for ATTACH_S seconds while a second client
#    reads the live stream, detach, let it run, attach again for 3 s, let it
#    finish. attach_steps.py then gives the median step before, while and
#    after each attach, from that one process; the attach tool prints how long
#    it held a thread and what PyTorch held at the attach.
# 2. A small GPT that starts leaking after the attach (--leak-from), attached
#    with Python callsites: the leak must be found in the attached trace.
# 3. A plain CUDA program (vramscope_samples train): driver-level capture only.
# Progress goes to stdout; check the traces with `vramscope summary` here.
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
W="$(mktemp -d)/attach"
mkdir -p "$W"
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1 VRAMSCOPE_CACHE_DIR="$W/cache"
pack() { tar -C "$(dirname "$W")" --exclude=attach/cache -czf "$out/attach.tar.gz" attach; }
trap pack EXIT
now() { date +%s%N; }
python3 -c 'import torch,sys;print("torch", torch.__version__, torch.cuda.get_device_name(0), "python", sys.version.split()[0])'
t0=$(date +%s)
cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
  -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DVRAMSCOPE_BUILD_SAMPLES="${SAMPLES:-ON}" -DCMAKE_BUILD_TYPE=Release >"$W/cmake.log" 2>&1
targets=(vramscope_inject vramscope_attach_tool vtrace_count vramscope_torch_bridge)
[[ "${SAMPLES:-ON}" == ON ]] && targets+=(vramscope_samples)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >"$W/build.log" 2>&1 \
  || { grep -B2 -A6 -E "error|Error" "$W/build.log" | head -60; exit 1; }
echo "build_s $(( $(date +%s) - t0 ))"
A="$PWD/$build/injector/vramscope-attach"
C="$PWD/$build/injector/vtrace_count"
ls "$build"/injector/libvramscope_torch_bridge.so >/dev/null 2>&1 || echo "no CMake-built bridge: attach builds one"

wait_step() {  # wait_step LOG N PID
  for _ in $(seq 1 1200); do
    grep -q "^step $2 " "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
stream_client() {  # stream_client SOCKET FILE: the live stream, as a viewer gets it
  python3 - "$1" "$2" <<'EOF' &
import socket, sys, time
for _ in range(1200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
s.sendall(b"stream\n")
with open(sys.argv[2], "wb") as f:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        f.write(b)
EOF
}

echo "== 1. GPT-2 small, attached twice"
G=(python3 samples/pytorch/gpt_train.py --layers 12 --dim 768 --heads 12 --seq 1024 --batch 8 --vocab 50304
   --warmup 10 --steps "${GPT_STEPS:-1300}" --log-steps "$W/gpt.steps")
"${G[@]}" >"$W/gpt.out" 2>&1 &
job=$!
wait_step "$W/gpt.steps" "${WAIT_STEP:-150}" $job || { echo "the job did not reach its step"; cat "$W/gpt.out"; exit 1; }
grep "^step ${WAIT_STEP:-150} " "$W/gpt.steps"
sock="/run/user/0/vramscope/$job.sock"; [[ -d /run/user/0 ]] || sock="/tmp/vramscope-0/$job.sock"
b1=$(now)
"$A" $job -o "$W/gpt_attach1.vtrace" --duration "${ATTACH_S:-8}" --verbose >"$W/attach1.out" 2>&1 &
a1=$!
sleep 1; stream_client "$sock" "$W/gpt_attach1.stream"; sc=$!
wait $a1; echo "attach1 exit $?"; e1=$(now)
wait $sc
cat "$W/attach1.out"
# The capture's own span (the tool's --verbose lines), inside [b1, e1].
c1=$(sed -n 's/^capture_started_unix_ns //p' "$W/attach1.out"); d1=$(sed -n 's/^capture_stopped_unix_ns //p' "$W/attach1.out")
tail -c +4 "$W/gpt_attach1.stream" | cmp - "$W/gpt_attach1.vtrace" && echo "live_stream_equals_file 1"
grep -E "^step [0-9]+ " "$W/gpt.steps" | awk -v b="$b1" '$3 < b {l=$0} END {print "job log before attach:", l}'
sleep "${AFTER_S:-6}"
b2=$(now)
"$A" $job -o "$W/gpt_attach2.vtrace" --duration 3 --verbose >"$W/attach2.out" 2>&1; echo "attach2 exit $?"; e2=$(now)
cat "$W/attach2.out"
c2=$(sed -n 's/^capture_started_unix_ns //p' "$W/attach2.out"); d2=$(sed -n 's/^capture_stopped_unix_ns //p' "$W/attach2.out")
wait $job; echo "job exit $?"
tail -12 "$W/gpt.out"
python3 injector/tools/attach_steps.py "$W/gpt.steps" "attach1:${c1:-$b1}:${d1:-$e1}" "attach2:${c2:-$b2}:${d2:-$e2}" \
  --warmup 20 | tee "$W/steps.txt"
for f in gpt_attach1 gpt_attach2; do "$C" "$W/$f.vtrace" | grep -E "^(footer|count\.(kernel|tensor_memory|phase|driver_memory|mem_info|note) )" | paste -sd' '; done

echo "== 2. a leak that starts after the attach"
L=(python3 samples/pytorch/gpt_train.py --layers 4 --dim 256 --heads 4 --seq 256 --batch 8 --vocab 4096
   --warmup 5 --steps "${LEAK_STEPS:-700}" --leak-from 300 --log-steps "$W/leak.steps")
"${L[@]}" >"$W/leak.out" 2>&1 &
job=$!
wait_step "$W/leak.steps" "${LEAK_WAIT:-250}" $job || { echo "the leak job did not reach its step"; cat "$W/leak.out"; }
b3=$(now)
"$A" $job -o "$W/torch_gpt_leak_attached.vtrace" --python-stacks --duration "${LEAK_S:-5}" >"$W/attach3.out" 2>&1
echo "attach3 exit $?"; cat "$W/attach3.out"
grep -E "^step (${LEAK_WAIT:-250}|299|300|301) " "$W/leak.steps"
wait $job; echo "leak job exit $?"; tail -4 "$W/leak.out"

if [[ "${SAMPLES:-ON}" == ON ]]; then
  echo "== 3. a plain CUDA program"
  "$build/samples/vramscope_samples" train --iters 20000 >"$W/cuda.out" 2>&1 &
  job=$!
  sleep 2
  "$A" $job -o "$W/cuda_attached.vtrace" --duration 2 >"$W/attach4.out" 2>&1; echo "attach4 exit $?"
  cat "$W/attach4.out"
  kill $job 2>/dev/null; wait $job
  "$C" "$W/cuda_attached.vtrace" | grep -E "^(footer|count\.|process)" | paste -sd' '
fi
echo "== what the jobs printed of ours (must be nothing)"
grep -ciE "vramscope|warning" "$W/gpt.out" "$W/leak.out"
echo "== refusals"
"$A" 999999 2>&1 | head -2
sleep 30 & s=$!; "$A" $s 2>&1 | head -2; kill $s
ls -la "$W"
