// A footer plan: how fuzz_footer turns its input bytes into a .vtrace whose
// footer says what the input wants, and how make_footer_seeds writes the
// crafted cases as inputs (and as the trace files they make). One header, so
// that a seed means to the fuzzer what the generator meant.
//
// The trace under the footer is always the same small, well-formed one
// (makeBaseTrace(): three event chunks, 16 records); only the plan varies. Read
// byte by byte from the front, a missing byte reads as 0, and 0 everywhere
// means "as the writer wrote it": the empty input is the intact trace, and
// each byte a mutation adds changes one thing.
#pragma once

#include "../format/hostile_trace.h"

#include "format/reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace vramscope::testing {

// A value for one footer field, relative to what the writer wrote (truth).
struct PlanValue {
    enum Kind : uint8_t { Truth, Plus, Minus, Zero, NearMax, Plus2To32, Raw, PowerOfTwo, Count };
    uint8_t kind = Truth;
    uint64_t raw = 0;
    uint64_t apply(uint64_t truth) const {
        switch (kind % Count) {
        case Plus: return truth + 1 + raw % 4;
        case Minus: return truth - 1 - raw % 4;  // wraps below 0 on purpose
        case Zero: return 0;
        case NearMax: return UINT64_MAX - raw % 4;
        case Plus2To32: return truth + (1ull << 32);  // equal to the truth once cut to 32 bits
        case Raw: return raw;
        case PowerOfTwo: return 1ull << (raw % 64);
        default: return truth;
        }
    }
};

// An edit of the footer's chunk index (six varints per entry, as in the spec).
struct IndexEdit {
    enum Op : uint8_t { Erase, SetField, Repeat, Clear, Append, Swap, Count };
    uint8_t op = Erase;
    uint8_t entry = 0;    // modulo the entries there are
    uint8_t field = 0;    // 0 offset, 1 compressed, 2 raw, 3 events, 4 firstNs, 5 lastNs
    // Repeat: copies of the entry appended (repeatCopies); thousands of them
    // (an index bomb) only from 0xf000 up, so that most mutations stay cheap.
    uint16_t repeat = 0;
    PlanValue value;
};

inline size_t repeatCopies(uint16_t repeat) { return repeat < 0xf000 ? repeat % 32 : (repeat - 0xf000 + 1) * 8u; }
inline uint16_t repeatFor(size_t copies) { return uint16_t(0xf000 + std::min<size_t>(copies / 8, 4096) - 1); }  // copies ≥ 8

// An edit of the footer's (type, count) list.
struct CountEdit {
    enum Op : uint8_t { Set, Remove, AppendRaw, SetAll, Count };
    uint8_t op = Set;
    uint16_t type = 0;  // Set/Remove: modulo 256; AppendRaw: as given (≥ 256 is malformed)
    PlanValue value;
};

struct FooterPlan {
    // Which event chunks the file body holds.
    enum Body : uint8_t { AllChunks, DropChunk, DuplicateChunk, SwapChunks, BodyCount };
    uint8_t body = AllChunks, bodyArg = 0;
    std::vector<IndexEdit> indexEdits;  // at most 15 each
    std::vector<CountEdit> countEdits;
    // The total: the writer's, what the counts as written add up to (mod 2^64), or a value.
    enum Total : uint8_t { TrueTotal, SumOfCounts, TotalValue, TotalCount };
    uint8_t totalMode = TrueTotal;
    PlanValue total, dropped, firstNs, lastNs;
    // Where the footer goes.
    enum Placement : uint8_t { AtEnd, BeforeChunk, TrueThenCrafted, CraftedThenTrue, PlacementCount };
    uint8_t placement = AtEnd, placementArg = 0;
    // The 16-byte trailer.
    enum Trailer : uint8_t { TrueTrailer, OffsetValue, BadCheck, NoTrailer, CutTrailer, BytesAfter, TrailerCount };
    uint8_t trailer = TrueTrailer;
    PlanValue trailerOffset;
    // The footer payload's bytes themselves.
    enum Payload : uint8_t { AsEncoded, Garbage, Cut, EntryCountPlus, PayloadCount };
    uint8_t payload = AsEncoded, payloadArg = 0;
    PlanValue footerHeaderEvents;  // the footer chunk header's event count (0 as written)
};

