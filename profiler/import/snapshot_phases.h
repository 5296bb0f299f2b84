// Training steps and their phases from the stack frames a PyTorch memory
// snapshot carries. A snapshot has no phase markers and no kernels, so
// without this the analysis falls back to the allocated curve's rise and
// fall (a real 6-step run came out as 2 iterations, memory split into
// weights and temporaries only). The frames say where each allocation came
// from:
//   optimizer  a frame under torch/optim/ (the optimizer's step, its state),
//              and the "Optimizer.step#..." ranges torch >= 2.4 records in
//              external_annotations (a fused or foreach step allocates
//              nothing after the first step, so only the ranges show it)
//   backward   the autograd engine: torch/autograd/__init__.py backward/grad,
//              torch/_tensor.py backward, C++ frames of
//              torch::autograd::Engine or generated *Backward nodes
//              (stacks="all"), the checkpoint recompute hooks. With
//              stacks="python" the engine's own thread has no frames at
//              all; such allocations lie inside whatever phase they fall in
//   forward    a module call (torch/nn/modules/module.py _call_impl), or a
//              Python function named forward
// A step begins at a forward that follows a backward or an optimizer step;
// with gradient accumulation (optimizer steps seen through the whole run,
// several forward/backward pairs between them) a step ends with its
// optimizer step instead.
#pragma once

#include "format/records.h"
#include "pickle_reader.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace vramscope::import {

enum class FrameRole : uint8_t { None, Forward, Backward, Optimizer };

// The role of one allocation's frames (innermost first). Cached per frames
// list: PyTorch shares one list between entries with the same stack.
class FrameRoles {
public:
    FrameRole of(PickleValue frames);

private:
    std::unordered_map<uint32_t, FrameRole> byFramesValue_;
};

struct TimedRole {
    uint64_t ns = 0;
    FrameRole role = FrameRole::None;
};

struct OptimizerRange {
    uint64_t startNs = 0, endNs = 0;
};

// Phase markers (StepBegin, ForwardBegin, BackwardBegin, OptimizerBegin and,
// where the optimizer's end is known, StepEnd) in time order, with nameId =
// phaseNameId so that the analysis can say where they came from. Empty
// unless at least two steps have a forward followed by a backward or an
// optimizer step: without that the frames do not show training.
std::vector<format::Phase> phasesFromFrames(std::vector<TimedRole> allocations, std::vector<OptimizerRange> optimizerRanges,
                                            uint32_t phaseNameId);

}  // namespace vramscope::import
