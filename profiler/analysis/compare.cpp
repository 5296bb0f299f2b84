#include "compare.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace vramscope::analysis {

Comparison compareRuns(const TraceSummary& a, const TraceSummary& b, size_t topKernels) {
    Comparison c;
    c.iterationsA = a.perIteration.size();
    c.iterationsB = b.perIteration.size();
    c.alignedIterations = std::min(c.iterationsA, c.iterationsB);
    c.peakAllocatedBytes = {double(a.peakAllocated.bytes), double(b.peakAllocated.bytes)};
    c.peakReservedBytes = {double(a.peakReserved.bytes), double(b.peakReserved.bytes)};
    c.leakBytesPerIteration = {double(a.leak.bytesPerIteration), double(b.leak.bytesPerIteration)};

    // Aligned by iteration index: iteration i of a against iteration i of b.
    std::array<uint32_t, kPhaseCount> phaseCountA{}, phaseCountB{};
    for (size_t i = 0; i < c.alignedIterations; ++i) {
        const IterationStats& x = a.perIteration[i];
        const IterationStats& y = b.perIteration[i];
        c.iterations.push_back({i, {double(x.peakAllocatedBytes), double(y.peakAllocatedBytes)},
                                {double(x.durationNs), double(y.durationNs)}});
        c.meanIterationNs.a += double(x.durationNs);
        c.meanIterationNs.b += double(y.durationNs);
        for (size_t p = 0; p < kPhaseCount; ++p) {
            if (x.phaseDurationNs[p]) {
                ++phaseCountA[p];
                c.phaseMeanNs[p].a += double(x.phaseDurationNs[p]);
                c.phasePeakBytes[p].a = std::max(c.phasePeakBytes[p].a, double(x.phasePeakBytes[p]));
            }
            if (y.phaseDurationNs[p]) {
                ++phaseCountB[p];
                c.phaseMeanNs[p].b += double(y.phaseDurationNs[p]);
                c.phasePeakBytes[p].b = std::max(c.phasePeakBytes[p].b, double(y.phasePeakBytes[p]));
            }
        }
    }
    if (c.alignedIterations) {
        c.meanIterationNs.a /= double(c.alignedIterations);
        c.meanIterationNs.b /= double(c.alignedIterations);
    }
    for (size_t p = 0; p < kPhaseCount; ++p) {
        if (phaseCountA[p]) c.phaseMeanNs[p].a /= phaseCountA[p];
        if (phaseCountB[p]) c.phaseMeanNs[p].b /= phaseCountB[p];
    }
    for (size_t k = 0; k < kCategoryCount; ++k)
        c.categoryPeakBytes[k] = {double(a.categories.peakBytes[k]), double(b.categories.peakBytes[k])};

    // Kernels by name (string ids differ between files), per iteration.
    const double itA = std::max<double>(1, double(c.iterationsA)), itB = std::max<double>(1, double(c.iterationsB));
    std::unordered_map<std::string, KernelDelta> byName;
    for (const auto& k : a.kernels) {
        KernelDelta& d = byName[k.name];
        d.name = k.name;
        d.nsPerIteration.a = double(k.totalNs) / itA;
        d.countPerIteration.a = double(k.count) / itA;
    }
    for (const auto& k : b.kernels) {
        KernelDelta& d = byName[k.name];
        d.name = k.name;
        d.nsPerIteration.b = double(k.totalNs) / itB;
        d.countPerIteration.b = double(k.count) / itB;
    }
    for (auto& [name, d] : byName) c.kernels.push_back(std::move(d));
    std::sort(c.kernels.begin(), c.kernels.end(), [](const KernelDelta& x, const KernelDelta& y) {
        const double dx = std::fabs(x.nsPerIteration.delta()), dy = std::fabs(y.nsPerIteration.delta());
        return dx != dy ? dx > dy : x.name < y.name;
    });
    if (c.kernels.size() > topKernels) c.kernels.resize(topKernels);

    c.medianStepPeriodNs = {double(a.medianStepPeriodNs), double(b.medianStepPeriodNs)};
    c.peakSavedBytes = static_cast<int64_t>(a.peakAllocated.bytes) - static_cast<int64_t>(b.peakAllocated.bytes);
    // In double, clamped: a trace's timestamps are outside data, and a mean
    // past int64's range must not make the conversion undefined.
    c.iterationTimeAddedNs = static_cast<int64_t>(std::clamp(c.meanIterationNs.b - c.meanIterationNs.a, -9.0e18, 9.0e18));
    c.recomputeNsPerIteration = {double(a.checkpointing.recomputeNsPerIteration), double(b.checkpointing.recomputeNsPerIteration)};
    c.boundSourceA = a.boundness.source;
    c.boundSourceB = b.boundness.source;
    for (size_t p = 0; p < kPhaseCount; ++p) {
        const PhaseBoundness &x = a.boundness.phases[p], &y = b.boundness.phases[p];
        c.boundA[p] = x.bound;
        c.boundB[p] = y.bound;
        c.busyFraction[p] = {x.busyFraction, y.busyFraction};
        c.smThroughputPct[p] = {x.smThroughputPct, y.smThroughputPct};
        c.dramThroughputPct[p] = {x.dramThroughputPct, y.dramThroughputPct};
    }
    return c;
}

}  // namespace vramscope::analysis
