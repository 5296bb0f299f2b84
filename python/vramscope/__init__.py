"""vramscope's Python side: phase markers and the PyTorch allocator bridge.

Under `vramscope record -- python train.py` everything turns on by itself
when the script imports torch. In your own code:

    import vramscope
    for batch in loader:
        with vramscope.region("data"):
            ...
        loss = model(batch).loss
        loss.backward()
        opt.step()
        vramscope.mark_step()   # optional: step boundaries by hand

Outside a traced process every call is a cheap no-op.
"""
import contextlib

from . import _native
from ._phases import tracker

__all__ = ["mark_step", "region", "note", "flush", "traced", "install"]


def traced():
    """True when this process runs under vramscope's injector."""
    return _native.traced()


def mark_step():
    """Ends the current training step (the next one begins with the next
    forward). Once called, optimizer hooks no longer end steps by themselves."""
    tracker.mark_step()


@contextlib.contextmanager
def region(name):
    """A named region of the timeline (any nesting, any thread)."""
    tracker.region_begin(str(name))
    try:
        yield
    finally:
        tracker.region_end(str(name))


def note(text):
    """A short message into the trace (first 95 bytes)."""
    _native.note(text)


def flush():
    """Asks the injector to write what it has now."""
    _native.flush()


def install(bridge=True):
    """Installs the torch hooks now (vramscope record does this on `import torch`)."""
    from . import _torch_hooks
    return _torch_hooks.install(bridge=bridge)
