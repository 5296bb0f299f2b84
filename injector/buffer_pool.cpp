#include "buffer_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace vramscope::inject {

BufferPool::BufferPool(size_t totalBytes, size_t bufferBytes) {
    bufferBytes_ = std::max<size_t>(bufferBytes, 4096) & ~(kAlignment - 1);
    slotCount_ = std::clamp<size_t>(totalBytes / bufferBytes_, 2, kMaxSlots);
    slots_ = new Slot[slotCount_];
}

BufferPool::~BufferPool() {
    for (size_t i = 0; i < slotCount_; ++i) std::free(slots_[i].memory);
    delete[] slots_;
}

uint8_t* BufferPool::acquire() {
    for (size_t i = 0; i < slotCount_; ++i) {
        Slot& s = slots_[i];
        uint32_t expected = Free;
        if (!s.state.compare_exchange_strong(expected, Claimed, std::memory_order_acquire)) continue;
        if (!s.memory) {
            // First use of this slot: the only allocation on this path, at most
            // slotCount() times in the life of the process.
            // calloc: zero (large blocks come as fresh zero pages, nothing
            // written here) and aligned to max_align_t, past kAlignment.
            s.memory = static_cast<uint8_t*>(std::calloc(1, bufferBytes_));
            if (!s.memory) {
                s.state.store(Free, std::memory_order_release);
                break;
            }
        }
        s.state.store(InCupti, std::memory_order_release);
        return s.memory;
    }
    refused_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
}

int BufferPool::indexOf(const uint8_t* buffer) const {
    if (!buffer) return -1;
    for (size_t i = 0; i < slotCount_; ++i)
        if (slots_[i].memory == buffer && slots_[i].state.load(std::memory_order_acquire) == InCupti)
            return static_cast<int>(i);
    return -1;
}

bool BufferPool::complete(uint8_t* buffer, size_t validBytes) {
    int i = indexOf(buffer);
    if (i < 0) return false;
    Slot& s = slots_[i];
    s.validBytes = std::min(validBytes, bufferBytes_);
    s.sequence = nextSequence_.fetch_add(1, std::memory_order_relaxed);
    s.state.store(Completed, std::memory_order_release);
    return true;
}

void BufferPool::release(uint8_t* buffer, size_t writtenBytes) {
    int i = indexOf(buffer);
    if (i < 0) return;
    std::memset(slots_[i].memory, 0, std::min(writtenBytes, bufferBytes_));
    slots_[i].validBytes = 0;
    slots_[i].state.store(Free, std::memory_order_release);
}

size_t BufferPool::collectCompleted(uint32_t* indices, size_t max) const {
    size_t n = 0;
    for (size_t i = 0; i < slotCount_ && n < max; ++i)
        if (slots_[i].state.load(std::memory_order_acquire) == Completed) indices[n++] = static_cast<uint32_t>(i);
    std::sort(indices, indices + n, [this](uint32_t a, uint32_t b) { return slots_[a].sequence < slots_[b].sequence; });
    return n;
}

size_t BufferPool::slotsInUse() const {
    size_t n = 0;
    for (size_t i = 0; i < slotCount_; ++i) n += slots_[i].state.load(std::memory_order_relaxed) != Free;
    return n;
}

}  // namespace vramscope::inject
