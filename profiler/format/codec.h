// Varints and the per-chunk delta state that turn records into bytes and back.
// Internal to the format library (writer.cpp, reader.cpp, tests).
#pragma once

#include "record_fields.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace vramscope::format {

// ---- file layout (docs/trace-format.md "Layout") ---------------------------

inline constexpr char kFileMagic[8] = {'V', 'R', 'A', 'M', 'S', 'C', 'O', 'P'};
inline constexpr uint32_t kChunkMagic = 0x4B484356;    // "VCHK" little-endian
inline constexpr uint32_t kTrailerMagic = 0x444E4556;  // "VEND"
inline constexpr size_t kFileHeaderBytes = 32;
inline constexpr size_t kChunkHeaderBytes = 40;
inline constexpr size_t kTrailerBytes = 16;
// Upper bounds a reader enforces before allocating anything: a chunk larger
// than this is corrupt, not big.
inline constexpr uint32_t kMaxChunkRawBytes = 64u << 20;
inline constexpr uint32_t kMaxChunkCompressedBytes = 64u << 20;
// Records (or footer index entries) a chunk may pack per byte of its
// compressed payload. zstd can pack 64 MiB of 2-byte records into 6 KB, and a
// decoded record takes up to 80 bytes: without this bound a 24 KB file asked
// for 10 GB. Real traces pack 0.3 (synth) to 2.1 (counters, H200) records a
// byte (measured on tests/data); 256 leaves a hundredfold margin.
inline constexpr uint64_t kMaxRecordsPerCompressedByte = 256;

enum class ChunkKind : uint8_t { Events = 1, Footer = 2 };

// FNV-1a, 32 bit: guards the small fixed headers (zstd's own frame checksum
// guards chunk payloads).
inline uint32_t fnv1a32(const uint8_t* data, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 16777619u;
    return h;
}

inline void storeLe32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }  // x86-64/aarch64: LE
inline void storeLe64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint32_t loadLe32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t loadLe64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

struct ChunkHeader {
    ChunkKind kind = ChunkKind::Events;
    uint32_t compressedBytes = 0;
    uint32_t rawBytes = 0;
    uint32_t eventCount = 0;
    uint64_t firstNs = 0;
    uint64_t lastNs = 0;

    void store(uint8_t out[kChunkHeaderBytes]) const {
        std::memset(out, 0, kChunkHeaderBytes);
        storeLe32(out, kChunkMagic);
        out[4] = static_cast<uint8_t>(kind);
        storeLe32(out + 8, compressedBytes);
        storeLe32(out + 12, rawBytes);
        storeLe32(out + 16, eventCount);
        storeLe64(out + 20, firstNs);
        storeLe64(out + 28, lastNs);
        storeLe32(out + 36, fnv1a32(out, 36));
    }
    // False when the magic or the check does not match.
    bool load(const uint8_t* in) {
        if (loadLe32(in) != kChunkMagic || loadLe32(in + 36) != fnv1a32(in, 36)) return false;
        kind = static_cast<ChunkKind>(in[4]);
        compressedBytes = loadLe32(in + 8);
        rawBytes = loadLe32(in + 12);
        eventCount = loadLe32(in + 16);
        firstNs = loadLe64(in + 20);
        lastNs = loadLe64(in + 28);
        return true;
    }
};

// ---- varints ---------------------------------------------------------------

// The decode loop is the reader's hot path (tens of millions of fields per
// second): its small helpers must inline.
#define VRAMSCOPE_INLINE inline __attribute__((always_inline))

inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Writes v as LEB128 into p (at least 10 bytes free); returns the new end.
VRAMSCOPE_INLINE uint8_t* putVarint(uint8_t* p, uint64_t v) {
    while (v >= 0x80) { *p++ = static_cast<uint8_t>(v) | 0x80; v >>= 7; }
    *p++ = static_cast<uint8_t>(v);
    return p;
}

// Reads a LEB128 varint; false if it runs past end or is longer than 10 bytes.
VRAMSCOPE_INLINE bool getVarint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
    if (p < end && *p < 0x80) { v = *p++; return true; }  // the common one-byte case
    uint64_t result = 0;
    for (int shift = 0; shift < 70 && p < end; shift += 7) {
        uint8_t b = *p++;
        result |= static_cast<uint64_t>(b & 0x7F) << shift;
        if (b < 0x80) { v = result; return true; }
    }
    return false;
}

// Delta bases shared by the encoder and decoder; reset at every chunk start,
// which is what makes chunks independently decodable.
struct DeltaState {
    uint64_t lastTimestampNs = 0;
    uint64_t lastAddress = 0;
    uint32_t lastCorrelationId = 0;
};

// ---- encoder ---------------------------------------------------------------

// Bytes are stored through uint8_t*, which may alias anything: the encoder
// keeps its own copy of the delta state (and its cursor) so the compiler can
// hold them in registers, and hands the state back with finish().
class FieldEncoder {
public:
    FieldEncoder(uint8_t* out, const DeltaState& state) : p_(out), state_(state) {}
    uint8_t* end() const { return p_; }
    const DeltaState& state() const { return state_; }

