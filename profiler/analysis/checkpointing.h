// Activation checkpointing: forward work re-run inside backward, and its cost.
// Detected from RecomputeBegin/End markers, or without markers from forward
// kernel sequences (three kernels in a row seen in forward) repeated in backward.
#pragma once

#include "iterations.h"

#include "model/trace_model.h"

#include <cstdint>
#include <vector>

namespace vramscope::analysis {

enum class RecomputeSource : uint8_t { None, Markers, RepeatedForwardKernels };
// "none", "markers", "repeated_forward_kernels".
const char* recomputeSourceText(RecomputeSource source);

struct CheckpointingReport {
    bool detected = false;
    RecomputeSource source = RecomputeSource::None;
    uint32_t iterationsWithRecompute = 0;
    uint64_t recomputeKernels = 0;          // over the whole run
    uint64_t recomputeNs = 0;               // kernel time spent recomputing, whole run
    // Over the steady iterations (step_times.h) that recompute; all that
    // recompute when none of those is steady. The first iteration's recompute
    // includes cuBLAS/cuDNN autotuning and would move a mean.
    uint64_t recomputeNsPerIteration = 0;   // median recompute kernel time
    double fractionOfIterationTime = 0;     // their recompute kernel time / their iteration time
    // Recompute runs inside backward: its kernel time against backward's time.
    double fractionOfBackward = 0;
    // Host time inside the recompute markers (0 without markers): the CPU
    // re-running forward in backward. When the GPU outruns the CPU, this and
    // not the kernel time is what checkpointing adds to a step.
    uint64_t recomputeRegionNsPerIteration = 0;  // median
    double regionFractionOfBackward = 0;         // recompute host time / backward time
    std::vector<uint64_t> recomputeNsByIteration;  // kernel time, one per iteration (0: none)
};

CheckpointingReport detectCheckpointing(const model::TraceModel& model, const IterationSet& iterations);

}  // namespace vramscope::analysis
