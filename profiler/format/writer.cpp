#include "writer.h"

#include "codec.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

namespace vramscope::format {

struct TraceWriter::DeltaStateHolder {
    DeltaState state;
};

TraceWriter::TraceWriter(WriterOptions options) : options_(options) {
    if (options_.chunkRawBytes < 4096) options_.chunkRawBytes = 4096;
    if (options_.chunkRawBytes > kMaxChunkRawBytes / 2) options_.chunkRawBytes = kMaxChunkRawBytes / 2;
    delta_ = new DeltaStateHolder;
    raw_.resize(options_.chunkRawBytes + 4096);
}

TraceWriter::~TraceWriter() {
    if (fd_ >= 0) close();
    if (cctx_) ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
    delete delta_;
}

bool TraceWriter::open(const std::string& path, std::string* error) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (error) *error = path + ": cannot create trace file: " + std::strerror(errno);
        return false;
    }
    return openFd(fd, error);
}

bool TraceWriter::openFd(int fd, std::string* error) {
    if (fd < 0) {
        if (error) *error = "invalid file descriptor";
        return false;
    }
    fd_ = fd;
    cctx_ = ZSTD_createCCtx();
    if (!cctx_) {
        if (error) *error = "zstd: cannot create a compression context";
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_compressionLevel, options_.compressionLevel);
    // The frame checksum is what lets a reader tell a corrupted chunk apart.
    ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(static_cast<ZSTD_CCtx*>(cctx_), ZSTD_c_contentSizeFlag, 1);
    writeHeader();
    if (failed() && error) *error = error_;
    return !failed();
}

void TraceWriter::writeHeader() {
    uint8_t h[kFileHeaderBytes] = {};
    std::memcpy(h, kFileMagic, 8);
    storeLe32(h + 8, kFormatVersionMajor);
    storeLe32(h + 12, kFormatVersionMinor);
    auto now = std::chrono::system_clock::now().time_since_epoch();
    uint64_t created = options_.createdUnixNs
                           ? options_.createdUnixNs
                           : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
    storeLe64(h + 16, created);
    storeLe32(h + 24, 0);  // flags, none defined in 1.0
    storeLe32(h + 28, fnv1a32(h, 28));
    writeAll(h, sizeof h);
}

bool TraceWriter::writeAll(const uint8_t* data, size_t n) {
    if (fd_ < 0 || failed()) return false;
    while (n > 0) {
        ssize_t w = ::write(fd_, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            error_ = std::string("writing the trace failed: ") + std::strerror(errno);
            return false;
        }
        data += w;
        n -= static_cast<size_t>(w);
        fileOffset_ += static_cast<uint64_t>(w);
    }
    return true;
}

uint8_t* TraceWriter::reserveRaw(size_t n) {
    if (rawSize_ + n > raw_.size()) raw_.resize((rawSize_ + n) * 2);
    return raw_.data() + rawSize_;
}

void TraceWriter::beginRecord(uint64_t timestampNs) {
    if (!chunkHasTime_) {
        chunkFirstNs_ = chunkLastNs_ = timestampNs;
        chunkHasTime_ = true;
    } else {
        if (timestampNs < chunkFirstNs_) chunkFirstNs_ = timestampNs;
        if (timestampNs > chunkLastNs_) chunkLastNs_ = timestampNs;
    }
}

