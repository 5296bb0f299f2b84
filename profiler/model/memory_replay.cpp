#include "memory_replay.h"

#include "format/saturating.h"

#include <algorithm>

namespace vramscope::model {

using namespace vramscope::format;

// ---- AddressMap -------------------------------------------------------------

inline uint32_t AddressMap::find(uint64_t key) const {
    for (size_t i = home(key);; i = (i + 1) & mask_) {
        if (keys_[i] == kEmpty) return kNone;
        if (keys_[i] == key) return values_[i];
    }
}

inline uint32_t AddressMap::put(uint64_t key, uint32_t value) {
    if ((count_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
    for (size_t i = home(key);; i = (i + 1) & mask_) {
        if (keys_[i] == kEmpty) {
            keys_[i] = key;
            values_[i] = value;
            ++count_;
            return kNone;
        }
        if (keys_[i] == key) return std::exchange(values_[i], value);
    }
}

inline uint32_t AddressMap::take(uint64_t key) {
    size_t i = home(key);
    for (;; i = (i + 1) & mask_) {
        if (keys_[i] == kEmpty) return kNone;
        if (keys_[i] == key) break;
    }
    const uint32_t value = values_[i];
    // Shift later members of the cluster back so lookups never stop early.
    for (size_t j = (i + 1) & mask_; keys_[j] != kEmpty; j = (j + 1) & mask_) {
        const size_t k = home(keys_[j]);
        const bool between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!between) {
            keys_[i] = keys_[j];
            values_[i] = values_[j];
            i = j;
        }
    }
    keys_[i] = kEmpty;
    --count_;
    return value;
}

void AddressMap::rehash(size_t size) {
    std::vector<uint64_t> keys(size, kEmpty);
    std::vector<uint32_t> values(size, 0);
    keys.swap(keys_);
    values.swap(values_);
    mask_ = size - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(size));
    count_ = 0;
    for (size_t i = 0; i < keys.size(); ++i)
        if (keys[i] != kEmpty) put(keys[i], values[i]);
}

// ---- blocks -----------------------------------------------------------------

void appendBlock(BlockColumns& b, uint64_t t, uint64_t bytes, uint64_t address, uint32_t callsite, MemoryKind kind) {
    b.allocNs.push_back(t);
    b.freeNs.push_back(kNeverNs);
    b.bytes.push_back(bytes);
    b.address.push_back(address);
    b.callsiteId.push_back(callsite);
    b.memoryKind.push_back(static_cast<uint8_t>(kind));
}

void truncateBlocks(BlockColumns& b, size_t n) {
    if (n >= b.size()) return;
    b.allocNs.resize(n);
    b.freeNs.resize(n);
    b.bytes.resize(n);
    b.address.resize(n);
    b.callsiteId.resize(n);
    b.memoryKind.resize(n);
}

namespace {

uint64_t clampedBytes(int64_t running) { return running > 0 ? static_cast<uint64_t>(running) : 0; }

// Running sums saturate rather than overflow. RecordCollector keeps sizes
// beyond a device's memory out, but a crafted trace can still hold a million
// blocks of 256 TiB, all live at once.
int64_t signedBytes(uint64_t bytes) { return static_cast<int64_t>(saturated(bytes)); }
void addTo(int64_t& sum, int64_t delta) { sum = saturatingAddSigned(sum, delta); }

// Blocks open at a checkpoint were not freed then: undo later frees.
void reopen(const AddressMap& open, BlockColumns& blocks, std::vector<uint32_t>* freed) {
    open.forEach([&](uint64_t, uint32_t block) {
        if (block >= blocks.size()) return;
        blocks.freeNs[block] = kNeverNs;
        if (freed) freed->push_back(block);
    });
}

// Keeps only the blocks the maps point at (in their order) and renumbers the
// maps' values to match.
void keepOpen(std::initializer_list<AddressMap*> maps, BlockColumns& blocks) {
    std::vector<uint32_t> open;
    for (AddressMap* map : maps) map->forEach([&](uint64_t, uint32_t block) { open.push_back(block); });
    std::sort(open.begin(), open.end());
    open.erase(std::unique(open.begin(), open.end()), open.end());
    BlockColumns kept;
    for (uint32_t block : open) {
        if (block >= blocks.size()) continue;
        kept.allocNs.push_back(blocks.allocNs[block]);
        kept.freeNs.push_back(blocks.freeNs[block]);
        kept.bytes.push_back(blocks.bytes[block]);
        kept.address.push_back(blocks.address[block]);
        kept.callsiteId.push_back(blocks.callsiteId[block]);
        kept.memoryKind.push_back(blocks.memoryKind[block]);
    }
    for (AddressMap* map : maps)
        map->remap([&](uint32_t block) {
            return static_cast<uint32_t>(std::lower_bound(open.begin(), open.end(), block) - open.begin());
        });
    blocks = std::move(kept);
}

}  // namespace

// ---- tensor level -------------------------------------------------------------

void TensorReplay::close(uint32_t block, uint64_t t) {
    BlockColumns& b = *out_.blocks;
    b.freeNs[block] = t;
    addTo(state_.allocatedBytes, -signedBytes(b.bytes[block]));
    out_.allocated->append(t, clampedBytes(state_.allocatedBytes));
    out_.pointBlocks->push_back(block | TraceModel::kFreeBit);
    if (out_.freed) out_.freed->push_back(block);
}

void TensorReplay::replay(const RawMemory* r, const RawMemory* last) {
    BlockColumns& blocks = *out_.blocks;
    for (; r != last; ++r) {
        switch (static_cast<TensorAction>(r->action)) {
        case TensorAction::Alloc:
        case TensorAction::Snapshot: {
            const uint32_t index = static_cast<uint32_t>(blocks.size());
            appendBlock(blocks, r->timeNs, r->bytes, r->address, r->callsiteId, MemoryKind::Device);
            const uint32_t previous = state_.open.put(r->address, index);
            if (previous != AddressMap::kNone) close(previous, r->timeNs);  // its free never completed
            addTo(state_.allocatedBytes, signedBytes(r->bytes));
            out_.allocated->append(r->timeNs, clampedBytes(state_.allocatedBytes));
            out_.pointBlocks->push_back(index);
            break;
        }
        case TensorAction::FreeCompleted: {
            const uint32_t index = state_.open.take(r->address);
            if (index != AddressMap::kNone) close(index, r->timeNs);
            break;
        }
        case TensorAction::FreeRequested: break;  // the memory is reusable only once completed
        case TensorAction::SegmentAlloc:
        case TensorAction::SegmentMap:
            addTo(state_.segmentBytes, signedBytes(r->bytes));
            out_.segments->append(r->timeNs, clampedBytes(state_.segmentBytes));
            break;
        case TensorAction::SegmentFree:
        case TensorAction::SegmentUnmap:
            addTo(state_.segmentBytes, -signedBytes(r->bytes));
            out_.segments->append(r->timeNs, clampedBytes(state_.segmentBytes));
            break;
        }
    }
}

TensorReplay::Marks TensorReplay::marks() const {
    return {out_.blocks->size(), out_.allocated->size(), out_.segments->size()};
}

void TensorReplay::rewind(const State& state, const Marks& marks) {
    truncateBlocks(*out_.blocks, marks.blocks);
    reopen(state.open, *out_.blocks, out_.freed);
    out_.allocated->truncate(marks.points);
    out_.pointBlocks->resize(std::min(out_.pointBlocks->size(), marks.points));
    out_.segments->truncate(marks.segmentPoints);
    state_ = state;
}

void TensorReplay::dropClosed() {
    keepOpen({&state_.open}, *out_.blocks);
    out_.allocated->clear();
    out_.pointBlocks->clear();
    out_.segments->clear();
    if (out_.freed) out_.freed->clear();
}

// ---- driver level ---------------------------------------------------------------

namespace {
// 0 device memory outside pools, 1 pool allocations, 3 host memory (in neither curve).
uint8_t kindClass(MemoryKind kind) {
    if (kind == MemoryKind::PinnedHost || kind == MemoryKind::Pageable) return 3;
    return kind == MemoryKind::Pool ? 1 : 0;
}
}  // namespace

void DriverReplay::reservedPoint(uint64_t t) {
    // A pool holds at least what is allocated from it.
    out_.reserved->append(t, clampedBytes(saturatingAddSigned(state_.nonPool, std::max(state_.poolLive, state_.poolReservedSum))));
}

void DriverReplay::point(uint64_t t, int64_t delta, uint32_t block, uint8_t what) {
    if (what == 3) return;
    addTo(what == 1 ? state_.poolLive : state_.nonPool, delta);
    addTo(state_.allocatedBytes, delta);
    out_.allocated->append(t, clampedBytes(state_.allocatedBytes));
    out_.pointBlocks->push_back(block);
    reservedPoint(t);
}

void DriverReplay::close(uint32_t block, uint64_t t) {
    BlockColumns& b = *out_.blocks;
    b.freeNs[block] = t;
    if (out_.freed) out_.freed->push_back(block);
    point(t, -signedBytes(b.bytes[block]), block | TraceModel::kFreeBit,
          kindClass(static_cast<MemoryKind>(b.memoryKind[block])));
}

void DriverReplay::replay(const RawMemory* r, const RawMemory* last) {
    BlockColumns& blocks = *out_.blocks;
    for (; r != last; ++r) {
        if (r->poolReserved) {
            int64_t& reserved = state_.poolReserved[r->address];
            addTo(state_.poolReservedSum, -reserved);
            addTo(state_.poolReservedSum, signedBytes(r->bytes));
            reserved = signedBytes(r->bytes);
            reservedPoint(r->timeNs);
            continue;
        }
        const auto op = static_cast<DriverMemoryOp>(r->action);
        const bool opens = op == DriverMemoryOp::Alloc || op == DriverMemoryOp::Existing || op == DriverMemoryOp::VmmCreate;
        const bool closes = op == DriverMemoryOp::Free || op == DriverMemoryOp::VmmRelease;
        // Map/unmap only changes where physical memory (VmmCreate) is visible.
        AddressMap& open = (op == DriverMemoryOp::VmmCreate || op == DriverMemoryOp::VmmRelease) ? state_.vmmOpen : state_.open;
        if (opens) {
            const auto kind = static_cast<MemoryKind>(r->kind);
            const uint32_t index = static_cast<uint32_t>(blocks.size());
            appendBlock(blocks, r->timeNs, r->bytes, r->address, 0, kind);
            const uint32_t previous = open.put(r->address, index);
            if (previous != AddressMap::kNone) close(previous, r->timeNs);
            point(r->timeNs, signedBytes(r->bytes), index, kindClass(kind));
        } else if (closes) {
            const uint32_t index = open.take(r->address);
            if (index != AddressMap::kNone) close(index, r->timeNs);
        }
    }
}

DriverReplay::Marks DriverReplay::marks() const {
    return {out_.blocks->size(), out_.allocated->size(), out_.reserved->size()};
}

void DriverReplay::rewind(const State& state, const Marks& marks) {
    truncateBlocks(*out_.blocks, marks.blocks);
    reopen(state.open, *out_.blocks, out_.freed);
    reopen(state.vmmOpen, *out_.blocks, out_.freed);
    out_.allocated->truncate(marks.allocatedPoints);
    out_.pointBlocks->resize(std::min(out_.pointBlocks->size(), marks.allocatedPoints));
    out_.reserved->truncate(marks.reservedPoints);
    state_ = state;
}

void DriverReplay::dropClosed() {
    keepOpen({&state_.open, &state_.vmmOpen}, *out_.blocks);
    out_.allocated->clear();
    out_.pointBlocks->clear();
    out_.reserved->clear();
    if (out_.freed) out_.freed->clear();
}

}  // namespace vramscope::model
