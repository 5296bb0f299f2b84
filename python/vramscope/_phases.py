"""Training-phase markers from a handful of cheap hooks (never per op).

PhaseTracker is a small state machine fed by the hooks in _torch_hooks.py
(and by the public API); it knows nothing about torch, so it can be tested
without it. What it emits (format::PhaseKind):

  StepBegin      lazily, before the first marker of a step
  ForwardBegin   first module forward after a step began or after a backward
                 (several per step with gradient accumulation; the analysis
                 keeps the first). A forward under no_grad/inference_mode
                 between steps (an evaluation pass, as Trainer and
                 accelerate loops run one every N steps) opens no step.
  BackwardBegin  entry of the outermost torch.autograd.backward
  RecomputeBegin/End  a module forward *while backward runs*: activation
                 checkpointing re-running the forward (one pair per
                 checkpointed region)
  OptimizerBegin the first optimizer step pre-hook of a step
  StepEnd        optimizer step post-hook, or vramscope.mark_step()
"""
import threading

from . import _native as N


class PhaseTracker:
    IDLE, FORWARD, BACKWARD, OPTIMIZER, EVAL = range(5)

    def __init__(self, emit=N.phase):
        self.emit = emit
        self.lock = threading.RLock()  # backward runs module hooks on autograd worker threads
        self.step_end_listener = None  # called after each StepEnd (the module hooks narrow down)
        self.reset()

    def reset(self):
        self.step = 0
        self.step_open = False
        self.phase = self.IDLE
        self.backward_depth = 0      # nesting of torch.autograd.backward calls
        self.recompute_depth = 0     # module forward nesting inside backward
        self.manual_steps = False    # the user calls mark_step(): optimizer hooks do not end steps

    # -- helpers ---------------------------------------------------------
    def _ensure_step(self):
        if not self.step_open:
            self.emit(N.STEP_BEGIN, self.step, None)
            self.step_open = True
            self.phase = self.IDLE

    def _end_step(self):
        if self.recompute_depth:
            self.emit(N.RECOMPUTE_END, self.step, None)
            self.recompute_depth = 0
        ended = self.step_open
        if self.step_open:
            self.emit(N.STEP_END, self.step, None)
            self.step += 1
            self.step_open = False
        self.phase = self.IDLE
        if ended and self.step_end_listener is not None:
            try:
                self.step_end_listener()
            except Exception:  # never into the user's optimizer step
                pass

    # -- hook entry points -----------------------------------------------
    def forward_pre(self, grad_enabled=True):
        """Any module's forward pre-hook. Cheap when nothing changes."""
        if not self.backward_depth and (self.phase == self.FORWARD or (self.phase == self.EVAL and not grad_enabled)):
            return
        with self.lock:
            if self.backward_depth:
                if self.recompute_depth == 0:
                    self.emit(N.RECOMPUTE_BEGIN, self.step, None)
                self.recompute_depth += 1
                return
            if not grad_enabled and not self.step_open:
                self.phase = self.EVAL  # evaluation between steps: not a training step
                return
            if self.phase != self.FORWARD:
                self._ensure_step()
                self.emit(N.FORWARD_BEGIN, self.step, None)
                self.phase = self.FORWARD

    def forward_post(self):
        """Any module's forward hook (also on exceptions where torch allows)."""
        if not self.recompute_depth:
            return
        with self.lock:
            if self.recompute_depth:
                self.recompute_depth -= 1
                if self.recompute_depth == 0:
                    self.emit(N.RECOMPUTE_END, self.step, None)

    def backward_begin(self):
        with self.lock:
            self.backward_depth += 1
            if self.backward_depth == 1:
                self._ensure_step()
                self.emit(N.BACKWARD_BEGIN, self.step, None)
                self.phase = self.BACKWARD

    def backward_end(self):
        with self.lock:
            self.backward_depth = max(0, self.backward_depth - 1)
            if self.backward_depth == 0 and self.recompute_depth:
                # A recompute cut short (non-reentrant checkpoint stops early
                # by raising inside forward, where post-hooks may not run).
                self.emit(N.RECOMPUTE_END, self.step, None)
                self.recompute_depth = 0

    def optimizer_pre(self):
        with self.lock:
            if self.phase != self.OPTIMIZER:
                self._ensure_step()
                self.emit(N.OPTIMIZER_BEGIN, self.step, None)
                self.phase = self.OPTIMIZER

    def optimizer_post(self):
        if self.manual_steps:
            return
        with self.lock:
            self._end_step()

    # -- public API ------------------------------------------------------
    def mark_step(self):
        with self.lock:
            self.manual_steps = True
            self._end_step()

    def region_begin(self, name):
        self.emit(N.REGION_BEGIN, self.step, name)

    def region_end(self, name):
        self.emit(N.REGION_END, self.step, name)


tracker = PhaseTracker()
