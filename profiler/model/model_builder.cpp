#include "model_builder.h"

#include "format/record_fields.h"

#include <algorithm>
#include <cstdlib>
#include <cxxabi.h>
#include <numeric>

namespace vramscope::model {

using namespace vramscope::format;

namespace {

// CUPTI reports kernel names as the compiler mangled them
// ("_ZN2at6native29vectorized_elementwise_kernel..."); people read them
// demangled, as Nsight and the PyTorch profiler show them. Strings that are
// not mangled names come back unchanged.
std::string demangledName(const std::string& text) {
    if (text.size() < 3 || text[0] != '_' || text[1] != 'Z') return text;
    int status = 0;
    char* out = abi::__cxa_demangle(text.c_str(), nullptr, nullptr, &status);
    std::string result = (status == 0 && out) ? std::string(out) : text;
    std::free(out);
    return result;
}

// address → open block index. Open addressing with linear probing and
// backward-shift deletion: the live set is small (hundreds to thousands of
// blocks) while millions of blocks pass through, so the table stays in cache.
// std::unordered_map measured ~5x slower here.
class AddressMap {
public:
    static constexpr uint32_t kNone = UINT32_MAX;
    AddressMap() { rehash(1024); }

    uint32_t find(uint64_t key) const {
        for (size_t i = home(key);; i = (i + 1) & mask_) {
            if (keys_[i] == kEmpty) return kNone;
            if (keys_[i] == key) return values_[i];
        }
    }
    // Sets key → value; returns the previous value or kNone.
    uint32_t put(uint64_t key, uint32_t value) {
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
    // Removes key; returns its value or kNone.
    uint32_t take(uint64_t key) {
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
    template <class F> void forEach(F&& f) const {
        for (size_t i = 0; i < keys_.size(); ++i)
            if (keys_[i] != kEmpty) f(keys_[i], values_[i]);
    }

private:
    static constexpr uint64_t kEmpty = UINT64_MAX;
    size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
    void rehash(size_t size) {
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
    std::vector<uint64_t> keys_;
    std::vector<uint32_t> values_;
    size_t count_ = 0, mask_ = 0;
    unsigned shift_ = 0;
};

bool isDeviceSide(MemoryKind kind) { return kind != MemoryKind::PinnedHost && kind != MemoryKind::Pageable; }

template <class V> void permute(V& v, const std::vector<uint32_t>& order) {
    V sorted;
    sorted.reserve(v.size());
    for (uint32_t i : order) sorted.push_back(v[i]);
    v.swap(sorted);
}

// User regions (vramscope.region(): RegionBegin/RegionEnd markers with a
// name) become ranges of the domain TraceModel::kRegionDomain, shown with
// the NVTX ranges in rows below theirs. A begin pairs with the latest open
// begin of the same name; one still open at the end closes at the trace's
// last event, an end without a begin is dropped.
void addRegionRanges(TraceModel& m) {
    uint16_t nvtxRows = 0;
    for (size_t i = 0; i < m.ranges.size(); ++i) nvtxRows = std::max<uint16_t>(nvtxRows, uint16_t(m.ranges.depth[i] + 1));
    struct Open {
        uint64_t startNs;
        uint16_t depth;
    };
    // Open regions per name (a trace is outside data: linear in its markers
    // however they pair), and how many are open in all.
    std::unordered_map<uint32_t, std::vector<Open>> open;
    size_t openCount = 0;
    auto add = [&](uint32_t nameId, const Open& o, uint64_t endNs) {
        m.ranges.startNs.push_back(o.startNs);
        m.ranges.endNs.push_back(std::max(endNs, o.startNs));
        m.ranges.nameId.push_back(nameId);
        m.ranges.domainId.push_back(TraceModel::kRegionDomain);
        m.ranges.threadId.push_back(0);
        m.ranges.depth.push_back(uint16_t(std::min<uint32_t>(uint32_t(nvtxRows) + o.depth, UINT16_MAX)));
    };
    for (const Phase& p : m.phases) {
        if (p.kind == PhaseKind::RegionBegin) {
            open[p.nameId].push_back({p.timestampNs, uint16_t(std::min<size_t>(openCount, UINT16_MAX))});
            ++openCount;
        } else if (p.kind == PhaseKind::RegionEnd) {
            auto it = open.find(p.nameId);
            if (it == open.end() || it->second.empty()) continue;
            add(p.nameId, it->second.back(), p.timestampNs);
            it->second.pop_back();
            --openCount;
        }
    }
    std::vector<std::pair<uint32_t, Open>> unclosed;  // in time order, whatever the map's order
    for (const auto& [nameId, stack] : open)
        for (const Open& o : stack) unclosed.push_back({nameId, o});
    std::sort(unclosed.begin(), unclosed.end(),
              [](const auto& a, const auto& b) { return a.second.startNs < b.second.startNs; });
    for (const auto& [nameId, o] : unclosed) add(nameId, o, m.lastNs);
}

template <class Keys> std::vector<uint32_t> sortOrder(const Keys& keys) {
    std::vector<uint32_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
    return order;
}

void appendBlock(BlockColumns& b, uint64_t t, uint64_t bytes, uint64_t address, uint32_t callsite, MemoryKind kind) {
    b.allocNs.push_back(t);
    b.freeNs.push_back(kNeverNs);
    b.bytes.push_back(bytes);
    b.address.push_back(address);
    b.callsiteId.push_back(callsite);
    b.memoryKind.push_back(static_cast<uint8_t>(kind));
}

template <class V> void trimVector(V& v) {
    if (v.capacity() > v.size() + v.size() / 10 + 64) v.shrink_to_fit();
}

void trim(BlockColumns& b) {
    trimVector(b.allocNs);
    trimVector(b.freeNs);
    trimVector(b.bytes);
    trimVector(b.address);
    trimVector(b.callsiteId);
    trimVector(b.memoryKind);
}

// Orders blocks by allocNs when they arrived out of order, and renumbers the
// block indices of curve points to match.
void sortBlocks(BlockColumns& b, std::vector<uint32_t>& pointBlocks) {
    if (std::is_sorted(b.allocNs.begin(), b.allocNs.end())) return;
    const std::vector<uint32_t> order = sortOrder(b.allocNs);
    std::vector<uint32_t> newIndex(order.size());
    for (uint32_t i = 0; i < order.size(); ++i) newIndex[order[i]] = i;
    permute(b.allocNs, order);
    permute(b.freeNs, order);
    permute(b.bytes, order);
    permute(b.address, order);
    permute(b.callsiteId, order);
    permute(b.memoryKind, order);
    for (auto& p : pointBlocks) p = newIndex[p & ~TraceModel::kFreeBit] | (p & TraceModel::kFreeBit);
}

// Turns (time, signed delta) points into a curve of running totals, sorting
// first if they arrived out of order.
void finishDeltaCurve(std::vector<uint64_t>& times, std::vector<uint64_t>& deltas, std::vector<uint32_t>* blocks,
                      MemoryCurve& out) {
    if (!std::is_sorted(times.begin(), times.end())) {
        const std::vector<uint32_t> order = sortOrder(times);
        permute(times, order);
        permute(deltas, order);
        if (blocks) permute(*blocks, order);
    }
    int64_t running = 0;
    for (auto& d : deltas) {
        running += static_cast<int64_t>(d);
        d = running > 0 ? static_cast<uint64_t>(running) : 0;  // frees of blocks from before the capture
    }
    out.assign(std::move(times), std::move(deltas));
}

}  // namespace

struct ModelBuilder::State {
    uint64_t events = 0, tensorEvents = 0, driverEvents = 0, dropped = 0;
    uint64_t firstNs = UINT64_MAX, lastNs = 0;

    // Tensor level.
    BlockColumns tensorBlocks;
    AddressMap tensorOpen;
    std::vector<uint64_t> tensorTimes, tensorDeltas;
    std::vector<uint32_t> tensorPointBlocks;
    std::vector<uint64_t> segmentTimes, segmentDeltas;

    // Driver level, replayed in time order by finish().
    struct DriverEvent {
        uint64_t timeNs;
        int64_t delta;      // bytes (+ alloc, - free) or the pool's reserved size
        uint64_t pool;      // pool address for PoolReserved
        uint32_t block;     // driver block index (with kFreeBit on frees)
        uint8_t what;       // 0 non-pool device memory, 1 pool allocation, 2 pool reserved, 3 host
    };
    BlockColumns driverBlocks;
    AddressMap driverOpen, vmmOpen;
    std::vector<DriverEvent> driverEventList;

    // Memory records as they arrive, matched in time order by finish(): file
    // order is not time order (the injector flushes per-thread buffers, and
    // CUPTI delivers frees in later buffers than their allocations; measured
    // on a PyTorch run without caching: 797 of 3087 cudaMallocs reused an
    // address whose free came later in the file). 32 bytes each, freed after.
    struct RawMemory {
        uint64_t timeNs;
        uint64_t address;
        uint64_t bytes;
        uint32_t callsiteId;
        uint8_t action;  // TensorAction, or DriverMemoryOp
        uint8_t kind;    // MemoryKind (driver records)
    };
    std::vector<RawMemory> rawTensor, rawDriver;

    TraceModel m;  // the columns that need no matching go straight here
    std::unordered_map<uint32_t, size_t> counterIndex;
    uint32_t memInfoDevice = UINT32_MAX;
    std::vector<uint64_t> memInfoTimes, memInfoValues;

    void seen(uint64_t t) {
        firstNs = std::min(firstNs, t);
        lastNs = std::max(lastNs, t);
    }
    CounterSeries& series(uint32_t counterId) {
        auto [it, added] = counterIndex.try_emplace(counterId, m.counters.size());
        if (added) {
            m.counters.emplace_back();
            m.counters.back().info.counterId = counterId;
        }
        return m.counters[it->second];
    }

    void tensor(const RawMemory& r) {
        switch (static_cast<TensorAction>(r.action)) {
        case TensorAction::Alloc:
        case TensorAction::Snapshot: {
            const uint32_t index = static_cast<uint32_t>(tensorBlocks.size());
            appendBlock(tensorBlocks, r.timeNs, r.bytes, r.address, r.callsiteId, MemoryKind::Device);
            const uint32_t previous = tensorOpen.put(r.address, index);
            if (previous != AddressMap::kNone) closeTensor(previous, r.timeNs);  // free never completed
            tensorTimes.push_back(r.timeNs);
            tensorDeltas.push_back(r.bytes);
            tensorPointBlocks.push_back(index);
            break;
        }
        case TensorAction::FreeCompleted: {
            const uint32_t index = tensorOpen.take(r.address);
            if (index != AddressMap::kNone) closeTensor(index, r.timeNs);
            break;
        }
        case TensorAction::FreeRequested: break;  // the memory is reusable only once completed
        case TensorAction::SegmentAlloc:
        case TensorAction::SegmentMap:
            segmentTimes.push_back(r.timeNs);
            segmentDeltas.push_back(r.bytes);
            break;
        case TensorAction::SegmentFree:
        case TensorAction::SegmentUnmap:
            segmentTimes.push_back(r.timeNs);
            segmentDeltas.push_back(static_cast<uint64_t>(-static_cast<int64_t>(r.bytes)));
            break;
        }
    }
    void closeTensor(uint32_t index, uint64_t t) {
        tensorBlocks.freeNs[index] = t;
        tensorTimes.push_back(t);
        tensorDeltas.push_back(static_cast<uint64_t>(-static_cast<int64_t>(tensorBlocks.bytes[index])));
        tensorPointBlocks.push_back(index | TraceModel::kFreeBit);
    }

    void driver(const RawMemory& raw) {
        const DriverMemory r{raw.timeNs, static_cast<DriverMemoryOp>(raw.action), static_cast<MemoryKind>(raw.kind), 0,
                             raw.address, raw.bytes, 0};
        const bool opens = r.op == DriverMemoryOp::Alloc || r.op == DriverMemoryOp::Existing || r.op == DriverMemoryOp::VmmCreate;
        const bool closes = r.op == DriverMemoryOp::Free || r.op == DriverMemoryOp::VmmRelease;
        // Map/unmap only changes where physical memory (VmmCreate) is visible.
        AddressMap& open = (r.op == DriverMemoryOp::VmmCreate || r.op == DriverMemoryOp::VmmRelease) ? vmmOpen : driverOpen;
        if (opens) {
            const uint32_t index = static_cast<uint32_t>(driverBlocks.size());
            appendBlock(driverBlocks, r.timestampNs, r.bytes, r.address, 0, r.kind);
            const uint32_t previous = open.put(r.address, index);
            if (previous != AddressMap::kNone) closeDriver(previous, r.timestampNs);
            driverEventList.push_back({r.timestampNs, static_cast<int64_t>(r.bytes), 0, index, kindClass(r.kind)});
        } else if (closes) {
            const uint32_t index = open.take(r.address);
            if (index != AddressMap::kNone) closeDriver(index, r.timestampNs);
        }
    }
    static uint8_t kindClass(MemoryKind kind) {
        if (!isDeviceSide(kind)) return 3;
        return kind == MemoryKind::Pool ? 1 : 0;
    }
    void closeDriver(uint32_t index, uint64_t t) {
        driverBlocks.freeNs[index] = t;
        driverEventList.push_back({t, -static_cast<int64_t>(driverBlocks.bytes[index]), 0, index | TraceModel::kFreeBit,
                                   kindClass(static_cast<MemoryKind>(driverBlocks.memoryKind[index]))});
    }

    void add(const RecordLists& r) {
        for (const auto& s : r.get<StringDef>()) m.strings[s.id] = demangledName(s.text);
        for (const auto& c : r.get<CallsiteDef>()) m.callsites[c.id] = c;
        for (const auto& p : r.get<ProcessInfo>()) m.processes.push_back(p);
        for (const auto& d : r.get<DeviceInfo>()) m.devices.push_back(d);
        for (const auto& t : r.get<TensorMemory>()) {
            seen(t.timestampNs);
            rawTensor.push_back({t.timestampNs, t.address, t.bytes, t.callsiteId, static_cast<uint8_t>(t.action), 0});
        }
        tensorEvents += r.get<TensorMemory>().size();
        for (const auto& d : r.get<DriverMemory>()) {
            seen(d.timestampNs);
            rawDriver.push_back({d.timestampNs, d.address, d.bytes, 0, static_cast<uint8_t>(d.op), static_cast<uint8_t>(d.kind)});
        }
        driverEvents += r.get<DriverMemory>().size();
        for (const auto& p : r.get<PoolReserved>()) {
            seen(p.timestampNs);
            driverEventList.push_back({p.timestampNs, static_cast<int64_t>(p.reservedBytes), p.poolAddress, 0, 2});
        }
        auto& k = m.kernels;
        for (const auto& e : r.get<Kernel>()) {
            const uint64_t duration = std::min<uint64_t>(e.endNs > e.startNs ? e.endNs - e.startNs : 0, UINT32_MAX);
            k.startNs.push_back(e.startNs);
            k.durationNs.push_back(static_cast<uint32_t>(duration));
            k.nameId.push_back(e.nameId);
            k.streamId.push_back(e.streamId);
            k.deviceId.push_back(static_cast<uint16_t>(e.deviceId));
            k.maxDurationNs = std::max(k.maxDurationNs, duration);
            if (e.queuedLeadNs && k.queuedLeadNs.empty()) k.queuedLeadNs.assign(k.startNs.size() - 1, 0);
            if (!k.queuedLeadNs.empty())
                k.queuedLeadNs.push_back(static_cast<uint32_t>(std::min<uint64_t>(e.queuedLeadNs, UINT32_MAX)));
        }
        if (!r.get<Kernel>().empty()) {
            seen(r.get<Kernel>().front().startNs);
            for (const auto& e : r.get<Kernel>()) lastNs = std::max(lastNs, e.endNs);
            for (const auto& e : r.get<Kernel>()) firstNs = std::min(firstNs, e.startNs);
        }
        for (const auto& c : r.get<Memcpy>()) copy(m.memcpys, c.startNs, c.endNs, c.bytes, c.streamId, uint8_t(c.copyKind));
        for (const auto& c : r.get<Memset>()) copy(m.memsets, c.startNs, c.endNs, c.bytes, c.streamId, 0);
        for (const auto& g : r.get<Range>()) {
            seen(g.startNs);
            seen(g.endNs);
            m.ranges.startNs.push_back(g.startNs);
            m.ranges.endNs.push_back(g.endNs);
            m.ranges.nameId.push_back(g.nameId);
            m.ranges.domainId.push_back(g.domainId);
            m.ranges.threadId.push_back(g.threadId);
            m.ranges.depth.push_back(static_cast<uint16_t>(std::min<uint32_t>(g.depth, UINT16_MAX)));
        }
        for (const auto& p : r.get<Phase>()) {
            seen(p.timestampNs);
            m.phases.push_back(p);
        }
        for (const auto& c : r.get<CounterInfo>()) series(c.counterId).info = c;
        const auto& samples = r.get<CounterSample>();
        for (size_t i = 0; i < samples.size();) {
            // Samples of one counter come in runs per chunk only loosely; look the series up per run.
            CounterSeries& s = series(samples[i].counterId);
            const uint32_t id = samples[i].counterId;
            for (; i < samples.size() && samples[i].counterId == id; ++i) {
                s.timesNs.push_back(samples[i].timestampNs);
                s.valuesMilli.push_back(samples[i].valueMilli);
            }
        }
        if (!samples.empty()) {
            seen(samples.front().timestampNs);
            seen(samples.back().timestampNs);
        }
        for (const auto& mi : r.get<MemInfo>()) {
            if (memInfoDevice == UINT32_MAX) memInfoDevice = mi.deviceId;
            if (mi.deviceId != memInfoDevice) continue;  // the first device's only
            memInfoTimes.push_back(mi.timestampNs);
            memInfoValues.push_back(mi.usedBytes);
        }
        for (const auto& f : r.get<AllocFailure>()) m.allocFailures.push_back(f);
        for (const auto& n : r.get<Note>()) m.notes.push_back(n);
        for (const auto& mk : r.get<Mark>()) m.marks.push_back(mk);
        for (const auto& d : r.get<Dropped>()) dropped += d.count;
    }
    void copy(CopyColumns& c, uint64_t start, uint64_t end, uint64_t bytes, uint32_t stream, uint8_t kind) {
        seen(start);
        seen(end);
        c.startNs.push_back(start);
        c.durationNs.push_back(static_cast<uint32_t>(std::min<uint64_t>(end > start ? end - start : 0, UINT32_MAX)));
        c.bytes.push_back(bytes);
        c.streamId.push_back(stream);
        c.copyKind.push_back(kind);
    }

    void finishDriver(MemoryCurve& allocatedOut, std::vector<uint32_t>& pointBlocks, MemoryCurve& reservedOut) {
        std::stable_sort(driverEventList.begin(), driverEventList.end(),
                         [](const DriverEvent& a, const DriverEvent& b) { return a.timeNs < b.timeNs; });
        std::vector<uint64_t> aTimes, aValues, rTimes, rValues;
        int64_t nonPool = 0, poolLive = 0, allocatedRunning = 0;
        std::unordered_map<uint64_t, int64_t> poolReserved;
        int64_t poolReservedSum = 0;
        for (const auto& e : driverEventList) {
            if (e.what == 3) continue;  // host memory is in neither curve
            if (e.what == 2) {
                int64_t& r = poolReserved[e.pool];
                poolReservedSum += e.delta - r;
                r = e.delta;
            } else {
                (e.what == 1 ? poolLive : nonPool) += e.delta;
                allocatedRunning += e.delta;
                aTimes.push_back(e.timeNs);
                aValues.push_back(static_cast<uint64_t>(std::max<int64_t>(0, allocatedRunning)));
                pointBlocks.push_back(e.block);
            }
            // A pool holds at least what is allocated from it.
            rTimes.push_back(e.timeNs);
            rValues.push_back(static_cast<uint64_t>(std::max<int64_t>(0, nonPool + std::max(poolLive, poolReservedSum))));
        }
        allocatedOut.assign(std::move(aTimes), std::move(aValues));
        reservedOut.assign(std::move(rTimes), std::move(rValues));
    }

    void finish(TraceModel& out) {
        TraceModel& o = m;
        o.events = events;
        o.tensorEvents = tensorEvents;
        o.driverEvents = driverEvents;
        o.droppedEvents = dropped;
        o.firstNs = firstNs == UINT64_MAX ? 0 : firstNs;
        o.lastNs = lastNs;

        // Match allocations and frees in time order (stable: same-ns records keep file order).
        auto byTime = [](const RawMemory& a, const RawMemory& b) { return a.timeNs < b.timeNs; };
        for (auto* raw : {&rawTensor, &rawDriver})
            if (!std::is_sorted(raw->begin(), raw->end(), byTime)) std::stable_sort(raw->begin(), raw->end(), byTime);
        for (const auto& r : rawTensor) tensor(r);
        for (const auto& r : rawDriver) driver(r);
        std::vector<RawMemory>().swap(rawTensor);
        std::vector<RawMemory>().swap(rawDriver);

        // Driver level first: it is the reserved curve, or everything for a plain CUDA program.
        MemoryCurve driverAllocated, driverReserved;
        std::vector<uint32_t> driverPointBlocks;
        finishDriver(driverAllocated, driverPointBlocks, driverReserved);
        sortBlocks(driverBlocks, driverPointBlocks);
        const bool hasDriverDeviceMemory = !driverReserved.empty();

        MemoryCurve segments;
        finishDeltaCurve(segmentTimes, segmentDeltas, nullptr, segments);

        if (!tensorBlocks.allocNs.empty()) {
            o.allocationLevel = AllocationLevel::Tensor;
            finishDeltaCurve(tensorTimes, tensorDeltas, &tensorPointBlocks, o.allocated);
            sortBlocks(tensorBlocks, tensorPointBlocks);
            o.blocks = std::move(tensorBlocks);
            o.allocatedEventBlocks = std::move(tensorPointBlocks);
        } else if (!driverAllocated.empty()) {
            o.allocationLevel = AllocationLevel::Driver;
            o.allocated = std::move(driverAllocated);
            o.blocks = driverBlocks;
            o.allocatedEventBlocks = std::move(driverPointBlocks);
        }
        o.driverBlocks = std::move(driverBlocks);
        trim(o.blocks);
        o.reserved = hasDriverDeviceMemory ? std::move(driverReserved) : std::move(segments);
        trimVector(o.allocatedEventBlocks);

        auto& k = o.kernels;
        if (!k.queuedLeadNs.empty()) k.queuedLeadNs.resize(k.startNs.size(), 0);
        if (!std::is_sorted(k.startNs.begin(), k.startNs.end())) {
            const std::vector<uint32_t> order = sortOrder(k.startNs);
            if (!k.queuedLeadNs.empty()) permute(k.queuedLeadNs, order);
            permute(k.startNs, order);
            permute(k.durationNs, order);
            permute(k.nameId, order);
            permute(k.streamId, order);
            permute(k.deviceId, order);
        }
        for (CopyColumns* c : {&o.memcpys, &o.memsets}) {
            if (std::is_sorted(c->startNs.begin(), c->startNs.end())) continue;
            const std::vector<uint32_t> order = sortOrder(c->startNs);
            permute(c->startNs, order);
            permute(c->durationNs, order);
            permute(c->bytes, order);
            permute(c->streamId, order);
            permute(c->copyKind, order);
        }
        std::stable_sort(o.phases.begin(), o.phases.end(),
                         [](const Phase& a, const Phase& b) { return a.timestampNs < b.timestampNs; });
        addRegionRanges(o);
        for (auto& s : o.counters) {
            if (std::is_sorted(s.timesNs.begin(), s.timesNs.end())) continue;
            const std::vector<uint32_t> order = sortOrder(s.timesNs);
            permute(s.timesNs, order);
            permute(s.valuesMilli, order);
        }
        {
            if (!std::is_sorted(memInfoTimes.begin(), memInfoTimes.end())) {
                const std::vector<uint32_t> order = sortOrder(memInfoTimes);
                permute(memInfoTimes, order);
                permute(memInfoValues, order);
            }
            o.deviceUsed.assign(std::move(memInfoTimes), std::move(memInfoValues));
        }
        trimVector(k.startNs);
        trimVector(k.durationNs);
        trimVector(k.nameId);
        trimVector(k.streamId);
        trimVector(k.deviceId);
        trimVector(k.queuedLeadNs);
        o.buildIndexes();
        out = std::move(o);
    }
};

ModelBuilder::ModelBuilder() : s_(std::make_unique<State>()) {}
ModelBuilder::~ModelBuilder() = default;

void ModelBuilder::reserve(const uint64_t countsByType[256]) {
    auto& s = *s_;
    const size_t kernels = countsByType[static_cast<int>(RecordType::Kernel)];
    auto& k = s.m.kernels;
    k.startNs.reserve(kernels);
    k.durationNs.reserve(kernels);
    k.nameId.reserve(kernels);
    k.streamId.reserve(kernels);
    k.deviceId.reserve(kernels);
    // A PyTorch block is one alloc, one free_requested and one free_completed.
    const size_t tensor = countsByType[static_cast<int>(RecordType::TensorMemory)];
    s.rawTensor.reserve(tensor);
    s.rawDriver.reserve(countsByType[static_cast<int>(RecordType::DriverMemory)]);
    s.tensorTimes.reserve(tensor * 2 / 3 + 16);
    s.tensorDeltas.reserve(tensor * 2 / 3 + 16);
    s.tensorPointBlocks.reserve(tensor * 2 / 3 + 16);
    // Segment events are tensor records too but not blocks: 1% more is plenty
    // for PyTorch; finish() trims what other ratios leave over.
    const size_t blocks = tensor / 3 + tensor / 300 + 1024;
    auto& b = s.tensorBlocks;
    for (auto* v : {&b.allocNs, &b.freeNs, &b.bytes, &b.address}) v->reserve(blocks);
    b.callsiteId.reserve(blocks);
    b.memoryKind.reserve(blocks);
}

void ModelBuilder::add(const RecordLists& records, uint64_t events) {
    s_->events += events;
    s_->add(records);
}

void ModelBuilder::finish(TraceModel& out) {
    s_->finish(out);
    s_ = std::make_unique<State>();
}

void buildModel(const TraceContents& contents, TraceModel& out) {
    ModelBuilder builder;
    builder.reserve(contents.countsByType);
    builder.add(contents, contents.events);
    builder.finish(out);
    out.problems = contents.problems;
}

}  // namespace vramscope::model
