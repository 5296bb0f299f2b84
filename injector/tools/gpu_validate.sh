#!/usr/bin/env bash
# Builds the injector + samples on a GPU machine (no Qt needed), records every
# sample, counts what each trace holds, runs the overhead benchmark, and packs
# everything into $OUT/results.tar.gz (or ./gpu-results.tar.gz).
#   injector/tools/gpu_validate.sh [BUILD_DIR]
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
R="$(mktemp -d)/res"
mkdir -p "$R"
export PATH=/usr/local/cuda/bin:$PATH CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$R/gpu.txt"
cmake -S . -B "$build" -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
  -DVRAMSCOPE_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Release >"$R/cmake.log" 2>&1 || { tail -30 "$R/cmake.log"; }
cmake --build "$build" -j"$(nproc)" >"$R/build.log" 2>&1 || { grep -E "error" "$R/build.log" | head -30; }
LIB="$PWD/$build/injector/libvramscope_inject.so"
S="$PWD/$build/samples/vramscope_samples"
C="$PWD/$build/injector/vtrace_count"
REC="$PWD/$build/injector/vramscope-record"
ls -la "$LIB" "$S" "$C" "$REC" || exit 1

sample() {  # name, sample args...
  local name="$1"; shift
  "$S" "$@" >"$R/$name.plain.out" 2>&1
  local t0=$(date +%s.%N)
  VRAMSCOPE_VERBOSE=1 VRAMSCOPE_OUTPUT="$R/$name.vtrace" LD_PRELOAD="$LIB" "$S" "$@" >"$R/$name.out" 2>"$R/$name.err"
  local rc=$?
  local t1=$(date +%s.%N)
  echo "== $name rc=$rc plain_rc=$? secs=$(awk -v a=$t0 -v b=$t1 'BEGIN{print b-a}')"
  "$C" "$R/$name.vtrace" >"$R/$name.count" 2>&1
  paste -sd' ' "$R/$name.out" | cut -c1-400
  grep -E "^(count\.|allocs|frees|vmm_|alloc_failure|footer|dropped|problem|note)" "$R/$name.count" | paste -sd' ' | cut -c1-900
  grep "stats:" "$R/$name.err"
  grep -v "stats:\|tracing pid\|wrote " "$R/$name.err" | head -5
}
sample train train --iters 4
sample async async --iters 4
sample leak leak --iters 5 --leak-kb 1024
sample vmm vmm --iters 4
sample oom oom
sample gemm gemm --n 2048 --reps 5
sample stream stream --mb 256 --reps 10
sample fork fork
"$C" "$R/train.vtrace" --dump driver_memory 12 | grep "^dm" > "$R/train.dump"
"$C" "$R/vmm.vtrace" --dump driver_memory 40 | grep "^dm" > "$R/vmm.dump"
"$C" "$R/async.vtrace" --dump driver_memory 20 | grep "^dm" > "$R/async.dump"
"$C" "$R/train.vtrace" --dump range 12 | grep "^range" > "$R/train.ranges"
head -5 "$R/vmm.dump" "$R/async.dump" "$R/train.ranges"
grep "^device" "$R/train.count"

echo "== record (cuInit entry), a job with two processes (ranks)"
(cd "$R" && "$REC" -o "$R/job.vtrace" --verbose -- sh -c "RANK=0 $S train --iters 2 >/dev/null & RANK=1 $S train --iters 2 >/dev/null; wait; $S fork") >"$R/record_job.out" 2>&1
echo "record rc=$?"; cat "$R/record_job.out" | cut -c1-300 | head -40
echo "== record --start=preload"
"$REC" -o "$R/train_preload_rec.vtrace" --start=preload -- "$S" train --iters 2 >"$R/record_preload.out" 2>&1
echo "record rc=$?"; tail -6 "$R/record_preload.out"
echo "== record: exit code passthrough and SIGTERM"
"$REC" -o "$R/exit7.vtrace" -- sh -c 'exit 7' >/dev/null 2>&1; echo "exit7 rc=$?"
VRAMSCOPE_OUTPUT="$R/sigterm.vtrace" LD_PRELOAD="$LIB" "$S" bench --iters 100000 >/dev/null 2>"$R/sigterm.err" &
pid=$!; sleep 4; kill -TERM $pid; wait $pid; echo "sigterm rc=$? (143 expected)"
"$C" "$R/sigterm.vtrace" | grep -E "^(footer|truncated|count.kernel|count.driver|problem)" | paste -sd' '
VRAMSCOPE_OUTPUT="$R/sigkill.vtrace" LD_PRELOAD="$LIB" "$S" bench --iters 100000 >/dev/null 2>&1 &
pid=$!; sleep 4; kill -KILL $pid; wait $pid; echo "sigkill rc=$?"
"$C" "$R/sigkill.vtrace" | grep -E "^(footer|truncated|count.kernel|count.driver|problem)" | paste -sd' '
"$REC" -o "$R/rec_term.vtrace" -- "$S" bench --iters 100000 >"$R/rec_term.out" 2>&1 &
rpid=$!; sleep 4; kill -TERM $rpid; wait $rpid; echo "record forwarded SIGTERM rc=$?"; tail -4 "$R/rec_term.out"
echo "== overhead"
bench/injector_overhead.sh -n 7 -l "$LIB" -o "$R/overhead" -- "$S" bench --iters 200 --layers 48 --mb 8 | tee "$R/overhead_small.txt" | grep -v "^rep"
bench/injector_overhead.sh -n 5 -l "$LIB" -o "$R/overhead2" -- "$S" bench --iters 100 --layers 24 --mb 256 | tee "$R/overhead_large.txt" | grep -v "^rep"
rm -rf "$R/overhead" "$R/overhead2" "$R/sigkill.vtrace.unused"
ls -la "$R" | awk '{print $5, $9}' | paste -sd' ' | cut -c1-1500
tar -C "$(dirname "$R")" -czf "$out/results.tar.gz" res
ls -la "$out/results.tar.gz"
