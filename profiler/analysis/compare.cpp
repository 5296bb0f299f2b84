#include "compare.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace vramscope::analysis {

const char* checkpointedRunText(CheckpointedRun run) {
    switch (run) {
    case CheckpointedRun::None: return "none";
    case CheckpointedRun::A: return "a";
    case CheckpointedRun::B: return "b";
    case CheckpointedRun::Both: return "both";
    }
    return "?";
}

namespace {

std::vector<LeftOutIteration> leftOut(const TraceSummary& s) {
    std::vector<LeftOutIteration> out;
    for (size_t i : s.steps.leftOut)
        if (i < s.perIteration.size()) out.push_back({i, s.perIteration[i].durationNs});
    return out;
}

// b − a in int64, clamped: a trace's timestamps are outside data, and a value
// past int64's range must not make the conversion undefined.
int64_t added(const ValueDelta& d) { return static_cast<int64_t>(std::clamp(d.b - d.a, -9.0e18, 9.0e18)); }

}  // namespace

CheckpointingTradeOff Comparison::tradeOff() const {
    CheckpointingTradeOff t;
    t.checkpointedIsA = checkpointed == CheckpointedRun::A;
    // Every delta is b − a; seen from A, each turns round.
    auto own = [&](const ValueDelta& d) { return t.checkpointedIsA ? ValueDelta{d.b, d.a} : d; };
    const ValueDelta peak = own(peakAllocatedBytes), step = own(medianStepPeriodNs);
    t.peakSavedBytes = -added(peak);
    t.peakSavedPercent = -peak.percent();
    t.stepTimeAddedNs = added(step);
    t.stepTimeAddedPercent = step.percent();
    t.recomputeAddedNs = added(own(recomputeNsPerIteration));
    t.gpuIdleAddedNs = added(own(gpuIdlePerStepNs));
    t.otherKernelAddedNs = added(own(gpuBusyPerStepNs)) - t.recomputeAddedNs;
    const ValueDelta busy = own(busyFraction[size_t(PhaseName::Backward)]);
    t.backwardBusyOther = busy.a;
    t.backwardBusyOwn = busy.b;
    return t;
}

Comparison compareRuns(const TraceSummary& a, const TraceSummary& b, size_t topKernels) {
    Comparison c;
    c.iterationsA = a.perIteration.size();
    c.iterationsB = b.perIteration.size();
    c.alignedIterations = std::min(c.iterationsA, c.iterationsB);
    c.steadyA = a.steps.steadyIterations;
    c.steadyB = b.steps.steadyIterations;
    c.leftOutA = leftOut(a);
    c.leftOutB = leftOut(b);
    c.peakAllocatedBytes = {double(a.peakAllocated.bytes), double(b.peakAllocated.bytes)};
    c.peakReservedBytes = {double(a.peakReserved.bytes), double(b.peakReserved.bytes)};
    c.leakBytesPerIteration = {double(a.leak.bytesPerIteration), double(b.leak.bytesPerIteration)};

    // Memory aligned by iteration index: iteration i of a against iteration i of b.
    for (size_t i = 0; i < c.alignedIterations; ++i) {
        const IterationStats& x = a.perIteration[i];
        const IterationStats& y = b.perIteration[i];
        c.iterations.push_back({i, {double(x.peakAllocatedBytes), double(y.peakAllocatedBytes)},
                                {double(x.durationNs), double(y.durationNs)}});
        for (size_t p = 0; p < kPhaseCount; ++p) {
            if (x.phaseDurationNs[p]) c.phasePeakBytes[p].a = std::max(c.phasePeakBytes[p].a, double(x.phasePeakBytes[p]));
            if (y.phaseDurationNs[p]) c.phasePeakBytes[p].b = std::max(c.phasePeakBytes[p].b, double(y.phasePeakBytes[p]));
        }
    }
    // Time from each run's steady iterations, as its summary has it.
    c.meanIterationNs = {double(a.meanIterationNs), double(b.meanIterationNs)};
    c.medianIterationNs = {double(a.medianIterationNs), double(b.medianIterationNs)};
    c.gpuBusyPerStepNs = {double(a.steps.medianGpuBusyNs), double(b.steps.medianGpuBusyNs)};
    c.gpuIdlePerStepNs = {double(a.steps.medianGpuIdleNs), double(b.steps.medianGpuIdleNs)};
    for (size_t p = 0; p < kPhaseCount; ++p) {
        c.phaseMeanNs[p] = {double(a.phases[p].meanNs), double(b.phases[p].meanNs)};
        c.phaseMedianNs[p] = {double(a.phases[p].medianNs), double(b.phases[p].medianNs)};
    }
    for (size_t k = 0; k < kCategoryCount; ++k)
        c.categoryPeakBytes[k] = {double(a.categories.peakBytes[k]), double(b.categories.peakBytes[k])};

    // Kernels by name (string ids differ between files), per counted step
    // (autotuning and one-off set-up kernels in warm-up are not per step).
    std::unordered_map<std::string, KernelDelta> byName;
    auto perStep = [&](const TraceSummary& s, bool isA) {
        const double steps = std::max<double>(1, double(s.steps.countedSteps));
        for (const auto& k : s.kernels) {
            const uint32_t name = s.steps.kernelNames.of(k.nameId);
            if (name == DenseIds::kNone || !s.steps.kernelCountByName[name]) continue;
            KernelDelta& d = byName[k.name];
            d.name = k.name;
            (isA ? d.nsPerIteration.a : d.nsPerIteration.b) = double(s.steps.kernelNsByName[name]) / steps;
            (isA ? d.countPerIteration.a : d.countPerIteration.b) = double(s.steps.kernelCountByName[name]) / steps;
        }
    };
    perStep(a, true);
    perStep(b, false);
    for (auto& [name, d] : byName) c.kernels.push_back(std::move(d));
    std::sort(c.kernels.begin(), c.kernels.end(), [](const KernelDelta& x, const KernelDelta& y) {
        const double dx = std::fabs(x.nsPerIteration.delta()), dy = std::fabs(y.nsPerIteration.delta());
        return dx != dy ? dx > dy : x.name < y.name;
    });
    if (c.kernels.size() > topKernels) c.kernels.resize(topKernels);

    c.medianStepPeriodNs = {double(a.medianStepPeriodNs), double(b.medianStepPeriodNs)};
    c.peakSavedBytes = static_cast<int64_t>(a.peakAllocated.bytes) - static_cast<int64_t>(b.peakAllocated.bytes);
    c.iterationTimeAddedNs = added(c.medianIterationNs);
    c.stepTimeAddedNs = added(c.medianStepPeriodNs);
    const bool ckptA = a.checkpointing.detected, ckptB = b.checkpointing.detected;
    c.checkpointed = ckptA && ckptB ? CheckpointedRun::Both
                     : ckptA        ? CheckpointedRun::A
                     : ckptB        ? CheckpointedRun::B
                                    : CheckpointedRun::None;
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
