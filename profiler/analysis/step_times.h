// Step times over the steady iterations: every time figure vramscope reports
// (summary, diff, the app's docks, boundness) counts only these. A PyTorch
// job's first iteration runs lazy initialisation, cuBLAS autotuning and the
// caching allocator's first cudaMallocs: 0.47 s and 1.58 s against 6–10 ms
// steps in tests/data/torch_gpt_plain/ckpt.vtrace, 2 s against 18 ms on an
// H200 GPT job, where a mean over all iterations came out 9× the step and a
// diff of two runs got the sign of the change wrong.
#pragma once

#include "dense_ids.h"
#include "iterations.h"

#include "model/trace_model.h"

#include <cstdint>
#include <vector>

namespace vramscope::analysis {

// Which iterations are steady: with 3 or more, those lasting at most 3× the
// median iteration (the others are warm-up or stalls: a checkpoint save, a
// recompilation); all of them with fewer. One flag per iteration.
// medianNs, when given, receives the median over all iterations.
std::vector<bool> steadyIterations(const IterationSet& set, uint64_t* medianNs = nullptr);

// One iteration as a step of the training loop.
struct StepTime {
    bool steady = true;
    uint64_t periodNs = 0;   // its start to the next iteration's start; 0 for the last
    // The step's window: [start, next start), or the iteration's span for the
    // last one. GPU busy is the time at least one kernel ran in it (streams
    // overlapping count once); the rest of the window the GPU was idle.
    uint64_t windowNs = 0;
    uint64_t gpuBusyNs = 0;
    uint64_t gpuIdleNs() const { return windowNs > gpuBusyNs ? windowNs - gpuBusyNs : 0; }
};

struct StepTimes {
    std::vector<StepTime> steps;       // one per iteration
    std::vector<size_t> leftOut;       // indices of the iterations not steady
    uint32_t steadyIterations = 0;
    uint64_t medianAllIterationNs = 0; // over every iteration: the steadiness threshold's base
    // Over the steady iterations:
    uint64_t meanIterationNs = 0, medianIterationNs = 0;
    // Over the counted steps: the steady iterations followed by another one
    // (their period is known), or every steady iteration when none is.
    uint32_t countedSteps = 0;
    uint64_t medianStepPeriodNs = 0;     // 0 when no period is known
    uint64_t medianBetweenStepsNs = 0;   // the next start minus this iteration's end
    uint64_t medianGpuBusyNs = 0, medianGpuIdleNs = 0;
    // Kernel time per step window, by dense kernel name index
    // (kernelNames.of(nameId)), summed over the counted steps: kernels that
    // start in a window belong to it.
    DenseIds kernelNames;
    std::vector<uint64_t> kernelNsByName, kernelCountByName;

    bool anyPeriod = false;              // some steady iteration is followed by another

    // Whether step i is one of the counted steps.
    bool counted(size_t i) const { return i < steps.size() && steps[i].steady && (steps[i].periodNs > 0 || !anyPeriod); }
};

StepTimes stepTimes(const model::TraceModel& model, const IterationSet& iterations);

// The median of values (the upper middle for an even count; 0 when empty).
uint64_t medianOf(std::vector<uint64_t> values);

}  // namespace vramscope::analysis
