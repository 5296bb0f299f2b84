#include "kernel_boundness.h"

#include <algorithm>

namespace vramscope::analysis {

namespace {

const model::CounterSeries* findSeries(const model::TraceModel& m, format::CounterMetric metric) {
    for (const auto& s : m.counters)
        if (s.info.metric == metric && !s.timesNs.empty()) return &s;
    return nullptr;
}

// Adds, for every kernel, the counter value of each sample interval that
// overlaps it, weighted by the overlap in ns. Kernels and samples are both
// sorted by time, so one merge walk does it: O(kernels + samples).
void overlay(const model::TraceModel& m, const model::CounterSeries& s, std::unordered_map<uint32_t, double>& sum,
             std::unordered_map<uint32_t, double>& weight) {
    const auto& k = m.kernels;
    const uint64_t interval = s.info.intervalNs ? s.info.intervalNs : 1'000'000;
    size_t first = 0;  // first sample whose interval may still overlap the kernel
    for (size_t i = 0; i < k.size(); ++i) {
        const uint64_t a = k.startNs[i], b = k.endNs(i);
        while (first < s.timesNs.size() && s.timesNs[first] <= a) ++first;  // sample ends before the kernel starts
        for (size_t j = first; j < s.timesNs.size(); ++j) {
            const uint64_t end = s.timesNs[j], start = end > interval ? end - interval : 0;
            if (start >= b) break;
            const uint64_t lo = std::max(a, start), hi = std::min(b, end);
            if (hi <= lo) continue;
            const double w = double(hi - lo);
            sum[k.nameId[i]] += w * s.valuesMilli[j] / 1000.0;
            weight[k.nameId[i]] += w;
        }
    }
}

// As in boundness.cpp: an SM instruction-issue rate (what PM sampling gives
// on GH100) reads lower than sm__throughput, so it counts from 30 %.
double computeThresholdPct(const model::TraceModel& m, const model::CounterSeries& sm) {
    return m.text(sm.info.nameId).find("inst_executed") != std::string::npos ? 30 : 50;
}

}  // namespace

KernelBoundness kernelBoundness(const model::TraceModel& m) {
    KernelBoundness out;
    const auto* sm = findSeries(m, format::CounterMetric::SmThroughputPct);
    const auto* dram = findSeries(m, format::CounterMetric::DramThroughputPct);
    if (sm && dram) {
        std::unordered_map<uint32_t, double> smSum, smWeight, dramSum, dramWeight;
        overlay(m, *sm, smSum, smWeight);
        overlay(m, *dram, dramSum, dramWeight);
        out.fromCounters = true;
        const double smThreshold = computeThresholdPct(m, *sm);
        for (const auto& [name, w] : smWeight) {
            const double smPct = w > 0 ? smSum[name] / w : -1;
            const double dw = dramWeight[name];
            const double dramPct = dw > 0 ? dramSum[name] / dw : -1;
            out.smAndDramPct[name] = {smPct, dramPct};
            // The same thresholds as the per-phase classes (boundness.cpp):
            // a unit above its threshold and ahead of the other limits the kernel.
            Bound b = Bound::Latency;
            if (smPct >= smThreshold && smPct >= dramPct) b = Bound::Compute;
            else if (dramPct >= 50) b = Bound::Bandwidth;
            out.byName[name] = b;
        }
    }
    // Names no sample covered (or no counters at all): estimate from the name.
    for (size_t i = 0; i < m.kernels.size(); ++i) {
        uint32_t name = m.kernels.nameId[i];
        if (!out.byName.count(name)) out.byName[name] = boundFromKernelName(m.text(name));
    }
    return out;
}

}  // namespace vramscope::analysis
