// Two models compared column by column, and a model checked against the
// promises of trace_model.h: what the live-model tests (a model grown chunk
// by chunk must end equal to loadModel()) and the live app test share.
#pragma once

#include "model/trace_model.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace vramscope::testing {

namespace detail {
template <class V> std::string diffColumn(const char* name, const V& a, const V& b) {
    if (a.size() != b.size())
        return std::string(name) + ": " + std::to_string(a.size()) + " rows vs " + std::to_string(b.size());
    for (size_t i = 0; i < a.size(); ++i)
        if (!(a[i] == b[i])) return std::string(name) + ": row " + std::to_string(i) + " of " + std::to_string(a.size()) + " differs";
    return {};
}
inline bool samePhase(const format::Phase& a, const format::Phase& b) {
    return a.timestampNs == b.timestampNs && a.kind == b.kind && a.step == b.step && a.nameId == b.nameId;
}
}  // namespace detail

// "" when a and b hold the same trace (columns, curves point for point,
// indexes, query results at many times); else the first difference.
inline std::string compareModels(const model::TraceModel& a, const model::TraceModel& b) {
    using detail::diffColumn;
    std::string d;
    auto check = [&](std::string diff) {
        if (d.empty() && !diff.empty()) d = std::move(diff);
    };
    auto scalar = [&](const char* name, uint64_t x, uint64_t y) {
        if (d.empty() && x != y) d = std::string(name) + ": " + std::to_string(x) + " vs " + std::to_string(y);
    };
    scalar("events", a.events, b.events);
    scalar("tensorEvents", a.tensorEvents, b.tensorEvents);
    scalar("driverEvents", a.driverEvents, b.driverEvents);
    scalar("droppedEvents", a.droppedEvents, b.droppedEvents);
    scalar("firstNs", a.firstNs, b.firstNs);
    scalar("lastNs", a.lastNs, b.lastNs);
    scalar("allocationLevel", uint64_t(a.allocationLevel), uint64_t(b.allocationLevel));
    scalar("strings", a.strings.size(), b.strings.size());
    for (const auto& [id, text] : a.strings)
        if (d.empty() && b.text(id) != text) d = "string " + std::to_string(id) + " differs";
    scalar("callsites", a.callsites.size(), b.callsites.size());
    scalar("processes", a.processes.size(), b.processes.size());
    scalar("devices", a.devices.size(), b.devices.size());
    scalar("allocFailures", a.allocFailures.size(), b.allocFailures.size());
    scalar("notes", a.notes.size(), b.notes.size());
    scalar("marks", a.marks.size(), b.marks.size());
    const std::pair<const char*, const model::MemoryCurve*> curves[] = {
        {"allocated", &a.allocated}, {"reserved", &a.reserved}, {"deviceUsed", &a.deviceUsed}};
    const model::MemoryCurve* other[] = {&b.allocated, &b.reserved, &b.deviceUsed};
    for (int c = 0; c < 3; ++c) {
        check(diffColumn((std::string(curves[c].first) + ".timesNs").c_str(), curves[c].second->timesNs(), other[c]->timesNs()));
        check(diffColumn((std::string(curves[c].first) + ".values").c_str(), curves[c].second->values(), other[c]->values()));
    }
    const std::pair<const model::BlockColumns*, const model::BlockColumns*> blocks[] = {{&a.blocks, &b.blocks},
                                                                                         {&a.driverBlocks, &b.driverBlocks}};
    for (const auto& [x, y] : blocks) {
        check(diffColumn("blocks.allocNs", x->allocNs, y->allocNs));
        check(diffColumn("blocks.freeNs", x->freeNs, y->freeNs));
        check(diffColumn("blocks.bytes", x->bytes, y->bytes));
        check(diffColumn("blocks.address", x->address, y->address));
        check(diffColumn("blocks.callsiteId", x->callsiteId, y->callsiteId));
        check(diffColumn("blocks.memoryKind", x->memoryKind, y->memoryKind));
    }
    check(diffColumn("allocatedEventBlocks", a.allocatedEventBlocks, b.allocatedEventBlocks));
    check(diffColumn("kernels.startNs", a.kernels.startNs, b.kernels.startNs));
    check(diffColumn("kernels.durationNs", a.kernels.durationNs, b.kernels.durationNs));
    check(diffColumn("kernels.nameId", a.kernels.nameId, b.kernels.nameId));
    check(diffColumn("kernels.streamId", a.kernels.streamId, b.kernels.streamId));
    check(diffColumn("kernels.deviceId", a.kernels.deviceId, b.kernels.deviceId));
    check(diffColumn("kernels.queuedLeadNs", a.kernels.queuedLeadNs, b.kernels.queuedLeadNs));
    scalar("kernels.maxDurationNs", a.kernels.maxDurationNs, b.kernels.maxDurationNs);
    for (auto [x, y] : {std::pair{&a.memcpys, &b.memcpys}, std::pair{&a.memsets, &b.memsets}}) {
        check(diffColumn("copies.startNs", x->startNs, y->startNs));
        check(diffColumn("copies.durationNs", x->durationNs, y->durationNs));
        check(diffColumn("copies.bytes", x->bytes, y->bytes));
        check(diffColumn("copies.streamId", x->streamId, y->streamId));
        check(diffColumn("copies.copyKind", x->copyKind, y->copyKind));
    }
    check(diffColumn("ranges.startNs", a.ranges.startNs, b.ranges.startNs));
    check(diffColumn("ranges.endNs", a.ranges.endNs, b.ranges.endNs));
    check(diffColumn("ranges.nameId", a.ranges.nameId, b.ranges.nameId));
    check(diffColumn("ranges.domainId", a.ranges.domainId, b.ranges.domainId));
    check(diffColumn("ranges.threadId", a.ranges.threadId, b.ranges.threadId));
    check(diffColumn("ranges.depth", a.ranges.depth, b.ranges.depth));
    scalar("phases", a.phases.size(), b.phases.size());
    for (size_t i = 0; d.empty() && i < a.phases.size(); ++i)
        if (!detail::samePhase(a.phases[i], b.phases[i])) d = "phase " + std::to_string(i) + " differs";
    scalar("counters", a.counters.size(), b.counters.size());
    for (size_t i = 0; d.empty() && i < a.counters.size(); ++i) {
        const auto& x = a.counters[i];
        const auto& y = b.counters[i];
        scalar("counter id", x.info.counterId, y.info.counterId);
        scalar("counter metric", uint64_t(x.info.metric), uint64_t(y.info.metric));
        scalar("counter interval", x.info.intervalNs, y.info.intervalNs);
        check(diffColumn("counter.timesNs", x.timesNs, y.timesNs));
        check(diffColumn("counter.valuesMilli", x.valuesMilli, y.valuesMilli));
    }
    scalar("kernel lanes", a.kernelLanes().size(), b.kernelLanes().size());
    for (size_t l = 0; d.empty() && l < a.kernelLanes().size(); ++l) {
        const auto& x = a.kernelLanes()[l];
        const auto& y = b.kernelLanes()[l];
        scalar("lane device", x.deviceId, y.deviceId);
        scalar("lane stream", x.streamId, y.streamId);
        check(diffColumn("lane.kernels", x.kernels, y.kernels));
        check(diffColumn("lane.busyPrefixNs", x.busyPrefixNs, y.busyPrefixNs));
    }
    if (!d.empty()) return d;
    // Queries at many times: the indexes behind them answer alike.
    const uint64_t span = std::max<uint64_t>(a.lastNs - std::min(a.firstNs, a.lastNs), 1);
    for (int i = 0; i <= 257 && d.empty(); ++i) {
        const uint64_t t = a.firstNs + span * uint64_t(i) / 257;
        check(diffColumn("liveBlocksAt", a.liveBlocksAt(t), b.liveBlocksAt(t)));
        check(diffColumn("topLiveBlocksAt", a.topLiveBlocksAt(t, 8), b.topLiveBlocksAt(t, 8)));
        const auto pa = a.allocated.peakIn(a.firstNs, t + 1), pb = b.allocated.peakIn(b.firstNs, t + 1);
        scalar("allocated.peakIn time", pa.timeNs, pb.timeNs);
        scalar("allocated.peakIn bytes", pa.bytes, pb.bytes);
        scalar("reserved.valueAt", a.reserved.valueAt(t), b.reserved.valueAt(t));
        scalar("kernelsIn", a.kernelsIn(t, t + span / 50).first, b.kernelsIn(t, t + span / 50).first);
        scalar("firstBlockAllocatedFrom", a.firstBlockAllocatedFrom(t), b.firstBlockAllocatedFrom(t));
    }
    for (auto curve : {&model::TraceModel::allocated, &model::TraceModel::reserved, &model::TraceModel::deviceUsed}) {
        const auto qa = (a.*curve).query(a.firstNs, a.lastNs + 1, 641);
        const auto qb = (b.*curve).query(b.firstNs, b.lastNs + 1, 641);
        for (size_t i = 0; i < qa.size() && d.empty(); ++i) {
            scalar("curve query min", qa[i].minBytes, qb[i].minBytes);
            scalar("curve query max", qa[i].maxBytes, qb[i].maxBytes);
        }
    }
    for (size_t l = 0; l < a.kernelLanes().size() && d.empty(); ++l) {
        const auto qa = a.laneQuery(l, a.firstNs, a.lastNs + 1, 389);
        const auto qb = b.laneQuery(l, b.firstNs, b.lastNs + 1, 389);
        for (size_t i = 0; i < qa.size() && d.empty(); ++i) {
            scalar("laneQuery kernels", qa[i].kernels, qb[i].kernels);
            scalar("laneQuery busyNs", qa[i].busyNs, qb[i].busyNs);
            scalar("laneQuery firstKernel", qa[i].firstKernel, qb[i].firstKernel);
        }
    }
    return d;
}

