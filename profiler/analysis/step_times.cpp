#include "step_times.h"

#include <algorithm>

namespace vramscope::analysis {

using model::TraceModel;

uint64_t medianOf(std::vector<uint64_t> v) {
    if (v.empty()) return 0;
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
    return v[v.size() / 2];
}

std::vector<bool> steadyIterations(const IterationSet& set, uint64_t* medianNs) {
    std::vector<uint64_t> durations;
    for (const auto& it : set.iterations) durations.push_back(it.span.durationNs());
    const uint64_t median = medianOf(durations);
    if (medianNs) *medianNs = median;
    std::vector<bool> steady(set.iterations.size(), true);
    // Two iterations give no majority to say which one is odd.
    if (set.iterations.size() < 3) return steady;
    for (size_t i = 0; i < durations.size(); ++i) steady[i] = durations[i] <= 3 * median;
    return steady;
}

namespace {

// Time in [t0, t1) during which at least one kernel ran. Kernels are ordered
// by start, so the union is one merge pass; concurrent streams count once.
uint64_t gpuBusyIn(const TraceModel& m, uint64_t t0, uint64_t t1) {
    const auto& k = m.kernels;
    auto [first, last] = m.kernelsIn(t0, t1);
    uint64_t busy = 0, runStart = 0, runEnd = 0;
    bool inRun = false;
    for (size_t i = first; i < last; ++i) {
        const uint64_t s = std::max(t0, k.startNs[i]), e = std::min(t1, k.endNs(i));
        if (s >= e) continue;
        if (inRun && s <= runEnd) {
            runEnd = std::max(runEnd, e);
            continue;
        }
        if (inRun) busy += runEnd - runStart;
        runStart = s, runEnd = e, inRun = true;
    }
    if (inRun) busy += runEnd - runStart;
    return busy;
}

}  // namespace

StepTimes stepTimes(const TraceModel& m, const IterationSet& set) {
    StepTimes r;
    const auto& its = set.iterations;
    const std::vector<bool> steady = steadyIterations(set, &r.medianAllIterationNs);
    r.steps.resize(its.size());
    std::vector<uint64_t> durations;
    uint64_t steadyTotalNs = 0;
    for (size_t i = 0; i < its.size(); ++i) {
        StepTime& st = r.steps[i];
        st.steady = steady[i];
        if (i + 1 < its.size() && its[i + 1].span.startNs > its[i].span.startNs)
            st.periodNs = its[i + 1].span.startNs - its[i].span.startNs;
        if (!st.steady) {
            r.leftOut.push_back(i);
            continue;
        }
        ++r.steadyIterations;
        durations.push_back(its[i].span.durationNs());
        steadyTotalNs += its[i].span.durationNs();
        r.anyPeriod |= st.periodNs > 0;
    }
    r.medianIterationNs = medianOf(durations);
    if (r.steadyIterations) r.meanIterationNs = steadyTotalNs / r.steadyIterations;

    r.kernelNames = DenseIds(m.kernels.nameId);
    r.kernelNsByName.assign(r.kernelNames.size(), 0);
    r.kernelCountByName.assign(r.kernelNames.size(), 0);
    std::vector<uint64_t> periods, between, busy, idle;
    for (size_t i = 0; i < its.size(); ++i) {
        StepTime& st = r.steps[i];
        const TimeSpan& span = its[i].span;
        const uint64_t end = st.periodNs ? span.startNs + st.periodNs : span.endNs;
        st.windowNs = end - span.startNs;
        st.gpuBusyNs = gpuBusyIn(m, span.startNs, end);
        if (!r.counted(i)) continue;
        ++r.countedSteps;
        if (st.periodNs) {
            periods.push_back(st.periodNs);
            between.push_back(span.startNs + st.periodNs > span.endNs ? span.startNs + st.periodNs - span.endNs : 0);
        }
        busy.push_back(st.gpuBusyNs);
        idle.push_back(st.gpuIdleNs());
        const auto& starts = m.kernels.startNs;
        const size_t first = size_t(std::lower_bound(starts.begin(), starts.end(), span.startNs) - starts.begin());
        for (size_t k = first; k < starts.size() && starts[k] < end; ++k) {
            const uint32_t name = r.kernelNames.of(m.kernels.nameId[k]);
            r.kernelNsByName[name] += m.kernels.durationNs[k];
            ++r.kernelCountByName[name];
        }
    }
    r.medianStepPeriodNs = medianOf(std::move(periods));
    r.medianBetweenStepsNs = medianOf(std::move(between));
    r.medianGpuBusyNs = medianOf(std::move(busy));
    r.medianGpuIdleNs = medianOf(std::move(idle));
    return r;
}

}  // namespace vramscope::analysis
