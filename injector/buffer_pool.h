// A fixed budget of CUPTI activity buffers shared by CUPTI's callbacks and
// the writer thread without a lock.
//
// CUPTI asks for a buffer (bufferRequested) on whatever thread needs one —
// often an application thread — and hands it back full (bufferCompleted) on
// its own or the flushing thread. Each slot moves Free → InCupti → Completed
// → Free with atomic compare-and-swap; the writer thread is the only one that
// takes Completed slots. When every slot is in use the request is refused:
// CUPTI then drops records and counts them (cuptiActivityGetNumDroppedRecords),
// the application never waits.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vramscope::inject {

class BufferPool {
public:
    static constexpr size_t kMaxSlots = 1024;
    static constexpr size_t kAlignment = 8;  // CUPTI requires 8-byte aligned buffers

    // totalBytes / bufferBytes slots (at least 2, at most kMaxSlots). Memory
    // for a slot is allocated the first time it is handed out and reused.
    // Every buffer handed out is all zero (CUPTI may then skip zeroing it on
    // the thread that asked, see VRAMSCOPE_CUPTI_ZEROED_BUFFERS): fresh from
    // calloc, and what CUPTI wrote is cleared when the buffer comes back.
    BufferPool(size_t totalBytes, size_t bufferBytes);
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    size_t bufferBytes() const { return bufferBytes_; }
    size_t slotCount() const { return slotCount_; }

    // A free buffer of bufferBytes(), or nullptr when the budget is used up
    // (counted in refusedRequests()). Any thread; lock-free.
    uint8_t* acquire();
    // CUPTI filled `buffer` with validBytes. Any thread; lock-free. Returns
    // false if the buffer is not one of ours (ignored).
    bool complete(uint8_t* buffer, size_t validBytes);

    // Writer thread only: calls visit(buffer, validBytes) for every completed
    // buffer in completion order, then frees it. Returns how many it visited.
    template <class Visit> size_t drain(Visit&& visit);

    // Gives a buffer back unread (CUPTI returned it empty, or capture is
    // over), clearing the writtenBytes CUPTI filled.
    void release(uint8_t* buffer, size_t writtenBytes = 0);

    uint64_t refusedRequests() const { return refused_.load(std::memory_order_relaxed); }
    size_t slotsInUse() const;

private:
    enum State : uint32_t { Free = 0, Claimed = 1, InCupti = 2, Completed = 3 };
    struct Slot {
        std::atomic<uint32_t> state{Free};
        uint8_t* memory = nullptr;   // written only while Claimed (one owner)
        size_t validBytes = 0;       // written before state becomes Completed
        uint64_t sequence = 0;       // completion order
    };
    int indexOf(const uint8_t* buffer) const;
    size_t collectCompleted(uint32_t* indices, size_t max) const;

    Slot* slots_ = nullptr;
    size_t slotCount_ = 0;
    size_t bufferBytes_ = 0;
    std::atomic<uint64_t> nextSequence_{1};
    std::atomic<uint64_t> refused_{0};
};

template <class Visit> size_t BufferPool::drain(Visit&& visit) {
    uint32_t indices[kMaxSlots];
    size_t n = collectCompleted(indices, kMaxSlots);
    for (size_t i = 0; i < n; ++i) {
        Slot& s = slots_[indices[i]];
        visit(s.memory, s.validBytes);
        std::memset(s.memory, 0, s.validBytes);  // zero again for its next use, here rather than in CUPTI
        s.validBytes = 0;
        s.state.store(Free, std::memory_order_release);
    }
    return n;
}

}  // namespace vramscope::inject
