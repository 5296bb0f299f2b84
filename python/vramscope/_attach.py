"""What `vramscope attach` runs inside a job that is already running.

The capture library, once loaded into the process, schedules start() (and
at the detach stop()) with Py_AddPendingCall: it runs on the interpreter's
main thread with the GIL held, between two bytecodes, never from a thread
the interpreter does not know. Nothing here may raise into the job: every
step is guarded, and report(key, value) tells `vramscope attach` how it went
(its `status`).

start():
  * the phase hooks (_torch_hooks: forward/backward/optimizer/recompute
    markers), as under `vramscope record`;
  * the PyTorch bridge: the allocator's trace tracker from now on, and the
    allocator's own snapshot of what it holds now (segments, live blocks),
    entered into the trace as existing at the attach. Never compiled here:
    a compile would stop the training loop for half a minute, so the bridge
    is the one `vramscope attach` built beforehand with the job's own Python,
    or one already in the cache.
"""
import ctypes
import sys

from . import _native


def _flag(text, default):
    text = (text or "").strip().lower()
    if text in ("0", "off", "false", "no"):
        return False
    if text in ("1", "on", "true", "yes"):
        return True
    return default


def _note(text):
    """A note into the trace, whole (vramscope_note keeps 95 bytes)."""
    try:
        f = ctypes.CDLL(None).vramscope_attach_note
        f.argtypes = [ctypes.c_char_p]
        f.restype = None
        f(str(text).encode("utf-8", "replace")[:2000])
    except (OSError, AttributeError):
        _native.note(text)


PARAMETER, GRADIENT, OPTIMIZER_STATE = 1, 2, 3


def tensor_tags(torch):
    """(data pointer, tag) of every CUDA tensor PyTorch can say what it is:
    the parameters and buffers of every torch.nn.Module alive, their
    gradients, and the state of every torch.optim.Optimizer. One walk over
    the objects the garbage collector tracks (modules and optimizers are
    among them); what it finds tells the trace's categories, at the attach,
    the model from whatever else was live then."""
    import gc
    import warnings
    Module = torch.nn.Module
    Optimizer = torch.optim.Optimizer
    is_tensor = torch.is_tensor
    found = {}

    def add(t, tag):
        if is_tensor(t) and t.is_cuda and t.numel():
            found.setdefault(t.data_ptr(), tag)

    # type(obj), not isinstance: isinstance asks an object for its __class__,
    # and deprecated module proxies (torch.distributed.reduce_op) warn on that
    # into the job's output. Nothing here may print there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for obj in gc.get_objects():
            kind = type(obj)
            if issubclass(kind, Module):
                for p in obj.parameters(recurse=False):
                    add(p, PARAMETER)
                    if p.grad is not None:
                        add(p.grad, GRADIENT)
                for b in obj.buffers(recurse=False):
                    add(b, PARAMETER)
            elif issubclass(kind, Optimizer):
                for state in obj.state.values():
                    for v in (state.values() if isinstance(state, dict) else ()):
                        add(v, OPTIMIZER_STATE)
    return list(found.items())


