#include "summary.h"

#include <algorithm>

namespace vramscope::analysis {

using model::TraceModel;

CaptureInfo captureInfo(const TraceModel& m, const format::ProcessInfo& p) {
    CaptureInfo c;
    c.attached = true;
    c.attachIndex = p.attachIndex;
    c.attachedNs = p.timestampNs;
    c.attachedUnixNs = p.wallClockNs;
    c.processStartUnixNs = p.processStartUnixNs;
    // What was live at the attach enters the trace at one instant, when the
    // framework's snapshot is taken, a little after capture began (Python's
    // part runs between two bytecodes of the job's main thread): the first
    // tensor-level point from the attach on. Driver allocations made in
    // between are in that snapshot too.
    c.seededNs = c.attachedNs;
    if (m.allocationLevel == model::AllocationLevel::Tensor) {
        const size_t i = m.allocated.upperIndex(c.attachedNs > 0 ? c.attachedNs - 1 : 0);
        if (i < m.allocated.size()) c.seededNs = m.allocated.timesNs()[i];
        c.allocatedAtAttachBytes = m.allocated.valueAt(c.seededNs);
        c.reservedAtAttachBytes = m.reserved.valueAt(c.seededNs);
    }
    const size_t u = m.deviceUsed.upperIndex(c.attachedNs > 0 ? c.attachedNs - 1 : 0);
    if (u < m.deviceUsed.size()) c.deviceUsedAtAttachBytes = m.deviceUsed.values()[u];
    return c;
}

TraceSummary summarize(const TraceModel& m, const SummaryOptions& options) {
    TraceSummary s;
    if (!m.devices.empty()) {
        s.deviceName = m.text(m.devices.front().nameId);
        s.deviceTotalBytes = m.devices.front().totalMemoryBytes;
    }
    for (const format::ProcessInfo& p : m.processes) {
        if (p.captureStart != format::CaptureStart::Attach) continue;
        s.capture = captureInfo(m, p);
        break;
    }
    s.firstNs = m.firstNs;
    s.durationNs = m.lastNs > m.firstNs ? m.lastNs - m.firstNs : 0;
    s.events = m.events;
    s.tensorEvents = m.tensorEvents;
    s.driverEvents = m.driverEvents;
    s.allocationLevel = m.allocationLevel;

    s.iterations = detectIterations(m);
    s.categories = categorize(m, s.iterations);
    s.leak = detectLeaks(m, s.iterations, s.categories);
    s.checkpointing = detectCheckpointing(m, s.iterations);
    s.estimate = estimateMemory(m, s.categories, options.estimator);
    s.kernels = kernelStats(m);
    s.kernelBounds = kernelBoundness(m);
    s.boundness = analyzeBoundness(m, s.iterations, &s.kernelBounds);
    s.roofline = roofline(m, s.kernelBounds, s.kernels);

    uint64_t totalIterationNs = 0;
    for (const auto& it : s.iterations.iterations) {
        IterationStats st;
        st.step = it.step;
        st.startNs = it.span.startNs;
        st.durationNs = it.span.durationNs();
        st.allocatedAtStartBytes = m.allocated.valueAt(it.span.startNs);
        st.peakAllocatedBytes = m.allocated.peakIn(it.span.startNs, it.span.endNs).bytes;
        st.peakReservedBytes = m.reserved.peakIn(it.span.startNs, it.span.endNs).bytes;
        for (int p = 0; p < kPhaseCount; ++p) {
            const TimeSpan& span = it.phases[static_cast<size_t>(p)];
            if (!span.valid()) continue;
            st.phaseDurationNs[static_cast<size_t>(p)] = span.durationNs();
            st.phasePeakBytes[static_cast<size_t>(p)] = m.allocated.peakIn(span.startNs, span.endNs).bytes;
            PhaseStats& ps = s.phases[static_cast<size_t>(p)];
            ++ps.iterations;
            ps.totalNs += span.durationNs();
            ps.peakAllocatedBytes = std::max(ps.peakAllocatedBytes, st.phasePeakBytes[static_cast<size_t>(p)]);
            ps.meanPeakAllocatedBytes += st.phasePeakBytes[static_cast<size_t>(p)];  // divided below
        }
        totalIterationNs += st.durationNs;
        s.perIteration.push_back(st);
    }
    auto median = [](std::vector<uint64_t> v) -> uint64_t {
        if (v.empty()) return 0;
        std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
        return v[v.size() / 2];
    };
    for (size_t p = 0; p < s.phases.size(); ++p) {
        PhaseStats& ps = s.phases[p];
        if (!ps.iterations) continue;
        ps.meanNs = ps.totalNs / ps.iterations;
        ps.meanPeakAllocatedBytes /= ps.iterations;
        std::vector<uint64_t> durations;
        for (const IterationStats& st : s.perIteration)
            if (st.phaseDurationNs[p]) durations.push_back(st.phaseDurationNs[p]);
        ps.medianNs = median(std::move(durations));
    }
    if (!s.perIteration.empty()) s.meanIterationNs = totalIterationNs / s.perIteration.size();
    std::vector<uint64_t> durations;
    for (const IterationStats& st : s.perIteration) durations.push_back(st.durationNs);
    s.medianIterationNs = median(std::move(durations));
    std::vector<uint64_t> periods, between;
    const auto& its = s.iterations.iterations;
    for (size_t i = 1; i < its.size(); ++i) {
        const TimeSpan &a = its[i - 1].span, &b = its[i].span;
        if (b.startNs <= a.startNs) continue;
        periods.push_back(b.startNs - a.startNs);
        between.push_back(b.startNs > a.endNs ? b.startNs - a.endNs : 0);
    }
    s.medianStepPeriodNs = median(std::move(periods));
    s.medianBetweenStepsNs = median(std::move(between));

    s.peakAllocated = m.allocated.peak();
    s.peakReserved = m.reserved.peak();
    if (!m.allocated.empty()) {
        for (uint32_t b : m.topLiveBlocksAt(s.peakAllocated.timeNs, options.topBlocks)) {
            BlockInfo info;
            info.block = b;
            info.bytes = m.blocks.bytes[b];
            info.address = m.blocks.address[b];
            info.allocNs = m.blocks.allocNs[b];
            info.freeNs = m.blocks.freeNs[b];
            info.category = s.categories.category[b];
            info.iteration = s.categories.iteration[b];
            info.phase = s.categories.phase[b];
            info.callsite = m.callsiteText(m.blocks.callsiteId[b]);
            s.topBlocksAtPeak.push_back(std::move(info));
        }
    }
    return s;
}

}  // namespace vramscope::analysis
