#!/usr/bin/env bash
# PM-sampling exit check on a GPU machine (docs/injector.md, "Hardware
# counters"): do processes traced with VRAMSCOPE_COUNTERS=pm exit 0 with a
# footer? Runs the gemm repro, the stream and the tiny-kernel storm samples
# with counters on, a counters-off control, and a PyTorch training job. If a run
# still dies, it is rerun once with glibc's malloc checking and once under
# gdb for a backtrace. About a minute when all is well; every phase is
# bounded by `timeout`.
#
# Needs the injector build to exist already (it does not build):
#   cmake -S . -B build-gpu -DVRAMSCOPE_BUILD_CORE=OFF -DVRAMSCOPE_BUILD_APP=OFF -DVRAMSCOPE_BUILD_TESTS=OFF \
#         -DVRAMSCOPE_BUILD_BENCHMARKS=OFF
#   cmake --build build-gpu -j16 --target vramscope_inject vtrace_count vramscope_record vramscope_samples
# Usage, from the repository root:  OUT=/some/dir bash injector/tools/gpu_pm_check.sh [build-gpu]
# Copies pm_gemm/pm_stream/pm_tiny.vtrace to $OUT when they have a footer,
# and the runs' stderr logs to $OUT/pm_logs/.
set -uo pipefail
build=${1:-build-gpu}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT/pm_logs"
export PATH=/usr/local/cuda/bin:$PATH
unset VRAMSCOPE_ROOT_PID VRAMSCOPE_WARNED VRAMSCOPE_COUNTERS
LIB="$PWD/$build/injector/libvramscope_inject.so"
S="$PWD/$build/samples/vramscope_samples"
COUNT="$PWD/$build/injector/vtrace_count"
for f in "$LIB" "$S" "$COUNT"; do
  [[ -x $f || -f $f ]] || { echo "missing $f: build first (see the header of this script)"; exit 1; }
done
T=$(mktemp -d /tmp/pmcheck.XXXXXX)
SECONDS=0
echo "== machine: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1);" \
     "cupti: $(ls /usr/local/cuda/lib64/libcupti.so.* /usr/local/cuda/extras/CUPTI/lib64/libcupti.so.* 2>/dev/null | head -1)"

declare -A RC FOOTER
GEMM=(gemm --n 4096 --reps 100)
STREAM=(stream --mb 1024 --reps 1500)
TINY=(tiny --reps 300000)

describe_rc() {
  case $1 in
    0) echo "ok" ;; 124) echo "TIMEOUT" ;; 134) echo "SIGABRT" ;; 139) echo "SIGSEGV" ;; 137) echo "SIGKILL" ;;
    *) echo "exit $1" ;;
  esac
}

# trace_footer FILE: 1 when the trace has a footer, else 0.
trace_footer() {
  local f
  f=$(timeout 30 "$COUNT" "$1" 2>/dev/null | awk '$1=="footer"{print $2}')
  echo "${f:-0}"
}

# run NAME TRACE LIMIT_S [VAR=VALUE ...] -- SAMPLE ARGS...
# The sample under the injector, counters on (PM sampling), verbose.
run() {
  local name=$1 trace=$2 limit=$3; shift 3
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  rm -f "$trace" "${trace%.vtrace}".*.vtrace
  timeout -k 5 "$limit" env VRAMSCOPE_COUNTERS=pm VRAMSCOPE_VERBOSE=1 VRAMSCOPE_OUTPUT="$trace" "${envs[@]}" \
      LD_PRELOAD="$LIB" "${PROG:-$S}" "$@" >"$T/$name.out" 2>"$T/$name.err"
  local rc=$?
  [[ -f $trace ]] || trace=$(ls "${trace%.vtrace}".*.vtrace 2>/dev/null | head -1)
  local footer=0
  [[ -n $trace && -f $trace ]] && footer=$(trace_footer "$trace")
  RC[$name]=$rc; FOOTER[$name]=$footer
  printf '== %-22s %-8s footer=%s  (%s, %ss elapsed) %s\n' "$name" "$(describe_rc $rc)" "$footer" "$*" "$SECONDS" \
         "${envs[*]:-}"
  grep -E '^(kernels|gemm_tflops|stream_gbps|tiny_us_per_kernel) ' "$T/$name.out" | paste -sd' ' | sed 's/^/   sample: /'
  grep -E 'pm sampling|PM sampling|hardware counters|CUPTI wrote|sampler|corrupted|double free|free\(\)|malloc|munmap|Aborted|Segmentation|terminate' \
       "$T/$name.err" | cut -c1-220 | head -14 | sed 's/^/   /'
  if [[ -n $trace && -f $trace ]]; then
    timeout 30 "$COUNT" "$trace" 2>&1 |
      grep -E '^(truncated|count.kernel|count.counter_info|count.counter_sample|problem|note [12])' | cut -c1-200 |
      head -10 | sed 's/^/   trace: /'
  else
    echo "   trace: none written"
  fi
  cp "$T/$name.err" "$OUT/pm_logs/$name.err" 2>/dev/null
}

# ---- 1. control: counters off (the default path) ----------------------------
run off_gemm "$T/off_gemm.vtrace" 60 VRAMSCOPE_COUNTERS=off -- "${GEMM[@]}"

