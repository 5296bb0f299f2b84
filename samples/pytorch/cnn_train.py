"""A ResNet-18-shaped convolutional network trained on random images: the
other kind of training job. Convolutions (cuDNN, tensor cores under bf16
autocast, channels-last) beside batch norms, ReLUs and residual adds, which
stream their tensors through DRAM.

    python3 samples/pytorch/cnn_train.py [--steps N] [--batch B] [--size S]
        [--width W] [--classes C] [--profile-step I]

  --profile-step I  torch.cuda.profiler.start() before step I and stop()
                    after it, so a profiler started with capture off (ncu
                    --profile-from-start off) sees that one step

Runs offline. Prints "key value" lines like gpt_train.py.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self, width, classes):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 7, 2, 3, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], w
        for i, cout in enumerate((w, 2 * w, 4 * w, 8 * w)):
            layers += [BasicBlock(cin, cout, 1 if i == 0 else 2), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=224, help="image height and width")
    p.add_argument("--width", type=int, default=64, help="channels of the first stage")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--profile-step", type=int, default=-1, help="profiler start/stop around this step")
    a = p.parse_args()
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    model = ResNet(a.width, a.classes).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, foreach=True)
    times = []
    for step in range(a.steps):
        images = torch.randn(a.batch, 3, a.size, a.size, device=dev).to(memory_format=torch.channels_last)
        labels = torch.randint(0, a.classes, (a.batch,), device=dev)
        torch.cuda.synchronize()
        if step == a.profile_step:
            torch.cuda.profiler.start()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(images).float(), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
        if step == a.profile_step:
            torch.cuda.profiler.stop()
    steady = sorted(times[a.warmup:]) or sorted(times)
    print(f"steps {a.steps}")
    print(f"params {sum(t.numel() for t in model.parameters())}")
    print(f"step_ms_median {steady[len(steady) // 2]:.4f}")
    print(f"images_per_s {a.batch * 1e3 / steady[len(steady) // 2]:.1f}")
    print(f"loss {loss.item():.4f}")
    print(f"max_allocated_bytes {torch.cuda.max_memory_allocated()}")
    print(f"max_reserved_bytes {torch.cuda.max_memory_reserved()}")


if __name__ == "__main__":
    main()
