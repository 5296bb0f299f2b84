#include "categories.h"

#include "format/saturating.h"

#include <algorithm>
#include <bit>
#include <unordered_map>

namespace vramscope::analysis {

using model::kNeverNs;
using model::TraceModel;

const char* categoryName(Category category) {
    switch (category) {
    case Category::Weights: return "weights";
    case Category::OptimizerState: return "optimizer_state";
    case Category::Gradients: return "gradients";
    case Category::Activations: return "activations";
    case Category::Temporaries: return "temporaries";
    case Category::Leaked: return "leaked";
    case Category::Other: return "other";
    }
    return "?";
}

namespace {

uint8_t sizeClassOf(uint64_t bytes) { return bytes ? static_cast<uint8_t>(63 - std::countl_zero(bytes)) : 0; }

// Leak grouping key. The phase is left out on purpose: where a block lands
// relative to inferred phase boundaries (or host-side marker timing) varies
// from step to step, while its callsite and size do not.
uint64_t keyOf(uint32_t callsite, uint64_t size) {
    return (static_cast<uint64_t>(callsite) << 24) ^ (size * 0x9E3779B97F4A7C15ull);
}

struct GroupCount {
    int32_t lastIteration = -1;
    uint32_t iterations = 0;
};

// Blocks that existed at an attach, as PyTorch named them (the callsites
// format::kExisting*File): callsite id → category. Empty for other traces.
std::unordered_map<uint32_t, Category> existingBlockKinds(const TraceModel& m) {
    std::unordered_map<uint32_t, Category> kinds;
    for (const auto& [id, def] : m.callsites) {
        const std::string& file = m.text(def.fileId);
        if (file == format::kExistingParameterFile) kinds[id] = Category::Weights;
        else if (file == format::kExistingGradientFile) kinds[id] = Category::Gradients;
        else if (file == format::kExistingOptimizerStateFile) kinds[id] = Category::OptimizerState;
    }
    return kinds;
}

// Host blocks are few (pinned staging buffers): a sweep over their own
// allocs and frees.
void hostMemory(const TraceModel& m, Categorization& c) {
    const auto& b = m.blocks;
    std::vector<std::pair<uint64_t, int64_t>> events;  // time, +bytes / -bytes
    for (size_t i = 0; i < b.size(); ++i) {
        if (!isHostMemory(b.memoryKind[i])) continue;
        const auto bytes = static_cast<int64_t>(saturated(b.bytes[i]));
        events.emplace_back(b.allocNs[i], bytes);
        if (b.freeNs[i] != kNeverNs) events.emplace_back(b.freeNs[i], -bytes);
        if (b.liveAt(i, c.peakTimeNs)) c.hostBytesAtPeak = saturatingAdd(c.hostBytesAtPeak, b.bytes[i]);
    }
    std::sort(events.begin(), events.end());
    int64_t live = 0;
    for (const auto& [t, delta] : events) {
        live = saturatingAddSigned(live, delta);
        c.hostPeakBytes = std::max(c.hostPeakBytes, static_cast<uint64_t>(std::max<int64_t>(live, 0)));
    }
}

}  // namespace

bool isHostMemory(uint8_t memoryKind) {
    const auto kind = static_cast<format::MemoryKind>(memoryKind);
    return kind == format::MemoryKind::PinnedHost || kind == format::MemoryKind::Pageable;
}

const char* memoryKindText(uint8_t memoryKind) {
    switch (static_cast<format::MemoryKind>(memoryKind)) {
    case format::MemoryKind::Device: return "device";
    case format::MemoryKind::Pool: return "pool";
    case format::MemoryKind::Vmm: return "vmm";
    case format::MemoryKind::Managed: return "managed";
    case format::MemoryKind::PinnedHost: return "pinned_host";
    case format::MemoryKind::ModuleStatic: return "module_static";
    case format::MemoryKind::Pageable: return "pageable";
    default: return "unknown";
    }
}

BlockSignature signatureOf(const TraceModel& m, const Categorization& c, size_t block) {
    return {c.phase[block], m.blocks.callsiteId[block], sizeClassOf(m.blocks.bytes[block])};
}

Categorization categorize(const TraceModel& m, const IterationSet& set) {
    Categorization c;
    const auto& b = m.blocks;
    const size_t n = b.size();
    c.category.assign(n, Category::Other);
    c.iteration.assign(n, -1);
    c.phase.assign(n, -1);
    const auto& its = set.iterations;
    const uint64_t firstStart = its.empty() ? kNeverNs : its.front().span.startNs;
    // Kept from before the first step: weights, unless the trace was attached
    // and PyTorch said at the attach what its blocks were; then a block it did
    // not name (a cache, a batch, memory already leaking) is none of the
    // model's and counts as other.
    const std::unordered_map<uint32_t, Category> existingKinds = existingBlockKinds(m);
    // The iteration in which the first out-of-memory happened, -1 for none.
    int32_t oomIteration = -1;
    if (!m.allocFailures.empty()) {
        uint64_t first = kNeverNs;
        for (const format::AllocFailure& f : m.allocFailures) first = std::min(first, f.timestampNs);
        for (size_t k = 0; k < its.size(); ++k)
            if (its[k].span.startNs <= first && (first < its[k].span.endNs || k + 1 == its.size())) oomIteration = int32_t(k);
    }

    // Pass 1: place each block, classify those that die young, collect the kept ones.
    std::vector<uint32_t> kept;
    std::vector<int32_t> keptIteration;  // the iteration before it, for blocks between iterations
    size_t cursor = 0;  // blocks are in allocNs order, so the iteration only moves forward
    for (size_t i = 0; i < n; ++i) {
        const uint64_t t = b.allocNs[i], freeNs = b.freeNs[i];
        while (cursor < its.size() && its[cursor].span.endNs <= t) ++cursor;
        if (isHostMemory(b.memoryKind[i])) continue;  // not device memory: Other, in no leak
        const bool inside = cursor < its.size() && its[cursor].span.contains(t);
        const int32_t before = inside ? static_cast<int32_t>(cursor) : static_cast<int32_t>(cursor) - 1;
        if (t < firstStart) {
            if (freeNs < firstStart) {
                c.category[i] = Category::Other;
            } else if (existingKinds.empty()) {
                c.category[i] = Category::Weights;
            } else {
                const auto kind = existingKinds.find(b.callsiteId[i]);
                c.category[i] = kind == existingKinds.end() ? Category::Other : kind->second;
            }
            continue;
        }
        // Iteration starts this block outlives.
        const size_t nextStart = static_cast<size_t>(before + 1);
        const bool keptLong = freeNs == kNeverNs ||
                              (nextStart + 1 < its.size() && freeNs >= its[nextStart + 1].span.startNs);
        if (!inside) {
            if (keptLong) {
                kept.push_back(static_cast<uint32_t>(i));
                keptIteration.push_back(before);
            } else {
                c.category[i] = Category::Other;
            }
            continue;
        }
        const int phase = set.phaseAt(cursor, t);
        c.iteration[i] = static_cast<int32_t>(cursor);
        c.phase[i] = static_cast<int8_t>(phase);
        // The step that ran out of memory never finished: what it allocated
        // and still held cannot be called kept (weights, a leak); it is that
        // step's activations and temporaries, classed by phase below.
        if (keptLong && !(freeNs == kNeverNs && static_cast<int32_t>(cursor) == oomIteration)) {
            kept.push_back(static_cast<uint32_t>(i));
            keptIteration.push_back(before);
            continue;
        }
        const auto& it = its[cursor];
        const int freePhase = freeNs < it.span.endNs ? set.phaseAt(cursor, freeNs) : kPhaseCount;  // kPhaseCount: later
        Category cat = Category::Temporaries;
        switch (phase) {
        case static_cast<int>(PhaseName::Forward):
            cat = freePhase == phase ? Category::Temporaries : Category::Activations;
            break;
        case static_cast<int>(PhaseName::Backward):
            cat = freePhase == phase ? Category::Temporaries : Category::Gradients;
            break;
        case static_cast<int>(PhaseName::Optimizer): cat = Category::Temporaries; break;
        default:  // inside the step, outside phases (e.g. the input batch)
            cat = freePhase > phase && freePhase != -1 && freePhase != static_cast<int>(PhaseName::Forward)
                      ? Category::Activations
                      : Category::Temporaries;
            break;
        }
        c.category[i] = cat;
    }

    // Pass 2: kept blocks of one kind (callsite, exact size) allocated
    // in several iterations pile up: a leak. Then, past the first two
    // iterations (warm-up: optimizer state, lazily built buffers), the same by
    // size class, for leaks whose sizes vary.
    std::unordered_map<uint64_t, GroupCount> exact, bySizeClass;
    auto count = [](std::unordered_map<uint64_t, GroupCount>& groups, uint64_t key, int32_t iteration) {
        GroupCount& g = groups[key];
        if (g.lastIteration != iteration) {
            g.lastIteration = iteration;
            ++g.iterations;
        }
    };
    for (size_t k = 0; k < kept.size(); ++k) {
        const uint32_t i = kept[k];
        count(exact, keyOf(b.callsiteId[i], b.bytes[i]), keptIteration[k]);
        if (keptIteration[k] >= 2) count(bySizeClass, keyOf(b.callsiteId[i], sizeClassOf(b.bytes[i]) | 1ull << 40), keptIteration[k]);
    }
    // A kind of block that stopped piling up before the second half of the run
    // is warm-up (a caching allocator growing its segments over the first
    // steps), not a leak.
    const int32_t recentFrom = static_cast<int32_t>(its.empty() ? 0 : (its.size() - 1) / 2);
    auto leaking = [&](const GroupCount& g) { return g.iterations >= kLeakMinIterations && g.lastIteration >= recentFrom; };
    int32_t lastWarmup = -1;
    for (size_t k = 0; k < kept.size(); ++k) {
        const uint32_t i = kept[k];
        bool leaked = leaking(exact[keyOf(b.callsiteId[i], b.bytes[i])]);
        if (!leaked && keptIteration[k] >= 2)
            leaked = leaking(bySizeClass[keyOf(b.callsiteId[i], sizeClassOf(b.bytes[i]) | 1ull << 40)]);
        if (leaked) {
            c.category[i] = Category::Leaked;
            continue;
        }
        switch (c.phase[i]) {
        case static_cast<int8_t>(PhaseName::Optimizer): c.category[i] = Category::OptimizerState; break;
        case static_cast<int8_t>(PhaseName::Backward): c.category[i] = Category::Gradients; break;
        default: c.category[i] = Category::Weights; break;
        }
        lastWarmup = std::max(lastWarmup, keptIteration[k]);
    }
    c.warmupIterations = static_cast<uint32_t>(std::min<int64_t>(lastWarmup + 1, static_cast<int64_t>(its.size() / 2)));

    // Pass 3: replay the allocated curve per category: each one's peak, and the
    // split at the first moment the total peaks.
    const uint64_t peak = m.allocated.peak().bytes;
    std::array<uint64_t, kCategoryCount> running{};
    uint64_t total = 0;
    bool peakSeen = false;
    const auto& events = m.allocatedEventBlocks;
    const auto& times = m.allocated.timesNs();
    for (size_t e = 0; e < events.size(); ++e) {
        const uint32_t block = events[e] & ~TraceModel::kFreeBit;
        const auto cat = static_cast<size_t>(c.category[block]);
        // Saturating, like the replay that made the curve (memory_replay.cpp).
        if (events[e] & TraceModel::kFreeBit) {
            running[cat] = saturatingSub(running[cat], b.bytes[block]);
            total = saturatingSub(total, b.bytes[block]);
        } else {
            running[cat] = saturatingAdd(running[cat], b.bytes[block]);
            total = saturatingAdd(total, b.bytes[block]);
            c.peakBytes[cat] = std::max(c.peakBytes[cat], running[cat]);
            if (!peakSeen && total >= peak) {
                peakSeen = true;
                c.bytesAtPeak = running;
                c.peakTimeNs = times[e];
                c.peakBytesTotal = total;
            }
        }
    }
    hostMemory(m, c);
    return c;
}

CategoryCurves buildCategoryCurves(const TraceModel& m, const Categorization& c) {
    CategoryCurves out;
    std::array<uint64_t, kCategoryCount> running{};
    const auto& events = m.allocatedEventBlocks;
    const auto& times = m.allocated.timesNs();
    for (size_t e = 0; e < events.size(); ++e) {
        const uint32_t block = events[e] & ~TraceModel::kFreeBit;
        const auto cat = static_cast<size_t>(c.category[block]);
        if (events[e] & TraceModel::kFreeBit) running[cat] = saturatingSub(running[cat], m.blocks.bytes[block]);
        else running[cat] = saturatingAdd(running[cat], m.blocks.bytes[block]);
        out.curves[cat].append(times[e], running[cat]);
    }
    for (auto& curve : out.curves) curve.finish();
    return out;
}

std::array<uint64_t, kCategoryCount> CategoryCurves::maxIn(uint64_t t0, uint64_t t1) const {
    std::array<uint64_t, kCategoryCount> r{};
    for (size_t i = 0; i < r.size(); ++i) r[i] = curves[i].minMaxIn(t0, t1).maxBytes;
    return r;
}

std::array<uint64_t, kCategoryCount> CategoryCurves::at(uint64_t timeNs) const {
    std::array<uint64_t, kCategoryCount> r{};
    for (size_t i = 0; i < r.size(); ++i) r[i] = curves[i].valueAt(timeNs);
    return r;
}

}  // namespace vramscope::analysis
