"""torch.profiler (Kineto, a CUPTI client) inside a process vramscope traces.

CUPTI allows one subscriber per process. Run under the injector, this shows
what the host program sees: it must keep running either way.
"""
import torch
from torch.profiler import ProfilerActivity, profile

x = torch.randn(2048, 2048, device="cuda")
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    for _ in range(5):
        y = x @ x
    torch.cuda.synchronize()
cuda_events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
print(f"profiler_events {len(prof.events())}")
print(f"profiler_cuda_events {len(cuda_events)}")
print(f"result {float(y.sum()):.3e}")
