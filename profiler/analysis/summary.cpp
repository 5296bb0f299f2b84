#include "summary.h"

#include "format/saturating.h"

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

    s.steps = stepTimes(m, s.iterations);
    for (size_t i = 0; i < s.iterations.iterations.size(); ++i) {
        const Iteration& it = s.iterations.iterations[i];
        const StepTime& step = s.steps.steps[i];
        IterationStats st;
        st.step = it.step;
        st.startNs = it.span.startNs;
        st.durationNs = it.span.durationNs();
        st.allocatedAtStartBytes = m.allocated.valueAt(it.span.startNs);
        st.peakAllocatedBytes = m.allocated.peakIn(it.span.startNs, it.span.endNs).bytes;
        st.peakReservedBytes = m.reserved.peakIn(it.span.startNs, it.span.endNs).bytes;
        st.steady = step.steady;
        st.periodNs = step.periodNs;
        st.gpuBusyNs = step.gpuBusyNs;
        if (i < s.checkpointing.recomputeNsByIteration.size()) st.recomputeNs = s.checkpointing.recomputeNsByIteration[i];
        for (size_t p = 0; p < kPhaseCount; ++p) {
            const TimeSpan& span = it.phases[p];
            if (!span.valid()) continue;
            st.phaseDurationNs[p] = span.durationNs();
            st.phasePeakBytes[p] = m.allocated.peakIn(span.startNs, span.endNs).bytes;
            PhaseStats& ps = s.phases[p];
            ++ps.iterations;
            ps.peakAllocatedBytes = std::max(ps.peakAllocatedBytes, st.phasePeakBytes[p]);
            ps.meanPeakAllocatedBytes = saturatingAdd(ps.meanPeakAllocatedBytes, st.phasePeakBytes[p]);  // divided below
            if (!st.steady) continue;
            ++ps.steadyIterations;
            ps.totalNs += span.durationNs();
        }
        s.perIteration.push_back(st);
    }
    for (size_t p = 0; p < s.phases.size(); ++p) {
        PhaseStats& ps = s.phases[p];
        if (ps.iterations) ps.meanPeakAllocatedBytes /= ps.iterations;
        if (!ps.steadyIterations) continue;
        ps.meanNs = ps.totalNs / ps.steadyIterations;
        std::vector<uint64_t> durations;
        for (const IterationStats& st : s.perIteration)
            if (st.steady && st.phaseDurationNs[p]) durations.push_back(st.phaseDurationNs[p]);
        ps.medianNs = medianOf(std::move(durations));
    }
    s.meanIterationNs = s.steps.meanIterationNs;
    s.medianIterationNs = s.steps.medianIterationNs;
    s.medianStepPeriodNs = s.steps.medianStepPeriodNs;
    s.medianBetweenStepsNs = s.steps.medianBetweenStepsNs;

    s.peakAllocated = m.allocated.peak();
    s.peakReserved = m.reserved.peak();
    if (!m.allocated.empty()) {
        for (uint32_t b : m.topLiveBlocksAt(s.peakAllocated.timeNs, options.topBlocks))
            s.topBlocksAtPeak.push_back(blockInfo(m, s.categories, b));
    }
    s.outOfMemory = findOutOfMemory(m, s.categories, options.topBlocks);
    return s;
}

BlockInfo blockInfo(const TraceModel& m, const Categorization& c, uint32_t b) {
    BlockInfo info;
    info.block = b;
    info.bytes = m.blocks.bytes[b];
    info.address = m.blocks.address[b];
    info.allocNs = m.blocks.allocNs[b];
    info.freeNs = m.blocks.freeNs[b];
    info.category = c.category[b];
    info.iteration = c.iteration[b];
    info.phase = c.phase[b];
    info.callsite = m.callsiteText(m.blocks.callsiteId[b]);
    info.memoryKind = m.blocks.memoryKind[b];
    return info;
}

}  // namespace vramscope::analysis
