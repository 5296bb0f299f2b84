#include "activity_decoder.h"

#include <cupti_activity.h>

#include <algorithm>
#include <cstring>

namespace vramscope::inject {

using namespace vramscope::format;

namespace {

MemoryKind memoryKindOf(uint32_t cuptiKind) {
    switch (cuptiKind) {
    case CUPTI_ACTIVITY_MEMORY_KIND_PAGEABLE: return MemoryKind::Pageable;
    case CUPTI_ACTIVITY_MEMORY_KIND_PINNED: return MemoryKind::PinnedHost;
    case CUPTI_ACTIVITY_MEMORY_KIND_DEVICE: return MemoryKind::Device;
    case CUPTI_ACTIVITY_MEMORY_KIND_ARRAY: return MemoryKind::Device;
    case CUPTI_ACTIVITY_MEMORY_KIND_MANAGED: return MemoryKind::Managed;
    case CUPTI_ACTIVITY_MEMORY_KIND_DEVICE_STATIC: return MemoryKind::ModuleStatic;
    case CUPTI_ACTIVITY_MEMORY_KIND_MANAGED_STATIC: return MemoryKind::ModuleStatic;
    default: return MemoryKind::Unknown;
    }
}

CopyKind copyKindOf(uint32_t cuptiKind) {
    switch (cuptiKind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD:
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOA: return CopyKind::HostToDevice;
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH:
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOH: return CopyKind::DeviceToHost;
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOA:
    case CUPTI_ACTIVITY_MEMCPY_KIND_ATOD:
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOA:
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return CopyKind::DeviceToDevice;
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH: return CopyKind::HostToHost;
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return CopyKind::PeerToPeer;
    default: return CopyKind::Unknown;
    }
}

uint32_t streamOf(uint32_t cuptiStream) { return cuptiStream == CUPTI_INVALID_STREAM_ID ? 0 : cuptiStream; }

uint32_t nonNegative(int32_t v) { return v < 0 ? 0u : static_cast<uint32_t>(v); }

}  // namespace

uint32_t ActivityDecoder::nameId(const char* name) {
    if (!name || !*name) return 0;
    // CUPTI keeps one copy of each kernel/symbol name for the module's life,
    // so the pointer is a cheap key; the text comparison guards against a
    // pointer reused after a module unload.
    auto it = names_.find(name);
    if (it != names_.end() && it->second.text == name) return it->second.id;
    uint32_t id = writer_.intern(name);
    names_[name] = CachedName{id, name};
    return id;
}

void ActivityDecoder::decodeBuffer(uint8_t* buffer, size_t validBytes) {
    if (!buffer || validBytes == 0) return;
    CUpti_Activity* record = nullptr;
    while (cuptiActivityGetNextRecord(buffer, validBytes, &record) == CUPTI_SUCCESS) decodeRecord(record);
}

void ActivityDecoder::decodeRecord(const void* activity) {
    const auto* record = static_cast<const CUpti_Activity*>(activity);
    if (!record) return;
    ++stats_.activityRecords;
    switch (record->kind) {
    case CUPTI_ACTIVITY_KIND_MEMORY2: decodeMemory(record); break;
    case CUPTI_ACTIVITY_KIND_MEMORY_POOL: decodeMemoryPool(record); break;
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: decodeKernel(record); break;
    case CUPTI_ACTIVITY_KIND_MEMCPY: decodeMemcpy(record); break;
    case CUPTI_ACTIVITY_KIND_MEMSET: decodeMemset(record); break;
    case CUPTI_ACTIVITY_KIND_MARKER: decodeMarker(record); break;
    default: ++stats_.unknownRecords; break;
    }
}

void ActivityDecoder::decodeMemory(const void* p) {
    const auto* m = static_cast<const CUpti_ActivityMemory4*>(p);
    seen(m->timestamp);
    if (m->correlationId && vmmCorrelations_.count(m->correlationId)) {
        // The driver-API callback already wrote this VMM operation with its
        // create/map/unmap/release meaning; MEMORY2 would count it twice.
        ++stats_.vmmDuplicatesSkipped;
        return;
    }
    DriverMemory r;
    r.timestampNs = m->timestamp;
    r.op = m->memoryOperationType == CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE ? DriverMemoryOp::Free
                                                                                  : DriverMemoryOp::Alloc;
    r.kind = memoryKindOf(m->memoryKind);
    bool fromPool = m->memoryPoolConfig.memoryPoolType == CUPTI_ACTIVITY_MEMORY_POOL_TYPE_LOCAL ||
                    m->memoryPoolConfig.memoryPoolType == CUPTI_ACTIVITY_MEMORY_POOL_TYPE_IMPORTED;
    if (fromPool && r.kind == MemoryKind::Device) r.kind = MemoryKind::Pool;
    r.deviceId = m->deviceId;
    r.address = m->address;
    r.bytes = m->bytes;
    r.streamId = streamOf(m->streamId);
    writer_.write(r);
    ++stats_.driverMemory;
    if (m->memoryPoolConfig.memoryPoolType == CUPTI_ACTIVITY_MEMORY_POOL_TYPE_LOCAL)
        poolSize(m->deviceId, m->memoryPoolConfig.address, m->memoryPoolConfig.pool.size, m->timestamp);
}

void ActivityDecoder::decodeMemoryPool(const void* p) {
    const auto* m = static_cast<const CUpti_ActivityMemoryPool3*>(p);
    seen(m->timestamp);
    uint64_t bytes = m->memoryPoolOperationType == CUPTI_ACTIVITY_MEMORY_POOL_OPERATION_TYPE_DESTROYED ? 0 : m->size;
    poolSize(m->deviceId, m->address, bytes, m->timestamp);
}

void ActivityDecoder::poolSize(uint32_t deviceId, uint64_t poolAddress, uint64_t bytes, uint64_t ns) {
    auto it = poolBytes_.find(poolAddress);
    if (it != poolBytes_.end() && it->second == bytes) return;
    if (it == poolBytes_.end() && bytes == 0) return;
    poolBytes_[poolAddress] = bytes;
    PoolReserved r;
    r.timestampNs = ns;
    r.deviceId = deviceId;
    r.poolAddress = poolAddress;
    r.reservedBytes = bytes;
    writer_.write(r);
    ++stats_.poolReserved;
}

void ActivityDecoder::decodeKernel(const void* p) {
    const auto* k = static_cast<const CUpti_ActivityKernel10*>(p);
    if (k->start == 0 && k->end == 0) return;  // incomplete (forced flush); nothing to show
    seen(k->end);
    Kernel r;
    r.startNs = k->start;
    r.endNs = k->end >= k->start ? k->end : k->start;
    r.deviceId = k->deviceId;
    r.streamId = k->streamId;
    r.nameId = nameId(k->name);
    r.gridX = nonNegative(k->gridX);
    r.gridY = nonNegative(k->gridY);
    r.gridZ = nonNegative(k->gridZ);
    r.blockX = nonNegative(k->blockX);
    r.blockY = nonNegative(k->blockY);
    r.blockZ = nonNegative(k->blockZ);
    r.registersPerThread = k->registersPerThread;
    r.staticSharedBytes = nonNegative(k->staticSharedMemory);
    r.dynamicSharedBytes = nonNegative(k->dynamicSharedMemory);
    r.correlationId = k->correlationId;
    r.graphId = k->graphId;
    // With latency timestamps on: when the CPU queued the launch. A queued
    // time at or after the start (clock skew) still says "launched by then".
    if (k->queued != CUPTI_TIMESTAMP_UNKNOWN) r.queuedLeadNs = k->queued < k->start ? k->start - k->queued : 1;
    writer_.write(r);
    ++stats_.kernels;
}

void ActivityDecoder::decodeMemcpy(const void* p) {
    const auto* c = static_cast<const CUpti_ActivityMemcpy6*>(p);
    if (c->start == 0 && c->end == 0) return;
    seen(c->end);
    Memcpy r;
    r.startNs = c->start;
    r.endNs = c->end >= c->start ? c->end : c->start;
    r.deviceId = c->deviceId;
    r.streamId = c->streamId;
    r.bytes = c->bytes;
    r.copyKind = copyKindOf(c->copyKind);
    r.srcKind = memoryKindOf(c->srcKind);
    r.dstKind = memoryKindOf(c->dstKind);
    writer_.write(r);
    ++stats_.memcpys;
}

void ActivityDecoder::decodeMemset(const void* p) {
    const auto* s = static_cast<const CUpti_ActivityMemset4*>(p);
    if (s->start == 0 && s->end == 0) return;
    seen(s->end);
    Memset r;
    r.startNs = s->start;
    r.endNs = s->end >= s->start ? s->end : s->start;
    r.deviceId = s->deviceId;
    r.streamId = s->streamId;
    r.bytes = s->bytes;
    r.value = s->value;
    writer_.write(r);
    ++stats_.memsets;
}

void ActivityDecoder::decodeMarker(const void* p) {
    const auto* m = static_cast<const CUpti_ActivityMarker2*>(p);
    seen(m->timestamp);
    uint32_t threadId = m->objectKind == CUPTI_ACTIVITY_OBJECT_THREAD ? m->objectId.pt.threadId : 0;
    // NVTX names are copied by CUPTI per marker, so intern by text.
    auto intern = [this](const char* s) -> uint32_t { return (s && *s) ? writer_.intern(s) : 0; };
    if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_INSTANTANEOUS) {
        Mark r;
        r.timestampNs = m->timestamp;
        r.domainId = intern(m->domain);
        r.nameId = intern(m->name);
        r.threadId = threadId;
        writer_.write(r);
        ++stats_.marks;
    } else if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_START) {
        OpenRange open{m->timestamp, intern(m->name), intern(m->domain), threadId};
        auto early = earlyEnds_.find(m->id);
        if (early != earlyEnds_.end()) {  // its END came in an earlier buffer
            uint64_t endNs = early->second;
            earlyEnds_.erase(early);
            openRanges_[m->id] = open;
            closeRange(m->id, endNs);
            return;
        }
        openRanges_[m->id] = open;
        rangeStacks_[threadId].push_back(m->id);
    } else if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_END) {
        if (!openRanges_.count(m->id)) {
            if (earlyEnds_.size() < 65536) earlyEnds_[m->id] = m->timestamp;
            return;
        }
        closeRange(m->id, m->timestamp);
    }
}

