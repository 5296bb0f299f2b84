// Everything `vramscope summary` reports, computed in one call: iterations
// and phases, peaks with the blocks live at the peak, categories, leaks,
// checkpointing, the estimator and boundness. Plain data; no I/O.
#pragma once

#include "boundness.h"
#include "kernel_boundness.h"
#include "roofline.h"
#include "categories.h"
#include "checkpointing.h"
#include "estimator.h"
#include "iterations.h"
#include "leak_detector.h"
#include "oom.h"
#include "step_times.h"

#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::analysis {

struct SummaryOptions {
    EstimatorOptions estimator;
    size_t topBlocks = 10;
};

struct IterationStats {
    uint64_t step = 0;
    uint64_t startNs = 0, durationNs = 0;
    uint64_t allocatedAtStartBytes = 0;
    uint64_t peakAllocatedBytes = 0;
    uint64_t peakReservedBytes = 0;
    bool steady = true;                  // counted in the time figures (step_times.h)
    uint64_t periodNs = 0;               // to the next iteration's start; 0 for the last
    uint64_t gpuBusyNs = 0;              // kernels running in the step's window (StepTime)
    uint64_t recomputeNs = 0;            // recompute kernel time
    std::array<uint64_t, kPhaseCount> phaseDurationNs{};  // 0 where the phase is unknown
    std::array<uint64_t, kPhaseCount> phasePeakBytes{};
};

// One phase: its times over the steady iterations that have it (the
// warm-up's lazy initialisation is not the phase's cost), its memory over
// every iteration that has it (a peak in warm-up is still a peak).
struct PhaseStats {
    uint32_t iterations = 0;              // every iteration with the phase
    uint32_t steadyIterations = 0;        // the steady ones, which the times are over
    uint64_t totalNs = 0;
    uint64_t meanNs = 0;
    uint64_t medianNs = 0;
    uint64_t peakAllocatedBytes = 0;      // the highest of any iteration
    uint64_t meanPeakAllocatedBytes = 0;
};

struct BlockInfo {
    uint32_t block = 0;  // index into model.blocks
    uint64_t bytes = 0, address = 0;
    uint64_t allocNs = 0, freeNs = 0;  // freeNs = model::kNeverNs when never freed
    Category category = Category::Other;
    int32_t iteration = -1;
    int8_t phase = -1;
    std::string callsite;
    // format::MemoryKind: pinned host memory is live at the peak too, but it
    // is not device memory and is in no category (isHostMemory).
    uint8_t memoryKind = static_cast<uint8_t>(format::MemoryKind::Device);
};

// How capture began: with the process, or attached to it while it ran
// (`vramscope attach`); then what ran before is not in the trace, but what
// was live at the attach is.
struct CaptureInfo {
    bool attached = false;
    uint32_t attachIndex = 0;             // 1 for the first attach into the process
    uint64_t attachedNs = 0;              // trace clock
    uint64_t seededNs = 0;                // when what was live entered the trace (trace clock)
    uint64_t attachedUnixNs = 0;          // wall clock of the attach
    uint64_t processStartUnixNs = 0;      // 0 = unknown
    uint64_t allocatedAtAttachBytes = 0;  // the live set entered at the attach (tensor level; 0 otherwise)
    uint64_t reservedAtAttachBytes = 0;   // the framework's segments then
    uint64_t deviceUsedAtAttachBytes = 0; // the device's memory in use then (cuMemGetInfo), 0 = unknown
};

// How the trace described by process p (captureStart Attach) began.
CaptureInfo captureInfo(const model::TraceModel& model, const format::ProcessInfo& p);

struct TraceSummary {
    CaptureInfo capture;
    std::string deviceName;
    uint64_t deviceTotalBytes = 0;
    uint64_t firstNs = 0, durationNs = 0;
    uint64_t events = 0, tensorEvents = 0, driverEvents = 0;
    model::AllocationLevel allocationLevel = model::AllocationLevel::None;

    IterationSet iterations;
    std::vector<IterationStats> perIteration;
    std::array<PhaseStats, kPhaseCount> phases;
    // Every time figure is over the steady iterations (step_times.h: those
    // within 3x the median); steps.leftOut lists the others (warm-up, stalls).
    StepTimes steps;
    uint64_t meanIterationNs = 0;
    uint64_t medianIterationNs = 0;
    // From one iteration's start to the next one's: the step period a
    // training log reports. Marker iterations end at the optimizer step, so
    // what runs between steps (zero_grad, data loading, a synchronize,
    // logging) is in the period but in no iteration: medianBetweenStepsNs.
    uint64_t medianStepPeriodNs = 0;
    uint64_t medianBetweenStepsNs = 0;
    // Whether the time between steps is a visible share (over 2 %) of the
    // step period: what the CLI and the app show beside the iteration time.
    bool timeBetweenStepsShows() const { return medianBetweenStepsNs * 50 > medianStepPeriodNs; }

    model::MemoryCurve::Point peakAllocated, peakReserved;
    std::vector<BlockInfo> topBlocksAtPeak;
    // Every out-of-memory, in time order (what the summary leads with).
    std::vector<OutOfMemory> outOfMemory;
    Categorization categories;
    LeakReport leak;
    CheckpointingReport checkpointing;
    Estimate estimate;
    BoundnessReport boundness;
    KernelBoundness kernelBounds;      // per kernel name, fitted to the counters
    Roofline roofline;
    std::vector<KernelStats> kernels;  // every kernel name, most total time first
};

TraceSummary summarize(const model::TraceModel& model, const SummaryOptions& options = {});

// What the summary says of one block of model.blocks.
BlockInfo blockInfo(const model::TraceModel& model, const Categorization& categories, uint32_t block);

}  // namespace vramscope::analysis
