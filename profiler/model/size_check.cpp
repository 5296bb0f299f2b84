#include "size_check.h"

#include "format/units.h"

#include <algorithm>

namespace vramscope::model {

using namespace vramscope::format;

void SizeCheck::checkDevice(DeviceInfo& device) {
    if (device.totalMemoryBytes > kMaxPlausibleBytes) {
        LeftOut& l = leftOut_[static_cast<int>(What::Device)];
        if (l.count++ == 0) {
            l.firstBytes = device.totalMemoryBytes;
            l.firstLimit = kMaxPlausibleBytes;
        }
        ++leftOutTotal_;
        device.totalMemoryBytes = 0;
    }
    if (device.totalMemoryBytes) deviceBytes_[device.deviceId] = device.totalMemoryBytes;
}

uint64_t SizeCheck::limit(uint32_t deviceId, MemoryKind kind) const {
    if (kind == MemoryKind::PinnedHost || kind == MemoryKind::Pageable || kind == MemoryKind::Managed)
        return kMaxPlausibleBytes;
    const auto it = deviceBytes_.find(deviceId);
    return it == deviceBytes_.end() ? kMaxPlausibleBytes : it->second;
}

bool SizeCheck::keep(What what, uint64_t bytes, uint32_t deviceId, MemoryKind kind) {
    const uint64_t bound = limit(deviceId, kind);
    if (bytes <= bound) return true;
    LeftOut& l = leftOut_[static_cast<int>(what)];
    if (l.count++ == 0) {
        l.firstBytes = bytes;
        l.firstLimit = bound;
    }
    ++leftOutTotal_;
    return false;
}

bool SizeCheck::keep(const TensorMemory& r) {
    switch (r.action) {
    case TensorAction::Alloc:
    case TensorAction::Snapshot: return keep(What::TensorBlock, r.bytes, r.deviceId, MemoryKind::Device);
    case TensorAction::SegmentAlloc:
    case TensorAction::SegmentFree:
    case TensorAction::SegmentMap:
    case TensorAction::SegmentUnmap: return keep(What::TensorSegment, r.bytes, r.deviceId, MemoryKind::Device);
    default: return true;
    }
}

bool SizeCheck::keep(const DriverMemory& r) {
    const bool opens = r.op == DriverMemoryOp::Alloc || r.op == DriverMemoryOp::Existing || r.op == DriverMemoryOp::VmmCreate;
    return !opens || keep(What::DriverAllocation, r.bytes, r.deviceId, r.kind);
}

bool SizeCheck::keep(const PoolReserved& r) { return keep(What::PoolReserved, r.reservedBytes, r.deviceId, MemoryKind::Pool); }

bool SizeCheck::keep(const MemInfo& r) {
    return keep(What::MemInfo, std::max(r.usedBytes, r.freeBytes), r.deviceId, MemoryKind::Device);
}

void SizeCheck::checkAll(const RecordLists& records) {
    for (DeviceInfo d : records.get<DeviceInfo>()) checkDevice(d);
    for (const auto& r : records.get<TensorMemory>()) keep(r);
    for (const auto& r : records.get<DriverMemory>()) keep(r);
    for (const auto& r : records.get<PoolReserved>()) keep(r);
    for (const auto& r : records.get<MemInfo>()) keep(r);
}

std::vector<TraceProblem> SizeCheck::problems() const {
    std::vector<TraceProblem> out;
    for (int w = 0; w < static_cast<int>(What::Count); ++w) {
        const LeftOut& l = leftOut_[w];
        if (!l.count) continue;
        const bool one = l.count == 1;
        const std::string n = std::to_string(l.count);
        const std::string first = formatBytes(double(l.firstBytes));
        const std::string bound = l.firstLimit == kMaxPlausibleBytes
                                      ? "more than any device holds"
                                      : "its device holds " + formatBytes(double(l.firstLimit));
        const char* records = "";
        switch (static_cast<What>(w)) {
        case What::TensorBlock: records = one ? " tensor block" : " tensor blocks"; break;
        case What::TensorSegment: records = one ? " allocator segment record" : " allocator segment records"; break;
        case What::DriverAllocation: records = one ? " driver allocation" : " driver allocations"; break;
        case What::PoolReserved: records = one ? " pool reserved size" : " pool reserved sizes"; break;
        case What::MemInfo: records = one ? " device memory sample" : " device memory samples"; break;
        case What::Device:
            out.push_back({TraceProblem::Kind::ImplausibleSize, 0,
                           (one ? "a device reports " : n + " devices report ") + first + " of memory" +
                               (one ? "" : " (the first)") + ", " + bound +
                               ": the trace is damaged or was altered; its memory is taken as unknown"});
            continue;
        case What::Count: break;
        }
        out.push_back({TraceProblem::Kind::ImplausibleSize, 0,
                       n + records + (one ? " of " + first + " was" : " of impossible sizes were") +
                           " left out of every sum and curve (" + (one ? "" : "the first: " + first + ", ") + bound +
                           "): the trace is damaged or was altered"});
    }
    return out;
}

}  // namespace vramscope::model
