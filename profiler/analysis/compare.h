// Comparing two runs (`vramscope diff`): aligned by iteration, deltas of the
// peaks, per phase, per category and per kernel; for checkpointing, the peak
// saved against the time spent.
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

struct Comparison {
    size_t iterationsA = 0, iterationsB = 0, alignedIterations = 0;
    ValueDelta peakAllocatedBytes, peakReservedBytes;
    ValueDelta meanIterationNs;          // over the aligned iterations
    ValueDelta medianStepPeriodNs;       // each run's whole (TraceSummary::medianStepPeriodNs)
    ValueDelta leakBytesPerIteration;
    std::array<ValueDelta, kPhaseCount> phaseMeanNs, phasePeakBytes;  // aligned iterations
    std::array<ValueDelta, kCategoryCount> categoryPeakBytes;
    std::vector<KernelDelta> kernels;    // largest change in time per iteration first
    std::vector<IterationDelta> iterations;
    // Checkpointing trade-off: what b saves in peak and spends in time against a.
    int64_t peakSavedBytes = 0;          // a.peak - b.peak
    int64_t iterationTimeAddedNs = 0;    // b.mean - a.mean
    ValueDelta recomputeNsPerIteration;
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
