// Crafting hostile .vtrace files at run time: a small well-formed trace, then
// its footer replaced by one that says whatever the test wants (a record
// count of 2^64 − 1, chunks that are not there). The tests of hostile input
// and the fuzz seed generator share it, so no large crafted file is committed.
#pragma once

#include "format/codec.h"
#include "format/writer.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>
#include <zstd.h>

namespace vramscope::testing {

// What a footer says, field by field (docs/trace-format.md "Footer chunk").
struct FooterFields {
    std::vector<format::ChunkIndexEntry> chunks;
    std::vector<std::pair<uint64_t, uint64_t>> counts;  // (type, count), written as given
    uint64_t totalEvents = 0;
    uint64_t droppedEvents = 0;
    uint64_t firstNs = 0, lastNs = 0;
};

// The footer's raw payload: varints in the order of the spec.
inline std::vector<uint8_t> footerPayload(const FooterFields& f) {
    std::vector<uint8_t> out(16 + f.chunks.size() * 60 + f.counts.size() * 20 + 40);
    uint8_t* p = out.data();
    p = format::putVarint(p, f.chunks.size());
    for (const auto& c : f.chunks)
        for (uint64_t v : {c.offset, uint64_t(c.compressedBytes), uint64_t(c.rawBytes), uint64_t(c.eventCount),
                           c.firstNs, c.lastNs})
            p = format::putVarint(p, v);
    p = format::putVarint(p, f.counts.size());
    for (const auto& [type, count] : f.counts) p = format::putVarint(format::putVarint(p, type), count);
    for (uint64_t v : {f.totalEvents, f.droppedEvents, f.firstNs, f.lastNs}) p = format::putVarint(p, v);
    out.resize(static_cast<size_t>(p - out.data()));
    return out;
}

// One chunk (header + zstd frame of raw) of the given kind.
inline std::vector<uint8_t> chunkBytes(format::ChunkKind kind, const std::vector<uint8_t>& raw, uint32_t eventCount = 0) {
    std::vector<uint8_t> frame(ZSTD_compressBound(raw.size()));
    const size_t frameBytes = ZSTD_compress(frame.data(), frame.size(), raw.data(), raw.size(), 1);
    if (ZSTD_isError(frameBytes)) return {};
    frame.resize(frameBytes);
    format::ChunkHeader h;
    h.kind = kind;
    h.compressedBytes = static_cast<uint32_t>(frame.size());
    h.rawBytes = static_cast<uint32_t>(raw.size());
    h.eventCount = eventCount;
    uint8_t header[format::kChunkHeaderBytes];
    h.store(header);
    std::vector<uint8_t> out;
    out.reserve(sizeof header + frame.size());
    for (uint8_t b : header) out.push_back(b);
    for (uint8_t b : frame) out.push_back(b);
    return out;
}

// The trace `bytes` (as a TraceWriter closed it) with its footer chunk and
// trailer replaced by a footer that says `fields`.
inline std::vector<uint8_t> withFooter(std::vector<uint8_t> bytes, const FooterFields& fields) {
    const uint64_t footerOffset = format::loadLe64(bytes.data() + bytes.size() - format::kTrailerBytes);
    bytes.resize(footerOffset);
    const std::vector<uint8_t> footer = chunkBytes(format::ChunkKind::Footer, footerPayload(fields));
    bytes.insert(bytes.end(), footer.begin(), footer.end());
    uint8_t t[format::kTrailerBytes];
    format::storeLe64(t, footerOffset);
    format::storeLe32(t + 8, format::kTrailerMagic);
    format::storeLe32(t + 12, format::fnv1a32(t, 12));
    bytes.insert(bytes.end(), t, t + sizeof t);
    return bytes;
}

inline std::vector<uint8_t> readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool writeBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return bool(out);
}

// A tiny trace: one H100-sized device, a few tensor blocks (the last of
// `hugeBytes` when that is not 0) and kernels, closed with a true footer.
inline bool writeSmallTrace(const std::string& path, uint64_t hugeBytes = 0, uint64_t deviceBytes = 80ull << 30) {
    using namespace vramscope::format;
    TraceWriter w;
    if (!w.open(path)) return false;
    w.write(ProcessInfo{1000, 42, w.intern("host"), w.intern("python train.py"), -1, -1, 0});
    DeviceInfo d;
    d.timestampNs = 1000;
    d.nameId = w.intern("NVIDIA H100 80GB HBM3");
    d.totalMemoryBytes = deviceBytes;
    d.smCount = 132;
    d.computeCapability = 90;
    w.write(d);
    const uint32_t gemm = w.intern("gemm");
    uint64_t t = 2000;
    for (uint64_t i = 0; i < 4; ++i) {
        w.write(TensorMemory{t, TensorAction::Alloc, 0, 0x7f0000000000ull + (i << 24), (i + 1) << 20, 7, 0});
        w.write(Kernel{t + 10, t + 500, 0, 7, gemm});
        t += 1000;
    }
    if (hugeBytes) w.write(TensorMemory{t, TensorAction::Alloc, 0, 0x7f8000000000ull, hugeBytes, 7, 0});
    t += 1000;
    w.write(TensorMemory{t, TensorAction::FreeCompleted, 0, 0x7f0000000000ull, 1ull << 20, 7, 0});
    return w.close();
}

}  // namespace vramscope::testing
