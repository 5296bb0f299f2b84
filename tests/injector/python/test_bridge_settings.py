"""How the bridge loader reads the Python-callsite settings (no torch needed)."""
import os
import sys
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))

from vramscope import _bridge  # noqa: E402


class StackSettings(unittest.TestCase):
    def depth(self, **env):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VRAMSCOPE_PYTHON_STACK")}
        clean.update(env)
        with mock.patch.dict(os.environ, clean, clear=True), mock.patch.object(_bridge, "_say") as say:
            return _bridge.stack_depth_setting(), say.call_count

    def test_off_by_default_and_16_frames_when_on(self):
        self.assertEqual(self.depth(), (0, 0))
        self.assertEqual(self.depth(VRAMSCOPE_PYTHON_STACKS="1"), (16, 0))
        self.assertEqual(self.depth(VRAMSCOPE_PYTHON_STACKS="on"), (16, 0))

    def test_off_in_every_spelling(self):
        for off in ("0", "off", "false", "no", "OFF"):
            self.assertEqual(self.depth(VRAMSCOPE_PYTHON_STACKS=off)[0], 0)

    def test_depth_is_clamped_and_bad_values_warn(self):
        on = {"VRAMSCOPE_PYTHON_STACKS": "1"}
        self.assertEqual(self.depth(VRAMSCOPE_PYTHON_STACK_DEPTH="4", **on), (4, 0))
        self.assertEqual(self.depth(VRAMSCOPE_PYTHON_STACK_DEPTH="500", **on)[0], 64)
        self.assertEqual(self.depth(VRAMSCOPE_PYTHON_STACK_DEPTH="lots", **on), (16, 1))

    def test_a_bridge_without_stacks_says_so_once(self):
        class OldBridge:
            pass
        with mock.patch.dict(os.environ, {"VRAMSCOPE_PYTHON_STACKS": "1"}), mock.patch.object(_bridge, "_say") as say:
            self.assertEqual(_bridge._enable_stacks(OldBridge()), 0)
        self.assertEqual(say.call_count, 1)


if __name__ == "__main__":
    unittest.main()