// ---- reading and writing a plan ---------------------------------------------

struct PlanReader {
    const uint8_t* data;
    size_t size, pos = 0;
    template <class T> T take() {
        T v{};
        if (pos < size) std::memcpy(&v, data + pos, std::min(sizeof v, size - pos));
        pos += sizeof v;
        return v;
    }
    PlanValue value() {
        PlanValue v;
        v.kind = take<uint8_t>();
        // Truth and Zero need no payload: fewer bytes for the fuzzer to carry.
        if (v.kind % PlanValue::Count != PlanValue::Truth && v.kind % PlanValue::Count != PlanValue::Zero)
            v.raw = take<uint64_t>();
        return v;
    }
};

struct PlanWriter {
    std::vector<uint8_t> out;
    template <class T> void put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        out.insert(out.end(), p, p + sizeof v);
    }
    void value(const PlanValue& v) {
        put(v.kind);
        if (v.kind % PlanValue::Count != PlanValue::Truth && v.kind % PlanValue::Count != PlanValue::Zero) put(v.raw);
    }
};

inline FooterPlan readPlan(const uint8_t* data, size_t size) {
    PlanReader in{data, size};
    FooterPlan p;
    p.body = in.take<uint8_t>();
    p.bodyArg = in.take<uint8_t>();
    for (unsigned n = in.take<uint8_t>() % 16; n--;) {
        IndexEdit e;
        e.op = in.take<uint8_t>();
        e.entry = in.take<uint8_t>();
        e.field = in.take<uint8_t>();
        e.repeat = in.take<uint16_t>();
        e.value = in.value();
        p.indexEdits.push_back(e);
    }
    for (unsigned n = in.take<uint8_t>() % 16; n--;) {
        CountEdit e;
        e.op = in.take<uint8_t>();
        e.type = in.take<uint16_t>();
        e.value = in.value();
        p.countEdits.push_back(e);
    }
    p.totalMode = in.take<uint8_t>();
    p.total = in.value();
    p.dropped = in.value();
    p.firstNs = in.value();
    p.lastNs = in.value();
    p.placement = in.take<uint8_t>();
    p.placementArg = in.take<uint8_t>();
    p.trailer = in.take<uint8_t>();
    p.trailerOffset = in.value();
    p.payload = in.take<uint8_t>();
    p.payloadArg = in.take<uint8_t>();
    p.footerHeaderEvents = in.value();
    return p;
}

inline std::vector<uint8_t> writePlan(const FooterPlan& p) {
    PlanWriter w;
    w.put(p.body);
    w.put(p.bodyArg);
    w.put(uint8_t(p.indexEdits.size()));
    for (const auto& e : p.indexEdits) {
        w.put(e.op);
        w.put(e.entry);
        w.put(e.field);
        w.put(e.repeat);
        w.value(e.value);
    }
    w.put(uint8_t(p.countEdits.size()));
    for (const auto& e : p.countEdits) {
        w.put(e.op);
        w.put(e.type);
        w.value(e.value);
    }
    w.put(p.totalMode);
    for (const PlanValue* v : {&p.total, &p.dropped, &p.firstNs, &p.lastNs}) w.value(*v);
    w.put(p.placement);
    w.put(p.placementArg);
    w.put(p.trailer);
    w.value(p.trailerOffset);
    w.put(p.payload);
    w.put(p.payloadArg);
    w.value(p.footerHeaderEvents);
    // Trailing zeros read the same as missing bytes: leave them off.
    while (!w.out.empty() && w.out.back() == 0) w.out.pop_back();
    return w.out;
}

// ---- the trace under the footer ---------------------------------------------

struct BaseTrace {
    std::vector<uint8_t> bytes;                 // as TraceWriter closed it
    std::vector<std::vector<uint8_t>> chunks;   // each event chunk, header and payload
    format::FooterInfo footer;                  // what the writer's footer says
};

