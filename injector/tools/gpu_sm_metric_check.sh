#!/usr/bin/env bash
# Which PM-sampling metric reads the SM side of a kernel as ncu's
# sm__throughput does, on the GPU at hand (docs/boundness.md, "Classes").
#
#   injector/tools/gpu_sm_metric_check.sh [BUILD_DIR]     (after the GPU build
#   with samples: vramscope_inject, vramscope_record, vramscope_samples)
#
# 1. lists every PM-sampling base metric of the chip (VRAMSCOPE_COUNTERS_LIST=all);
# 2. asks ncu (--clock-control none) which unit sm__throughput takes its
#    maximum from on the tiled GEMM and on the triad (breakdown:);
# 3. records the GEMM, the triad and the launch storm with the SM percentage
#    also taking the max with each listed metric named in CANDIDATES
#    (VRAMSCOPE_TEST_PM_SM_EXTRA) and prints the medians the trace's samples
#    give, beside ncu's.
# Output under $OUT (or the current directory): metrics_list.txt, ncu_*.txt,
# sm_extra.txt (and with SAVE_TRACES=1 the candidates' traces).
set -uo pipefail
build="${1:-build-gpu}"
out="${OUT:-$PWD}"
export PATH=/usr/local/cuda/bin:$PATH
REC="$PWD/$build/injector/vramscope-record"
S="$PWD/$build/samples/vramscope_samples"
C="$PWD/$build/injector/vtrace_count"
W="$(mktemp -d)"
VRAMSCOPE_COUNTERS=pm VRAMSCOPE_COUNTERS_LIST=all timeout 60 "$REC" -o "$W/list.vtrace" -- "$S" gemm --n 2048 --reps 20 \
    >"$out/metrics_list.txt" 2>&1
grep -c . "$out/metrics_list.txt"
for k in gemm stream; do
  args=(gemm --n 4096 --reps 3); [[ $k == stream ]] && args=(stream --mb 1024 --reps 3)
  timeout 90 ncu --clock-control none --launch-skip 1 --launch-count 1 \
      --metrics breakdown:sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed \
      "$S" "${args[@]}" >"$out/ncu_$k.txt" 2>&1
  grep -E "^\s+[a-z0-9_]+__[a-z0-9_.]+ +%" "$out/ncu_$k.txt" | sort -k3 -g -r | head -8
done
# Candidates: metrics the chip lists whose names suggest the units a
# shared-memory-tiled SGEMM saturates (L1/shared, LSU/MIO, FMA pipes).
read -r -a CAND <<<"${CANDIDATES:-}"
if [[ ${#CAND[@]} -eq 0 ]]; then
  mapfile -t CAND < <(grep -oE "[A-Za-z_.]*(l1tex__throughput|l1tex__data_pipe_lsu_wavefronts_mem_shared|l1tex__data_bank|sm__pipe_fma_cycles_active|sm__inst_executed_pipe_lsu|sm__mio[a-z_]*|sm__pipe_shared_cycles_active|sm__pipe_alu_cycles_active|sm__pipe_fmaheavy_cycles_active)[a-z_]*" \
      "$out/metrics_list.txt" | sort -u | head -12)
fi
# Each candidate on the GEMM, the triad and the launch storm (SM_WORKLOADS):
# the SM side must read high on the first and low on the other two.
read -r -a WL <<<"${SM_WORKLOADS:-gemm stream tiny}"
for m in "${CAND[@]}"; do
  case "$m" in *.avg*|*.sum*) full="$m" ;; *) full="$m.avg.pct_of_peak_sustained_elapsed" ;; esac
  for k in "${WL[@]}"; do
    case "$k" in
      gemm) args=(gemm --n 4096 --reps 100) ;;
      stream) args=(stream --mb 1024 --reps 1500) ;;
      tiny) args=(tiny --reps 300000) ;;
      *) args=("$k") ;;
    esac
    VRAMSCOPE_COUNTERS=pm VRAMSCOPE_TEST_PM_SM_EXTRA="$full" VRAMSCOPE_VERBOSE=1 timeout 60 "$REC" -o "$W/x.vtrace" -- \
        "$S" "${args[@]}" >"$W/x.log" 2>&1
    rc=$?
    mean=$("$C" "$W/x.vtrace" 2>/dev/null | grep "^counter_median" | paste -sd' ')
    echo "extra $full on $k: exit $rc $(grep -ciE 'refuse|error|corrupt' "$W/x.log") problems; $mean" | tee -a "$out/sm_extra.txt"
    grep -iE "refuse|does not list|corrupt|error" "$W/x.log" | head -3 | tee -a "$out/sm_extra.txt"
    # SAVE_TRACES=1: the traces come back as sm_<metric's last word>_<workload>.vtrace.
    [[ -n "${SAVE_TRACES:-}" ]] && cp "$W/x.vtrace" "$out/sm_${m##*.}_$k.vtrace"
  done
done
