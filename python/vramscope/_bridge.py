"""Finds, builds (once) and attaches the PyTorch allocator bridge.

The bridge (injector/torch_bridge/vramscope_torch_bridge.cpp) is C++ against
the user's own torch headers. Where to get it, in order:
  1. $VRAMSCOPE_TORCH_BRIDGE (a .so path; "0" turns the bridge off)
  2. next to the injector library (built by CMake when torch was found)
  3. the cache: ~/.cache/vramscope/torch_bridge/<torch version>-<key>/
  4. otherwise compiled into that cache now (one line on stderr, ~10-30 s,
     once per torch version)
A bridge built for another torch version is never loaded.
"""
import ctypes
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig

LIB_NAME = "libvramscope_torch_bridge.so"
_handle = None


def _say(text):
    try:
        sys.stderr.write("vramscope: " + text + "\n")
    except Exception:
        pass


def source_path():
    env = os.environ.get("VRAMSCOPE_TORCH_BRIDGE_SOURCE")
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [env] if env else []
    candidates += [
        os.path.join(here, "..", "..", "injector", "torch_bridge", "vramscope_torch_bridge.cpp"),  # source tree
        os.path.join(here, "torch_bridge", "vramscope_torch_bridge.cpp"),  # installed copy
    ]
    for c in candidates:
        if c and os.path.isfile(c):
            return os.path.abspath(c)
    return None


def cache_dir():
    root = os.environ.get("VRAMSCOPE_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "vramscope")
    return os.path.join(root, "torch_bridge")


def _cuda_include_dirs(torch):
    dirs = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            dirs.append(os.path.join(os.environ[var], "include"))
    nvcc = shutil.which("nvcc")
    if nvcc:
        dirs.append(os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), "include"))
    dirs.append("/usr/local/cuda/include")
    # pip's nvidia-cuda-runtime-cu1x wheels ship the headers too
    for sp in {sysconfig.get_paths().get("purelib"), os.path.dirname(os.path.dirname(torch.__file__))}:
        if sp:
            dirs += glob.glob(os.path.join(sp, "nvidia", "cuda_runtime", "include"))
            dirs += glob.glob(os.path.join(sp, "nvidia", "cu*", "include"))
    return [d for d in dirs if os.path.isfile(os.path.join(d, "cuda_runtime_api.h"))][:1]


def _key(torch, source):
    h = hashlib.sha1()
    h.update(torch.__version__.encode())
    h.update(os.path.realpath(torch.__file__).encode())
    with open(source, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:12]


