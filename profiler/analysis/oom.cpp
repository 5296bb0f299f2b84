#include "oom.h"

#include "format/saturating.h"

#include <algorithm>

namespace vramscope::analysis {

namespace {

bool deviceMemory(const model::TraceModel& m, uint32_t block) {
    const auto kind = static_cast<format::MemoryKind>(m.blocks.memoryKind[block]);
    return kind != format::MemoryKind::PinnedHost && kind != format::MemoryKind::Pageable;
}

}  // namespace

std::vector<OutOfMemory> findOutOfMemory(const model::TraceModel& m, const Categorization& c, size_t topBlocks) {
    std::vector<format::AllocFailure> failures = m.allocFailures;
    std::stable_sort(failures.begin(), failures.end(),
                     [](const format::AllocFailure& a, const format::AllocFailure& b) { return a.timestampNs < b.timestampNs; });
    std::vector<OutOfMemory> out;
    for (const format::AllocFailure& f : failures) {
        const bool framework = f.source == format::FailureSource::Framework;
        OutOfMemory* last = out.empty() ? nullptr : &out.back();
        if (last && last->deviceId == f.deviceId && f.timestampNs - last->timeNs <= kOomMergeNs) {
            ++last->failures;
            if (framework && !last->fromFramework) {  // the program's own request names it
                last->fromFramework = true;
                last->requestedBytes = saturated(f.requestedBytes);
                last->callsiteId = f.callsiteId;
            }
            if (f.freeBytes) last->deviceFreeBytes = int64_t(saturated(f.freeBytes));
            continue;
        }
        OutOfMemory o;
        o.timeNs = f.timestampNs;
        o.deviceId = f.deviceId;
        o.fromFramework = framework;
        o.failures = 1;
        // A request can be absurd (a negative size cast to unsigned, a
        // crafted file): kept, shown as at most 2^63 − 1, never wrapped.
        o.requestedBytes = saturated(f.requestedBytes);
        o.callsiteId = f.callsiteId;
        if (f.freeBytes) o.deviceFreeBytes = int64_t(saturated(f.freeBytes));
        out.push_back(o);
    }
    for (OutOfMemory& o : out) {
        for (const format::DeviceInfo& d : m.devices)
            if (d.deviceId == o.deviceId) o.deviceTotalBytes = d.totalMemoryBytes;
        // The state just before the failure: what the program held when it asked.
        const uint64_t t = o.timeNs;
        o.allocatedBytes = m.allocated.valueAt(t);
        o.reservedBytes = m.reserved.valueAt(t);
        if (o.deviceFreeBytes < 0 && o.deviceTotalBytes && !m.deviceUsed.empty() && m.deviceUsed.firstNs() <= t) {
            const uint64_t used = m.deviceUsed.valueAt(t);
            o.deviceFreeBytes = used < o.deviceTotalBytes ? int64_t(o.deviceTotalBytes - used) : 0;
        }
        if (o.deviceFreeBytes >= 0 && o.requestedBytes > uint64_t(o.deviceFreeBytes))
            o.shortfallBytes = o.requestedBytes - uint64_t(o.deviceFreeBytes);
        o.largerThanDevice = o.deviceTotalBytes && o.requestedBytes > o.deviceTotalBytes;
        o.moreThanProgramCanFree =
            o.deviceFreeBytes >= 0 && o.requestedBytes > uint64_t(o.deviceFreeBytes) + std::max(o.reservedBytes, o.allocatedBytes);
        std::vector<uint32_t> live = m.liveBlocksAt(t);
        live.erase(std::remove_if(live.begin(), live.end(), [&](uint32_t b) { return !deviceMemory(m, b); }), live.end());
        for (uint32_t b : live)
            if (b < c.category.size()) {
                uint64_t& sum = o.liveByCategory[size_t(c.category[b])];
                sum = saturatingAdd(sum, m.blocks.bytes[b]);
            }
        std::sort(live.begin(), live.end(), [&](uint32_t a, uint32_t b) { return m.blocks.bytes[a] > m.blocks.bytes[b]; });
        if (live.size() > topBlocks) live.resize(topBlocks);
        o.largestBlocks = std::move(live);
    }
    return out;
}

}  // namespace vramscope::analysis
