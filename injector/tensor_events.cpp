#include "tensor_events.h"

#include "recorder.h"
#include "side_queue.h"

#include <format/records.h>
#include <format/writer.h>

#include <atomic>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace vramscope::inject {

namespace {

// 65,536 × 48 bytes = 3 MiB: ~24 PyTorch steps of events between two drains.
using TensorQueue = BoundedQueue<TensorEvent, 65536>;

std::atomic<TensorQueue*> queueInstance{nullptr};
std::atomic<uint64_t> refusedEarly{0};  // before the queue existed (allocation failed)
std::atomic<uint64_t> written{0};
std::atomic<uint64_t> callsitesOut{0};

struct PendingCallsite {
    uint32_t id, parentId, line;
    std::string file, function;
};
std::mutex callsiteMutex;
std::vector<PendingCallsite> pendingCallsites;  // guarded by callsiteMutex
// Every frame defined so far: the bridge defines each id once per process,
// so a later attach's new trace gets them again from here.
std::vector<PendingCallsite> definedCallsites;  // guarded by callsiteMutex

constexpr size_t kMaxCallsiteText = 4096;  // a longer file or function name is cut

std::string boundedText(const char* text) {
    if (!text) return {};
    size_t n = 0;
    while (n < kMaxCallsiteText && text[n]) ++n;
    return std::string(text, n);
}

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

bool pushCallsite(uint32_t id, uint32_t parentId, const char* file, const char* function, uint32_t line) {
    if (id == 0) return false;
    try {
        PendingCallsite c{id, parentId, line, boundedText(file), boundedText(function)};
        std::lock_guard<std::mutex> lock(callsiteMutex);
        definedCallsites.push_back(c);
        pendingCallsites.push_back(std::move(c));
        return true;
    } catch (...) {
        return false;  // out of memory: the events keep their id, the trace lacks its text
    }
}

namespace {

uint64_t drainCallsites(format::TraceWriter& writer, void (*ensureOpen)(void*), void* context) {
    std::vector<PendingCallsite> batch;
    {
        std::lock_guard<std::mutex> lock(callsiteMutex);
        if (pendingCallsites.empty()) return 0;
        batch.swap(pendingCallsites);
    }
    if (ensureOpen) ensureOpen(context);
    for (const PendingCallsite& c : batch) {
        format::CallsiteDef d;
        d.id = c.id;
        d.parentId = c.parentId;
        d.fileId = writer.intern(c.file);
        d.functionId = writer.intern(c.function);
        d.line = c.line;
        writer.write(d);
    }
    callsitesOut.fetch_add(batch.size(), std::memory_order_relaxed);
    return batch.size();
}

}  // namespace

uint64_t drainTensorEvents(format::TraceWriter& writer, void (*ensureOpen)(void*), void* context) {
    using namespace vramscope::format;
    drainCallsites(writer, ensureOpen, context);
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
            r.callsiteId = e.callsiteId;
            writer.write(r);
        } else if (e.action >= 1 && e.action <= 8) {
            TensorMemory r;
            r.timestampNs = e.timestampNs;
            r.action = static_cast<TensorAction>(e.action);
            r.deviceId = e.deviceId;
            r.address = e.address;
            r.bytes = e.bytes;
            r.streamId = e.streamId;
            r.callsiteId = e.callsiteId;
            writer.write(r);
        } else {
            continue;  // unknown action from a newer bridge: skipped
        }
        ++n;
    }
    written.fetch_add(n, std::memory_order_relaxed);
    return n;
}

uint64_t discardTensorEvents() {
    TensorQueue* q = queueInstance.load(std::memory_order_acquire);
    if (!q) return 0;
    uint64_t n = 0;
    TensorEvent e;
    while (q->pop(e)) ++n;
    return n;
}

void replayCallsites() {
    try {
        std::lock_guard<std::mutex> lock(callsiteMutex);
        pendingCallsites = definedCallsites;
    } catch (...) {
    }
}

uint64_t tensorEventsDropped() {
    TensorQueue* q = queueInstance.load(std::memory_order_acquire);
    return refusedEarly.load(std::memory_order_relaxed) + (q ? q->dropped() : 0);
}

uint64_t tensorEventsWritten() { return written.load(std::memory_order_relaxed); }

uint64_t callsitesWritten() { return callsitesOut.load(std::memory_order_relaxed); }

}  // namespace vramscope::inject
