"""Installs vramscope's hooks into an imported torch.

Called once, right after `import torch` finishes (the import hook in
_boot/sitecustomize.py), or by vramscope.install(). Every step is guarded:
a failure prints one line and the job runs on without that part.

Hooks (all global, none per op):
  * torch.nn.modules.module.register_module_forward_pre_hook / _forward_hook
    → ForwardBegin, RecomputeBegin/End. Dynamo-traced code sees a no-op
    (torch.compiler.is_compiling()), so compiled graphs are unchanged.
  * torch.autograd.backward wrapped (Tensor.backward calls it) → BackwardBegin
  * torch.optim.optimizer.register_optimizer_step_pre_hook / _post_hook
    → OptimizerBegin, StepEnd
  * torch.cuda._lazy_call(attach): the allocator bridge, after CUDA init
"""
import functools
import os
import sys

from . import _native as N
from ._phases import tracker

_installed = False


def _say(text):
    try:
        sys.stderr.write("vramscope: " + text + "\n")
    except Exception:
        pass


def _compiling_fn(torch):
    try:
        return torch.compiler.is_compiling
    except AttributeError:
        try:
            return torch._dynamo.is_compiling
        except AttributeError:
            return lambda: False


def _install_module_hooks(torch):
    from torch.nn.modules import module as M
    compiling = _compiling_fn(torch)
    grad_enabled = getattr(torch, "is_grad_enabled", lambda: True)
    t = tracker

    def pre(module, args):
        if not compiling():
            t.forward_pre(grad_enabled())

    def post(module, args, output):
        if t.recompute_depth and not compiling():
            t.forward_post()

    # torch.compile warns once per compiled module that global hooks fire an
    # extra time; ours are idempotent, so that warning is only noise for users.
    import warnings
    warnings.filterwarnings("ignore", message=r"Using `torch\.compile\(module\)` when there are global hooks")
    M.register_module_forward_pre_hook(pre)
    try:
        M.register_module_forward_hook(post, always_call=True)
    except TypeError:  # torch < 2.2: no always_call; backward_end resets
        M.register_module_forward_hook(post)


def _install_backward_wrapper(torch):
    ag = torch.autograd
    original = ag.backward
    if getattr(original, "_vramscope_wrapped", False):
        return
    t = tracker

    @functools.wraps(original)
    def backward(*args, **kwargs):
        t.backward_begin()
        try:
            return original(*args, **kwargs)
        finally:
            t.backward_end()

    backward._vramscope_wrapped = True
    ag.backward = backward


def _install_optimizer_hooks(torch):
    from torch.optim import optimizer as O
    t = tracker
    O.register_optimizer_step_pre_hook(lambda opt, args, kwargs: t.optimizer_pre())
    O.register_optimizer_step_post_hook(lambda opt, args, kwargs: t.optimizer_post())


def _attach_bridge():
    # Runs inside torch's CUDA lazy init: an exception here would surface
    # as the user's error, so nothing may escape.
    try:
        from . import _bridge
        _bridge.attach()
    except Exception as e:  # pragma: no cover - defensive
        _say(f"the PyTorch bridge failed ({e}); no tensor-level events, the job runs on")


def install(torch=None, bridge=True):
    """Installs the hooks once. Returns True when installed."""
    global _installed
    if _installed:
        return True
    if os.environ.get("VRAMSCOPE_PYTHON_HOOKS", "1") == "0":
        return False
    if not N.traced() and os.environ.get("VRAMSCOPE_PYTHON_HOOKS") != "force":
        return False  # not traced: change nothing
    if torch is None:
        import torch
    _installed = True
    steps = (
        ("module hooks", _install_module_hooks),
        ("backward hook", _install_backward_wrapper),
        ("optimizer hooks", _install_optimizer_hooks),
    )
    for what, fn in steps:
        try:
            fn(torch)
        except Exception as e:
            _say(f"could not install the {what} ({type(e).__name__}: {e}); phases may be incomplete")
    if bridge and os.environ.get("VRAMSCOPE_TORCH_BRIDGE", "") != "0":
        try:
            torch.cuda._lazy_call(_attach_bridge)
        except Exception as e:
            _say(f"could not schedule the PyTorch bridge ({e}); no tensor-level events")
    return True
