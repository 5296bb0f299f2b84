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
the same process. Windows may share a NAME (the same settings attached
several times): then each window's median is also set against the steps
of the gaps on either side of it (the job un-attached just before and just
after), and `step_ratio_NAME_vs_gaps` is the median of those ratios — drift
of the job itself over the minutes cancels out.
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
    gap_ratios = {}
    for k, (name, begin, stop) in enumerate(windows):
        prev_end = windows[k - 1][2] if k else 0
        next_begin = windows[k + 1][1] if k + 1 < len(windows) else float("inf")
        inside = [ms for i, start, end, ms, _ in steps if i >= a.warmup and start >= begin and end <= stop]
        around = [ms for i, start, end, ms, _ in steps
                  if i >= a.warmup and ((start >= prev_end and end <= begin) or (start >= stop and end <= next_begin))]
        if inside and around:
            gap_ratios.setdefault(name, []).append(statistics.median(inside) / statistics.median(around))
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
    # After the last detach, against before the first attach: what is left
    # once the capture is gone (nothing, when detaching cleans up).
    last_end = windows[-1][2]
    after_last = [ms for i, start, end, ms, _ in steps if i >= a.warmup and start >= last_end]
    if base and after_last:
        print(f"step_ms_median_after_last_detach {statistics.median(after_last):.3f} ms")
        print(f"step_ratio_after_last_detach {statistics.median(after_last) / base:.4f} x")
    for name, ratios in gap_ratios.items():
        if len(ratios) > 1:
            print(f"step_ratio_{name}_vs_gaps {statistics.median(ratios):.4f} x")
            print(f"windows_{name} {len(ratios)} windows ({' '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
