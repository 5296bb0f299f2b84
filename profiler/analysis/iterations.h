// Iterations (training steps) and their phases: from Phase markers when the
// trace has them, else from NVTX ranges named like training steps and
// phases, else inferred from the repeating kernel sequence, or failing that
// from the allocated curve's rise and fall.
#pragma once

#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::analysis {

enum class PhaseName : uint8_t { Forward = 0, Backward = 1, Optimizer = 2 };
inline constexpr int kPhaseCount = 3;
// "forward", "backward", "optimizer": the phase keys of the JSON and the
// names of a training step's phases.
const char* phaseNameText(PhaseName phase);

struct TimeSpan {
    uint64_t startNs = 0, endNs = 0;
    bool valid() const { return endNs > startNs; }
    uint64_t durationNs() const { return valid() ? endNs - startNs : 0; }
    bool contains(uint64_t t) const { return startNs <= t && t < endNs; }
};

struct Iteration {
    uint64_t step = 0;  // the marker's step number, or the index when inferred
    TimeSpan span;
    std::array<TimeSpan, kPhaseCount> phases;  // invalid where unknown
    std::vector<TimeSpan> recomputes;          // RecomputeBegin..End inside backward
    // Kernels [firstKernel, lastKernel) that start inside span.
    size_t firstKernel = 0, lastKernel = 0;
};

enum class IterationSource : uint8_t {
    None,           // nothing repeats: no iterations
    Markers,        // Phase records (StepBegin/ForwardBegin/...)
    Ranges,         // NVTX ranges named step/forward/backward/optimizer
    KernelPattern,  // the kernel sequence repeats with period kernelsPerIteration
    MemoryPattern,  // the allocated curve rises and falls
    StackFrames,    // markers that `vramscope import` inferred from a snapshot's stack frames
};
// "none", "markers", "nvtx_ranges", "kernel_pattern", "memory_pattern", "stack_frames".
const char* iterationSourceText(IterationSource source);

struct IterationSet {
    IterationSource source = IterationSource::None;
    bool phasesInferred = false;        // phases guessed (no markers)
    uint32_t kernelsPerIteration = 0;   // the period, for KernelPattern
    // Whether the phases are a training step's forward, backward and
    // optimizer. Markers, NVTX step names and snapshot frames say so; phases
    // inferred from the kernel pattern only when kernel names do (a backward
    // or optimizer kernel in the phase of that name). A plain CUDA loop's
    // phases are "phase 1", "phase 2", "phase 3" (phaseLabel).
    bool trainingPhases = true;
    std::string phaseEvidence;          // why they are (or are not) called training phases
    std::vector<Iteration> iterations;  // ordered by time, non-overlapping

    size_t size() const { return iterations.size(); }
    // Index of the iteration whose span holds timeNs, or -1.
    int iterationAt(uint64_t timeNs) const;
    // Index of the last iteration starting at or before timeNs, or -1.
    int iterationStartingBefore(uint64_t timeNs) const;
    // Phase of iteration `index` holding timeNs, or -1.
    int phaseAt(size_t index, uint64_t timeNs) const;
};

IterationSet detectIterations(const model::TraceModel& model);

// What to call a phase for people: phaseNameText when the phases are a
// training step's, else "phase 1", "phase 2", "phase 3".
const char* phaseLabel(const IterationSet& iterations, PhaseName phase);

}  // namespace vramscope::analysis
