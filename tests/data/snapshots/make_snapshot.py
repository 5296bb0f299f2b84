#!/usr/bin/env python3
"""Writes synthetic-snapshot*.pickle: files shaped exactly like what
torch.cuda.memory._dump_snapshot() writes (torch 2.x), made with the standard
library only (no torch here).

_dump_snapshot() is `pickle.dump(torch.cuda.memory._snapshot(), f)`: the default
protocol (4 on Python 3.8-3.13, 5 on 3.14) of plain dicts, lists, tuples, str,
int, float, bool. Like PyTorch (THCPModule_memorySnapshot, py_symbolize) this
script shares objects so that the pickle memo refers back to them: dict keys
are the same str objects, blocks without a stack share one empty frames list,
frame dicts are shared between stacks, and identical stacks share one list.

The history is produced by a tiny caching-allocator simulation so that the
final "segments" state is exactly the initial state plus the history, as in a
real snapshot. Run: python3 make_snapshot.py (writes next to this script).
Counts the importer must find are printed and pinned in tests/import/tst_import.cpp.
"""
import os
import pickle

MiB = 1 << 20
T0_US = 1763880000000000  # 2025-11-23, Unix time in microseconds like time_us

EMPTY_FRAMES = []  # shared, as PyTorch's empty_frames


def frame(filename, line, name):
    return {"name": name, "filename": filename, "line": line}  # py_symbolize's key order


# Shared frame dicts (py_symbolize keeps one dict per unique frame).
CPP_MALLOC = frame("/pytorch/c10/cuda/CUDACachingAllocator.cpp", 1321,
                   "c10::cuda::CUDACachingAllocator::Native::DeviceCachingAllocator::malloc(signed char, unsigned long, CUstream_st*)")
CPP_EMPTY = frame("??", 0, "at::native::empty_cuda(c10::ArrayRef<long>, ...)")
PY_MAIN = frame("/home/user/train.py", 120, "main")
PY_STEP = frame("/home/user/train.py", 88, "train_step")
PY_LINEAR = frame("/home/user/model.py", 42, "forward")
PY_ATTN = frame("/home/user/model.py", 57, "attention")
PY_LOSS = frame("/home/user/train.py", 91, "train_step")
PY_BACKWARD = frame("/usr/lib/python3/site-packages/torch/autograd/graph.py", 825, "_engine_run_backward")
PY_ADAMW = frame("/usr/lib/python3/site-packages/torch/optim/adamw.py", 520, "_multi_tensor_adamw")
PY_OPT = frame("/home/user/train.py", 95, "train_step")

# Stacks, innermost first; C++ frames interleaved as with stacks="all".
STACK_LINEAR = [CPP_MALLOC, CPP_EMPTY, PY_LINEAR, PY_STEP, PY_MAIN]
STACK_ATTN = [CPP_MALLOC, PY_ATTN, PY_LINEAR, PY_STEP, PY_MAIN]
STACK_LOSS = [CPP_MALLOC, PY_LOSS, PY_MAIN]
STACK_GRAD = [CPP_MALLOC, PY_BACKWARD, PY_STEP, PY_MAIN]
STACK_ADAM = [CPP_MALLOC, PY_ADAMW, PY_OPT, PY_MAIN]
STACK_CPP_ONLY = [CPP_MALLOC, CPP_EMPTY]


