// Comparing two runs (`vramscope diff`, the app's Compare dock): deltas of
// the peaks, per phase, per category and per kernel; for checkpointing, the
// peak saved against the step time spent. Memory is compared over every
// iteration (aligned by index); time over each run's steady iterations
// (step_times.h), since warm-up lasts as long as it lasts in each run.
#pragma once

#include "summary.h"

#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::analysis {

struct ValueDelta {
    double a = 0, b = 0;
    double delta() const { return b - a; }
    // Percent change from a to b (0 when both are 0, 100 when only a is 0).
    double percent() const { return a != 0 ? (b - a) / a * 100.0 : (b != 0 ? 100.0 : 0.0); }
};

struct KernelDelta {
    std::string name;
    ValueDelta nsPerIteration;
    ValueDelta countPerIteration;
};

struct IterationDelta {
    size_t index = 0;
    ValueDelta peakAllocatedBytes;
    ValueDelta durationNs;
};

// An iteration left out of a run's time figures (warm-up, a stall).
struct LeftOutIteration {
    size_t index = 0;
    uint64_t durationNs = 0;
};

// Which run checkpoints (recompute detected).
enum class CheckpointedRun : uint8_t { None, A, B, Both };
// "none", "a", "b", "both".
const char* checkpointedRunText(CheckpointedRun run);

// Checkpointing's trade-off seen from the run that checkpoints (B when both
// or neither do), against the other: positive is saved / spent. Times are
// steady medians per step, so the parts need not add up to the step exactly.
struct CheckpointingTradeOff {
    bool checkpointedIsA = false;
    int64_t peakSavedBytes = 0;      // the other's peak allocated minus its own
    double peakSavedPercent = 0;     // of the other's
    int64_t stepTimeAddedNs = 0;     // its median step period minus the other's
    double stepTimeAddedPercent = 0;
    int64_t recomputeAddedNs = 0;    // recompute kernel time per step
    int64_t gpuIdleAddedNs = 0;      // time per step the GPU ran nothing (waiting on the CPU)
    int64_t otherKernelAddedNs = 0;  // the rest of the GPU's busy time
    double backwardBusyOther = 0, backwardBusyOwn = 0;  // GPU busy in backward (fraction)
};

struct Comparison {
    size_t iterationsA = 0, iterationsB = 0, alignedIterations = 0;
    size_t steadyA = 0, steadyB = 0;     // iterations counted in the time figures
    std::vector<LeftOutIteration> leftOutA, leftOutB;
    ValueDelta peakAllocatedBytes, peakReservedBytes;
    // Times: each run's steady iterations (TraceSummary's figures).
    ValueDelta meanIterationNs, medianIterationNs;
    ValueDelta medianStepPeriodNs;
    ValueDelta gpuBusyPerStepNs, gpuIdlePerStepNs;  // medians per step
    ValueDelta leakBytesPerIteration;
    std::array<ValueDelta, kPhaseCount> phaseMeanNs, phaseMedianNs;  // steady iterations
    std::array<ValueDelta, kPhaseCount> phasePeakBytes;               // aligned iterations
    std::array<ValueDelta, kCategoryCount> categoryPeakBytes;
    std::vector<KernelDelta> kernels;    // per counted step; largest change in time first
    std::vector<IterationDelta> iterations;
    // Checkpointing trade-off: what b saves in peak and spends in time against a.
    CheckpointedRun checkpointed = CheckpointedRun::None;
    int64_t peakSavedBytes = 0;          // a.peak - b.peak
    int64_t iterationTimeAddedNs = 0;    // b - a, steady median iterations
    int64_t stepTimeAddedNs = 0;         // b - a, steady median step periods
    ValueDelta recomputeNsPerIteration;  // steady medians
    CheckpointingTradeOff tradeOff() const;
    // Boundness per phase (steady iterations), each run's own source.
    std::string boundSourceA, boundSourceB;
    std::array<Bound, kPhaseCount> boundA{}, boundB{};
    std::array<ValueDelta, kPhaseCount> busyFraction;
    // Mean counters; -1 on a side without them.
    std::array<ValueDelta, kPhaseCount> smThroughputPct, dramThroughputPct;

    // True when b's peak allocated exceeds a's by more than percent.
    bool regressed(double percent) const { return peakAllocatedBytes.b > peakAllocatedBytes.a * (1.0 + percent / 100.0); }
};

Comparison compareRuns(const TraceSummary& a, const TraceSummary& b, size_t topKernels = 20);

}  // namespace vramscope::analysis
