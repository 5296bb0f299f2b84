"""vramscope's Python hooks against a fake torch (torch is not needed):
phase ordering for a plain loop, gradient accumulation, activation
checkpointing (recompute inside backward), manual steps, regions, and the
sitecustomize import hook that installs everything on `import torch`.

    python3 -m unittest discover -s tests/injector/python -v
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FAKE = os.path.join(HERE, "fake_torch")
sys.path.insert(0, FAKE)
sys.path.insert(0, os.path.join(REPO, "python"))
os.environ["VRAMSCOPE_PYTHON_HOOKS"] = "force"  # install without an injector in the process

import torch  # noqa: E402  (the fake)
from vramscope import _native as N  # noqa: E402
from vramscope import _torch_hooks  # noqa: E402
from vramscope._phases import tracker  # noqa: E402
import vramscope  # noqa: E402

NAMES = {N.STEP_BEGIN: "step", N.FORWARD_BEGIN: "fwd", N.BACKWARD_BEGIN: "bwd", N.OPTIMIZER_BEGIN: "opt",
         N.STEP_END: "end", N.RECOMPUTE_BEGIN: "rc+", N.RECOMPUTE_END: "rc-", N.REGION_BEGIN: "reg+",
         N.REGION_END: "reg-"}


class Model(torch.nn.Module):
    """Two blocks of two layers: nested module calls, like a real model."""

    def __init__(self, checkpointing=False):
        self.blocks = [torch.nn.Module(torch.nn.Module(), torch.nn.Module()) for _ in range(2)]
        super().__init__(*self.blocks)
        self.checkpointing = checkpointing

    def loss(self):
        self()
        # Checkpointing: backward re-runs each block's forward (as
        # torch.utils.checkpoint does from inside the autograd engine).
        rerun = (lambda: [b() for b in reversed(self.blocks)]) if self.checkpointing else None
        return torch.Tensor(on_backward=rerun)


class PhaseHookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert _torch_hooks.install(torch)

    def setUp(self):
        self.events = []
        tracker.reset()
        _torch_hooks._module_hooks.reset(keep_global=False)
        tracker.emit = lambda kind, step, name: self.events.append(
            NAMES[kind] + (f"{step}" if kind in (N.STEP_BEGIN, N.STEP_END) else "") + (f":{name}" if name else ""))

    def run_steps(self, steps, accumulation=1, checkpointing=False, manual=False):
        model, opt = Model(checkpointing), torch.optim.Optimizer()
        for _ in range(steps):
            for _ in range(accumulation):
                model.loss().backward()
            opt.step()
            if manual:
                vramscope.mark_step()

    def test_installsEveryHookOnce(self):
        self.assertEqual((len(torch._pre_hooks), len(torch._post_hooks)), (1, 1))
        self.assertEqual(torch.registered["optimizer_pre"], 1)
        self.assertEqual(torch.registered["optimizer_post"], 1)
        self.assertEqual(torch.registered["lazy_calls"], 1)  # the bridge, after CUDA init
        self.assertTrue(_torch_hooks.install(torch))
        self.assertEqual((len(torch._pre_hooks), len(torch._post_hooks)), (1, 1))

    def test_plainLoopGivesOneOfEachPhasePerStep(self):
        self.run_steps(3)
        expected = []
        for s in range(3):
            expected += [f"step{s}", "fwd", "bwd", "opt", f"end{s}"]
        self.assertEqual(self.events, expected)

    def test_nestedModulesGiveOneForward(self):
        Model()()
        Model()()
        self.assertEqual(self.events, ["step0", "fwd"])

    def test_gradientAccumulationKeepsOneStep(self):
        self.run_steps(2, accumulation=3)
        one = ["fwd", "bwd"] * 3 + ["opt"]
        self.assertEqual(self.events, ["step0"] + one + ["end0", "step1"] + one + ["end1"])

    def test_checkpointRecomputeInsideBackward(self):
        # Step 0 runs with the global hooks, steps 1 and 2 with root hooks
        # (the global ones back only while backward runs).
        self.run_steps(3, checkpointing=True)
        one = ["fwd", "bwd", "rc+", "rc-", "rc+", "rc-", "opt"]
        self.assertEqual(self.events, ["step0"] + one + ["end0", "step1"] + one + ["end1", "step2"] + one + ["end2"])
        self.assertEqual(torch._pre_hooks, [])

    def test_afterOneStepOnlyTheOutermostModuleIsHooked(self):
        model, opt = Model(), torch.optim.Optimizer()
        model.loss().backward()
        self.assertEqual(len(torch._pre_hooks), 1)  # global, while discovering
        opt.step()
        self.assertEqual((torch._pre_hooks, torch._post_hooks), ([], []))
        self.assertEqual(len(model._own_pre_hooks), 1)
        self.assertTrue(all(not b._own_pre_hooks for b in model.blocks))
        for _ in range(2):
            model.loss().backward()
            opt.step()
        one = ["fwd", "bwd", "opt"]
        self.assertEqual(self.events, ["step0"] + one + ["end0", "step1"] + one + ["end1", "step2"] + one + ["end2"])

    def test_unhookedModelSendsHooksBackToDiscovery(self):
        self.run_steps(1)
        other, opt = Model(), torch.optim.Optimizer()
        for _ in range(2):
            other.loss().backward()
            opt.step()
        # Its first forward goes unseen; its backward turns discovery back on.
        self.assertEqual(self.events[5:], ["step1", "bwd", "opt", "end1", "step2", "fwd", "bwd", "opt", "end2"])
        self.assertEqual(len(other._own_pre_hooks), 1)

    def test_compiledModelIsHookedOnItsWrapper(self):
        # Inside the compiled region the hooks do nothing, so nesting is
        # counted only outside it and the wrapper alone becomes the root.
        # A head module runs eagerly after the compiled part, inside the same outer module.
        model, head, opt = Model(), torch.nn.Module(), torch.optim.Optimizer()
        compiled = torch.OptimizedModule(model)
        outer = torch.nn.Module(compiled, head)
        for _ in range(3):
            outer()
            torch.Tensor().backward()
            opt.step()
        one = ["fwd", "bwd", "opt"]
        self.assertEqual(self.events, ["step0"] + one + ["end0", "step1"] + one + ["end1", "step2"] + one + ["end2"])
        self.assertEqual(len(outer._own_pre_hooks), 1)
        self.assertEqual((compiled._own_pre_hooks, model._own_pre_hooks, head._own_pre_hooks), ([], [], []))
        self.assertEqual(torch._pre_hooks, [])

    def test_allModeKeepsTheGlobalHooks(self):
        _torch_hooks._module_hooks.reset(keep_global=True)
        self.run_steps(2)
        self.assertEqual(len(torch._pre_hooks), 1)
        self.assertEqual(self.events.count("fwd"), 2)

    def test_recomputeCutShortEndsWithBackward(self):
        # Non-reentrant checkpointing stops a recompute early by raising
        # inside forward; torch < 2.2 then skips the forward hooks.
        tracker.backward_begin()
        tracker.forward_pre()
        tracker.forward_pre()
        tracker.backward_end()
        self.assertEqual(self.events, ["step0", "bwd", "rc+", "rc-"])

    def test_checkpointingWithAccumulation(self):
        self.run_steps(1, accumulation=2, checkpointing=True)
        micro = ["fwd", "bwd", "rc+", "rc-", "rc+", "rc-"]
        self.assertEqual(self.events, ["step0"] + micro * 2 + ["opt", "end0"])

    def test_manualStepsOverrideOptimizerHooks(self):
        self.run_steps(2, manual=True)
        one = ["fwd", "bwd", "opt"]
        self.assertEqual(self.events, ["step0"] + one + ["end0", "step1"] + one + ["end1"])

    def test_markStepWithoutOpenStepIsQuiet(self):
        vramscope.mark_step()
        vramscope.mark_step()
        self.assertEqual(self.events, [])

    def test_regionsCarryTheirName(self):
        with vramscope.region("data"):
            pass
        self.assertEqual(self.events, ["reg+:data", "reg-:data"])

    def test_evalForwardWithoutBackwardStaysInStep(self):
        model, opt = Model(), torch.optim.Optimizer()
        model.loss().backward()
        model()  # e.g. a logging pass
        opt.step()
        self.assertEqual(self.events, ["step0", "fwd", "bwd", "fwd", "opt", "end0"])


    def test_evalPassesBetweenStepsOpenNoStep(self):
        # Trainer / accelerate loops: every N steps an evaluation forward
        # under no_grad, after the optimizer step; it must not become a step.
        model, opt = Model(), torch.optim.Optimizer()
        for _ in range(2):
            model.loss().backward()
            opt.step()
            with torch.no_grad():
                model()
                model()
        one = ["fwd", "bwd", "opt"]
        self.assertEqual(self.events, ["step0"] + one + ["end0", "step1"] + one + ["end1"])

    def test_noGradForwardInsideAStepStaysInIt(self):
        model, opt = Model(), torch.optim.Optimizer()
        model.loss().backward()
        with torch.no_grad():
            model()  # e.g. an EMA or logging pass before the update
        opt.step()
        self.assertEqual(self.events, ["step0", "fwd", "bwd", "fwd", "opt", "end0"])


class ImportHookTest(unittest.TestCase):
    def test_sitecustomizeInstallsHooksWhenTorchIsImported(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "python", "vramscope", "_boot"), FAKE])
        env["VRAMSCOPE_PYTHON_HOOKS"] = "force"
        code = ("import sys; assert 'vramscope' not in sys.modules; import torch; "
                "print(torch.registered['forward_pre'], torch.registered['optimizer_post'], "
                "torch.registered['lazy_calls'], 'vramscope._torch_hooks' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["1", "1", "1", "True"])

    def test_processWithoutTorchIsUntouched(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(REPO, "python", "vramscope", "_boot")
        code = "import sys, json; print('vramscope' in sys.modules, 'ctypes' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split()[0], "False")

    def test_hooksOffByEnvironment(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "python", "vramscope", "_boot"), FAKE])
        env["VRAMSCOPE_PYTHON_HOOKS"] = "0"
        code = "import torch; print(torch.registered['forward_pre'])"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.split(), ["0"], out.stderr)


if __name__ == "__main__":
    unittest.main()
