"""The bridge's Python frame reader (injector/torch_bridge/python_stacks.h),
driven through python_stack_probe.cpp from known lines of this file.

Run: python3 test_python_stacks.py PROBE.so  (ctest passes the path).
Frames are read with the GIL released (ctypes.CDLL releases it around a
call, as PyTorch's bindings do around an op) and with it held (ctypes.PyDLL).
"""
import ctypes
import gc
import os
import sys
import threading
import unittest

PROBE = os.environ.get("VRAMSCOPE_STACK_PROBE") or (sys.argv.pop(1) if len(sys.argv) > 1 else None)
HERE = os.path.abspath(__file__)


def load(kind):
    lib = kind(PROBE)
    lib.probe_callsite_id.restype = ctypes.c_uint
    lib.probe_callsite_id.argtypes = [ctypes.c_int]
    lib.probe_chain.restype = ctypes.c_int
    lib.probe_chain.argtypes = [ctypes.c_uint, ctypes.c_char_p, ctypes.c_int]
    lib.probe_defined.restype = ctypes.c_uint
    return lib


def chain(lib, callsite):
    buf = ctypes.create_string_buffer(1 << 16)
    lib.probe_chain(callsite, buf, len(buf))
    return buf.value.decode("utf-8").splitlines()


def line_here():
    return sys._getframe(1).f_lineno


class PythonStacks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not PROBE:
            raise RuntimeError("usage: test_python_stacks.py PROBE.so")
        cls.released = load(ctypes.CDLL)
        cls.held = load(ctypes.PyDLL)
        if not cls.released.probe_supported():
            raise RuntimeError(f"the frame reader does not support Python {sys.version_info[:2]}")

    def allocate_here(self, lib, depth=16):
        return lib.probe_callsite_id(depth), sys._getframe().f_lineno

    def test_innermost_frame_is_the_calling_line_and_parents_follow(self):
        def inner():
            return self.allocate_here(self.released)

        def outer():
            result = inner(); return result, line_here()  # noqa: E702

        (callsite, probe_line), outer_line = outer()
        lines = chain(self.released, callsite)
        self.assertEqual(lines[0], f"{HERE}:{probe_line} PythonStacks.allocate_here")
        self.assertTrue(lines[1].startswith(f"{HERE}:") and lines[1].endswith("inner"), lines[1])
        self.assertEqual(lines[2], f"{HERE}:{outer_line} PythonStacks.test_innermost_frame_is_the_calling_line_and_parents_follow.<locals>.outer")
        self.assertLessEqual(len(lines), 16)
        self.assertTrue(lines[-1].endswith(" <module>") or len(lines) == 16, lines)

    def test_gil_held_and_released_read_the_same_frames(self):
        a, line_a = self.allocate_here(self.released)
        b, line_b = self.allocate_here(self.held)
        via_released, via_held = chain(self.released, a), chain(self.released, b)
        self.assertEqual(via_released[0], f"{HERE}:{line_a} PythonStacks.allocate_here")
        self.assertEqual(via_held[0], f"{HERE}:{line_b} PythonStacks.allocate_here")
        self.assertNotEqual(via_released[1], via_held[1])  # two lines of this test
        self.assertEqual(via_released[2:], via_held[2:])

    def test_same_line_same_id_other_line_other_id(self):
        ids = [self.allocate_here(self.released)[0] for _ in range(100)]
        self.assertEqual(len(set(ids)), 1)
        other = self.released.probe_callsite_id(16)
        self.assertNotEqual(other, ids[0])
        for _ in range(2):  # the first pass defines this loop's line
            before = self.released.probe_defined()
            for _ in range(1000):
                self.allocate_here(self.released)
        self.assertEqual(self.released.probe_defined(), before)  # steady state defines nothing new

    def test_depth_limits_the_chain(self):
        callsite, line = self.allocate_here(self.released, depth=1)
        self.assertEqual(chain(self.released, callsite), [f"{HERE}:{line} PythonStacks.allocate_here"])
        self.assertEqual(self.released.probe_callsite_id(0), 0)

    def test_a_python_thread_reads_its_own_frames(self):
        out = {}

        def worker_body():
            out["id"], out["line"] = self.allocate_here(self.released)

        t = threading.Thread(target=worker_body)
        t.start()
        t.join()
        lines = chain(self.released, out["id"])
        self.assertTrue(lines[1].endswith("worker_body"), lines)
        self.assertTrue(lines[-1].endswith("Thread._bootstrap"), lines)  # the thread's own outermost frame
        self.assertFalse(any(l.endswith(" <module>") for l in lines), lines)

    def test_a_native_thread_has_no_frames(self):
        self.assertEqual(self.released.probe_native_thread_frames(), 0)

    def test_non_ascii_file_and_function_names(self):
        namespace = {"probe": self.released.probe_callsite_id}
        exec(compile("def grüße_σ():\n    return probe(1)\n", "модель/ünïcode.py", "exec"), namespace)
        callsite = namespace["grüße_σ"]()
        self.assertEqual(chain(self.released, callsite), ["модель/ünïcode.py:2 grüße_σ"])

    def test_freed_and_reused_code_objects_are_not_confused(self):
        # Generated code (exec, torch.compile) comes and goes; a new code object
        # may take a freed one's address. Each must still get its own file.
        for i in range(300):
            namespace = {"probe": self.released.probe_callsite_id}
            exec(compile(f"def f{i}():\n    return probe(1)\n", f"generated_{i}.py", "exec"), namespace)
            callsite = namespace[f"f{i}"]()
            self.assertEqual(chain(self.released, callsite), [f"generated_{i}.py:2 f{i}"])
            del namespace
            gc.collect()


if __name__ == "__main__":
    unittest.main(verbosity=2)