def _seed(torch, report, bridge_path, depth):
    from . import _bridge
    lib = _bridge.find(torch, build_missing=False, path=bridge_path or None)
    if lib is None:
        report("bridge", "missing: no PyTorch bridge built for torch %s; tensor-level events are off "
                         "(run the job once under `vramscope record`, or let `vramscope attach` build it)"
               % torch.__version__)
        return
    _bridge._handle = lib
    try:
        seed = lib.vramscope_torch_bridge_seed_tagged
    except AttributeError:
        report("bridge", "too old: this PyTorch bridge cannot read the allocator's state; rebuild it")
        return
    seed.argtypes = [ctypes.POINTER(ctypes.c_ulonglong), ctypes.POINTER(ctypes.c_int), ctypes.c_ulonglong,
                     ctypes.POINTER(ctypes.c_ulonglong)]
    seed.restype = ctypes.c_int
    got_depth = _bridge._enable_stacks(lib, depth)
    import time
    began = time.perf_counter()
    try:
        tags = tensor_tags(torch)
    except Exception as e:  # an odd object in the heap: untagged, the rest still holds
        report("tags", "error: %s: %s" % (type(e).__name__, e))
        tags = []
    report("tags", "%d tensors in %.1f ms" % (len(tags), (time.perf_counter() - began) * 1e3))
    pointers = (ctypes.c_ulonglong * len(tags))(*[p for p, _ in tags])
    kinds = (ctypes.c_int * len(tags))(*[t for _, t in tags])
    counts = (ctypes.c_ulonglong * 6)()
    rc = seed(pointers, kinds, len(tags), counts)
    if rc != 1:
        report("bridge", "failed: code %d (%s)" % (rc, {
            -1: "the capture library is not loaded", -2: "no CUDA allocator", -3: "CUDA is not initialised",
            -4: "PyTorch refused the trace tracker (the cudaMallocAsync backend has none)",
            -5: "the capture library has no attach entry points", -6: "the allocator's snapshot failed"}
            .get(rc, "unknown")))
        return
    blocks, requested, rounded, segments, segment_bytes, device_bits = list(counts)
    devices = [d for d in range(64) if device_bits >> d & 1]
    allocated = sum(torch.cuda.memory_allocated(d) for d in devices)
    reserved = sum(torch.cuda.memory_reserved(d) for d in devices)
    report("bridge", "on")
    report("stacks", str(got_depth))
    report("seeded_blocks", blocks)
    report("seeded_bytes", requested)
    report("seeded_rounded_bytes", rounded)
    report("seeded_segments", segments)
    report("seeded_segment_bytes", segment_bytes)
    report("torch_memory_allocated", allocated)
    report("torch_memory_reserved", reserved)
    _note("attach: PyTorch held %d live blocks (%d bytes requested; torch.cuda.memory_allocated() = %d) "
                 "in %d segments (%d bytes; memory_reserved() = %d)"
                 % (blocks, requested, allocated, segments, segment_bytes, reserved))


def start(report, stacks="", stack_depth="", bridge="", phase_hooks=""):
    """Installs the phase hooks and the bridge in the running job."""
    _native._load()
    if not _native.traced():
        report("python", "error: the capture library's entry points are not visible to Python")
        return
    torch = sys.modules.get("torch")
    if torch is None:
        report("python", "no-torch")
        _note("attach: this Python process has not imported torch: driver-level capture only "
                     "(no tensor-level events, no training phases)")
        return
    report("torch", getattr(torch, "__version__", "?"))
    from . import _torch_hooks
    if _flag(phase_hooks, True):
        try:
            _torch_hooks.install(torch, bridge=False)
            report("phases", "on")
        except Exception as e:
            report("phases", "error: %s: %s" % (type(e).__name__, e))
    if bridge == "0":
        report("bridge", "off")
    else:
        from . import _bridge
        depth = _bridge.stack_depth_setting(stacks, stack_depth)
        bridge_path = bridge if bridge not in ("", "1") else None

        def seed():
            try:
                _seed(torch, report, bridge_path, depth)
            except Exception as e:
                report("bridge", "error: %s: %s" % (type(e).__name__, e))

        try:
            initialized = torch.cuda.is_initialized()
        except Exception:
            initialized = False
        if initialized:
            seed()
        else:
            # A job that has not touched the GPU yet: seed right after CUDA's
            # lazy initialisation, as `vramscope record` attaches the tracker.
            report("bridge", "waiting for CUDA to initialise")
            torch.cuda._lazy_call(seed)
    report("python", "ready")


def stop(report):
    """Removes the hooks again; the bridge forwards nothing from now on."""
    try:
        from . import _torch_hooks, _bridge
        _torch_hooks.uninstall()
        if _bridge._handle:
            try:
                _bridge._handle.vramscope_torch_bridge_set_python_stacks(0)
            except AttributeError:
                pass
        report("python", "stopped")
    except Exception as e:
        report("python", "error at the detach: %s: %s" % (type(e).__name__, e))