class Allocator:
    def __init__(self):
        self.segments = {}  # address -> dict(size, stream, large, blocks: {addr: [size, requested, state, frames]})
        self.traces = [[], []]  # two devices; device 1 stays idle (an empty list, as in real snapshots)
        self.t = T0_US
        self.annotations = []

    def tick(self, us=37):
        self.t += us
        return self.t

    def event(self, action, addr, size, frames=None, stream=0, metadata=""):
        # Key order as torch 2.11 writes it; "frames" is added last, after symbolizing.
        e = {"action": action, ("device_free" if action == "oom" else "addr"): addr, "size": size,
             "stream": stream, "time_us": self.tick(), "compile_context": "N/A", "user_metadata": metadata}
        if frames is not None:
            e["frames"] = frames
        self.traces[0].append(e)

    def annotate(self, stage, name):
        # record_function ranges (torch 2.11 records optimizer steps this way)
        self.annotations.append({"stage": stage, "name": name, "device": 0, "time_us": self.tick(1)})

    # State changes; record=False for what happened before history recording began.
    def segment_alloc(self, addr, size, record=True, expandable=False):
        self.segments[addr] = {"size": size, "stream": 0, "large": size > MiB, "blocks": {}, "expandable": expandable}
        if record:
            self.event("segment_map" if expandable else "segment_alloc", addr, size, STACK_LINEAR)

    def segment_free(self, addr, expandable=False):
        seg = self.segments.pop(addr)
        assert not seg["blocks"]
        self.event("segment_unmap" if expandable else "segment_free", addr, seg["size"])

    def alloc(self, seg_addr, addr, size, frames, record=True):
        # size is the block's (rounded) size; trace entries carry the requested size, as
        # CUDACachingAllocator's record_trace does (orig_size / block->requested_size).
        seg = self.segments[seg_addr]
        assert seg_addr <= addr and addr + size <= seg_addr + seg["size"]
        requested = size - 16 if size > 512 else 4
        seg["blocks"][addr] = [size, requested, "active_allocated", frames if record else EMPTY_FRAMES]
        if record:
            self.event("alloc", addr, requested, frames)

    def free(self, seg_addr, addr, complete=True):
        block = self.segments[seg_addr]["blocks"][addr]
        self.event("free_requested", addr, block[1])
        if complete:
            self.event("free_completed", addr, block[1])
            del self.segments[seg_addr]["blocks"][addr]
        else:
            block[2] = "active_pending_free"

    def snapshot(self):
        segments = []
        for addr in sorted(self.segments):
            seg = self.segments[addr]
            blocks, cursor = [], addr
            for baddr in sorted(seg["blocks"]):
                size, requested, state, frames = seg["blocks"][baddr]
                if baddr > cursor:
                    blocks.append({"address": cursor, "size": baddr - cursor, "requested_size": 0,
                                   "state": "inactive", "frames": EMPTY_FRAMES})
                blocks.append({"address": baddr, "size": size, "requested_size": requested, "state": state,
                               "frames": frames})
                cursor = baddr + size
            if cursor < addr + seg["size"]:
                blocks.append({"address": cursor, "size": addr + seg["size"] - cursor, "requested_size": 0,
                               "state": "inactive", "frames": EMPTY_FRAMES})
            allocated = sum(b["size"] for b in blocks if b["state"] == "active_allocated")
            active = sum(b["size"] for b in blocks if b["state"] != "inactive")
            segments.append({
                "device": 0, "address": addr, "total_size": seg["size"], "allocated_size": allocated,
                "active_size": active, "requested_size": sum(b["requested_size"] for b in blocks),
                "stream": seg["stream"], "segment_type": "large" if seg["large"] else "small",
                "segment_pool_id": (0, 0), "is_expandable": seg["expandable"], "frames": EMPTY_FRAMES,
                "blocks": blocks,
            })
        return segments


