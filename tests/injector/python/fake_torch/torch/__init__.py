"""A stand-in for the parts of torch that vramscope's hooks touch, so the
hook logic is tested where torch is not installed. Module calls run the
global forward hooks and a module's own pre-hooks the way
torch.nn.Module._call_impl does (registrations return removable handles); backward runs
a callback (to simulate checkpoint recompute inside backward); optimizers
run the global step hooks. Registrations are counted in `registered`."""
import contextlib
import types

registered = {"forward_pre": 0, "forward": 0, "optimizer_pre": 0, "optimizer_post": 0, "lazy_calls": 0}
_pre_hooks, _post_hooks, _opt_pre, _opt_post, lazy_calls = [], [], [], [], []
__version__ = "0.0-fake"


class _Handle:
    def __init__(self, hooks, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self):
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


def _register_pre(fn):
    registered["forward_pre"] += 1
    _pre_hooks.append(fn)
    return _Handle(_pre_hooks, fn)


def _register_post(fn, always_call=False):
    registered["forward"] += 1
    _post_hooks.append(fn)
    return _Handle(_post_hooks, fn)


class Module:
    def __init__(self, *children):
        self.children = list(children)
        self._own_pre_hooks = []

    def register_forward_pre_hook(self, fn):
        self._own_pre_hooks.append(fn)
        return _Handle(self._own_pre_hooks, fn)

    def __call__(self, *args):
        for h in (*_pre_hooks, *self._own_pre_hooks):
            h(self, args)
        try:
            out = self.forward(*args)
        finally:
            for h in _post_hooks:
                h(self, args, None)
        return out

    def forward(self, *args):
        for c in self.children:
            c(*args)
        return None


class _Tensor:
    def __init__(self, on_backward=None):
        self.on_backward = on_backward

    def backward(self):
        autograd.backward(self)


def _backward(tensor, *args, **kwargs):
    if tensor.on_backward:
        tensor.on_backward()


class Optimizer:
    def step(self):
        for h in _opt_pre:
            h(self, (), {})
        for h in _opt_post:
            h(self, (), {})


def _opt_register_pre(fn):
    registered["optimizer_pre"] += 1
    _opt_pre.append(fn)
    return _Handle(_opt_pre, fn)


def _opt_register_post(fn):
    registered["optimizer_post"] += 1
    _opt_post.append(fn)
    return _Handle(_opt_post, fn)


_grad = [True]


def is_grad_enabled():
    return _grad[-1]


@contextlib.contextmanager
def no_grad():
    _grad.append(False)
    try:
        yield
    finally:
        _grad.pop()


def _lazy_call(fn):
    registered["lazy_calls"] += 1
    lazy_calls.append(fn)


Tensor = _Tensor
nn = types.ModuleType("torch.nn")
nn.modules = types.ModuleType("torch.nn.modules")
nn.modules.module = types.ModuleType("torch.nn.modules.module")
nn.modules.module.register_module_forward_pre_hook = _register_pre
nn.modules.module.register_module_forward_hook = _register_post
nn.Module = Module
autograd = types.ModuleType("torch.autograd")
autograd.backward = _backward
optim = types.ModuleType("torch.optim")
optim.optimizer = types.ModuleType("torch.optim.optimizer")
optim.optimizer.register_optimizer_step_pre_hook = _opt_register_pre
optim.optimizer.register_optimizer_step_post_hook = _opt_register_post
optim.Optimizer = Optimizer
cuda = types.ModuleType("torch.cuda")
cuda._lazy_call = _lazy_call
cuda.is_initialized = lambda: False
compiler = types.ModuleType("torch.compiler")
_compiling = [False]
compiler.is_compiling = lambda: _compiling[-1]


class OptimizedModule(Module):
    """torch.compile(module): its own call is eager (hooks run), the wrapped
    module runs inside a compiled region where is_compiling() is True."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        _compiling.append(True)
        try:
            return self.inner(*args)
        finally:
            _compiling.pop()

import sys as _sys
for _name, _mod in {"torch.nn": nn, "torch.nn.modules": nn.modules, "torch.nn.modules.module": nn.modules.module,
                    "torch.autograd": autograd, "torch.optim": optim, "torch.optim.optimizer": optim.optimizer,
                    "torch.cuda": cuda, "torch.compiler": compiler}.items():
    _sys.modules[_name] = _mod