    VRAMSCOPE_INLINE void timestamp(uint64_t& t) {
        p_ = putVarint(p_, zigzag(static_cast<int64_t>(t - state_.lastTimestampNs)));
        state_.lastTimestampNs = t;
    }
    VRAMSCOPE_INLINE void span(uint64_t& end, const uint64_t& start) { p_ = putVarint(p_, zigzag(static_cast<int64_t>(end - start))); }
    VRAMSCOPE_INLINE void address(uint64_t& a) {
        p_ = putVarint(p_, zigzag(static_cast<int64_t>(a - state_.lastAddress)));
        state_.lastAddress = a;
    }
    VRAMSCOPE_INLINE void delta32(uint32_t& v) {
        p_ = putVarint(p_, zigzag(static_cast<int64_t>(static_cast<int32_t>(v - state_.lastCorrelationId))));
        state_.lastCorrelationId = v;
    }
    VRAMSCOPE_INLINE void u64(uint64_t& v) { p_ = putVarint(p_, v); }
    VRAMSCOPE_INLINE void u32(uint32_t& v) { p_ = putVarint(p_, v); }
    VRAMSCOPE_INLINE void i32(int32_t& v) { p_ = putVarint(p_, zigzag(v)); }
    template <class E> VRAMSCOPE_INLINE void enumeration(E& e) { *p_++ = static_cast<uint8_t>(e); }
    void uuid(std::array<uint8_t, 16>& u) { std::memcpy(p_, u.data(), 16); p_ += 16; }
    // Strings are written by the caller (variable size); see TraceWriter.
    void text(std::string&) {}

private:
    uint8_t* p_;
    DeltaState state_;
};

// Largest payload of any fixed-size record (StringDef excluded): every field
// at its longest varint. Kernel: 17 fields × 10 bytes.
inline constexpr size_t kMaxFixedPayloadBytes = 192;

// ---- decoder ---------------------------------------------------------------

// Decodes fields from [p, end). A field past the end of the payload keeps its
// default (an older writer wrote fewer fields); a malformed varint sets ok=false.
class FieldDecoder {
public:
    FieldDecoder(const uint8_t* p, const uint8_t* end, DeltaState& state) : p_(p), end_(end), state_(state) {}
    bool ok() const { return ok_; }

    VRAMSCOPE_INLINE void timestamp(uint64_t& t) {
        uint64_t v;
        if (read(v)) { t = state_.lastTimestampNs + static_cast<uint64_t>(unzigzag(v)); state_.lastTimestampNs = t; }
    }
    VRAMSCOPE_INLINE void span(uint64_t& end, const uint64_t& start) {
        uint64_t v;
        end = start;
        if (read(v)) end = start + static_cast<uint64_t>(unzigzag(v));
    }
    VRAMSCOPE_INLINE void address(uint64_t& a) {
        uint64_t v;
        if (read(v)) { a = state_.lastAddress + static_cast<uint64_t>(unzigzag(v)); state_.lastAddress = a; }
    }
    VRAMSCOPE_INLINE void delta32(uint32_t& x) {
        uint64_t v;
        if (read(v)) { x = state_.lastCorrelationId + static_cast<uint32_t>(unzigzag(v)); state_.lastCorrelationId = x; }
    }
    VRAMSCOPE_INLINE void u64(uint64_t& x) { uint64_t v; if (read(v)) x = v; }
    VRAMSCOPE_INLINE void u32(uint32_t& x) { uint64_t v; if (read(v)) x = static_cast<uint32_t>(v); }
    VRAMSCOPE_INLINE void i32(int32_t& x) { uint64_t v; if (read(v)) x = static_cast<int32_t>(unzigzag(v)); }
    template <class E> VRAMSCOPE_INLINE void enumeration(E& e) { if (p_ < end_) e = static_cast<E>(*p_++); }
    void uuid(std::array<uint8_t, 16>& u) {
        if (end_ - p_ >= 16) { std::memcpy(u.data(), p_, 16); p_ += 16; }
        else p_ = end_;
    }
    void text(std::string& s) {
        uint64_t n;
        if (!read(n)) return;
        if (n > static_cast<uint64_t>(end_ - p_)) { ok_ = false; p_ = end_; return; }
        s.assign(reinterpret_cast<const char*>(p_), n);
        p_ += n;
    }

private:
    VRAMSCOPE_INLINE bool read(uint64_t& v) {
        if (__builtin_expect(p_ >= end_, 0)) return false;
        if (__builtin_expect(*p_ < 0x80, 1)) { v = *p_++; return true; }
        if (!getVarint(p_, end_, v)) { ok_ = false; p_ = end_; return false; }
        return true;
    }
    const uint8_t* p_;
    const uint8_t* end_;
    DeltaState& state_;
    bool ok_ = true;
};

}  // namespace vramscope::format
