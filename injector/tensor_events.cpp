#include "tensor_events.h"

#include "recorder.h"
#include "side_queue.h"

#include <format/records.h>
#include <format/writer.h>

#include <atomic>
#include <new>

namespace vramscope::inject {

namespace {

// 65,536 × 48 bytes = 3 MiB: ~24 PyTorch steps of events between two drains.
using TensorQueue = BoundedQueue<TensorEvent, 65536>;

std::atomic<TensorQueue*> queueInstance{nullptr};
std::atomic<uint64_t> refusedEarly{0};  // before the queue existed (allocation failed)
std::atomic<uint64_t> written{0};

TensorQueue* queue() {
    TensorQueue* q = queueInstance.load(std::memory_order_acquire);
    if (q) return q;
    auto* fresh = new (std::nothrow) TensorQueue;
    if (!fresh) return nullptr;
    TensorQueue* expected = nullptr;
    if (!queueInstance.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
        delete fresh;  // another thread won the race
        return expected;
    }
    return fresh;
}

}  // namespace

bool pushTensorEvent(const TensorEvent& e) {
    TensorQueue* q = queue();
    if (!q) {
        refusedEarly.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    return q->push(e);
}

uint64_t drainTensorEvents(format::TraceWriter& writer, void (*ensureOpen)(void*), void* context) {
    using namespace vramscope::format;
    TensorQueue* q = queueInstance.load(std::memory_order_acquire);
    if (!q) return 0;
    uint64_t n = 0;
    TensorEvent e;
    while (q->pop(e)) {
        if (n == 0 && ensureOpen) ensureOpen(context);
        if (e.action == kTensorActionOom) {
            AllocFailure r;
            r.timestampNs = e.timestampNs;
            r.source = FailureSource::Framework;
            r.deviceId = e.deviceId;
            r.requestedBytes = e.bytes;
            r.freeBytes = e.address;
            writer.write(r);
        } else if (e.action >= 1 && e.action <= 8) {
            TensorMemory r;
            r.timestampNs = e.timestampNs;
            r.action = static_cast<TensorAction>(e.action);
            r.deviceId = e.deviceId;
            r.address = e.address;
            r.bytes = e.bytes;
            r.streamId = e.streamId;
            writer.write(r);
        } else {
            continue;  // unknown action from a newer bridge: skipped
        }
        ++n;
    }
    written.fetch_add(n, std::memory_order_relaxed);
    return n;
}

uint64_t tensorEventsDropped() {
    TensorQueue* q = queueInstance.load(std::memory_order_acquire);
    return refusedEarly.load(std::memory_order_relaxed) + (q ? q->dropped() : 0);
}

uint64_t tensorEventsWritten() { return written.load(std::memory_order_relaxed); }

}  // namespace vramscope::inject
