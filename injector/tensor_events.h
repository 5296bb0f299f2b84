// Tensor-level events from a framework's allocator (PyTorch's caching
// allocator, through injector/torch_bridge/): alloc, free requested/completed,
// segment alloc/free/map/unmap, OOM. They arrive synchronously on the thread
// that allocates (~900 allocations, ~2,700 events per GPT-2-small step), so
// they get their own bounded lock-free queue of small plain records, sized for
// bursts between two writer wake-ups (5 ms), separate from the side queue.
// The queue is created on the first event: processes without a bridge pay
// nothing.
#pragma once

#include <cstdint>

namespace vramscope::format {
class TraceWriter;
}

namespace vramscope::inject {

// The action codes of the C entry point vramscope_tensor_event(): the values
// of format::TensorAction (1..8); 9 is an OOM (bytes = requested size,
// address = device free bytes as the allocator reported them).
constexpr int kTensorActionOom = 9;

struct TensorEvent {
    uint64_t timestampNs = 0;  // cuptiTimestamp()
    uint64_t address = 0;
    uint64_t bytes = 0;
    uint64_t streamId = 0;
    uint32_t deviceId = 0;
    uint32_t poolId = 0;       // the allocator's memory pool (0 = default); not stored in the format yet
    uint32_t callsiteId = 0;   // CallsiteDef id from pushCallsite(), 0 = none
    uint8_t action = 0;        // format::TensorAction or kTensorActionOom
};

// Any thread, lock-free, never allocates after the first call. False (and
// counted) when the queue is full or capture is not active.
bool pushTensorEvent(const TensorEvent& e);

// A Python callsite frame the bridge saw for the first time (its ids are the
// bridge's own, > 0, parents defined before children). Any thread; takes a
// short lock and copies the strings: it runs once per distinct frame, not per
// event. False when capture is not active or the id is 0.
bool pushCallsite(uint32_t id, uint32_t parentId, const char* file, const char* function, uint32_t line);

// Writer thread: writes the pending CallsiteDefs (with their strings), then
// moves every queued event into the trace as TensorMemory or
// AllocFailure records. ensureOpen is called before the first record.
// Returns how many were written.
uint64_t drainTensorEvents(format::TraceWriter& writer, void (*ensureOpen)(void*), void* context);

// Drops whatever is queued (events of a trace that is already closed).
uint64_t discardTensorEvents();

// A new trace in the same process (the next attach): every frame defined
// so far is written into it again before its events.
void replayCallsites();

// Events refused because the queue was full.
uint64_t tensorEventsDropped();
// Events written so far (for the verbose statistics line).
uint64_t tensorEventsWritten();
// Callsite frames written so far.
uint64_t callsitesWritten();

}  // namespace vramscope::inject
