#!/usr/bin/env python3
"""Step times of one training job before, while and after `vramscope attach`.

    attach_steps.py STEP_LOG WINDOW [WINDOW...] [--warmup N]

STEP_LOG is what `samples/pytorch/gpt_train.py --log-steps FILE` writes:
"step I END_UNIX_NS STEP_MS ALLOCATED RESERVED" per step. Each WINDOW is
"NAME:BEGIN_NS:END_NS" (Unix ns), the span from starting `vramscope attach`
to its return (injection, capture, detach all inside it). Steps are sorted
into: before the first window, inside a window, and between/after windows
(each "after NAME"), by where they start and end; the first N steps of the
job (warm-up) are left out. Prints `name value unit` lines: the median step
of each part and its ratio to the median before the first attach, all from
the same process.
"""
import argparse
import statistics


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("windows", nargs="+")
    p.add_argument("--warmup", type=int, default=20)
    a = p.parse_args()
    steps = []
    for line in open(a.log):
        f = line.split()
        if len(f) >= 6 and f[0] == "step":
            i, end, ms = int(f[1]), int(f[2]), float(f[3])
            steps.append((i, end - int(ms * 1e6), end, ms, int(f[4])))
    windows = []
    for w in a.windows:
        name, begin, end = w.split(":")
        windows.append((name, int(begin), int(end)))
    windows.sort(key=lambda w: w[1])
    parts = {"before": []}
    for name, _, _ in windows:
        parts[name] = []
        parts["after_" + name] = []
    for i, start, end, ms, _ in steps:
        if i < a.warmup:
            continue
        if end <= windows[0][1]:
            parts["before"].append(ms)
            continue
        for k, (name, begin, stop) in enumerate(windows):
            nxt = windows[k + 1][1] if k + 1 < len(windows) else float("inf")
            if start >= begin and end <= stop:
                parts[name].append(ms)
            elif start >= stop and end <= nxt:
                parts["after_" + name].append(ms)
    base = statistics.median(parts["before"]) if parts["before"] else None
    for name, values in parts.items():
        if not values:
            continue
        median = statistics.median(values)
        print(f"step_ms_median_{name} {median:.3f} ms")
        print(f"steps_{name} {len(values)} steps")
        if base and name != "before":
            print(f"step_ratio_{name} {median / base:.4f} x")


if __name__ == "__main__":
    main()
