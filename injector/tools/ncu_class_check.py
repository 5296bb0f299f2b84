#!/usr/bin/env python3
"""Kernel classes of a trace against ncu's figures for the same kernels.

    ncu_class_check.py [--vramscope CLI] [--top N] [--json OUT] [--ground-truth OUT] TRACE NCU_CSV

TRACE is a .vtrace recorded with hardware counters; NCU_CSV is what
`ncu --csv --page raw --print-units base --print-kernel-base demangled
--metrics gpu__time_duration.sum,sm__throughput...,dram__throughput...,
sm__pipe_tensor_cycles_active...` wrote for one step of the same job
(injector/tools/gpu_kernel_class_check.sh makes both). Per kernel name, ncu's
duration-weighted means are classed by the rule of docs/boundness.md
(compute: SM or tensor pipes >= 50 % and at least DRAM; bandwidth: DRAM
>= 50 %; latency: neither) and set beside the trace's class and fitted
percentages (`vramscope export --format kernels`). Prints one row per name,
most GPU time in the trace first, and `name value unit` lines: the share of
the trace's kernel time whose class ncu's figures give too, and the share
whose SM, DRAM and tensor-pipe percentages are all within 15 points of ncu's.

--ground-truth OUT writes ncu's figures under the trace's own kernel names
(JSON: kernels[] of name, launches, ns, sm_pct, dram_pct, tensor_pct), for
the tests that hold a trace's classes to them (tests/data/ncu/).
"""
import argparse
import csv
import io
import json
import re
import subprocess
import sys

SM = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
DRAM = "dram__throughput.avg.pct_of_peak_sustained_elapsed"
TENSOR_PREFIX = "sm__pipe_tensor"
DURATION = "gpu__time_duration.sum"


def name_key(name):
    """One spelling of a demangled kernel name for both demanglers: the
    trace's (the C++ runtime's: `at::native::(anonymous namespace)::f<...>(int,
    float const*)`, `{lambda(float)#1}`, `2ul`, `true`, `(E)1`) and ncu's
    (`at::<unnamed>::f<...>(int, const T2 *)`, `[lambda(float) (instance 1)]`,
    `2`, `1`, `1`). Drops the parameter list, every namespace qualifier,
    whitespace, integer suffixes and enum casts."""
    n = name.replace("(anonymous namespace)", "anon").replace("<unnamed>", "anon")
    n = re.sub(r"\[lambda\(([^()]*)\) \(instance (\d+)\)\]", r"lambda(\1)#\2", n)
    n = re.sub(r"\{lambda\(([^()]*)\)#(\d+)\}", r"lambda(\1)#\2", n)
    depth = 0
    for i, c in enumerate(n):  # the parameter list: the first '(' outside template arguments
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0 and i > 0:
            n = n[:i]
            break
    n = re.sub(r"\bconst\s+([\w:]+)\s*\*", r"\1 const*", n)
    n = re.sub(r"\b\w+::", "", n)
    n = re.sub(r"\s+", "", n)
    n = re.sub(r"\btrue\b", "1", re.sub(r"\bfalse\b", "0", n))
    n = re.sub(r"\(\w+\)(?=-?\d)", "", n)
    n = re.sub(r"\b(\d+)(ull|ul|ll|u|l)\b", r"\1", n)
    return n[4:] if n.startswith("void") else n


def classify(sm, dram, tensor):
    if (sm >= 50 and sm >= dram) or (tensor >= 50 and tensor >= dram):
        return "compute"
    if dram >= 50:
        return "bandwidth"
    return "latency"


def read_ncu(path):
    """Kernel name -> {ns, sm, dram, tensor, count} (duration-weighted means)."""
    with open(path, newline="", errors="replace") as f:
        lines = [line for line in f if not line.startswith("==")]
    rows = list(csv.reader(io.StringIO("".join(lines))))
    if not rows or "Kernel Name" not in rows[0]:
        sys.exit(f"{path}: no ncu CSV header (expected a 'Kernel Name' column)")
    head = rows[0]
    col = {name: i for i, name in enumerate(head)}
    for need in (DURATION, SM, DRAM):
        if need not in col:
            sys.exit(f"{path}: no column {need}")
    tensor_col = next((i for i, name in enumerate(head) if name.startswith(TENSOR_PREFIX)), None)
    out = {}
    for r in rows[1:]:
        if len(r) != len(head) or not r[col["ID"]].strip().isdigit():
            continue  # the units row, or a broken line
        try:  # ncu groups thousands: "15,232"
            ns = float(r[col[DURATION]].replace(",", ""))
            sm = float(r[col[SM]].replace(",", ""))
            dram = float(r[col[DRAM]].replace(",", ""))
            tensor = float(r[tensor_col].replace(",", "")) if tensor_col is not None else 0.0
        except ValueError:
            continue
        k = out.setdefault(name_key(r[col["Kernel Name"]]), {"ns": 0.0, "sm": 0.0, "dram": 0.0, "tensor": 0.0, "count": 0})
        k["ns"] += ns
        k["sm"] += sm * ns
        k["dram"] += dram * ns
        k["tensor"] += tensor * ns
        k["count"] += 1
    for k in out.values():
        if k["ns"] > 0:
            for m in ("sm", "dram", "tensor"):
                k[m] /= k["ns"]
        k["bound"] = classify(k["sm"], k["dram"], k["tensor"])
    return out


