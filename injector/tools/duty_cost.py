#!/usr/bin/env python3
"""What a part of the capture costs a training step, measured inside one process.

    injector/tools/duty_cost.py [--vramscope PATH | --vtrace-count PATH] [--paused] TRACE.vtrace [...]

Steps with and without the part alternate in one process, so comparing
neighbouring windows of them leaves out what differs between processes (on a
shared machine the CPU's speed drifts by more than the cost measured).

Default: PM sampling in bursts (VRAMSCOPE_COUNTER_DUTY=500:500, as
`DUTY_TRACES=1 injector/tools/gpu_python_stacks.sh` records). An iteration is
"on" (sampled) when counter samples cover at least 80 % of it, "off" when
none fall in it.

--paused: parts of the capture paused in turns (VRAMSCOPE_TEST_PAUSE=ON:OFF:PARTS,
as `PAUSE_TRACES=... injector/tools/gpu_python_stacks.sh` records). An
iteration is "off" when it lies wholly inside a "capture paused" region, "on"
when it touches none.

--vtrace-count PATH: read the phase markers with the Qt-free vtrace_count
(on a GPU machine without the vramscope CLI; --paused only). An iteration is
then one whole step period, from a ForwardBegin marker to the next one, the
time the GPU needs to finish included: step time as the training loop sees it.

The rest (a burst or pause starts or ends inside) and iterations over 3x the
median are left out. Consecutive iterations of the same kind (across left-out
ones) form a window; each "on" window is compared with the "off" window next
to it (ratio of mean iteration times).

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


def iterations_of(events):
    iterations = sorted((e["ts"], e["dur"]) for e in events if e.get("cat") == "iteration")
    if not iterations:
        raise ValueError("the trace has no iterations")
    return iterations


def kinds_by_samples(events):
    """(kind, duration) per iteration: "on" when counter samples cover it."""
    iterations = iterations_of(events)
    series = {}
    for e in events:
        if e.get("ph") == "C" and e.get("name", "").endswith("%"):
            series.setdefault(e["name"], []).append(e["ts"])
    if not series:
        raise ValueError("the trace has no counter samples")
    samples = sorted(max(series.values(), key=len))
    # The sampling interval: the most common gap between samples (us).
    gaps = [b - a for a, b in zip(samples, samples[1:]) if b > a]
    interval = statistics.median(gaps) if gaps else 1000.0
    kinds = []
    for start, duration in iterations:
        n = bisect.bisect_right(samples, start + duration) - bisect.bisect_left(samples, start)
        kinds.append(("on" if n >= 0.8 * duration / interval else "off" if n == 0 else None, duration))
    return kinds


def kinds_by_pauses(events):
    """(kind, duration) per iteration: "off" inside a "capture paused" region."""
    iterations = iterations_of(events)
    pauses = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                    if e.get("cat") == "region" and e.get("name", "").startswith("capture paused"))
    if not pauses:
        raise ValueError("the trace has no \"capture paused\" regions (recorded with VRAMSCOPE_TEST_PAUSE?)")
    starts = [p[0] for p in pauses]
    kinds = []
    for start, duration in iterations:
        end = start + duration
        i = bisect.bisect_right(starts, start) - 1  # the last pause beginning at or before the iteration
        inside = i >= 0 and pauses[i][1] >= end
        touches = (i >= 0 and pauses[i][1] > start) or (i + 1 < len(pauses) and pauses[i + 1][0] < end)
        kinds.append(("off" if inside else None if touches else "on", duration))
    return kinds


FORWARD_BEGIN, REGION_BEGIN, REGION_END = 2, 8, 9  # format::PhaseKind


def phase_markers(vtrace_count, trace):
    """(timestamp ns, kind, name) of every phase marker, in time order."""
    out = subprocess.run([vtrace_count, trace, "--dump", "phase", "2000000000"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    markers = []
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "phase":
            markers.append((int(parts[1]), int(parts[2]), parts[3] if len(parts) > 3 else ""))
    return sorted(markers)


def kinds_by_pause_markers(markers):
    """(kind, step period) per step: "off" inside a "capture paused" region, as kinds_by_pauses."""
    starts = [t for t, k, _ in markers if k == FORWARD_BEGIN]
    if len(starts) < 2:
        raise ValueError("the trace has fewer than two ForwardBegin markers")
    pauses, begin = [], None
    for t, k, name in markers:
        if not name.startswith("capture paused"):
            continue
        if k == REGION_BEGIN:
            begin = t
        elif k == REGION_END and begin is not None:
            pauses.append((begin, t))
            begin = None
    if not pauses:
        raise ValueError("the trace has no \"capture paused\" regions (recorded with VRAMSCOPE_TEST_PAUSE?)")
    events = [{"cat": "iteration", "ts": a, "dur": b - a} for a, b in zip(starts, starts[1:])]
    events += [{"cat": "region", "name": "capture paused", "ts": a, "dur": b - a} for a, b in pauses]
    return kinds_by_pauses(events)


def window_ratios(kinds):
    median = statistics.median(d for _, d in kinds)
    kinds = [(None if d > 3 * median else k, d) for k, d in kinds]
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
        if {a[0], b[0]} == {"on", "off"}:
            on, off = (a, b) if a[0] == "on" else (b, a)
            ratios.append(statistics.mean(on[1]) / statistics.mean(off[1]))
    counts = {k: sum(1 for kind, _ in kinds if kind == k) for k in ("on", "off")}
    return ratios, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("traces", nargs="+", metavar="TRACE")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--vramscope", default=os.path.join(here, "..", "..", "build", "profiler", "cli", "vramscope"),
                        help="the vramscope binary (default: the build tree's)")
    parser.add_argument("--vtrace-count", metavar="PATH",
                        help="read phase markers with this vtrace_count instead of the vramscope CLI (--paused only)")
    parser.add_argument("--paused", action="store_true",
                        help="compare steps inside \"capture paused\" regions (VRAMSCOPE_TEST_PAUSE) with the rest")
    args = parser.parse_args()
    on_name, off_name = ("active", "paused") if args.paused else ("sampled", "paused")
    ratios, on, off = [], 0, 0
    for trace in args.traces:
        try:
            if args.vtrace_count:
                if not args.paused:
                    raise ValueError("--vtrace-count reads pauses only (add --paused)")
                kinds = kinds_by_pause_markers(phase_markers(args.vtrace_count, trace))
            else:
                events = export(args.vramscope, trace)
                kinds = kinds_by_pauses(events) if args.paused else kinds_by_samples(events)
            r, counts = window_ratios(kinds)
        except (OSError, ValueError, subprocess.CalledProcessError) as e:
            print(f"duty_cost: {trace}: {e}", file=sys.stderr)
            return 1
        ratios += r
        on += counts["on"]
        off += counts["off"]
    print(f"iterations_{on_name} {on} iterations")
    print(f"iterations_{off_name} {off} iterations")
    print(f"window_pairs {len(ratios)} pairs")
    if not ratios:
        print(f"duty_cost: no {on_name} window next to a {off_name} one", file=sys.stderr)
        return 1
    print_ratios(f"{on_name}_over_{off_name}", ratios, seed=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
