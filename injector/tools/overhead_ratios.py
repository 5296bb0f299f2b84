#!/usr/bin/env python3
"""Ratios of step times from the overhead runs, with their uncertainty.

    injector/tools/overhead_ratios.py [--base CONFIG] python_stacks_overhead.txt [...]

Reads the "repN CONFIG MS CONFIG MS ..." rows that
`REPS=N CONFIGS=... injector/tools/gpu_python_stacks.sh` writes (several files
pool their rows). For each config against the base (default: plain) it
takes the per-rep ratio of step times and prints `name value unit` lines: the
number of pairs, the median and mean ratio, and a 90 % bootstrap interval of
the mean (5000 resamples, fixed seed, so the figures repeat). A row without
both configs is skipped.
"""
import argparse
import random
import statistics
import sys


def read_rows(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if not fields or not fields[0].startswith("rep") or len(fields) % 2 == 0:
                    continue
                row = {}
                for name, value in zip(fields[1::2], fields[2::2]):
                    try:
                        row[name] = float(value)
                    except ValueError:
                        pass  # a run that printed no step time
                rows.append(row)
    return rows


def print_ratios(key, ratios, seed=1):
    """`name value unit` lines: median and mean of the ratios, and a 90 %
    bootstrap interval of the mean (5000 resamples; the seed keeps it fixed)."""
    rng = random.Random(seed)
    means = sorted(statistics.mean(rng.choices(ratios, k=len(ratios))) for _ in range(5000))
    print(f"{key}_median {statistics.median(ratios):.4f} ratio")
    print(f"{key}_mean {statistics.mean(ratios):.4f} ratio")
    print(f"{key}_mean_p05 {means[250]:.4f} ratio")
    print(f"{key}_mean_p95 {means[4750]:.4f} ratio")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--base", default="plain", help="the config the others are divided by (default: plain)")
    args = parser.parse_args()
    try:
        rows = read_rows(args.files)
    except OSError as e:
        print(f"overhead_ratios: {e}", file=sys.stderr)
        return 1
    configs = []
    for row in rows:
        configs += [c for c in row if c not in configs and c != args.base]
    if not configs:
        print(f"overhead_ratios: no rows with {args.base} and another config", file=sys.stderr)
        return 1
    for config in configs:
        ratios = [r[config] / r[args.base] for r in rows if config in r and args.base in r and r[args.base] > 0]
        if not ratios:
            continue
        key = f"{config}_over_{args.base}"
        print(f"{key}_pairs {len(ratios)} pairs")
        print_ratios(key, ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