void ActivityDecoder::closeRange(uint32_t markerId, uint64_t endNs) {
    auto it = openRanges_.find(markerId);
    if (it == openRanges_.end()) return;
    const OpenRange open = it->second;
    openRanges_.erase(it);
    Range r;
    r.startNs = open.startNs;
    r.endNs = endNs >= open.startNs ? endNs : open.startNs;
    r.domainId = open.domainId;
    r.nameId = open.nameId;
    r.threadId = open.threadId;
    // CUPTI marks push/pop and start/end ranges alike; a range that closes
    // innermost-first on its thread behaves as push/pop, anything else as start/end.
    r.kind = RangeKind::StartEnd;
    auto stackIt = rangeStacks_.find(open.threadId);
    if (stackIt != rangeStacks_.end()) {
        auto& stack = stackIt->second;
        if (!stack.empty() && stack.back() == markerId) {
            r.kind = RangeKind::PushPop;
            r.depth = static_cast<uint32_t>(stack.size() - 1);
            stack.pop_back();
        } else {
            stack.erase(std::remove(stack.begin(), stack.end(), markerId), stack.end());
        }
    }
    writer_.write(r);
    ++stats_.ranges;
}

void ActivityDecoder::finish(uint64_t endNs) {
    std::vector<uint32_t> ids;
    ids.reserve(openRanges_.size());
    for (const auto& [id, open] : openRanges_) ids.push_back(id);
    std::sort(ids.begin(), ids.end(), [this](uint32_t a, uint32_t b) {
        return openRanges_[a].startNs > openRanges_[b].startNs;  // innermost first
    });
    for (uint32_t id : ids) closeRange(id, endNs);
}

