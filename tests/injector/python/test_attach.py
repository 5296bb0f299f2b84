"""The Python side of `vramscope attach` (python/vramscope/_attach.py) against
a fake torch: start() installs the phase hooks into a running program and
says so through report(); stop() takes every hook out again, so the job runs
exactly as before the attach; a process without torch is told apart.

Each case runs in a fresh interpreter: the hooks are process-wide.
"""
import os
import subprocess
import sys
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FAKE = os.path.join(HERE, "fake_torch")

PRELUDE = textwrap.dedent("""
    import sys
    sys.path[:0] = [%r, %r]
    from vramscope import _native, _attach
    _native.traced = lambda: True   # as if `vramscope attach` had loaded the capture library
    reports = {}
    def report(key, value):
        reports[key] = str(value)
""" % (FAKE, os.path.join(REPO, "python")))


def run(code):
    r = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.split()


class AttachTest(unittest.TestCase):
    def test_start_installs_hooks_and_stop_removes_them(self):
        out = run("""
            import torch
            original_backward = torch.autograd.backward
            _attach.start(report, bridge="0")
            print(reports["python"], reports["phases"], reports["bridge"], reports["torch"])
            print(torch.autograd.backward is not original_backward, len(torch._opt_pre), len(torch._pre_hooks))
            _attach.stop(report)
            print(reports["python"])
            print(torch.autograd.backward is original_backward, len(torch._opt_pre), len(torch._opt_post),
                  len(torch._pre_hooks), len(torch._post_hooks))
        """)
        self.assertEqual(out[:4], ["ready", "on", "off", "0.0-fake"])
        self.assertEqual(out[4:7], ["True", "1", "1"])
        self.assertEqual(out[7], "stopped")
        self.assertEqual(out[8:], ["True", "0", "0", "0", "0"])

    def test_attaching_again_installs_again(self):
        out = run("""
            import torch
            for _ in range(2):
                _attach.start(report, bridge="0")
                installed = len(torch._opt_pre)
                _attach.stop(report)
                print(installed, len(torch._opt_pre))
        """)
        self.assertEqual(out, ["1", "0", "1", "0"])

    def test_bridge_waits_for_cuda_initialisation(self):
        out = run("""
            import torch
            _attach.start(report, bridge="")
            print(reports["bridge"].replace(" ", "_"), len(torch.lazy_calls))
        """)
        self.assertEqual(out, ["waiting_for_CUDA_to_initialise", "1"])

    def test_a_process_without_torch(self):
        out = run("""
            _attach.start(report)
            print(reports["python"], "torch" in sys.modules)
        """)
        self.assertEqual(out, ["no-torch", "False"])


if __name__ == "__main__":
    unittest.main()
