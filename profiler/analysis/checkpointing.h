// Activation checkpointing: forward work re-run inside backward, and its cost.
// Detected from RecomputeBegin/End markers, or without markers from forward
// kernel sequences (three kernels in a row seen in forward) repeated in backward.
#pragma once

#include "iterations.h"

#include "model/trace_model.h"

#include <cstdint>

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
    uint64_t recomputeNsPerIteration = 0;   // mean over iterations with recompute
    double fractionOfIterationTime = 0;     // recomputeNs / time inside iterations
};

CheckpointingReport detectCheckpointing(const model::TraceModel& model, const IterationSet& iterations);

}  // namespace vramscope::analysis
