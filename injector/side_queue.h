// Events that do not come from CUPTI activity buffers — driver-API callbacks
// (OOM, VMM), context creation, memory-info samples — travel to the writer
// thread through one bounded lock-free queue (Vyukov's bounded MPMC ring: a
// sequence number per cell, one CAS per push). A full queue drops the event
// and counts it; producers never wait and never allocate.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vramscope::inject {

// One fixed-size event. Plain data: copied into the ring by value.
struct SideEvent {
    enum class Kind : uint8_t {
        None = 0,
        ContextCreated,   // deviceId, contextId; device fields below
        ContextDestroyed, // deviceId, contextId
        VmmCreate,        // address = handle, bytes, deviceId
        VmmMap,           // address = virtual address, bytes, handle
        VmmUnmap,         // address, bytes
        VmmRelease,       // address = handle
        AllocFailure,     // bytes = requested, deviceId, freeBytes
        MemInfo,          // deviceId, usedBytes, freeBytes
        Phase,            // phaseKind, bytes = step, deviceName = region name
        Note,             // deviceName = text (truncated to 95 bytes)
        Existing,         // an allocation already there at attach: deviceId, address, bytes, handle = MemoryKind
    };
    Kind kind = Kind::None;
    uint8_t fromRuntime = 0;       // AllocFailure: reported by the runtime API
    uint8_t phaseKind = 0;         // Phase: format::PhaseKind
    uint32_t deviceId = 0;
    uint32_t contextId = 0;        // CUPTI context id (contextUid)
    uint32_t correlationId = 0;
    uint64_t timestampNs = 0;      // cuptiGetTimestamp()
    uint64_t address = 0;
    uint64_t bytes = 0;
    uint64_t handle = 0;
    uint64_t usedBytes = 0;
    uint64_t freeBytes = 0;
    // ContextCreated carries what DeviceInfo needs (queried on the creating
    // thread); Phase and Note carry their text here.
    char deviceName[96] = {};
    uint8_t uuid[16] = {};
    uint64_t totalMemoryBytes = 0;
    uint32_t smCount = 0;
    uint32_t computeCapability = 0;
    uint64_t peakDramBytesPerSec = 0;
    uint64_t peakFlopsPerSec = 0;
};

template <class T, size_t Capacity> class BoundedQueue {
    static_assert((Capacity & (Capacity - 1)) == 0, "Capacity must be a power of two");

public:
    BoundedQueue() {
        for (size_t i = 0; i < Capacity; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
    }

    // Any thread. False (and counted) when full.
    bool push(const T& value) {
        size_t pos = enqueue_.load(std::memory_order_relaxed);
        for (;;) {
            Cell& cell = cells_[pos & (Capacity - 1)];
            size_t seq = cell.sequence.load(std::memory_order_acquire);
            intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
            if (diff == 0) {
                if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    cell.value = value;
                    cell.sequence.store(pos + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                dropped_.fetch_add(1, std::memory_order_relaxed);
                return false;
            } else {
                pos = enqueue_.load(std::memory_order_relaxed);
            }
        }
    }

    // Consumer. False when empty.
    bool pop(T& out) {
        size_t pos = dequeue_.load(std::memory_order_relaxed);
        for (;;) {
            Cell& cell = cells_[pos & (Capacity - 1)];
            size_t seq = cell.sequence.load(std::memory_order_acquire);
            intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
            if (diff == 0) {
                if (dequeue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    out = cell.value;
                    cell.sequence.store(pos + Capacity, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;
            } else {
                pos = dequeue_.load(std::memory_order_relaxed);
            }
        }
    }

    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
    struct Cell {
        std::atomic<size_t> sequence;
        T value;
    };
    alignas(64) std::atomic<size_t> enqueue_{0};
    alignas(64) std::atomic<size_t> dequeue_{0};
    alignas(64) std::atomic<uint64_t> dropped_{0};
    Cell cells_[Capacity];
};

using SideQueue = BoundedQueue<SideEvent, 4096>;

}  // namespace vramscope::inject