# ---- 2. the repro and the two other samples, counters on ---------------------
run pm_gemm /tmp/pm_gemm.vtrace 60 -- "${GEMM[@]}"
run pm_stream /tmp/pm_stream.vtrace 60 -- "${STREAM[@]}"
run pm_tiny /tmp/pm_tiny.vtrace 60 -- "${TINY[@]}"

# ---- 3. a PyTorch training job with counters on (also exits cleanly?) --------
if python3 -c "import torch" 2>/dev/null && (( SECONDS < 110 )); then
  PROG=python3 run pm_torch "$T/pm_torch.vtrace" 90 -- samples/pytorch/gpt_train.py --layers 2 --dim 256 --heads 4 \
      --seq 128 --vocab 4096 --warmup 2 --batch 4 --steps 6
fi

# ---- 4. a run that died: malloc checking, then a backtrace -------------------
bad=""
for n in pm_gemm pm_stream pm_tiny pm_torch; do
  [[ -n ${RC[$n]:-} ]] || continue
  if [[ ${RC[$n]} != 0 || ${FOOTER[$n]} != 1 ]]; then bad=$n; break; fi
done
if [[ -n $bad ]]; then
  case $bad in
    pm_stream) args=("${STREAM[@]}") ;; pm_tiny) args=("${TINY[@]}") ;; *) args=("${GEMM[@]}") ;;
  esac
  extra=()
  echo "== $bad failed: rerunning it with malloc checking and under gdb"
  # glibc >= 2.34 checks only with libc_malloc_debug preloaded.
  dbg=$(ls /lib/x86_64-linux-gnu/libc_malloc_debug.so.0 /usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0 2>/dev/null | head -1)
  rm -f "$T/mcheck.vtrace"
  timeout -k 5 60 env VRAMSCOPE_COUNTERS=pm VRAMSCOPE_VERBOSE=1 VRAMSCOPE_OUTPUT="$T/mcheck.vtrace" "${extra[@]}" \
      MALLOC_CHECK_=3 GLIBC_TUNABLES=glibc.malloc.check=3 LD_PRELOAD="${dbg:+$dbg:}$LIB" "$S" "${args[@]}" \
      >"$T/mcheck.out" 2>"$T/mcheck.err"
  rc=$?
  echo "== ${bad}_malloc_check: $(describe_rc $rc) footer=$(trace_footer "$T/mcheck.vtrace") (malloc_debug: ${dbg:-not found})"
  grep -E 'pm sampling|PM sampling|CUPTI wrote|corrupted|double free|free\(\)|malloc|Aborted' "$T/mcheck.err" |
    cut -c1-220 | tail -8 | sed 's/^/   /'
  cp "$T/mcheck.err" "$OUT/pm_logs/${bad}_malloc_check.err" 2>/dev/null
  if command -v gdb >/dev/null 2>&1; then
    rm -f "$T/gdb.vtrace"
    timeout -k 5 120 env VRAMSCOPE_COUNTERS=pm VRAMSCOPE_VERBOSE=1 VRAMSCOPE_OUTPUT="$T/gdb.vtrace" "${extra[@]}" \
        gdb -q -batch -nx -ex "set startup-with-shell off" -ex "set pagination off" -ex "set print thread-events off" \
        -ex "set env LD_PRELOAD $LIB" -ex run -ex bt -ex "info threads" -ex "thread apply all bt 12" \
        --args "$S" "${args[@]}" >"$T/gdb.log" 2>&1
    rc=$?
    echo "== ${bad}_gdb: gdb returned $rc; where the program stopped (full log: $OUT/pm_logs/${bad}_gdb.log):"
    awk '/received signal|^Program terminated|exited (normally|with code)/{p=1} /^ +Id +Target Id/{exit} p' \
        "$T/gdb.log" | grep -vE '^\[(New|Thread .* exited)' | head -40 | cut -c1-220 | sed 's/^/   /'
    echo "   frames in our library, CUPTI or the exit path (all threads):"
    grep -E '^(Thread [0-9]+ \(|#[0-9]+ .*(libvramscope_inject|vramscope::inject|pm_sampler|libcupti|nvperf|__run_exit_handlers|_dl_fini|start_thread))' \
         "$T/gdb.log" | head -40 | cut -c1-200 |
      sed 's/^/   /'
    cp "$T/gdb.log" "$OUT/pm_logs/${bad}_gdb.log" 2>/dev/null
  else
    echo "== gdb not installed: no backtrace"
  fi
fi

# ---- 5. summary; traces with a footer to $OUT --------------------------------
echo "== summary (${SECONDS}s):"
for n in off_gemm pm_gemm pm_stream pm_tiny pm_torch; do
  [[ -n ${RC[$n]:-} ]] && printf '   %-22s %-8s footer=%s\n' "$n" "$(describe_rc "${RC[$n]}")" "${FOOTER[$n]}"
done
for n in pm_gemm pm_stream pm_tiny; do
  if [[ ${FOOTER[$n]:-0} == 1 ]]; then cp "/tmp/$n.vtrace" "$OUT/" && echo "   copied /tmp/$n.vtrace to $OUT/"
  else echo "   not copied: /tmp/$n.vtrace (no footer)"; fi
done
rm -rf "$T"
