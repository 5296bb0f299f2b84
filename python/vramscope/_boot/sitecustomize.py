# vramscope: `vramscope record` puts this directory first on PYTHONPATH, so
# Python imports this file at startup. It costs nothing for processes that
# never import torch: it only registers an import hook, and when `torch` has
# been imported it installs vramscope's phase hooks and the allocator bridge
# (python/vramscope/_torch_hooks.py). Any other sitecustomize on the path
# still runs (chained below). VRAMSCOPE_PYTHON_HOOKS=0 turns all this off.
import os as _os
import sys as _sys


def _vramscope_boot():
    here = _os.path.dirname(_os.path.abspath(__file__))
    package_root = _os.path.dirname(_os.path.dirname(here))  # .../python
    if _os.environ.get("VRAMSCOPE_PYTHON_HOOKS", "1") == "0":
        return here
    if package_root not in _sys.path:
        _sys.path.append(package_root)

    import importlib.abc
    import importlib.util

    class _TorchImportWatcher(importlib.abc.MetaPathFinder):
        """Wraps the loader of `torch` so that our hooks install once its
        import has finished."""

        busy = False

        def find_spec(self, name, path=None, target=None):
            if name != "torch" or self.busy:
                return None
            self.busy = True
            try:
                spec = importlib.util.find_spec(name)
            except Exception:
                spec = None
            finally:
                self.busy = False
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None
            original = spec.loader.exec_module

            def exec_module(module):
                original(module)
                try:
                    _sys.meta_path.remove(self)
                except ValueError:
                    pass
                try:
                    from vramscope import _torch_hooks
                    _torch_hooks.install(module)
                except Exception as e:
                    _sys.stderr.write(f"vramscope: PyTorch hooks not installed ({type(e).__name__}: {e}); "
                                      "the job runs on\n")

            spec.loader.exec_module = exec_module
            return spec

    if "torch" in _sys.modules:
        try:
            from vramscope import _torch_hooks
            _torch_hooks.install(_sys.modules["torch"])
        except Exception:
            pass
    else:
        _sys.meta_path.insert(0, _TorchImportWatcher())
    return here


def _vramscope_chain(here):
    # The sitecustomize this file shadows (Debian ships one, so do conda and
    # many clusters): run the next one on sys.path.
    import importlib.util
    for d in _sys.path:
        if not d or _os.path.abspath(d) == here:
            continue
        candidate = _os.path.join(d, "sitecustomize.py")
        if _os.path.isfile(candidate):
            spec = importlib.util.spec_from_file_location("_vramscope_next_sitecustomize", candidate)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return


try:
    _vramscope_here = _vramscope_boot()
except Exception as _e:  # never break the interpreter's startup
    _sys.stderr.write(f"vramscope: startup hook failed ({_e}); the job runs untraced by Python hooks\n")
    _vramscope_here = _os.path.dirname(_os.path.abspath(__file__))
try:
    _vramscope_chain(_vramscope_here)
except Exception as _e:
    _sys.stderr.write(f"vramscope: the next sitecustomize raised {type(_e).__name__}: {_e}\n")