// Three event chunks (process and device; two allocations and kernels; the
// rest, a Dropped record and a free), written once into a memfd.
inline BaseTrace makeBaseTrace() {
    using namespace vramscope::format;
    BaseTrace base;
    const int fd = memfd_create("vramscope-footer-base", 0);
    if (fd < 0) return base;
    const int keep = dup(fd);
    WriterOptions options;
    options.createdUnixNs = 1700000000000000000ull;  // the same bytes on every run
    {
        TraceWriter w(options);
        if (!w.openFd(fd)) return base;
        w.write(ProcessInfo{1000, 42, w.intern("host"), w.intern("python train.py"), -1, -1, 0});
        DeviceInfo d;
        d.timestampNs = 1000;
        d.nameId = w.intern("NVIDIA H100 80GB HBM3");
        d.totalMemoryBytes = 80ull << 30;
        d.smCount = 132;
        d.computeCapability = 90;
        w.write(d);
        w.flush();
        const uint32_t gemm = w.intern("gemm");
        uint64_t t = 2000;
        for (uint64_t i = 0; i < 4; ++i) {
            w.write(TensorMemory{t, TensorAction::Alloc, 0, 0x7f0000000000ull + (i << 24), (i + 1) << 20, 7, 0});
            w.write(Kernel{t + 10, t + 500, 0, 7, gemm});
            t += 1000;
            if (i == 1) w.flush();
        }
        w.write(Dropped{t, DropReason::BufferFull, 3});
        w.write(TensorMemory{t + 1000, TensorAction::FreeCompleted, 0, 0x7f0000000000ull, 1ull << 20, 7, 0});
        if (!w.close()) return base;
    }
    const off_t size = lseek(keep, 0, SEEK_END);
    base.bytes.resize(size > 0 ? size_t(size) : 0);
    if (pread(keep, base.bytes.data(), base.bytes.size(), 0) != ssize_t(base.bytes.size())) base.bytes.clear();
    close(keep);
    TraceReader reader;
    std::string error;
    if (!reader.openMemory(base.bytes, &error) || !reader.problems().empty()) {
        base.bytes.clear();
        return base;
    }
    base.footer = reader.footer();
    for (const auto& c : reader.chunks())
        base.chunks.emplace_back(base.bytes.begin() + ptrdiff_t(c.offset),
                                 base.bytes.begin() + ptrdiff_t(c.offset + format::kChunkHeaderBytes + c.compressedBytes));
    return base;
}

// ---- a plan made into a file -----------------------------------------------

inline constexpr size_t kMaxPlannedEntries = 1u << 15;

