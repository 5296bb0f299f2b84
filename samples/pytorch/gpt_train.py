"""A small GPT trained on random tokens: the PyTorch workload for the
injector's overhead benchmark and for real captures of a framework job.

    python3 samples/pytorch/gpt_train.py [--steps N] [--layers L] [--dim D]
        [--batch B] [--seq T] [--nvtx] [--checkpointing] [--grad-accum N]
        [--leak] [--leak-from I] [--snapshot FILE] [--compile] [--profile-step I]
        [--log-steps FILE]

  --checkpointing  torch.utils.checkpoint around every block (non-reentrant):
                   the blocks' forward runs again inside backward
  --grad-accum N   N forward/backward micro-batches per optimizer step
  --leak           a real leak: every step also runs an extra forward pass on
                   a validation batch *without* torch.no_grad() and adds its
                   loss to a running total that is never backpropagated, so
                   each step keeps that pass's whole graph and activations
                   alive (the classic `total += loss` logging bug; keeping
                   `loss` after backward would leak only a few hundred bytes)
  --leak-from I    the same leak, from step I on (a leak that starts after
                   `vramscope attach` attached to the running job)
  --log-steps FILE one line per step, written as it ends: "step I END_UNIX_NS
                   STEP_MS ALLOCATED RESERVED" (torch.cuda.memory_allocated()
                   and memory_reserved() after the step): what a job's own log
                   says, to check an attached trace against
  --profile-step I torch.cuda.profiler.start() before step I and stop()
                   after it (for ncu --profile-from-start off)
  --snapshot FILE  PyTorch's own memory history for the same steps
                   (torch.cuda.memory._record_memory_history from the start,
                   _dump_snapshot(FILE) at the end) and its event counts
                   (pytorch_<action> lines, pytorch_step<i>_alloc per step)

Prints "key value" lines: step_ms_median, _mean and _max (steps after warm-up), the caching
allocator's peaks and its segment counts (each segment is one cudaMalloc,
so a trace's driver allocations can be checked against them).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    def __init__(self, vocab, dim, layers, heads, seq, checkpointing=False):
        super().__init__()
        self.checkpointing = checkpointing
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(seq, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            if self.checkpointing and self.training and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.head(self.ln(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--nvtx", action="store_true", help="NVTX ranges around step phases")
    p.add_argument("--checkpointing", action="store_true", help="activation checkpointing per block")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--profile-step", type=int, default=-1, help="profiler start/stop around this step")
    p.add_argument("--leak", action="store_true", help="keep an extra forward's graph alive every step")
    p.add_argument("--leak-from", type=int, default=-1, help="the same leak, from this step on")
    p.add_argument("--log-steps", default="", help="append one line per step to this file")
    p.add_argument("--snapshot", default="", help="write PyTorch's memory snapshot pickle here")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    a = p.parse_args()
    torch.manual_seed(0)
    dev = torch.device("cuda")
    if a.snapshot:
        # From the very start, so its events and a vramscope trace cover the same allocations.
        torch.cuda.memory._record_memory_history(max_entries=200000, context="alloc", stacks="python")
    model = Gpt(a.vocab, a.dim, a.layers, a.heads, a.seq, a.checkpointing).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
    run_model = torch.compile(model) if a.compile else model
    leaked_total = torch.zeros((), device=dev)  # --leak: grows a graph per step
    step_bounds_us = []
    nvtx = torch.cuda.nvtx

    def rng(name):
        class R:
            def __enter__(self):
                if a.nvtx:
                    nvtx.range_push(name)

            def __exit__(self, *exc):
                if a.nvtx:
                    nvtx.range_pop()
        return R()

    times = []
    step_log = open(a.log_steps, "a", buffering=1) if a.log_steps else None
    for step in range(a.steps):
        batches = [torch.randint(0, a.vocab, (a.batch, a.seq), device=dev) for _ in range(a.grad_accum)]
        torch.cuda.synchronize()
        if step == a.profile_step:
            torch.cuda.profiler.start()
        step_bounds_us.append(time.time_ns() // 1000)
        t0 = time.perf_counter()
        with rng("step"):
            for idx in batches:
                with rng("forward"), torch.autocast("cuda", dtype=torch.bfloat16):
                    logits = run_model(idx)
                    loss = F.cross_entropy(logits.view(-1, a.vocab).float(), idx.view(-1)) / a.grad_accum
                with rng("backward"):
                    loss.backward()
            if a.leak or 0 <= a.leak_from <= step:
                # The bug: an "evaluation" pass outside torch.no_grad(), summed for logging.
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    val = run_model(batches[0])
                    leaked_total = leaked_total + F.cross_entropy(val.view(-1, a.vocab).float(), batches[0].view(-1))
            with rng("optimizer"):
                opt.step()
                opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
        if step_log:
            step_log.write(f"step {step} {time.time_ns()} {times[-1]:.4f} {torch.cuda.memory_allocated()} "
                           f"{torch.cuda.memory_reserved()}\n")
        if step == a.profile_step:
            torch.cuda.profiler.stop()
    step_bounds_us.append(time.time_ns() // 1000)
    steady = sorted(times[a.warmup:]) or sorted(times)
    stats = torch.cuda.memory_stats()
    print(f"steps {a.steps}")
    print(f"nvtx_ranges {4 * a.steps if a.nvtx else 0}")
    print(f"step_ms_median {steady[len(steady) // 2]:.4f}")
    # Stalls of 70-100 ms every ~1.6 s showed in traces of long runs: the mean
    # and the longest step say whether a capture adds or lengthens them.
    print(f"step_ms_mean {sum(steady) / len(steady):.4f}")
    print(f"step_ms_max {steady[-1]:.4f}")
    print(f"loss {loss.item():.4f}")
    print(f"max_allocated_bytes {torch.cuda.max_memory_allocated()}")
    print(f"max_reserved_bytes {torch.cuda.max_memory_reserved()}")
    print(f"segments_allocated {stats.get('segment.all.allocated', 0)}")
    print(f"segments_freed {stats.get('segment.all.freed', 0)}")
    print(f"allocations {stats.get('allocation.all.allocated', 0)}")
    if a.leak or a.leak_from >= 0:
        print(f"leaked_total {leaked_total.item():.4f}")
    if a.snapshot:
        report_snapshot(a.snapshot, step_bounds_us)


def report_snapshot(path, step_bounds_us):
    """Writes the pickle and prints PyTorch's own event counts (all, and per
    step by time_us), to check a vramscope trace of the same run against."""
    torch.cuda.memory._dump_snapshot(path)
    snap = torch.cuda.memory._snapshot()
    torch.cuda.memory._record_memory_history(enabled=None)
    counts = {}
    per_step = [0] * (len(step_bounds_us) - 1)
    for trace in snap.get("device_traces", []):
        for e in trace:
            counts[e["action"]] = counts.get(e["action"], 0) + 1
            if e["action"] == "alloc":
                t = e.get("time_us", 0)
                for i in range(len(per_step)):
                    if step_bounds_us[i] <= t < step_bounds_us[i + 1]:
                        per_step[i] += 1
                        break
    for action in sorted(counts):
        print(f"pytorch_{action} {counts[action]}")
    print("pytorch_step_bounds_us " + ",".join(str(b) for b in step_bounds_us))
    for i, n in enumerate(per_step):
        print(f"pytorch_step{i}_alloc {n} (from {step_bounds_us[i]} us)")


if __name__ == "__main__":
    main()
