#!/usr/bin/env bash
# Injector overhead: runs a CUDA workload with and without
# libvramscope_inject.so, alternating, and prints "name value unit" lines,
# including the median step-time ratio (traced / plain).
#
#   bench/injector_overhead.sh [-n REPS] [-l LIB] [-o DIR] -- PROGRAM ARGS...
#
# PROGRAM must print "step_ms_median X" (samples/vramscope_samples bench does).
# Defaults: 5 repetitions each, LIB from build/injector/, traces into a temp dir.
set -euo pipefail
reps=5
lib=""
outdir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) reps="$2"; shift 2 ;;
    -l) lib="$2"; shift 2 ;;
    -o) outdir="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
if [[ $# -eq 0 ]]; then
  echo "usage: $0 [-n REPS] [-l LIB] [-o DIR] -- PROGRAM ARGS..." >&2
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
lib="${lib:-$here/build/injector/libvramscope_inject.so}"
[[ -f "$lib" ]] || { echo "injector not found: $lib (pass -l)" >&2; exit 2; }
outdir="${outdir:-$(mktemp -d)}"
mkdir -p "$outdir"

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
step_ms() { awk '$1=="step_ms_median"{print $2}'; }

plain=(); traced=(); plain_wall=(); traced_wall=()
for ((i = 1; i <= reps; i++)); do
  t0=$(date +%s.%N)
  p=$("$@" | step_ms)
  t1=$(date +%s.%N)
  t=$(VRAMSCOPE_QUIET=1 VRAMSCOPE_OUTPUT="$outdir/overhead.$i.vtrace" LD_PRELOAD="$lib" "$@" | step_ms)
  t2=$(date +%s.%N)
  plain+=("$p"); traced+=("$t")
  plain_wall+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"); traced_wall+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')")
  echo "rep$i.plain_step_ms $p ms"
  echo "rep$i.traced_step_ms $t ms"
done
pm=$(printf '%s\n' "${plain[@]}" | median)
tm=$(printf '%s\n' "${traced[@]}" | median)
pw=$(printf '%s\n' "${plain_wall[@]}" | median)
tw=$(printf '%s\n' "${traced_wall[@]}" | median)
ratios=()
for ((i = 0; i < reps; i++)); do ratios+=("$(awk -v a="${traced[$i]}" -v b="${plain[$i]}" 'BEGIN{printf "%.5f", a/b}')"); done
echo "repetitions $reps count"
echo "plain_step_ms_median $pm ms"
echo "traced_step_ms_median $tm ms"
echo "step_time_ratio $(awk -v a="$tm" -v b="$pm" 'BEGIN{printf "%.4f", a/b}') x"
echo "pair_ratio_median $(printf '%s\n' "${ratios[@]}" | median | awk '{printf "%.4f", $1}') x"
echo "pair_ratio_min $(printf '%s\n' "${ratios[@]}" | sort -g | head -1) x"
echo "pair_ratio_max $(printf '%s\n' "${ratios[@]}" | sort -g | tail -1) x"
echo "plain_wall_s_median $pw s"
echo "traced_wall_s_median $tw s"
echo "wall_time_ratio $(awk -v a="$tw" -v b="$pw" 'BEGIN{printf "%.4f", a/b}') x"
echo "trace_bytes $(stat -c %s "$outdir/overhead.1.vtrace" 2>/dev/null || echo 0) bytes"