def build():
    a = Allocator()
    A, B, C, D, E, F = (0x7F3A00000000, 0x7F3A02000000, 0x7F3A04000000, 0x7F3A06000000,
                        0x7F3A08000000, 0x7F3B00000000)
    # Before recording: weights (4 x 2 MiB) in a 20 MiB segment, and a cached empty segment E.
    a.segment_alloc(A, 20 * MiB, record=False)
    for k in range(4):
        a.alloc(A, A + k * 2 * MiB, 2 * MiB, None, record=False)
    a.segment_alloc(E, 2 * MiB, record=False)

    for step in range(3):
        # forward: activations in A, a small-pool segment for scalars on the first step
        for k in range(3):
            a.alloc(A, A + 8 * MiB + k * MiB, MiB, STACK_ATTN if k == 2 else STACK_LINEAR)
        if step == 0:
            a.segment_alloc(B, 2 * MiB)
        a.alloc(B, B + step * 512, 512, STACK_LOSS)
        # backward: activations freed, gradients (kept) on the first step
        for k in range(3):
            a.free(A, A + 8 * MiB + k * MiB)
        if step == 0:
            a.segment_alloc(C, 8 * MiB)
            for k in range(4):
                a.alloc(C, C + k * 2 * MiB, 2 * MiB, STACK_GRAD)
        # optimizer: AdamW state on the first step
        a.annotate("START", "Optimizer.step#AdamW.step")
        if step == 0:
            a.segment_alloc(D, 16 * MiB)
            for k in range(8):
                a.alloc(D, D + k * 2 * MiB, 2 * MiB, STACK_ADAM)
        a.annotate("END", "Optimizer.step#AdamW.step")
        if step == 1:
            # an expandable segment mapped, used and unmapped
            a.segment_alloc(F, 2 * MiB, expandable=True)
            a.alloc(F, F, MiB, STACK_CPP_ONLY)
            a.free(F, F)
            a.segment_free(F, expandable=True)
    # step 2 ends in an OOM: the allocator first releases the cached segment E, then fails
    a.segment_free(E)
    a.event("oom", 70 * 1024 * MiB, 80 * 1024 * MiB, STACK_LINEAR)
    # torch.cuda.memory._annotate_memory(ptr, "...") on a live block
    a.event("annotate", A, 0, STACK_LOSS, metadata="kept for logging")
    # a loss tensor whose free waits for another stream
    a.free(B, B + 2 * 512, complete=False)
    a.event("snapshot", 0, 0)
    return a


def snapshot_dict():
    a = build()
    return a, {
        "segments": a.snapshot(),
        "device_traces": a.traces,
        "allocator_settings": {
            "PYTORCH_CUDA_ALLOC_CONF": "",
            "max_split_size": -1,
            "garbage_collection_threshold": 0.0,
            "expandable_segments": False,
            "pinned_num_register_threads": 1,
            "release_lock_on_cudamalloc": False,
            "pinned_use_cuda_host_register": False,
            "graph_capture_record_stream_reuse": False,
            "roundup_power2_divisions": {str(1 << k): 0 for k in range(16)},
        },
        "external_annotations": a.annotations + [
            {"stage": "START", "name": "never_ended", "device": 0, "time_us": T0_US + 1},
        ],
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    a, s = snapshot_dict()
    for name, protocol in (("synthetic-snapshot.pickle", 4), ("synthetic-snapshot-p2.pickle", 2),
                           ("synthetic-snapshot-p5.pickle", 5)):
        with open(os.path.join(here, name), "wb") as f:
            pickle.dump(s, f, protocol=protocol)
    # Variants of other shapes PyTorch writes:
    # torch 2.0 and older: no time_us, no allocator_settings or external_annotations
    old = {"segments": s["segments"],
           "device_traces": [[{k: v for k, v in e.items() if k != "time_us"} for e in t] for t in s["device_traces"]]}
    # torch.cuda.memory_snapshot(): the segments list alone
    # _record_memory_history(skip_actions=["free_completed"])
    skip = dict(s, device_traces=[[e for e in t if e["action"] != "free_completed"] for t in s["device_traces"]])
    for name, value in (("synthetic-snapshot-no-time.pickle", old), ("synthetic-segments-only.pickle", s["segments"]),
                        ("synthetic-snapshot-skip-free-completed.pickle", skip)):
        with open(os.path.join(here, name), "wb") as f:
            pickle.dump(value, f, protocol=4)
    trace = a.traces[0]
    count = lambda action: sum(1 for e in trace if e["action"] == action)
    segs = s["segments"]
    active = [b for seg in segs for b in seg["blocks"] if b["state"] != "inactive"]
    print("entries", len(trace), {k: count(k) for k in ("alloc", "free_requested", "free_completed", "segment_alloc",
                                                         "segment_free", "segment_map", "segment_unmap", "oom",
                                                         "snapshot", "annotate")})
    print("segments", len(segs), "blocks", sum(len(seg["blocks"]) for seg in segs), "active", len(active),
          "reserved", sum(seg["total_size"] for seg in segs), "allocated", sum(b["size"] for b in active),
          "requested", sum(b["requested_size"] for b in active))


if __name__ == "__main__":
    main()