// The footer fields a plan says (before encoding).
inline FooterFields plannedFooter(const BaseTrace& base, const FooterPlan& plan) {
    using format::ChunkIndexEntry;
    FooterFields f;
    f.chunks = base.footer.chunks;
    for (const IndexEdit& e : plan.indexEdits) {
        auto& c = f.chunks;
        const size_t i = c.empty() ? 0 : e.entry % c.size();
        switch (e.op % IndexEdit::Count) {
        case IndexEdit::Erase:
            if (!c.empty()) c.erase(c.begin() + ptrdiff_t(i));
            break;
        case IndexEdit::SetField:
            if (!c.empty()) {
                // Sizes and counts are 32-bit in the index (the reader casts them too).
                ChunkIndexEntry& x = c[i];
                switch (e.field % 6) {
                case 0: x.offset = e.value.apply(x.offset); break;
                case 1: x.compressedBytes = uint32_t(e.value.apply(x.compressedBytes)); break;
                case 2: x.rawBytes = uint32_t(e.value.apply(x.rawBytes)); break;
                case 3: x.eventCount = uint32_t(e.value.apply(x.eventCount)); break;
                case 4: x.firstNs = e.value.apply(x.firstNs); break;
                default: x.lastNs = e.value.apply(x.lastNs); break;
                }
            }
            break;
        case IndexEdit::Repeat:
            // At most 2^15 entries in all: past kMaxRecordsPerCompressedByte
            // (about 20000 repeated entries are), and an execution stays
            // within a few milliseconds.
            if (!c.empty() && c.size() < kMaxPlannedEntries)
                c.insert(c.end(), std::min<size_t>(repeatCopies(e.repeat), kMaxPlannedEntries - c.size()), ChunkIndexEntry(c[i]));
            break;
        case IndexEdit::Clear: c.clear(); break;
        case IndexEdit::Append: {
            ChunkIndexEntry n;
            const uint64_t v = e.value.apply(0);
            n.offset = v;
            n.compressedBytes = n.rawBytes = n.eventCount = uint32_t(v);
            n.firstNs = n.lastNs = v;
            c.push_back(n);
            break;
        }
        default:
            if (c.size() > 1) std::swap(c[i], c[(i + 1) % c.size()]);
            break;
        }
    }
    for (int t = 0; t < 256; ++t)
        if (base.footer.countsByType[t]) f.counts.emplace_back(t, base.footer.countsByType[t]);
    for (const CountEdit& e : plan.countEdits) {
        auto& counts = f.counts;
        const uint64_t type = e.type % 256;
        auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == type; });
        switch (e.op % CountEdit::Count) {
        case CountEdit::Set:
            if (it != counts.end()) it->second = e.value.apply(it->second);
            else counts.emplace_back(type, e.value.apply(0));
            break;
        case CountEdit::Remove:
            if (it != counts.end()) counts.erase(it);
            break;
        case CountEdit::AppendRaw: counts.emplace_back(e.type, e.value.apply(0)); break;
        default:
            for (auto& c : counts) c.second = e.value.apply(c.second);
            break;
        }
    }
    switch (plan.totalMode % FooterPlan::TotalCount) {
    case FooterPlan::SumOfCounts: {
        uint64_t sum = 0;
        for (const auto& c : f.counts) sum += c.second;  // wraps, as a lying footer's may
        f.totalEvents = sum;
        break;
    }
    case FooterPlan::TotalValue: f.totalEvents = plan.total.apply(base.footer.totalEvents); break;
    default: f.totalEvents = base.footer.totalEvents; break;
    }
    f.droppedEvents = plan.dropped.apply(base.footer.droppedEvents);
    f.firstNs = plan.firstNs.apply(base.footer.firstNs);
    f.lastNs = plan.lastNs.apply(base.footer.lastNs);
    return f;
}

// footerPayload(f), into a buffer kept between calls: with an index bomb,
// zero-filling 60 fresh bytes an entry was a third of each execution.
inline std::vector<uint8_t> encodeFooter(const FooterFields& f) {
    static std::vector<uint8_t> scratch;
    scratch.resize(std::max(scratch.size(), 64 + (f.chunks.size() * 6 + f.counts.size() * 2) * 10));
    uint8_t* p = scratch.data();
    p = format::putVarint(p, f.chunks.size());
    for (const auto& c : f.chunks)
        for (uint64_t x : {c.offset, uint64_t(c.compressedBytes), uint64_t(c.rawBytes), uint64_t(c.eventCount), c.firstNs, c.lastNs})
            p = format::putVarint(p, x);
    p = format::putVarint(p, f.counts.size());
    for (const auto& [type, count] : f.counts) p = format::putVarint(format::putVarint(p, type), count);
    for (uint64_t x : {f.totalEvents, f.droppedEvents, f.firstNs, f.lastNs}) p = format::putVarint(p, x);
    return {scratch.data(), p};
}

inline std::vector<uint8_t> footerChunk(const FooterFields& f, const FooterPlan& plan) {
    std::vector<uint8_t> raw = encodeFooter(f);
    switch (plan.payload % FooterPlan::PayloadCount) {
    case FooterPlan::Garbage:
        for (unsigned i = 0; i <= plan.payloadArg % 32; ++i) raw.push_back(uint8_t(0x80 | (plan.payloadArg * 31 + i)));
        break;
    case FooterPlan::Cut: raw.resize(raw.size() - std::min<size_t>(raw.size(), 1 + plan.payloadArg % 16)); break;
    case FooterPlan::EntryCountPlus:
        // The entry count varint claims more entries than follow (re-encoded).
        {
            std::vector<uint8_t> head(10);
            const uint8_t* p = raw.data();
            uint64_t n = 0;
            if (format::getVarint(p, raw.data() + raw.size(), n)) {
                const uint8_t* end = format::putVarint(head.data(), n + 1 + plan.payloadArg);
                head.resize(size_t(end - head.data()));
                raw.erase(raw.begin(), raw.begin() + (p - raw.data()));
                raw.insert(raw.begin(), head.begin(), head.end());
            }
        }
        break;
    default: break;
    }
    return chunkBytes(format::ChunkKind::Footer, raw, uint32_t(plan.footerHeaderEvents.apply(0)));
}