uint32_t ActivityDecoder::deviceOfContext(uint32_t contextId) const {
    auto it = contextDevice_.find(contextId);
    return it == contextDevice_.end() ? 0 : it->second;
}

void ActivityDecoder::handleSide(const SideEvent& e) {
    seen(e.timestampNs);
    switch (e.kind) {
    case SideEvent::Kind::ContextCreated: {
        contextDevice_[e.contextId] = e.deviceId;
        if (devicesDescribed_.insert(e.deviceId).second) {
            DeviceInfo r;
            r.timestampNs = e.timestampNs;
            r.deviceId = e.deviceId;
            r.nameId = writer_.intern(std::string(e.deviceName, strnlen(e.deviceName, sizeof e.deviceName)));
            std::memcpy(r.uuid.data(), e.uuid, 16);
            r.totalMemoryBytes = e.totalMemoryBytes;
            r.smCount = e.smCount;
            r.computeCapability = e.computeCapability;
            r.peakDramBytesPerSec = e.peakDramBytesPerSec;
            r.peakFlopsPerSec = e.peakFlopsPerSec;
            writer_.write(r);
        }
        break;
    }
    case SideEvent::Kind::ContextDestroyed: break;
    case SideEvent::Kind::VmmCreate:
    case SideEvent::Kind::VmmMap:
    case SideEvent::Kind::VmmUnmap:
    case SideEvent::Kind::VmmRelease: {
        if (e.correlationId) {
            if (vmmCorrelations_.size() > 65536) vmmCorrelations_.clear();
            vmmCorrelations_.insert(e.correlationId);
        }
        DriverMemory r;
        r.timestampNs = e.timestampNs;
        r.kind = MemoryKind::Vmm;
        r.deviceId = e.kind == SideEvent::Kind::VmmCreate ? e.deviceId : deviceOfContext(e.contextId);
        r.address = e.address;
        r.bytes = e.bytes;
        switch (e.kind) {
        case SideEvent::Kind::VmmCreate:
            r.op = DriverMemoryOp::VmmCreate;
            vmmHandleBytes_[e.address] = e.bytes;
            break;
        case SideEvent::Kind::VmmMap: r.op = DriverMemoryOp::VmmMap; break;
        case SideEvent::Kind::VmmUnmap: r.op = DriverMemoryOp::VmmUnmap; break;
        default: {
            r.op = DriverMemoryOp::VmmRelease;
            auto it = vmmHandleBytes_.find(e.address);  // cuMemRelease names only the handle
            if (it != vmmHandleBytes_.end()) {
                r.bytes = it->second;
                vmmHandleBytes_.erase(it);
            }
            break;
        }
        }
        writer_.write(r);
        ++stats_.driverMemory;
        break;
    }
    case SideEvent::Kind::AllocFailure: {
        AllocFailure r;
        r.timestampNs = e.timestampNs;
        r.source = FailureSource::Driver;
        r.deviceId = e.deviceId;
        r.requestedBytes = e.bytes;
        r.freeBytes = e.freeBytes;
        writer_.write(r);
        ++stats_.allocFailures;
        break;
    }
    case SideEvent::Kind::MemInfo: {
        MemInfo r;
        r.timestampNs = e.timestampNs;
        r.deviceId = e.deviceId;
        r.usedBytes = e.usedBytes;
        r.freeBytes = e.freeBytes;
        writer_.write(r);
        ++stats_.memInfo;
        break;
    }
    case SideEvent::Kind::Phase: {
        Phase r;
        r.timestampNs = e.timestampNs;
        r.kind = static_cast<PhaseKind>(e.phaseKind);
        r.step = e.bytes;
        r.nameId = writer_.intern(std::string(e.deviceName, strnlen(e.deviceName, sizeof e.deviceName)));
        writer_.write(r);
        ++stats_.phases;
        break;
    }
    case SideEvent::Kind::Note: {
        Note r;
        r.timestampNs = e.timestampNs;
        r.severity = Severity::Info;
        r.textId = writer_.intern(std::string(e.deviceName, strnlen(e.deviceName, sizeof e.deviceName)));
        writer_.write(r);
        break;
    }
    case SideEvent::Kind::Existing: {
        DriverMemory r;
        r.timestampNs = e.timestampNs;
        r.op = DriverMemoryOp::Existing;
        r.kind = static_cast<MemoryKind>(e.handle);
        r.deviceId = e.deviceId;
        r.address = e.address;
        r.bytes = e.bytes;
        writer_.write(r);
        ++stats_.driverMemory;
        break;
    }
    case SideEvent::Kind::None: break;
    }
}

}  // namespace vramscope::inject
