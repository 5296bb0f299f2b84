// .vtrace reader. Treats its input as hostile: every length is bounds
// checked, every allocation is capped, a cut-off or corrupted file yields the
// chunks that are intact plus a list of problems, never a crash or a hang.
#pragma once

#include "records.h"
#include "writer.h"  // ChunkIndexEntry

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace vramscope::format {

// One vector per record type (a type's records in file order).
struct RecordLists {
    std::tuple<std::vector<StringDef>, std::vector<ProcessInfo>, std::vector<DeviceInfo>,
               std::vector<DriverMemory>, std::vector<PoolReserved>, std::vector<TensorMemory>,
               std::vector<AllocFailure>, std::vector<Kernel>, std::vector<Memcpy>, std::vector<Memset>,
               std::vector<Range>, std::vector<Mark>, std::vector<Phase>, std::vector<CounterInfo>,
               std::vector<CounterSample>, std::vector<MemInfo>, std::vector<Note>, std::vector<Dropped>,
               std::vector<CallsiteDef>>
        lists;
    template <class R> std::vector<R>& get() { return std::get<std::vector<R>>(lists); }
    template <class R> const std::vector<R>& get() const { return std::get<std::vector<R>>(lists); }
    void clear();
};

struct DecodedChunk : RecordLists {
    uint64_t countsByType[256] = {};  // every record, known types and unknown
    uint64_t unknownRecords = 0;      // records of types this reader skipped
    uint64_t events = 0;
};

struct TraceProblem {
    enum class Kind {
        Truncated,
        CorruptChunk,
        CorruptHeader,
        MissingFooter,
        TrailingBytes,
        FooterMismatch,   // the footer disagrees with the chunks: its figures are ignored
        ImplausibleSize,  // records whose sizes no device holds, left out of the model (model/size_check.h)
    };
    Kind kind;
    uint64_t offset = 0;  // file offset where the problem starts (0 when it has no one place)
    std::string message;  // a sentence for the user
};

// The footer as written. Its figures are hints (fast `info`, sizing columns)
// that a crafted or damaged file can set to anything: TraceReader checks
// them against the chunk headers it scanned (matchesChunks) and, once
// decoded, against the records (footerCountsProblem).
struct FooterInfo {
    bool present = false;
    bool matchesChunks = false;  // set by TraceReader: see checkFooter()
    std::vector<ChunkIndexEntry> chunks;
    uint64_t countsByType[256] = {};
    uint64_t totalEvents = 0;
    uint64_t droppedEvents = 0;
    uint64_t firstNs = 0, lastNs = 0;
};

// ---- pieces the file reader and the live stream reader share ---------------
// (chunk_stream.h reads the same bytes as they arrive; both go through these,
// so a chunk decodes the same whichever way it came.)

struct ChunkHeader;  // codec.h

struct FileHeaderInfo {
    uint32_t major = 0, minor = 0;
    uint64_t createdUnixNs = 0;
};
// Checks the 32-byte file header at bytes[0, size). False with a sentence
// (starting with name) when it is too short, not a vramscope trace, damaged,
// or of another major version.
bool parseFileHeader(const uint8_t* bytes, size_t size, FileHeaderInfo& out, const std::string& name,
                     std::string* error);
// Loads the 40-byte chunk header at bytes: true when its magic and check
// match, its kind is known and its sizes are within the format's bounds
// (kMaxChunk*Bytes), i.e. when a reader may allocate for it.
bool loadChunkHeader(const uint8_t* bytes, ChunkHeader& out);
// Decodes the payload of an events chunk (the compressedBytes after its
// header): decompresses, checks the size and the record count. Safe from
// several threads at once. False with the reason (not naming the chunk).
bool decodeChunkPayload(const ChunkIndexEntry& chunk, const uint8_t* payload, DecodedChunk& out, std::string* why);
// Decodes a footer chunk's payload. False with the reason when it is damaged.
bool decodeFooter(const uint8_t* payload, uint32_t compressedBytes, uint32_t rawBytes, FooterInfo& out,
                  std::string* why);
// "1204113 (0x125f91)": how messages name an offset.
std::string offsetText(uint64_t offset);

// A file is never read into memory as a whole: the scan reads chunk headers
// and decodeChunk() reads one chunk's payload (pread), so a reader of a
// 4 GB trace holds its chunk index, not its bytes. pread rather than mmap:
// a file cut shorter while it is read (a recording overwritten) then gives
// a short read, reported as a damaged chunk, not a SIGBUS.
class TraceReader {
public:
    // Opens and scans a file. False (with a sentence in *error) only when the
    // file cannot be read at all, is not a vramscope trace, or has another
    // major version. A damaged trace opens and lists its problems(). The
    // file's size is taken at open: bytes a recording appends later are not read.
    bool open(const std::string& path, std::string* error);
    bool openMemory(std::vector<uint8_t> bytes, std::string* error, const std::string& name = "trace");

    uint32_t versionMajor() const { return major_; }
    uint32_t versionMinor() const { return minor_; }
    uint64_t createdUnixNs() const { return createdUnixNs_; }
    uint64_t fileBytes() const { return size_; }
    const std::string& name() const { return name_; }

    // The event chunks found by scanning the file (not trusting the footer).
    const std::vector<ChunkIndexEntry>& chunks() const { return chunks_; }
    const FooterInfo& footer() const { return footer_; }

    // Decodes one chunk. Safe to call from several threads at once.
    // On corruption (or a read error) returns false with a sentence naming
    // the chunk's offset.
    bool decodeChunk(size_t index, DecodedChunk& out, std::string* error) const;
    // Reads n bytes at offset into dst: false when fewer are there. Safe from
    // several threads at once.
    bool readAt(uint64_t offset, size_t n, uint8_t* dst) const;

    // How many records of `type` the footer says the file holds, to size
    // columns before decoding: 0 unless the footer matches the chunk headers,
    // and never more than the file's size in bytes (a record compresses to
    // about 3.5 bytes, docs/benchmarks.md; a lying footer then costs at most
    // a few times the file in reserved memory, never 2^64 records).
    uint64_t footerCountHint(RecordType type) const;

    // Truncated: the file ends inside a chunk or has no footer.
    bool truncated() const { return truncated_; }
    uint64_t bytesLost() const { return bytesLost_; }
    uint64_t eventsLost() const { return eventsLost_; }  // known lower bound
    const std::vector<TraceProblem>& problems() const { return problems_; }

private:
    bool scan(std::string* error);
    void readFooter(const uint8_t* payload, uint32_t compressedBytes, uint32_t rawBytes, uint64_t offset);
    void checkFooter();
    uint64_t footerOffset_ = 0;
    size_t resync(size_t from) const;
    bool start(std::string* error);

    std::string name_;
    std::vector<uint8_t> memory_;  // openMemory's bytes; empty for a file
    std::shared_ptr<const int> fd_;  // the open file (closed with the last reader copy)
    uint64_t size_ = 0;
    uint32_t major_ = 0, minor_ = 0;
    uint64_t createdUnixNs_ = 0;
    std::vector<ChunkIndexEntry> chunks_;
    FooterInfo footer_;
    bool truncated_ = false;
    uint64_t bytesLost_ = 0, eventsLost_ = 0;
    std::vector<TraceProblem> problems_;
};

// A whole trace decoded: all chunks' records concatenated in file order.
struct TraceContents : RecordLists {
    std::unordered_map<uint32_t, std::string> strings;
    uint64_t countsByType[256] = {};
    uint64_t unknownRecords = 0;
    uint64_t events = 0;
    uint64_t chunksDecoded = 0;
    uint64_t chunksDropped = 0;
    uint64_t droppedEvents = 0;  // sum of Dropped records: events capture lost
    std::vector<TraceProblem> problems;  // the reader's plus corrupt chunks

    // Text of a string id, or "" (0 or undefined, e.g. its chunk was lost).
    const std::string& text(uint32_t id) const;
};

struct LoadOptions {
    unsigned threads = 0;  // 0 = hardware concurrency
    // Called with (chunks done, chunks total) from the loading thread;
    // return false to cancel.
    std::function<bool(size_t, size_t)> progress;
};

// Once every chunk of `reader` decoded (none dropped) into records counted
// by type in decodedCounts: true with a FooterMismatch problem in *problem
// when the footer's counts per type say otherwise. A footer that already
// disagreed with the chunk headers was reported by the reader; false then.
bool footerCountsProblem(const TraceReader& reader, const uint64_t decodedCounts[256], TraceProblem* problem);

// Opens, decodes every chunk in parallel, and concatenates. False only when
// TraceReader::open fails or loading was cancelled.
bool loadTrace(const TraceReader& reader, TraceContents& out, const LoadOptions& options, std::string* error);

}  // namespace vramscope::format