// The whole file a plan makes from the base trace.
inline std::vector<uint8_t> plannedTrace(const BaseTrace& base, const FooterPlan& plan) {
    using namespace vramscope::format;
    std::vector<const std::vector<uint8_t>*> body;
    for (const auto& c : base.chunks) body.push_back(&c);
    const size_t k = body.empty() ? 0 : plan.bodyArg % body.size();
    switch (plan.body % FooterPlan::BodyCount) {
    case FooterPlan::DropChunk:
        if (!body.empty()) body.erase(body.begin() + ptrdiff_t(k));
        break;
    case FooterPlan::DuplicateChunk:
        if (!body.empty()) body.insert(body.begin() + ptrdiff_t(k), body[k]);
        break;
    case FooterPlan::SwapChunks:
        if (body.size() > 1) std::swap(body[k], body[(k + 1) % body.size()]);
        break;
    default: break;
    }
    const std::vector<uint8_t> crafted = footerChunk(plannedFooter(base, plan), plan);
    const uint64_t trueFooterAt = base.footer.chunks.empty()
                                      ? kFileHeaderBytes
                                      : base.footer.chunks.back().offset + kChunkHeaderBytes +
                                            base.footer.chunks.back().compressedBytes;
    const std::vector<uint8_t> trueFooter(base.bytes.begin() + ptrdiff_t(trueFooterAt), base.bytes.end() - kTrailerBytes);

    std::vector<uint8_t> out(base.bytes.begin(), base.bytes.begin() + kFileHeaderBytes);
    auto append = [&](const std::vector<uint8_t>& b) { out.insert(out.end(), b.begin(), b.end()); };
    uint64_t footerAt = 0;
    const size_t before = body.empty() ? 0 : plan.placementArg % (body.size() + 1);
    for (size_t i = 0; i < body.size(); ++i) {
        if (plan.placement % FooterPlan::PlacementCount == FooterPlan::BeforeChunk && i == before) {
            footerAt = out.size();
            append(crafted);
        }
        append(*body[i]);
    }
    switch (plan.placement % FooterPlan::PlacementCount) {
    case FooterPlan::BeforeChunk:
        if (before >= body.size()) {
            footerAt = out.size();
            append(crafted);
        }
        break;
    case FooterPlan::TrueThenCrafted:
        append(trueFooter);
        footerAt = out.size();
        append(crafted);
        break;
    case FooterPlan::CraftedThenTrue:
        footerAt = out.size();
        append(crafted);
        append(trueFooter);
        break;
    default:
        footerAt = out.size();
        append(crafted);
        break;
    }
    uint8_t t[kTrailerBytes];
    storeLe64(t, plan.trailer % FooterPlan::TrailerCount == FooterPlan::OffsetValue ? plan.trailerOffset.apply(footerAt)
                                                                                    : footerAt);
    storeLe32(t + 8, kTrailerMagic);
    storeLe32(t + 12, fnv1a32(t, 12));
    switch (plan.trailer % FooterPlan::TrailerCount) {
    case FooterPlan::BadCheck: t[12] ^= 1; break;
    case FooterPlan::NoTrailer: return out;
    case FooterPlan::CutTrailer: out.insert(out.end(), t, t + 1 + plan.placementArg % (kTrailerBytes - 1)); return out;
    default: break;
    }
    out.insert(out.end(), t, t + kTrailerBytes);
    if (plan.trailer % FooterPlan::TrailerCount == FooterPlan::BytesAfter) out.insert(out.end(), 1 + plan.payloadArg % 64, 0xee);
    return out;
}

}  // namespace vramscope::testing