template <class R> void TraceWriter::encode(const R& r, uint64_t timestampNs) {
    if (fd_ < 0 || failed()) return;
    constexpr auto type = RecordTypeOf<R>::value;
    // Encode in place after a one-byte length; the rare payload of 128 bytes
    // or more (at most kMaxFixedPayloadBytes) moves up one byte for a
    // two-byte length.
    static_assert(kMaxFixedPayloadBytes < (1 << 14));
    uint8_t* p = reserveRaw(3 + kMaxFixedPayloadBytes);
    p[0] = static_cast<uint8_t>(type);
    FieldEncoder enc(p + 2, delta_->state);
    visitFields(enc, const_cast<R&>(r));  // the encoder only reads
    delta_->state = enc.state();
    auto payloadBytes = static_cast<size_t>(enc.end() - (p + 2));
    uint8_t* end;
    if (payloadBytes < 128) {
        p[1] = static_cast<uint8_t>(payloadBytes);
        end = p + 2 + payloadBytes;
    } else {
        std::memmove(p + 3, p + 2, payloadBytes);
        p[1] = static_cast<uint8_t>(payloadBytes | 0x80);
        p[2] = static_cast<uint8_t>(payloadBytes >> 7);
        end = p + 3 + payloadBytes;
    }
    rawSize_ = static_cast<size_t>(end - raw_.data());
    if (timestampNs != UINT64_MAX) beginRecord(timestampNs);
    ++chunkEvents_;
    ++eventsWritten_;
    ++countsByType_[static_cast<uint8_t>(type)];
    if (rawSize_ >= options_.chunkRawBytes) flush();
}

uint32_t TraceWriter::intern(std::string_view text) {
    if (text.empty()) return 0;
    auto it = strings_.find(std::string(text));
    if (it != strings_.end()) return it->second;
    uint32_t id = nextStringId_++;
    strings_.emplace(std::string(text), id);
    // Cap a single string so one record never exceeds a chunk's bounds.
    size_t n = text.size() < 65536 ? text.size() : 65536;
    uint8_t* p = reserveRaw(1 + 10 + 10 + 10 + n);
    *p++ = static_cast<uint8_t>(RecordType::StringDef);
    uint8_t idBytes[10], lenBytes[10];
    size_t idLen = static_cast<size_t>(putVarint(idBytes, id) - idBytes);
    size_t lenLen = static_cast<size_t>(putVarint(lenBytes, n) - lenBytes);
    p = putVarint(p, idLen + lenLen + n);
    std::memcpy(p, idBytes, idLen); p += idLen;
    std::memcpy(p, lenBytes, lenLen); p += lenLen;
    std::memcpy(p, text.data(), n); p += n;
    rawSize_ = static_cast<size_t>(p - raw_.data());
    ++chunkEvents_;
    ++eventsWritten_;
    ++countsByType_[static_cast<uint8_t>(RecordType::StringDef)];
    return id;
}

void TraceWriter::write(const ProcessInfo& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const DeviceInfo& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const DriverMemory& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const PoolReserved& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const TensorMemory& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const AllocFailure& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const Kernel& r) { encode(r, r.startNs); }
void TraceWriter::write(const Memcpy& r) { encode(r, r.startNs); }
void TraceWriter::write(const Memset& r) { encode(r, r.startNs); }
void TraceWriter::write(const Range& r) { encode(r, r.startNs); }
void TraceWriter::write(const Mark& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const Phase& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const CounterInfo& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const CounterSample& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const MemInfo& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const Note& r) { encode(r, r.timestampNs); }
void TraceWriter::write(const Dropped& r) {
    droppedEvents_ += r.count;
    encode(r, r.timestampNs);
}
void TraceWriter::write(const CallsiteDef& r) { encode(r, UINT64_MAX); }

void TraceWriter::writeRaw(uint8_t type, const uint8_t* payload, uint32_t payloadBytes, uint64_t timestampNs) {
    if (fd_ < 0 || failed()) return;
    uint8_t* p = reserveRaw(1 + 10 + payloadBytes);
    *p++ = type;
    p = putVarint(p, payloadBytes);
    if (payloadBytes) std::memcpy(p, payload, payloadBytes);
    rawSize_ = static_cast<size_t>(p + payloadBytes - raw_.data());
    beginRecord(timestampNs);
    ++chunkEvents_;
    ++eventsWritten_;
    ++countsByType_[type];
}

