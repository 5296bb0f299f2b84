"""Training the way Hugging Face Trainer and accelerate do it, offline on
random tokens: the workload that checks vramscope's phase hooks on those
loops (forward through wrapped models, backward through
accelerator.backward, optimizer steps skipped on accumulation micro-batches,
an LR scheduler, evaluation passes under no_grad between training steps).

    python3 samples/pytorch/hf_style_train.py [--loop trainer|accelerate|plain]
        [--steps N] [--grad-accum N] [--batch B] [--eval-every N]

  --loop trainer     transformers.Trainer on a small GPT-2 (random weights,
                     no download); needs transformers (and accelerate)
  --loop accelerate  accelerate.Accelerator with accumulate()/backward(); when
                     accelerate is not installed, the same structure written
                     out here (a wrapped model returning an output object with
                     .loss, an optimizer wrapper that skips step() until the
                     last micro-batch, loss scaled by 1/N, an LR scheduler)
  --loop auto        trainer if transformers imports, else accelerate (default)

Prints "key value" lines: loop (which one ran), optimizer_steps (real
optimizer updates, what a trace's iterations must match), micro_batches,
eval_passes, step_ms_median.
"""
import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt_train import Gpt  # noqa: E402


class LmOutput(dict):
    """Like transformers' ModelOutput: attribute and key access to .loss."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e


class CausalLm(nn.Module):
    """model(input_ids=..., labels=...) → output.loss, as HF models are called."""

    def __init__(self, **kw):
        super().__init__()
        self.gpt = Gpt(**kw)

    def forward(self, input_ids, labels=None):
        logits = self.gpt(input_ids)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1))
        return LmOutput(loss=loss, logits=logits)


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n, seq, vocab, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, vocab, (n, seq), generator=g)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


# ---- accelerate's structure, for machines without it ----------------------
class _GradientState:
    def __init__(self, steps):
        self.steps, self.micro, self.sync_gradients = steps, 0, True


class _WrappedOptimizer:
    """accelerate's AcceleratedOptimizer: step()/zero_grad() act only when
    gradients are synchronised (the last micro-batch of an accumulation)."""

    def __init__(self, optimizer, state):
        self.optimizer, self.state = optimizer, state

    def step(self, *a, **kw):
        if self.state.sync_gradients:
            self.optimizer.step(*a, **kw)

    def zero_grad(self, set_to_none=True):
        if self.state.sync_gradients:
            self.optimizer.zero_grad(set_to_none=set_to_none)

    @property
    def param_groups(self):
        return self.optimizer.param_groups


class _ModelWrapper(nn.Module):
    """Like DistributedDataParallel / accelerate's forward wrapper: the user's
    module is called from inside another module, under autocast."""

    def __init__(self, module, dtype):
        super().__init__()
        self.module, self.dtype = module, dtype

    def forward(self, *a, **kw):
        with torch.autocast("cuda", dtype=self.dtype):
            return self.module(*a, **kw)


class MiniAccelerator:
    def __init__(self, gradient_accumulation_steps=1, dtype=torch.bfloat16):
        self.gradient_state = _GradientState(gradient_accumulation_steps)
        self.dtype = dtype
        self.device = torch.device("cuda")

    def prepare(self, model, optimizer, loader, scheduler):
        return (_ModelWrapper(model.to(self.device), self.dtype), _WrappedOptimizer(optimizer, self.gradient_state),
                loader, scheduler)

    @contextlib.contextmanager
    def accumulate(self, model):
        s = self.gradient_state
        s.micro += 1
        s.sync_gradients = s.micro % s.steps == 0
        yield

    def backward(self, loss):
        (loss / self.gradient_state.steps).backward()


def run_accelerate(args, model, data):
    try:
        from accelerate import Accelerator
        accelerator = Accelerator(gradient_accumulation_steps=args.grad_accum, mixed_precision="bf16")
        which = "accelerate"
    except Exception:  # not installed (or too old): the same structure, written out
        accelerator = MiniAccelerator(args.grad_accum)
        which = "accelerate-style"
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 4))
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    device = accelerator.device
    steps_done, micro, evals, times = 0, 0, 0, []
    model.train()
    t0 = time.perf_counter()
    while steps_done < args.steps:
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with accelerator.accumulate(model):
                out = model(**batch)
                accelerator.backward(out.loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            micro += 1
            if accelerator.gradient_state.sync_gradients:
                steps_done += 1
                torch.cuda.synchronize()
                times.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                if args.eval_every and steps_done % args.eval_every == 0:
                    model.eval()
                    with torch.no_grad():
                        model(**batch)
                    model.train()
                    evals += 1
                    t0 = time.perf_counter()
                if steps_done >= args.steps:
                    break
    return which, steps_done, micro, evals, times


def run_trainer(args):
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    config = GPT2Config(n_layer=args.layers, n_embd=args.dim, n_head=args.heads, n_positions=args.seq,
                        vocab_size=args.vocab)
    model = GPT2LMHeadModel(config)
    data = RandomTokens(args.batch * args.grad_accum * (args.steps + 1), args.seq, args.vocab)

    class Clock(TrainerCallback):
        def __init__(self):
            self.times, self.t0, self.micro = [], None, 0

        def on_step_begin(self, *a, **kw):
            torch.cuda.synchronize()
            self.t0 = time.perf_counter()

        def on_substep_end(self, *a, **kw):
            self.micro += 1

        def on_step_end(self, *a, **kw):
            self.micro += 1
            torch.cuda.synchronize()
            self.times.append((time.perf_counter() - self.t0) * 1000)

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, per_device_train_batch_size=args.batch,
                                  gradient_accumulation_steps=args.grad_accum, max_steps=args.steps,
                                  learning_rate=3e-4, lr_scheduler_type="linear", warmup_steps=2, logging_steps=1,
                                  save_strategy="no", report_to=[], bf16=True, dataloader_num_workers=0,
                                  disable_tqdm=True)
        trainer = Trainer(model=model, args=targs, train_dataset=data, callbacks=[clock])
        result = trainer.train()
    return f"trainer (transformers {transformers.__version__})", result.global_step, clock.micro, 0, clock.times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loop", choices=["auto", "trainer", "accelerate"], default="auto")
    p.add_argument("--steps", type=int, default=6, help="optimizer steps")
    p.add_argument("--grad-accum", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--eval-every", type=int, default=2, help="an evaluation forward every N steps (0 = none)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--vocab", type=int, default=4096)
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("hf_style_train.py needs a CUDA device")
    torch.manual_seed(0)
    loop = args.loop
    if loop == "auto":
        try:
            import transformers  # noqa: F401
            loop = "trainer"
        except Exception:
            loop = "accelerate"
    if loop == "trainer":
        which, steps, micro, evals, times = run_trainer(args)
    else:
        model = CausalLm(vocab=args.vocab, dim=args.dim, layers=args.layers, heads=args.heads, seq=args.seq)
        data = RandomTokens(args.batch * args.grad_accum * (args.steps + 1), args.seq, args.vocab)
        which, steps, micro, evals, times = run_accelerate(args, model, data)
    print("loop", which.replace(" ", "_"))
    print("optimizer_steps", steps)
    print("micro_batches", micro)
    print("eval_passes", evals)
    print("step_ms_median", round(statistics.median(times[1:] or times), 3) if times else 0)


if __name__ == "__main__":
    main()
