// Streaming .vtrace writer: records in, independently decodable zstd chunks
// out, then a footer with the chunk index and per-type counts.
//
// Single-threaded by design: in the injector it runs on the writer thread
// only. It writes with write(2) to a file descriptor (no iostream), and on an
// I/O error (disk full) it stops writing and remembers why; whatever chunks
// were already written stay readable.
#pragma once

#include "records.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vramscope::format {

struct ChunkIndexEntry {
    uint64_t offset = 0;          // file offset of the chunk header
    uint32_t compressedBytes = 0;
    uint32_t rawBytes = 0;
    uint32_t eventCount = 0;
    uint64_t firstNs = 0;
    uint64_t lastNs = 0;
};

struct WriterOptions {
    // A chunk ends when its encoded records reach this size (or on flush()).
    // 1 MiB keeps decoding parallel and a cut-off file loses at most one chunk.
    uint32_t chunkRawBytes = 1u << 20;
    // zstd level. Measured on a synth trace: level 1 gave 3.50 bytes/event at
    // 25M events/s, level 3 3.81 bytes/event at 13M events/s (records are
    // small and repetitive; higher levels only cost time).
    int compressionLevel = 1;
    // Creation time written in the file header; 0 = now. Fixed by `synth` so
    // that the same seed gives byte-identical files.
    uint64_t createdUnixNs = 0;
};

class TraceWriter {
public:
    explicit TraceWriter(WriterOptions options = {});
    ~TraceWriter();  // closes (with footer) if still open
    TraceWriter(const TraceWriter&) = delete;
    TraceWriter& operator=(const TraceWriter&) = delete;

    // Creates/truncates path. False with *error set on failure.
    bool open(const std::string& path, std::string* error = nullptr);
    // Takes ownership of an already open descriptor.
    bool openFd(int fd, std::string* error = nullptr);
    bool isOpen() const { return fd_ >= 0; }

    // Returns the id of text, defining it (a StringDef record) on first use.
    // The empty string is id 0 and never defined.
    uint32_t intern(std::string_view text);

    void write(const ProcessInfo& r);
    void write(const DeviceInfo& r);
    void write(const DriverMemory& r);
    void write(const PoolReserved& r);
    void write(const TensorMemory& r);
    void write(const AllocFailure& r);
    void write(const Kernel& r);
    void write(const Memcpy& r);
    void write(const Memset& r);
    void write(const Range& r);
    void write(const Mark& r);
    void write(const Phase& r);
    void write(const CounterInfo& r);
    void write(const CounterSample& r);
    void write(const MemInfo& r);
    void write(const Note& r);
    void write(const Dropped& r);
    void write(const CallsiteDef& r);
    // A record of a type this writer does not know (tests of skipping).
    void writeRaw(uint8_t type, const uint8_t* payload, uint32_t payloadBytes, uint64_t timestampNs);

    // Ends the current chunk now (the injector calls this at least every 100 ms
    // so that a killed process loses little).
    bool flush();
    // Flushes, writes the footer and closes. False if any write failed.
    bool close();

    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    uint64_t eventsWritten() const { return eventsWritten_; }
    uint64_t bytesWritten() const { return fileOffset_; }
    uint64_t droppedEvents() const { return droppedEvents_; }
    const std::vector<ChunkIndexEntry>& chunks() const { return chunks_; }

    // Called with each complete chunk (header + payload) after it is written,
    // for a live viewer; the same bytes as in the file.
    void setChunkListener(std::function<void(const uint8_t*, size_t)> listener) { listener_ = std::move(listener); }

private:
    template <class R> void encode(const R& r, uint64_t timestampNs);
    void beginRecord(uint64_t timestampNs);
    uint8_t* reserveRaw(size_t n);  // room for n more bytes at rawSize_
    bool writeAll(const uint8_t* data, size_t n);
    bool emitChunk(uint8_t kind);
    void writeHeader();

    WriterOptions options_;
    int fd_ = -1;
    void* cctx_ = nullptr;  // ZSTD_CCtx
    std::vector<uint8_t> raw_;         // encoded records of the open chunk: [0, rawSize_)
    size_t rawSize_ = 0;
    std::vector<uint8_t> compressed_;  // scratch
    struct DeltaStateHolder;
    DeltaStateHolder* delta_ = nullptr;
    uint32_t chunkEvents_ = 0;
    uint64_t chunkFirstNs_ = 0, chunkLastNs_ = 0;
    bool chunkHasTime_ = false;
    uint64_t fileOffset_ = 0;
    uint64_t eventsWritten_ = 0;
    uint64_t droppedEvents_ = 0;
    uint64_t countsByType_[256] = {};
    std::vector<ChunkIndexEntry> chunks_;
    std::unordered_map<std::string, uint32_t> strings_;
    uint32_t nextStringId_ = 1;
    std::string error_;
    std::function<void(const uint8_t*, size_t)> listener_;
};

}  // namespace vramscope::format