def build(torch, quiet=False):
    """Compiles the bridge into the cache (or finds it there). Returns the path or None."""
    source = source_path()
    if not source:
        _say("the PyTorch bridge source is missing; no tensor-level events")
        return None
    version = torch.__version__.replace("+", "_").replace("/", "_")
    out_dir = os.path.join(cache_dir(), f"{version}-{_key(torch, source)}")
    target = os.path.join(out_dir, LIB_NAME)
    if os.path.isfile(target):
        return target
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    lib_dir = os.path.join(torch_dir, "lib")
    includes = [os.path.join(torch_dir, "include"), os.path.join(torch_dir, "include", "torch", "csrc", "api", "include")]
    includes += _cuda_include_dirs(torch)
    abi = int(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True))
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or "g++"
    os.makedirs(out_dir, exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    base = [cxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-w", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
            f'-DVRAMSCOPE_TORCH_VERSION="{torch.__version__}"']
    base += [f"-I{d}" for d in includes]
    link = [source, "-o", tmp, f"-L{lib_dir}", "-lc10", "-lc10_cuda", f"-Wl,-rpath,{lib_dir}"]
    # First with Python callsites (needs this Python's headers, 3.10-3.13),
    # then without them if that does not compile.
    attempts = []
    py_include = sysconfig.get_paths().get("include")
    if py_include and os.path.isfile(os.path.join(py_include, "Python.h")):
        attempts.append(base + ["-DVRAMSCOPE_PYTHON_STACKS", f"-I{py_include}"] + link)
    attempts.append(base + link)
    if not quiet:
        _say(f"building the PyTorch bridge for torch {torch.__version__} (once; cached in {out_dir})")
    log = os.path.join(out_dir, "build.log")
    try:
        with open(log, "wb") as f:
            for cmd in attempts:
                r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
                f.write((" ".join(cmd) + "\n").encode() + r.stdout)
                if r.returncode == 0:
                    break
        if r.returncode != 0:
            _say(f"could not build the PyTorch bridge (see {log}); no tensor-level events, the job runs on")
            return None
        os.replace(tmp, target)  # atomic: several ranks may build at once
        return target
    except Exception as e:
        _say(f"could not build the PyTorch bridge ({e}); no tensor-level events, the job runs on")
        return None
    finally:
        if os.path.exists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _load(path, torch):
    try:
        lib = ctypes.CDLL(path)
        built_for = lib.vramscope_torch_bridge_built_for
        built_for.restype = ctypes.c_char_p
        if built_for().decode() != torch.__version__:
            return None
        lib.vramscope_torch_bridge_attach.restype = ctypes.c_int
        try:
            lib.vramscope_torch_bridge_set_python_stacks.restype = ctypes.c_int
            lib.vramscope_torch_bridge_set_python_stacks.argtypes = [ctypes.c_int]
            lib.vramscope_torch_bridge_callsite_events.restype = ctypes.c_ulonglong
        except AttributeError:
            pass  # a bridge from before Python callsites: tensor events only
        return lib
    except (OSError, AttributeError):
        return None


def find(torch, build_missing=True, path=None):
    """A loaded bridge for this torch, building it when needed (unless
    build_missing is False: inside a running job, never compile); or None.
    path: a bridge to try first (what `vramscope attach` built beforehand)."""
    global _handle
    if _handle:
        return _handle
    env = path or os.environ.get("VRAMSCOPE_TORCH_BRIDGE")
    candidates = [env] if env else []
    from . import _native
    inj = _native.injector_path()
    if inj:
        d = os.path.dirname(inj)
        candidates += [os.path.join(d, LIB_NAME), os.path.join(d, "torch_bridge", LIB_NAME)]
    for c in candidates:
        if c and os.path.isfile(c):
            lib = _load(c, torch)
            if lib is not None:
                return lib
    if not build_missing:
        source = source_path()
        if source:  # built before, into the cache, for this very torch and source
            version = torch.__version__.replace("+", "_").replace("/", "_")
            cached = os.path.join(cache_dir(), f"{version}-{_key(torch, source)}", LIB_NAME)
            if os.path.isfile(cached):
                return _load(cached, torch)
        return None
    built = build(torch)
    return _load(built, torch) if built else None


DEFAULT_STACK_DEPTH = 16


def stack_depth_setting(stacks=None, depth_text=None):
    """Python frames per tensor allocation from VRAMSCOPE_PYTHON_STACKS (on/off,
    default off: see docs/pytorch.md, "Python callsites") and
    VRAMSCOPE_PYTHON_STACK_DEPTH, or the same two values given (attach); 0 = off."""
    value = (os.environ.get("VRAMSCOPE_PYTHON_STACKS", "0") if stacks is None else stacks).strip().lower()
    if value in ("", "0", "off", "false", "no"):
        return 0
    try:
        if depth_text is None or depth_text == "":
            depth_text = os.environ.get("VRAMSCOPE_PYTHON_STACK_DEPTH", DEFAULT_STACK_DEPTH)
        depth = int(depth_text)
    except ValueError:
        _say("VRAMSCOPE_PYTHON_STACK_DEPTH is not a number; using %d" % DEFAULT_STACK_DEPTH)
        depth = DEFAULT_STACK_DEPTH
    return max(0, min(depth, 64))


def _enable_stacks(lib, wanted=None):
    if wanted is None:
        wanted = stack_depth_setting()
    setter = getattr(lib, "vramscope_torch_bridge_set_python_stacks", None)
    if setter is None:
        got = 0
    else:
        got = setter(wanted)
    if wanted and not got:
        _say("Python callsites are not available with this Python %d.%d or bridge build; "
             "tensor events carry no callsite" % sys.version_info[:2])
    elif got and os.environ.get("VRAMSCOPE_VERBOSE") == "1":
        _say(f"Python callsites on ({got} frames per allocation)")
    return got


def attach():
    """Attaches the allocator trace tracker. Call after CUDA init. Returns the C result code."""
    global _handle
    import torch
    if _handle is None:
        _handle = find(torch) or False
    if not _handle:
        return -10
    _enable_stacks(_handle)
    rc = _handle.vramscope_torch_bridge_attach()
    if rc == -4:
        pass  # the bridge printed why
    elif rc < 0 and rc != -1:
        _say(f"the PyTorch bridge could not attach (code {rc}); no tensor-level events")
    elif rc == 1 and os.environ.get("VRAMSCOPE_VERBOSE") == "1":
        _say("PyTorch bridge attached: tensor-level allocator events on")
    return rc


def counts():
    """(forwarded, refused, per-action counts 1..9) seen by the bridge, or None."""
    if not _handle:
        return None
    arr = (ctypes.c_ulonglong * 11)()
    _handle.vramscope_torch_bridge_counts(arr)
    return list(arr)
