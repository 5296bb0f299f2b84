// Matching allocations with their frees, and the memory curves that follow,
// by replaying memory records in time order. One implementation behind both
// builders: ModelBuilder replays a whole file once; LiveModel replays records
// as they arrive and, when one comes late, rewinds to a checkpoint (a copy of
// State plus Marks) and replays from there.
//
// File order is not time order (see model_builder.cpp), so records must be
// sorted before they are replayed: tensor records by time, driver-level ones
// by time with PoolReserved before DriverMemory at the same nanosecond (what
// the loader always did), ties otherwise in file order.
#pragma once

#include "memory_curve.h"
#include "trace_model.h"

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vramscope::model {

// A memory record as the replay needs it: 32 bytes, so that the live model
// can keep what it may have to replay again.
struct RawMemory {
    uint64_t timeNs = 0;
    uint64_t address = 0;     // the pool's address for PoolReserved
    uint64_t bytes = 0;       // the pool's reserved size for PoolReserved
    uint32_t callsiteId = 0;  // tensor records
    uint8_t action = 0;       // format::TensorAction or format::DriverMemoryOp: any byte a file holds
    uint8_t kind = 0;         // format::MemoryKind (driver records)
    bool poolReserved = false;  // a PoolReserved record (driver level), not an action
};

// The driver-level replay order at one nanosecond: PoolReserved first.
inline bool driverReplayBefore(const RawMemory& a, const RawMemory& b) {
    if (a.timeNs != b.timeNs) return a.timeNs < b.timeNs;
    return a.poolReserved > b.poolReserved;
}

// address → open block index. Open addressing with linear probing and
// backward-shift deletion: the live set is small (hundreds to thousands of
// blocks) while millions of blocks pass through, so the table stays in cache.
// std::unordered_map measured ~5x slower here. Copyable (a checkpoint).
class AddressMap {
public:
    static constexpr uint32_t kNone = UINT32_MAX;
    AddressMap() { rehash(1024); }

    uint32_t find(uint64_t key) const;
    // Sets key → value; returns the previous value or kNone.
    uint32_t put(uint64_t key, uint32_t value);
    // Removes key; returns its value or kNone.
    uint32_t take(uint64_t key);
    template <class F> void forEach(F&& f) const {
        for (size_t i = 0; i < keys_.size(); ++i)
            if (keys_[i] != kEmpty) f(keys_[i], values_[i]);
    }
    // Replaces every value v by f(v), keys unchanged.
    template <class F> void remap(F&& f) {
        for (size_t i = 0; i < keys_.size(); ++i)
            if (keys_[i] != kEmpty) values_[i] = f(values_[i]);
    }
    size_t size() const { return count_; }

private:
    static constexpr uint64_t kEmpty = UINT64_MAX;
    size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
    void rehash(size_t size);
    std::vector<uint64_t> keys_;
    std::vector<uint32_t> values_;
    size_t count_ = 0, mask_ = 0;
    unsigned shift_ = 0;
};

// Tensor level: the PyTorch caching allocator's blocks (alloc, free
// completed, snapshot) and segments.
class TensorReplay {
public:
    // Where the replay writes; the caller owns them.
    struct Outputs {
        BlockColumns* blocks = nullptr;            // in allocation order
        MemoryCurve* allocated = nullptr;          // a point per alloc and per free
        std::vector<uint32_t>* pointBlocks = nullptr;  // the block of each point (kFreeBit on frees)
        MemoryCurve* segments = nullptr;           // bytes the allocator holds in segments
        std::vector<uint32_t>* freed = nullptr;    // optional: blocks whose freeNs the replay set
    };
    struct State {
        AddressMap open;              // address → block not yet freed
        int64_t allocatedBytes = 0;   // running sums, unclamped (frees of blocks from before capture)
        int64_t segmentBytes = 0;
    };
    struct Marks {
        size_t blocks = 0, points = 0, segmentPoints = 0;
    };

    explicit TensorReplay(const Outputs& out) : out_(out) {}
    void replay(const RawMemory* first, const RawMemory* last);
    const State& state() const { return state_; }
    Marks marks() const;
    // Puts the outputs back to what they were when state() and marks() were
    // (state, marks): later blocks, points and frees undone.
    void rewind(const State& state, const Marks& marks);
    // For a replay that streams (model/trace_index.h): forgets the blocks
    // already freed and every output point (the caller has read them), and
    // keeps the open blocks, renumbered in allocation order, so the replay
    // goes on holding only what is live.
    void dropClosed();

private:
    void close(uint32_t block, uint64_t timeNs);
    Outputs out_;
    State state_;
};

// Driver level: device, pool, VMM, managed and host allocations, and the
// pools' reserved sizes. The allocated curve leaves host memory out; the
// reserved curve is device memory plus what pools hold beyond their blocks.
class DriverReplay {
public:
    struct Outputs {
        BlockColumns* blocks = nullptr;
        MemoryCurve* allocated = nullptr;
        std::vector<uint32_t>* pointBlocks = nullptr;
        MemoryCurve* reserved = nullptr;
        std::vector<uint32_t>* freed = nullptr;
    };
    struct State {
        AddressMap open, vmmOpen;  // VMM physical memory (create/release) apart from mappings
        int64_t nonPool = 0, poolLive = 0, allocatedBytes = 0, poolReservedSum = 0;
        std::unordered_map<uint64_t, int64_t> poolReserved;  // pool address → reserved bytes
    };
    struct Marks {
        size_t blocks = 0, allocatedPoints = 0, reservedPoints = 0;
    };

    explicit DriverReplay(const Outputs& out) : out_(out) {}
    // Records in driverReplayBefore order.
    void replay(const RawMemory* first, const RawMemory* last);
    const State& state() const { return state_; }
    Marks marks() const;
    void rewind(const State& state, const Marks& marks);
    // As TensorReplay::dropClosed().
    void dropClosed();

private:
    void close(uint32_t block, uint64_t timeNs);
    void point(uint64_t timeNs, int64_t delta, uint32_t block, uint8_t what);
    void reservedPoint(uint64_t timeNs);
    Outputs out_;
    State state_;
};

void appendBlock(BlockColumns& b, uint64_t timeNs, uint64_t bytes, uint64_t address, uint32_t callsiteId,
                 format::MemoryKind kind);
// Keeps blocks [0, n).
void truncateBlocks(BlockColumns& b, size_t n);

}  // namespace vramscope::model