bool TraceWriter::emitChunk(uint8_t kind) {
    auto* cctx = static_cast<ZSTD_CCtx*>(cctx_);
    compressed_.resize(kChunkHeaderBytes + ZSTD_compressBound(rawSize_));
    size_t n = ZSTD_compress2(cctx, compressed_.data() + kChunkHeaderBytes, compressed_.size() - kChunkHeaderBytes,
                              raw_.data(), rawSize_);
    if (ZSTD_isError(n)) {
        error_ = std::string("zstd compression failed: ") + ZSTD_getErrorName(n);
        return false;
    }
    ChunkHeader h;
    h.kind = static_cast<ChunkKind>(kind);
    h.compressedBytes = static_cast<uint32_t>(n);
    h.rawBytes = static_cast<uint32_t>(rawSize_);
    h.eventCount = kind == static_cast<uint8_t>(ChunkKind::Events) ? chunkEvents_ : 0;
    h.firstNs = chunkFirstNs_;
    h.lastNs = chunkLastNs_;
    h.store(compressed_.data());
    uint64_t offset = fileOffset_;
    if (!writeAll(compressed_.data(), kChunkHeaderBytes + n)) return false;
    if (kind == static_cast<uint8_t>(ChunkKind::Events))
        chunks_.push_back({offset, h.compressedBytes, h.rawBytes, h.eventCount, h.firstNs, h.lastNs});
    if (listener_) listener_(compressed_.data(), kChunkHeaderBytes + n);
    return true;
}

bool TraceWriter::flush() {
    if (fd_ < 0 || failed()) return false;
    if (chunkEvents_ == 0) return true;
    bool ok = emitChunk(static_cast<uint8_t>(ChunkKind::Events));
    rawSize_ = 0;
    delta_->state = DeltaState{};
    chunkEvents_ = 0;
    chunkHasTime_ = false;
    return ok;
}

bool TraceWriter::close() {
    if (fd_ < 0) return !failed();
    flush();
    if (!failed()) {
        // Footer: the chunk index, counts per record type, totals, time span.
        rawSize_ = 0;
        uint8_t* p = reserveRaw(64 + chunks_.size() * 70 + 256 * 20);
        p = putVarint(p, chunks_.size());
        uint64_t first = UINT64_MAX, last = 0;
        for (const auto& c : chunks_) {
            p = putVarint(p, c.offset);
            p = putVarint(p, c.compressedBytes);
            p = putVarint(p, c.rawBytes);
            p = putVarint(p, c.eventCount);
            p = putVarint(p, c.firstNs);
            p = putVarint(p, c.lastNs);
            if (c.eventCount) {
                first = std::min(first, c.firstNs);
                last = std::max(last, c.lastNs);
            }
        }
        uint32_t types = 0;
        for (int t = 0; t < 256; ++t) types += countsByType_[t] ? 1 : 0;
        p = putVarint(p, types);
        for (int t = 0; t < 256; ++t)
            if (countsByType_[t]) { p = putVarint(p, static_cast<uint64_t>(t)); p = putVarint(p, countsByType_[t]); }
        p = putVarint(p, eventsWritten_);
        p = putVarint(p, droppedEvents_);
        p = putVarint(p, first == UINT64_MAX ? 0 : first);
        p = putVarint(p, last);
        rawSize_ = static_cast<size_t>(p - raw_.data());
        chunkFirstNs_ = first == UINT64_MAX ? 0 : first;
        chunkLastNs_ = last;
        uint64_t footerOffset = fileOffset_;
        if (emitChunk(static_cast<uint8_t>(ChunkKind::Footer))) {
            uint8_t t[kTrailerBytes];
            storeLe64(t, footerOffset);
            storeLe32(t + 8, kTrailerMagic);
            storeLe32(t + 12, fnv1a32(t, 12));
            writeAll(t, sizeof t);
        }
        rawSize_ = 0;
    }
    if (::close(fd_) != 0 && !failed()) error_ = std::string("closing the trace failed: ") + std::strerror(errno);
    fd_ = -1;
    return !failed();
}

}  // namespace vramscope::format
