#!/usr/bin/env python3
"""What PM sampling costs a training step, measured inside one process.

    injector/tools/duty_cost.py [--vramscope PATH] TRACE.vtrace [...]

The traces are recorded with counters in bursts (VRAMSCOPE_COUNTER_DUTY=500:500,
as `DUTY_TRACES=1 injector/tools/gpu_python_stacks.sh` does), so steps that
were sampled and steps that were not alternate in one process. Comparing
neighbouring windows of them leaves out what differs between processes (on a
shared machine the CPU's speed drifts by more than the cost measured).

An iteration counts as sampled when counter samples cover at least 80 % of
it, as paused when none fall in it; the rest (a burst starts or ends inside)
and iterations over 3x the median are left out. Consecutive iterations of the
same kind (across left-out ones) form a window; each sampled window is compared with the paused
window next to it (ratio of mean iteration times).

Prints `name value unit` lines: iterations of each kind, the median and mean
of the window ratios with a 90 % bootstrap interval of the mean.
"""
import argparse
import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile

from overhead_ratios import print_ratios  # beside this script


def export(vramscope, trace):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "trace.json")
        subprocess.run([vramscope, "export", "--format", "chrome", "--no-kernels", "-o", out, trace],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            data = json.load(f)
    return data["traceEvents"] if isinstance(data, dict) else data


def window_ratios(events):
    iterations = sorted((e["ts"], e["dur"]) for e in events if e.get("cat") == "iteration")
    series = {}
    for e in events:
        if e.get("ph") == "C" and e.get("name", "").endswith("%"):
            series.setdefault(e["name"], []).append(e["ts"])
    if not iterations or not series:
        raise ValueError("the trace needs iterations and counter samples")
    samples = sorted(max(series.values(), key=len))
    # The sampling interval: the most common gap between samples (us).
    gaps = [b - a for a, b in zip(samples, samples[1:]) if b > a]
    interval = statistics.median(gaps) if gaps else 1000.0
    median = statistics.median(d for _, d in iterations)
    kinds = []
    for start, duration in iterations:
        n = bisect.bisect_right(samples, start + duration) - bisect.bisect_left(samples, start)
        if duration > 3 * median:
            kind = None
        elif n >= 0.8 * duration / interval:
            kind = "sampled"
        elif n == 0:
            kind = "paused"
        else:
            kind = None
        kinds.append((kind, duration))
    windows = []
    for kind, duration in kinds:
        if kind is None:
            continue  # left out; the windows on either side still neighbour
        if windows and windows[-1][0] == kind:
            windows[-1][1].append(duration)
        else:
            windows.append((kind, [duration]))
    ratios = []
    for a, b in zip(windows, windows[1:]):
        if {a[0], b[0]} == {"sampled", "paused"}:
            sampled, paused = (a, b) if a[0] == "sampled" else (b, a)
            ratios.append(statistics.mean(sampled[1]) / statistics.mean(paused[1]))
    counts = {k: sum(1 for kind, _ in kinds if kind == k) for k in ("sampled", "paused")}
    return ratios, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("traces", nargs="+", metavar="TRACE")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--vramscope", default=os.path.join(here, "..", "..", "build", "profiler", "cli", "vramscope"),
                        help="the vramscope binary (default: the build tree's)")
    args = parser.parse_args()
    ratios, sampled, paused = [], 0, 0
    for trace in args.traces:
        try:
            r, counts = window_ratios(export(args.vramscope, trace))
        except (OSError, ValueError, subprocess.CalledProcessError) as e:
            print(f"duty_cost: {trace}: {e}", file=sys.stderr)
            return 1
        ratios += r
        sampled += counts["sampled"]
        paused += counts["paused"]
    print(f"iterations_sampled {sampled} iterations")
    print(f"iterations_paused {paused} iterations")
    print(f"window_pairs {len(ratios)} pairs")
    if not ratios:
        print("duty_cost: no sampled window next to a paused one", file=sys.stderr)
        return 1
    print_ratios("sampled_over_paused", ratios, seed=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
