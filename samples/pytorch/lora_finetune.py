"""LoRA-style fine-tuning on random tokens: a frozen GPT base (bf16 weights,
no gradients, no optimizer state) with small trainable low-rank adapters on
every attention and MLP projection. Shows what LoRA buys in memory: only the
adapters carry gradients and AdamW state; activations still dominate.

    python3 samples/pytorch/lora_finetune.py [--steps N] [--rank R]
        [--batch B] [--seq T] [--layers L] [--dim D] [--checkpointing]
        [--grad-accum N] [--profile-step I]

Runs offline. Prints "key value" lines like gpt_train.py.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt_train import Gpt  # noqa: E402  (the same model, used as the frozen base)


class LoraLinear(nn.Module):
    """y = base(x) + (x @ A^T @ B^T) * alpha / r, with base frozen and B = 0
    at start (the adapted model starts equal to the base)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.a = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.b = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.a, a=5 ** 0.5)
        self.scale = alpha / rank

    def forward(self, x):
        return self.base(x) + F.linear(F.linear(x, self.a.to(x.dtype)), self.b.to(x.dtype)) * self.scale


def add_adapters(model: nn.Module, rank: int, alpha: float):
    for p in model.parameters():
        p.requires_grad_(False)
    for block in model.blocks:
        block.qkv = LoraLinear(block.qkv, rank, alpha)
        block.proj = LoraLinear(block.proj, rank, alpha)
        block.mlp[0] = LoraLinear(block.mlp[0], rank, alpha)
        block.mlp[2] = LoraLinear(block.mlp[2], rank, alpha)
    return [p for p in model.parameters() if p.requires_grad]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--profile-step", type=int, default=-1, help="profiler start/stop around this step")
    p.add_argument("--checkpointing", action="store_true", help="activation checkpointing per block")
    a = p.parse_args()
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model = Gpt(a.vocab, a.dim, a.layers, a.heads, a.seq, a.checkpointing).to(dev)
    model.to(torch.bfloat16)  # the frozen base in bf16, as QLoRA-style setups keep it
    trainable = add_adapters(model, a.rank, a.alpha)
    for t in trainable:
        t.data = t.data.float()  # adapters train in fp32
    opt = torch.optim.AdamW(trainable, lr=1e-3)
    n_train = sum(t.numel() for t in trainable)
    n_all = sum(t.numel() for t in model.parameters())
    times = []
    for step in range(a.steps):
        batches = [torch.randint(0, a.vocab, (a.batch, a.seq), device=dev) for _ in range(a.grad_accum)]
        torch.cuda.synchronize()
        if step == a.profile_step:
            torch.cuda.profiler.start()
        t0 = time.perf_counter()
        for idx in batches:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(idx)
                loss = F.cross_entropy(logits.view(-1, a.vocab).float(), idx.view(-1)) / a.grad_accum
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
        if step == a.profile_step:
            torch.cuda.profiler.stop()
    steady = sorted(times[a.warmup:]) or sorted(times)
    print(f"steps {a.steps}")
    print(f"trainable_params {n_train}")
    print(f"all_params {n_all}")
    print(f"step_ms_median {steady[len(steady) // 2]:.4f}")
    print(f"loss {loss.item():.4f}")
    print(f"max_allocated_bytes {torch.cuda.max_memory_allocated()}")
    print(f"max_reserved_bytes {torch.cuda.max_memory_reserved()}")


if __name__ == "__main__":
    main()