// "" when m keeps trace_model.h's promises: columns sorted, every curve
// point's block valid, lanes exact, and the pyramids answering as a scan of
// the points would (checked at `probes` times and windows).
inline std::string checkModelInvariants(const model::TraceModel& m, int probes = 24) {
    auto sorted = [](const auto& v) { return std::is_sorted(v.begin(), v.end()); };
    if (!sorted(m.kernels.startNs)) return "kernels not sorted by start";
    if (!sorted(m.memcpys.startNs) || !sorted(m.memsets.startNs)) return "copies not sorted by start";
    if (!sorted(m.blocks.allocNs)) return "blocks not sorted by allocNs";
    if (!std::is_sorted(m.phases.begin(), m.phases.end(),
                        [](const auto& a, const auto& b) { return a.timestampNs < b.timestampNs; }))
        return "phases not sorted";
    for (const auto& c : m.counters)
        if (!sorted(c.timesNs) || c.timesNs.size() != c.valuesMilli.size()) return "counter samples not sorted";
    for (const auto* curve : {&m.allocated, &m.reserved, &m.deviceUsed})
        if (!sorted(curve->timesNs()) || curve->timesNs().size() != curve->values().size()) return "a curve is not sorted";
    if (m.allocationLevel != model::AllocationLevel::None && m.allocatedEventBlocks.size() != m.allocated.size())
        return "allocatedEventBlocks and the allocated curve differ in length";
    for (uint32_t p : m.allocatedEventBlocks)
        if ((p & ~model::TraceModel::kFreeBit) >= m.blocks.size()) return "a curve point names a block that is not there";
    for (size_t i = 0; i < m.blocks.size(); ++i)
        if (m.blocks.freeNs[i] < m.blocks.allocNs[i]) return "a block is freed before it is allocated";
    if (!m.kernels.queuedLeadNs.empty() && m.kernels.queuedLeadNs.size() != m.kernels.size())
        return "queuedLeadNs is not one per kernel";
    size_t laneKernels = 0;
    for (size_t l = 0; l < m.kernelLanes().size(); ++l) {
        const auto& lane = m.kernelLanes()[l];
        if (l > 0) {
            const auto& prev = m.kernelLanes()[l - 1];
            if (std::make_pair(prev.deviceId, prev.streamId) >= std::make_pair(lane.deviceId, lane.streamId))
                return "lanes not ordered by (device, stream)";
        }
        if (!sorted(lane.kernels) || lane.busyPrefixNs.size() != lane.kernels.size() + 1) return "a lane is malformed";
        for (size_t j = 0; j < lane.kernels.size(); ++j) {
            const uint32_t k = lane.kernels[j];
            if (m.kernels.deviceId[k] != lane.deviceId || m.kernels.streamId[k] != lane.streamId)
                return "a kernel is in another stream's lane";
            if (lane.busyPrefixNs[j + 1] != lane.busyPrefixNs[j] + m.kernels.durationNs[k]) return "a lane's busy sum is off";
        }
        laneKernels += lane.kernels.size();
    }
    if (laneKernels != m.kernels.size()) return "lanes do not hold every kernel once";
    if (m.lastNs < m.firstNs) return "lastNs before firstNs";
    const uint64_t span = std::max<uint64_t>(m.lastNs - m.firstNs, 1);
    for (int i = 0; i <= probes; ++i) {
        const uint64_t t = m.firstNs + span * uint64_t(i) / uint64_t(probes);
        std::vector<uint32_t> live;
        for (size_t b = 0; b < m.blocks.size(); ++b)
            if (m.blocks.liveAt(b, t)) live.push_back(uint32_t(b));
        if (m.liveBlocksAt(t) != live) return "liveBlocksAt disagrees with a scan at probe " + std::to_string(i);
        const uint64_t t1 = t + span / uint64_t(probes) + 1;
        for (const auto* curve : {&m.allocated, &m.reserved, &m.deviceUsed}) {
            const auto& ts = curve->timesNs();
            const auto& vs = curve->values();
            // Scan: the value carried in at t, then every point in [t, t1).
            const size_t first = size_t(std::lower_bound(ts.begin(), ts.end(), t) - ts.begin());
            uint64_t lo = UINT64_MAX, hi = 0;
            if (first == ts.size() || ts[first] > t) lo = hi = first == 0 ? 0 : vs[first - 1];
            for (size_t p = first; p < ts.size() && ts[p] < t1; ++p) {
                lo = std::min(lo, vs[p]);
                hi = std::max(hi, vs[p]);
            }
            const auto bucket = curve->minMaxIn(t, t1);
            if (bucket.minBytes != lo || bucket.maxBytes != hi) {
                const char* name = curve == &m.allocated ? "allocated" : curve == &m.reserved ? "reserved" : "device used";
                return std::string("the ") + name + " curve's pyramid disagrees with a scan at probe " + std::to_string(i) +
                       " ([" + std::to_string(t) + ", " + std::to_string(t1) + "): min/max " +
                       std::to_string(bucket.minBytes) + "/" + std::to_string(bucket.maxBytes) + ", scan " +
                       std::to_string(lo) + "/" + std::to_string(hi) + ", " + std::to_string(ts.size()) + " points)";
            }
        }
    }
    return {};
}

}  // namespace vramscope::testing
