#!/usr/bin/env python3
"""Records a real PyTorch memory snapshot on a GPU, small enough for tests/data.

A tiny MLP trained for a few steps with AdamW, weights created before recording
starts (so the importer must reconstruct them), optionally an OOM at the end:

    python3 record_snapshot.py -o real-snapshot.pickle --stacks python --oom
    PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True python3 record_snapshot.py -o real-expandable.pickle

The file is exactly what torch.cuda.memory._dump_snapshot() writes.
"""
import argparse
import sys

import torch
import torch.nn as nn


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-o", "--output", default="real-snapshot.pickle")
    p.add_argument("--stacks", default="python", choices=["python", "all"])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--max-entries", type=int, default=100000)
    p.add_argument("--oom", action="store_true", help="end with a failed 1 PiB allocation")
    args = p.parse_args()

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 1024), nn.GELU(), nn.Linear(1024, 256)).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    torch.cuda.memory._record_memory_history(max_entries=args.max_entries, stacks=args.stacks)
    for _ in range(args.steps):
        x = torch.randn(64, 256, device="cuda")
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if args.oom:
        try:
            torch.empty(1 << 50, dtype=torch.uint8, device="cuda")
        except torch.OutOfMemoryError:
            pass
    torch.cuda.synchronize()
    torch.cuda.memory._dump_snapshot(args.output)
    torch.cuda.memory._record_memory_history(enabled=None)
    print(f"{args.output}: torch {torch.__version__}, Python {sys.version.split()[0]}, "
          f"{torch.cuda.get_device_name()}, allocated {torch.cuda.memory_allocated()} B, "
          f"reserved {torch.cuda.memory_reserved()} B")


if __name__ == "__main__":
    main()
