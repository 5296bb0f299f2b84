#!/usr/bin/env bash
# Runs every libFuzzer target for at least 10 million executions (not a time
# limit, as ctest does) and prints, per target:
#   fuzz_<name>_execs <N> execs
#   fuzz_<name>_crashes <N> count
# N execs is the sum of libFuzzer's stat::number_of_executed_units over every
# run; a crash, leak, timeout or OOM counts once and the run goes on from
# where it stopped until the executions are done (inputs in WORK/<name>/artifacts).
#
# usage: scripts/fuzz_10m.sh BIN_DIR [WORKERS] [EXECS]
#   BIN_DIR  a fuzz build (cmake --preset fuzz: binaries in BIN_DIR/tests/fuzz) or
#            any folder the fuzz_* binaries were copied into
#   WORKERS  processes per target, one core each (default 1); EXECS is split among them
#   EXECS    executions per target (default 10000000)
# Environment:
#   FUZZ_SEEDS    folder with corpus/, corpus_cli/, corpus_footer/, cli.dict and optionally
#                 snapshots/ (default: BIN_DIR/seeds if present, else tests/fuzz of this checkout)
#   FUZZ_WORK     where corpora, logs and artifacts go (default: a new fuzz-10m.XXXX here)
#   FUZZ_TARGETS  which targets (default: reader pickle analysis chunk_stream cli footer model index)
#   FUZZ_MAX_SECONDS  stop each target after this many seconds even if its executions are
#                 not done (a machine lent for a few minutes); the lines then say how many ran
# On another machine: copy build-fuzz/tests/fuzz/fuzz_* and this script, and
# tests/fuzz/{corpus,corpus_cli,corpus_footer,corpus_index,cli.dict} plus tests/data/snapshots
# as seeds/{…,snapshots}; the binaries need libzstd (and Qt 6 Core for fuzz_cli) there.
# Exit status: 0 when every target ran its executions without a finding.
set -uo pipefail

bin=${1:?usage: fuzz_10m.sh BIN_DIR [WORKERS] [EXECS]}
workers=${2:-1}
execs=${3:-10000000}
[[ $workers =~ ^[1-9][0-9]*$ && $execs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz_10m: WORKERS and EXECS are positive numbers" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
if [[ -n ${FUZZ_SEEDS:-} ]]; then seeds=$FUZZ_SEEDS
elif [[ -d $bin/seeds ]]; then seeds=$bin/seeds
else seeds=$here/../tests/fuzz
fi
snapshots=$seeds/snapshots
[[ -d $snapshots ]] || snapshots=$seeds/../data/snapshots
work=${FUZZ_WORK:-$(mktemp -d "$PWD/fuzz-10m.XXXX")}
mkdir -p "$work"
echo "fuzz_10m: $execs executions per target on $workers workers; logs and findings in $work" >&2

# Options as in tests/fuzz/CMakeLists.txt (into opts) and seed folders (into
# seed_dirs); a folder or dictionary this machine lacks is left out.
target_args() {
    opts=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10) seed_dirs=()
    local wanted=()
    case $1 in
    reader) opts+=(-max_len=65536) wanted=("$seeds/corpus" "$seeds/corpus_footer/traces") ;;
    pickle) opts+=(-max_len=65536) wanted=("$snapshots") ;;
    analysis) opts+=(-max_len=16384) ;;
    chunk_stream) opts+=(-max_len=65536) wanted=("$seeds/corpus") ;;
    cli)
        # -close_fd_mask=3: usage errors would flood the log; libFuzzer's own lines stay.
        opts+=(-max_len=4096 -close_fd_mask=3) wanted=("$seeds/corpus_cli")
        [[ -f $seeds/cli.dict ]] && opts+=("-dict=$seeds/cli.dict")
        ;;
    footer) opts+=(-max_len=1024) wanted=("$seeds/corpus_footer/plans") ;;
    model) opts+=(-max_len=65536) wanted=("$seeds/corpus" "$seeds/corpus_footer/traces") ;;
    index) opts+=(-max_len=65536) wanted=("$seeds/corpus_index") ;;
    esac
    local d
    for d in "${wanted[@]}"; do [[ -d $d ]] && seed_dirs+=("$d"); done
}

# One worker: runs until it has done its share, restarting after each finding
# (libFuzzer stops at the first). New inputs go to $dir/corpus, shared by the
# workers. Writes "<execs> <findings>" to $dir/worker<i>.result.
run_worker() {
    local exe=$1 name=$2 dir=$3 i=$4 share=$5 done=0 findings=0 round=0 opts seed_dirs
    local deadline=$((SECONDS + ${FUZZ_MAX_SECONDS:-0}))
    target_args "$name"
    while ((done < share && round < 1000)); do
        local log=$dir/logs/worker$i.$round.log rc n
        if [[ -n ${FUZZ_MAX_SECONDS:-} ]]; then
            ((SECONDS < deadline)) || break
            opts+=(-max_total_time=$((deadline - SECONDS)))
        fi
        ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$exe" -runs=$((share - done)) -print_final_stats=1 \
            -artifact_prefix="$dir/artifacts/" "${opts[@]}" "$dir/corpus" "${seed_dirs[@]}" >"$log" 2>&1
        rc=$?
        n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
        # A run that died before its final stats: its last status line says how far it got.
        [[ -n $n ]] || n=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
        n=${n:-0}
        done=$((done + n))
        ((rc != 0)) && findings=$((findings + 1))
        ((n > 0)) || break  # no progress (it cannot start, or dies at once): give up
        round=$((round + 1))
        target_args "$name"  # without the previous round's -max_total_time
    done
    echo "$done $findings" >"$dir/worker$i.result"
}

status=0
for name in ${FUZZ_TARGETS:-reader pickle analysis chunk_stream cli footer model index}; do
    exe=$bin/fuzz_$name
    [[ -x $exe ]] || exe=$bin/tests/fuzz/fuzz_$name
    if [[ ! -x $exe ]]; then
        echo "fuzz_10m: no fuzz_$name in $bin (not built?)" >&2
        echo "fuzz_${name}_execs 0 execs"
        echo "fuzz_${name}_crashes 0 count"
        status=1
        continue
    fi
    dir=$work/$name
    mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/logs"
    share=$(((execs + workers - 1) / workers))
    pids=()
    for ((i = 0; i < workers; i++)); do
        run_worker "$exe" "$name" "$dir" "$i" "$share" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    total=0 findings=0
    for ((i = 0; i < workers; i++)); do
        read -r e f <"$dir/worker$i.result" || { e=0 f=1; }
        total=$((total + e)) findings=$((findings + f))
    done
    echo "fuzz_${name}_execs $total execs"
    echo "fuzz_${name}_crashes $findings count"
    ((findings == 0 && total >= execs)) || status=1
    if ((findings > 0)); then
        # The same input can be found again after a restart: artifacts are named by content.
        echo "fuzz_10m: $name: $findings runs ended in a finding; distinct inputs:" >&2
        ls "$dir/artifacts" | sed "s|^|  $dir/artifacts/|" >&2
    fi
done
exit $status
