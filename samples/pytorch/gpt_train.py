"""A small GPT trained on random tokens: the PyTorch workload for the
injector's overhead benchmark and for real captures of a framework job.

    python3 samples/pytorch/gpt_train.py [--steps N] [--layers L] [--dim D]
        [--batch B] [--seq T] [--nvtx]

Prints "key value" lines: step_ms_median (steps after warm-up), the caching
allocator's peaks and its segment counts (each segment is one cudaMalloc,
so a trace's driver allocations can be checked against them).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


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
    def __init__(self, vocab, dim, layers, heads, seq):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(seq, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
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
    a = p.parse_args()
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model = Gpt(a.vocab, a.dim, a.layers, a.heads, a.seq).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
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
    for step in range(a.steps):
        idx = torch.randint(0, a.vocab, (a.batch, a.seq), device=dev)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with rng("step"):
            with rng("forward"), torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(idx)
                loss = F.cross_entropy(logits.view(-1, a.vocab).float(), idx.view(-1))
            with rng("backward"):
                loss.backward()
            with rng("optimizer"):
                opt.step()
                opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    steady = sorted(times[a.warmup:]) or sorted(times)
    stats = torch.cuda.memory_stats()
    print(f"steps {a.steps}")
    print(f"nvtx_ranges {4 * a.steps if a.nvtx else 0}")
    print(f"step_ms_median {steady[len(steady) // 2]:.4f}")
    print(f"loss {loss.item():.4f}")
    print(f"max_allocated_bytes {torch.cuda.max_memory_allocated()}")
    print(f"max_reserved_bytes {torch.cuda.max_memory_reserved()}")
    print(f"segments_allocated {stats.get('segment.all.allocated', 0)}")
    print(f"segments_freed {stats.get('segment.all.freed', 0)}")


if __name__ == "__main__":
    main()
