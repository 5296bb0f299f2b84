"""Installs vramscope's hooks into an imported torch.

Called once, right after `import torch` finishes (the import hook in
_boot/sitecustomize.py), or by vramscope.install(). Every step is guarded:
a failure prints one line and the job runs on without that part.

Hooks (none per op):
  * torch.nn.modules.module.register_module_forward_pre_hook / _forward_hook
    for one step, then a forward pre-hook on the outermost modules only
    (_ModuleHooks) → ForwardBegin, RecomputeBegin/End. Dynamo-traced code
    sees a no-op (torch.compiler.is_compiling()), so compiled graphs are
    unchanged.
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


class _ModuleHooks:
    """Forward (and recompute) detection at the least cost per module call.

    A global module hook makes torch.nn.Module.__call__ leave its fast path
    for every module of the model, and in eager mode that cost lands on the
    step time wherever the CPU launches kernels faster than the GPU runs them
    (measured on GPT-2 small: the forward keeps the GPU only ~40 % busy). So:

      discovery  global pre/post hooks; the outermost module of each forward
                 (the model, its wrapper, a loss module) gets a hook of its
                 own. After one whole step with such roots found,
      roots      the global hooks are removed: only the roots' calls pay.
                 During backward the global hooks come back (no module runs
                 there except a checkpointed forward being recomputed, which
                 they detect) and go again when backward returns.
                 A backward with no forward seen since the last one (a model
                 whose root is not hooked) returns to discovery.

    VRAMSCOPE_PHASE_HOOKS=all keeps the global hooks on for good.
    """

    def __init__(self, torch, tracker):
        from torch.nn.modules import module as M
        import warnings
        import weakref
        self.M = M
        self.t = tracker
        self.compiling = _compiling_fn(torch)
        self.grad_enabled = getattr(torch, "is_grad_enabled", lambda: True)
        self.keep_global = os.environ.get("VRAMSCOPE_PHASE_HOOKS", "auto").strip().lower() == "all"
        self.roots = weakref.WeakKeyDictionary()  # root module → its hook's handle; keeps no model alive
        self.handles = []               # the global hooks while installed
        self.discovering = True
        self.depth = 0                  # module nesting while discovering
        # torch.compile warns once per compiled module that global hooks fire
        # an extra time; ours are idempotent, so that warning is only noise.
        warnings.filterwarnings("ignore", message=r"Using `torch\.compile\(module\)` when there are global hooks")
        self._install_global()
        tracker.step_end_listener = self.step_ended

    # hooks ---------------------------------------------------------------
    def global_pre(self, module, args):
        if self.compiling():
            return
        t = self.t
        if self.discovering and not t.backward_depth:
            if self.depth == 0 and module not in self.roots:
                self._hook_root(module)
            self.depth += 1
        t.forward_pre(self.grad_enabled())

    def global_post(self, module, args, output):
        if self.compiling():  # traced by Dynamo: no effect inside compiled graphs
            return
        if self.discovering and self.depth and not self.t.backward_depth:
            self.depth -= 1
        if self.t.recompute_depth:
            self.t.forward_post()

    def root_pre(self, module, args):
        if not self.compiling():
            self.t.forward_pre(self.grad_enabled())

    # transitions ---------------------------------------------------------
    def _hook_root(self, module):
        try:
            self.roots[module] = module.register_forward_pre_hook(self.root_pre)
        except Exception:  # a module that refuses hooks or weak references
            self.keep_global = True

    def _install_global(self):
        if self.handles:
            return
        self.handles.append(self.M.register_module_forward_pre_hook(self.global_pre))
        try:
            self.handles.append(self.M.register_module_forward_hook(self.global_post, always_call=True))
        except TypeError:  # torch < 2.2: no always_call; step_ended resets the nesting count
            self.handles.append(self.M.register_module_forward_hook(self.global_post))

    def _remove_global(self):
        handles, self.handles = self.handles, []
        for h in handles:
            h.remove()

    def reset(self, keep_global=None):
        """Back to discovery with no roots (tests; a new training run)."""
        for handle in list(self.roots.values()):
            handle.remove()
        self.roots.clear()
        if keep_global is not None:
            self.keep_global = keep_global
        self.discovering, self.depth = True, 0
        self._install_global()

    def step_ended(self):
        self.depth = 0
        if self.discovering and not self.keep_global and len(self.roots):
            self.discovering = False
            self._remove_global()

    def backward_begin(self):
        if self.discovering or self.keep_global:
            return
        if self.t.phase != self.t.FORWARD:
            self.discovering = True  # a forward went unseen: find its root
        self._install_global()

    def backward_end(self):
        if not self.discovering and not self.keep_global and not self.t.backward_depth:
            self._remove_global()


    def remove_all(self):
        """Every hook of ours off (a detach)."""
        self._remove_global()
        for handle in list(self.roots.values()):
            handle.remove()
        self.roots.clear()
        if self.t.step_end_listener == self.step_ended:
            self.t.step_end_listener = None


_module_hooks = None
_optimizer_handles = []


def _install_module_hooks(torch):
    global _module_hooks
    _module_hooks = _ModuleHooks(torch, tracker)


def _install_backward_wrapper(torch):
    ag = torch.autograd
    original = ag.backward
    if getattr(original, "_vramscope_wrapped", False):
        return
    t = tracker

    @functools.wraps(original)
    def backward(*args, **kwargs):
        hooks = _module_hooks
        if hooks is not None:
            hooks.backward_begin()
        t.backward_begin()
        try:
            return original(*args, **kwargs)
        finally:
            t.backward_end()
            if hooks is not None:
                hooks.backward_end()

    backward._vramscope_wrapped = True
    ag.backward = backward


def _install_optimizer_hooks(torch):
    from torch.optim import optimizer as O
    t = tracker
    _optimizer_handles.append(O.register_optimizer_step_pre_hook(lambda opt, args, kwargs: t.optimizer_pre()))
    _optimizer_handles.append(O.register_optimizer_step_post_hook(lambda opt, args, kwargs: t.optimizer_post()))


def _attach_bridge():
    # Runs inside torch's CUDA lazy init: an exception here would surface
    # as the user's error, so nothing may escape.
    try:
        from . import _bridge
        _bridge.attach()
    except Exception as e:  # pragma: no cover - defensive
        _say(f"the PyTorch bridge failed ({e}); no tensor-level events, the job runs on")


def uninstall():
    """Removes every hook install() put in (after `vramscope attach` detaches),
    so the job runs exactly as before. The allocator's trace tracker cannot
    be removed (PyTorch has no call for it); it forwards nothing while the
    process is not traced. Returns True when something was installed."""
    global _installed, _module_hooks
    if not _installed:
        return False
    if _module_hooks is not None:
        _module_hooks.remove_all()
        _module_hooks = None
    while _optimizer_handles:
        try:
            _optimizer_handles.pop().remove()
        except Exception:
            pass
    try:
        import torch
        ag = torch.autograd
        if getattr(ag.backward, "_vramscope_wrapped", False):
            ag.backward = ag.backward.__wrapped__
    except Exception as e:
        _say(f"could not remove the backward hook ({type(e).__name__}: {e})")
    tracker.reset()
    _installed = False
    return True


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
