"""The injector's C entry points, found in the process with ctypes.

`vramscope record` preloads libvramscope_inject.so, so its exported symbols
(vramscope_phase, vramscope_note, vramscope_flush, vramscope_tensor_event)
are in the global namespace: ``ctypes.CDLL(None)`` finds them. In a process
that is not traced they are absent and every call here is a no-op.
"""
import ctypes
import os

# format::PhaseKind (profiler/format/records.h)
STEP_BEGIN = 1
FORWARD_BEGIN = 2
BACKWARD_BEGIN = 3
OPTIMIZER_BEGIN = 4
STEP_END = 5
RECOMPUTE_BEGIN = 6
RECOMPUTE_END = 7
REGION_BEGIN = 8
REGION_END = 9

_lib = None
_phase = None
_note = None
_flush = None


def _load():
    global _lib, _phase, _note, _flush
    if _lib is not None and (_lib is False or _phase is not None):
        return
    try:
        _lib = ctypes.CDLL(None)
    except OSError:
        _lib = False
        return
    try:
        f = _lib.vramscope_phase
        f.argtypes = [ctypes.c_int, ctypes.c_ulonglong, ctypes.c_char_p]
        f.restype = None
        _phase = f
        n = _lib.vramscope_note
        n.argtypes = [ctypes.c_char_p]
        n.restype = None
        _note = n
        fl = _lib.vramscope_flush
        fl.argtypes = []
        fl.restype = None
        _flush = fl
    except AttributeError:
        _phase = _note = _flush = None


def traced():
    """True when the injector is loaded in this process (looked up again
    while it is not: `vramscope attach` may load it into a running job)."""
    _load()
    return _phase is not None


def injector_path():
    """The file the injector was loaded from, or None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if line.rstrip().endswith("libvramscope_inject.so"):
                    return line.split(None, 5)[5].strip()
    except OSError:
        pass
    return os.environ.get("VRAMSCOPE_INJECTOR") or None


def phase(kind, step=0, name=None):
    if _phase is None:
        return
    _phase(kind, step, name.encode("utf-8", "replace")[:95] if name else None)


def note(text):
    if _note is not None:
        _note(str(text).encode("utf-8", "replace")[:95])


def flush():
    if _flush is not None:
        _flush()


_load()