def read_trace(cli, path):
    text = subprocess.run([cli, "export", "--format", "kernels", "-o", "-", path], check=True,
                          capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(text)))


CLOSE = 15  # points: the bar for sampled percentages against ncu


def within(ours, n, points):
    """DRAM, tensor pipes and the SM side within `points` of ncu's. ncu's
    sm__throughput takes the tensor pipes into its maximum; ours keeps them
    apart, so the SM side compared is the larger of our SM and tensor."""
    dram = float(ours["dram_pct"])
    tensor = float(ours["tensor_pct"] or 0)
    sm = max(float(ours["sm_pct"] or 0), tensor)
    return abs(dram - n["dram"]) <= points and abs(tensor - n["tensor"]) <= points and abs(sm - n["sm"]) <= points


def short(name, width=70):
    base = name_key(name)
    return base if len(base) <= width else base[: width - 3] + "..."


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("trace")
    p.add_argument("ncu_csv")
    p.add_argument("--vramscope", default="build/profiler/cli/vramscope")
    p.add_argument("--top", type=int, default=15, help="rows to print (default 15)")
    p.add_argument("--json", default="", help="also write the comparison as JSON here")
    p.add_argument("--ground-truth", default="", help="write ncu's figures under the trace's kernel names here")
    p.add_argument("--note", default="", help="--ground-truth: what was profiled, how (kept in the file)")
    a = p.parse_args()
    ncu = read_ncu(a.ncu_csv)
    ours = read_trace(a.vramscope, a.trace)
    total = sum(int(k["total_ns"]) for k in ours) or 1
    matched = agree = agree_counters = counters_ns = close = 0
    rows = []
    for k in ours:
        n = ncu.get(name_key(k["name"]))
        ns = int(k["total_ns"])
        row = {"name": k["name"], "share": ns / total, "bound": k["bound"], "bound_source": k["bound_source"],
               "sm_pct": k["sm_pct"], "dram_pct": k["dram_pct"], "tensor_pct": k["tensor_pct"]}
        if n:
            matched += ns
            row["ncu"] = {m: n[m] for m in ("sm", "dram", "tensor", "bound", "count")}
            if n["bound"] == k["bound"]:
                agree += ns
            if k["dram_pct"] and within(k, n, CLOSE):
                close += ns
            if k["bound_source"] == "counters":
                counters_ns += ns
                if n["bound"] == k["bound"]:
                    agree_counters += ns
        rows.append(row)
    print(f"{'share':>6} {'ours':<10} {'src':<8} {'SM':>5} {'DRAM':>5} {'TENS':>5} | {'ncu':<10} {'SM':>5} {'DRAM':>5} {'TENS':>5}  kernel")
    for r in rows[: a.top]:
        n = r.get("ncu")
        ncu_text = f"{n['bound']:<10} {n['sm']:5.1f} {n['dram']:5.1f} {n['tensor']:5.1f}" if n else f"{'-':<10} {'':>5} {'':>5} {'':>5}"
        mark = " " if not n or n["bound"] == r["bound"] else "*"
        print(f"{100 * r['share']:5.1f}% {r['bound']:<10} {r['bound_source']:<8} {r['sm_pct'] or '-':>5.5} "
              f"{r['dram_pct'] or '-':>5.5} {r['tensor_pct'] or '-':>5.5} | {ncu_text} {mark}{short(r['name'])}")
    print(f"kernel_time_matched_in_ncu {100 * matched / total:.1f} %")
    print(f"class_agreement {100 * agree / max(matched, 1):.1f} % of matched kernel time")
    print(f"class_agreement_counters {100 * agree_counters / max(counters_ns, 1):.1f} % of matched time classed by counters")
    print(f"within_{CLOSE}_points {100 * close / max(matched, 1):.1f} % of matched kernel time (SM, DRAM and tensor pipes)")
    if a.ground_truth:
        kernels = [{"name": r["name"], "launches": r["ncu"]["count"], "ns": round(ncu[name_key(r["name"])]["ns"]),
                    "sm_pct": round(r["ncu"]["sm"], 2), "dram_pct": round(r["ncu"]["dram"], 2),
                    "tensor_pct": round(r["ncu"]["tensor"], 2)} for r in rows if r.get("ncu")]
        with open(a.ground_truth, "w") as f:
            json.dump({"note": a.note, "kernels": kernels}, f, indent=1)
            f.write("\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"trace": a.trace, "ncu": a.ncu_csv, "kernels": rows}, f, indent=1)


if __name__ == "__main__":
    main()
