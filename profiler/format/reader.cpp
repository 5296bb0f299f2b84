#include "reader.h"

#include "codec.h"
#include "input_file.h"
#include "saturating.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <zstd.h>

namespace vramscope::format {

namespace {

// Each decoding thread keeps one zstd context and one scratch buffer.
struct DecodeScratch {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    std::vector<uint8_t> raw;
    std::vector<uint8_t> compressed;  // a chunk's payload read from the file
    ~DecodeScratch() { ZSTD_freeDCtx(dctx); }
};
DecodeScratch& scratch() {
    thread_local DecodeScratch s;
    return s;
}

// Decompresses a chunk payload of exactly rawBytes; error names the problem.
bool decompress(const uint8_t* src, uint32_t compressedBytes, uint32_t rawBytes, std::vector<uint8_t>& out,
                std::string& why) {
    unsigned long long size = ZSTD_getFrameContentSize(src, compressedBytes);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != rawBytes) {
        why = "not a valid zstd frame of the recorded size";
        return false;
    }
    auto& s = scratch();
    if (!s.dctx) {
        why = "zstd: out of memory";
        return false;
    }
    out.resize(rawBytes);
    size_t n = ZSTD_decompressDCtx(s.dctx, out.data(), rawBytes, src, compressedBytes);
    if (ZSTD_isError(n)) {
        why = std::string("zstd: ") + ZSTD_getErrorName(n);
        return false;
    }
    if (n != rawBytes) {
        why = "decompressed size differs from the header";
        return false;
    }
    return true;
}

template <class R>
VRAMSCOPE_INLINE bool decodeOne(const uint8_t* p, const uint8_t* end, DeltaState& state, std::vector<R>& out) {
    R& r = out.emplace_back();
    FieldDecoder dec(p, end, state);
    visitFields(dec, r);
    if (dec.ok()) return true;
    out.pop_back();
    return false;
}

// Stops at maxEvents records (the chunk header's count): a chunk cannot make
// the reader hold more than its header announced.
bool decodeRecords(const uint8_t* p, const uint8_t* end, uint64_t maxEvents, DecodedChunk& out, std::string& why) {
    DeltaState state;
    // Counts stay in locals inside the loop: stores to out's vectors could
    // alias out's counters and force them through memory on every record.
    uint64_t counts[256] = {};
    uint64_t events = 0, unknown = 0;
    bool ok = true;
    while (p < end) {
        if (events == maxEvents) {
            why = "holds more than the " + std::to_string(maxEvents) + " events its header says";
            ok = false;
            break;
        }
        uint8_t type = *p++;
        uint64_t len;
        if (!getVarint(p, end, len) || len > static_cast<uint64_t>(end - p)) {
            why = "record " + std::to_string(events) + " has a length past the chunk's end";
            ok = false;
            break;
        }
        const uint8_t* recEnd = p + len;
        bool recordOk = true;
        switch (static_cast<RecordType>(type)) {
#define VRAMSCOPE_DECODE(R) \
    case RecordType::R: recordOk = decodeOne(p, recEnd, state, out.get<R>()); break;
            VRAMSCOPE_DECODE(StringDef)
            VRAMSCOPE_DECODE(ProcessInfo)
            VRAMSCOPE_DECODE(DeviceInfo)
            VRAMSCOPE_DECODE(DriverMemory)
            VRAMSCOPE_DECODE(PoolReserved)
            VRAMSCOPE_DECODE(TensorMemory)
            VRAMSCOPE_DECODE(AllocFailure)
            VRAMSCOPE_DECODE(Kernel)
            VRAMSCOPE_DECODE(Memcpy)
            VRAMSCOPE_DECODE(Memset)
            VRAMSCOPE_DECODE(Range)
            VRAMSCOPE_DECODE(Mark)
            VRAMSCOPE_DECODE(Phase)
            VRAMSCOPE_DECODE(CounterInfo)
            VRAMSCOPE_DECODE(CounterSample)
            VRAMSCOPE_DECODE(MemInfo)
            VRAMSCOPE_DECODE(Note)
            VRAMSCOPE_DECODE(Dropped)
            VRAMSCOPE_DECODE(CallsiteDef)
#undef VRAMSCOPE_DECODE
        default: ++unknown; break;  // a newer writer's type: skip it
        }
        if (!recordOk) {
            why = "record " + std::to_string(events) + " (type " + std::to_string(type) + ") is malformed";
            ok = false;
            break;
        }
        ++counts[type];
        ++events;
        p = recEnd;
    }
    for (int t = 0; t < 256; ++t) out.countsByType[t] += counts[t];
    out.events += events;
    out.unknownRecords += unknown;
    return ok;
}

template <class R> void appendAll(std::vector<R>& to, std::vector<R>& from) {
    if (to.empty()) {
        to = std::move(from);
        return;
    }
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

const char* recordTypeName(RecordType type) {
    switch (type) {
    case RecordType::StringDef: return "string";
    case RecordType::ProcessInfo: return "process";
    case RecordType::DeviceInfo: return "device";
    case RecordType::DriverMemory: return "driver_memory";
    case RecordType::PoolReserved: return "pool_reserved";
    case RecordType::TensorMemory: return "tensor_memory";
    case RecordType::AllocFailure: return "alloc_failure";
    case RecordType::Kernel: return "kernel";
    case RecordType::Memcpy: return "memcpy";
    case RecordType::Memset: return "memset";
    case RecordType::Range: return "range";
    case RecordType::Mark: return "mark";
    case RecordType::Phase: return "phase";
    case RecordType::CounterInfo: return "counter_info";
    case RecordType::CounterSample: return "counter_sample";
    case RecordType::MemInfo: return "mem_info";
    case RecordType::Note: return "note";
    case RecordType::Dropped: return "dropped";
    case RecordType::CallsiteDef: return "callsite";
    }
    return nullptr;
}

void RecordLists::clear() {
    std::apply([](auto&... v) { (v.clear(), ...); }, lists);
}

std::string offsetText(uint64_t offset) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%llu (0x%llx)", static_cast<unsigned long long>(offset),
                  static_cast<unsigned long long>(offset));
    return buf;
}

bool parseFileHeader(const uint8_t* h, size_t size, FileHeaderInfo& out, const std::string& name, std::string* error) {
    // Cut inside the header, but what is there is the start of one: say so,
    // rather than calling a trace cut after 20 bytes "not a trace".
    if (size < kFileHeaderBytes && (size == 0 || std::memcmp(h, kFileMagic, std::min(size, sizeof kFileMagic)) == 0)) {
        if (error)
            *error = name + (size == 0 ? ": the file is empty" : ": too short for a trace (" + std::to_string(size) + " bytes)") +
                     "; a trace starts with a " + std::to_string(kFileHeaderBytes) +
                     "-byte header: the recording was cut off before it began, or the copy is incomplete";
        return false;
    }
    if (size < kFileHeaderBytes || std::memcmp(h, kFileMagic, 8) != 0) {
        if (error) *error = name + ": not a vramscope trace (no VRAMSCOP header) nor a PyTorch memory snapshot; open .vtrace files from vramscope record or synth, or torch.cuda.memory._dump_snapshot() pickles";
        return false;
    }
    if (loadLe32(h + 28) != fnv1a32(h, 28)) {
        if (error) *error = name + ": the file header is damaged (checksum mismatch)";
        return false;
    }
    out.major = loadLe32(h + 8);
    out.minor = loadLe32(h + 12);
    out.createdUnixNs = loadLe64(h + 16);
    if (out.major != kFormatVersionMajor) {
        if (error)
            *error = name + ": trace format version " + std::to_string(out.major) + "." + std::to_string(out.minor) +
                     " is not supported by this vramscope (reads " + std::to_string(kFormatVersionMajor) +
                     ".x); open it with a vramscope of that version";
        return false;
    }
    return true;
}

bool loadChunkHeader(const uint8_t* bytes, ChunkHeader& h) {
    return h.load(bytes) && (h.kind == ChunkKind::Events || h.kind == ChunkKind::Footer) &&
           h.compressedBytes <= kMaxChunkCompressedBytes && h.rawBytes <= kMaxChunkRawBytes;
}

bool TraceReader::open(const std::string& path, std::string* error) {
    off_t size = 0;
    const int fd = openRegularFile(path, error, &size);  // a FIFO or device is refused, never waited on
    if (fd < 0) return false;
    memory_.clear();
    fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
        ::close(*p);
        delete p;
    });
    size_ = size > 0 ? static_cast<uint64_t>(size) : 0;
    name_ = path;
    return start(error);
}

bool TraceReader::openMemory(std::vector<uint8_t> bytes, std::string* error, const std::string& name) {
    name_ = name;
    memory_ = std::move(bytes);
    fd_.reset();
    size_ = memory_.size();
    return start(error);
}

bool TraceReader::readAt(uint64_t offset, size_t n, uint8_t* dst) const {
    if (offset > size_ || n > size_ - offset) return false;
    if (!fd_) {
        if (n) std::memcpy(dst, memory_.data() + offset, n);
        return true;
    }
    size_t got = 0;
    while (got < n) {
        const ssize_t r = ::pread(*fd_, dst + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;  // an error, or the file got shorter since it was opened
        got += static_cast<size_t>(r);
    }
    return true;
}

bool TraceReader::start(std::string* error) {
    chunks_.clear();
    footer_ = FooterInfo{};
    problems_.clear();
    truncated_ = false;
    bytesLost_ = eventsLost_ = 0;
    uint8_t head[kFileHeaderBytes] = {};
    const size_t headBytes = static_cast<size_t>(std::min<uint64_t>(size_, kFileHeaderBytes));
    if (!readAt(0, headBytes, head)) {
        if (error) *error = name_ + ": cannot be read";
        return false;
    }
    FileHeaderInfo header;
    if (!parseFileHeader(head, headBytes, header, name_, error)) return false;
    major_ = header.major;
    minor_ = header.minor;
    createdUnixNs_ = header.createdUnixNs;
    return scan(error);
}

// The next intact chunk header at or after `from`, read a window at a time.
size_t TraceReader::resync(size_t from) const {
    constexpr size_t kWindow = 1u << 20;
    std::vector<uint8_t> window;
    for (uint64_t base = from; base + kChunkHeaderBytes <= size_;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kWindow, size_ - base));
        window.resize(n);
        if (!readAt(base, n, window.data())) return static_cast<size_t>(size_);
        for (size_t i = 0; i + kChunkHeaderBytes <= n; ++i) {
            if (window[i] != 'V' || loadLe32(&window[i]) != kChunkMagic) continue;
            ChunkHeader h;
            if (h.load(&window[i])) return static_cast<size_t>(base + i);
        }
        if (n < kWindow) break;
        base += n - (kChunkHeaderBytes - 1);  // a header may straddle two windows
    }
    return static_cast<size_t>(size_);
}

bool TraceReader::scan(std::string*) {
    const size_t size = static_cast<size_t>(size_);
    uint8_t bytes[kChunkHeaderBytes];
    size_t pos = kFileHeaderBytes;
    bool afterFooter = false;  // a footer chunk was read, intact or not: the trailer may follow
    while (pos < size) {
        if (afterFooter) {
            // Only the 16-byte trailer belongs after the footer.
            if (size - pos >= kTrailerBytes && readAt(pos, kTrailerBytes, bytes) && loadLe32(&bytes[8]) == kTrailerMagic) {
                pos += kTrailerBytes;
                if (pos < size)
                    problems_.push_back({TraceProblem::Kind::TrailingBytes, pos,
                                         std::to_string(size - pos) + " bytes after the end of the trace were ignored"});
                break;
            }
            if (size - pos < kTrailerBytes) {
                // Cut inside the trailer: every event is intact.
                problems_.push_back({TraceProblem::Kind::TrailingBytes, pos, "the trace's last 16 bytes (trailer) are cut off; no events were lost"});
                break;
            }
        }
        if (size - pos < kChunkHeaderBytes) {
            truncated_ = true;
            bytesLost_ += size - pos;
            problems_.push_back({TraceProblem::Kind::Truncated, pos,
                                 "the file is cut off at byte " + std::to_string(size) + " inside a chunk header; " +
                                     std::to_string(size - pos) + " bytes lost"});
            break;
        }
        ChunkHeader h;
        if (!readAt(pos, kChunkHeaderBytes, bytes)) {
            // The file got shorter since it was opened: as if cut here.
            truncated_ = true;
            bytesLost_ += size - pos;
            problems_.push_back({TraceProblem::Kind::Truncated, pos,
                                 "the file could not be read from offset " + offsetText(pos) + " on; " +
                                     std::to_string(size - pos) + " bytes lost"});
            break;
        }
        if (!loadChunkHeader(bytes, h)) {
            size_t next = resync(pos + 1);
            problems_.push_back({TraceProblem::Kind::CorruptHeader, pos,
                                 "damaged chunk header at offset " + offsetText(pos) + "; skipped " +
                                     std::to_string(next - pos) + " bytes to the next intact chunk"});
            bytesLost_ += next - pos;
            pos = next;
            continue;
        }
        uint64_t end = pos + kChunkHeaderBytes + static_cast<uint64_t>(h.compressedBytes);
        if (end > size) {
            truncated_ = true;
            bytesLost_ += size - pos;
            eventsLost_ += h.eventCount;
            problems_.push_back({TraceProblem::Kind::Truncated, pos,
                                 "the file is cut off inside the chunk at offset " + offsetText(pos) + ": " +
                                     std::to_string(h.eventCount) + " events (" + std::to_string(size - pos) +
                                     " bytes) lost"});
            break;
        }
        if (h.kind == ChunkKind::Events) {
            chunks_.push_back({pos, h.compressedBytes, h.rawBytes, h.eventCount, h.firstNs, h.lastNs});
        } else {
            std::vector<uint8_t> payload(h.compressedBytes);  // ≤ 64 MiB: loadChunkHeader bounds it
            if (readAt(pos + kChunkHeaderBytes, payload.size(), payload.data()))
                readFooter(payload.data(), h.compressedBytes, h.rawBytes, pos);
            else
                problems_.push_back({TraceProblem::Kind::CorruptChunk, pos,
                                     "the footer at offset " + offsetText(pos) + " could not be read; ignoring it"});
            afterFooter = true;
        }
        pos = static_cast<size_t>(end);
    }
    if (footer_.present) checkFooter();
    if (!footer_.present) {
        truncated_ = true;
        // A footer that is there but damaged was reported as such: the
        // recording did finish, so "killed or still running" would mislead.
        if (!afterFooter)
            problems_.push_back({TraceProblem::Kind::MissingFooter, size,
                                 "the trace has no footer: the recording did not finish cleanly (killed or still running); "
                                 "showing what was written"});
    }
    return true;
}

bool decodeFooter(const uint8_t* payload, uint32_t compressedBytes, uint32_t rawBytes, FooterInfo& out,
                  std::string* why) {
    std::vector<uint8_t> raw;
    std::string reason;
    if (!decompress(payload, compressedBytes, rawBytes, raw, reason)) {
        if (why) *why = reason;
        return false;
    }
    FooterInfo f;
    const uint8_t* p = raw.data();
    const uint8_t* end = p + raw.size();
    uint64_t n = 0;
    // Each entry takes ≥ 6 raw bytes, and the raw bytes are bounded by the
    // compressed ones (kMaxRecordsPerCompressedByte): bounds the loop and
    // the index's memory.
    bool ok = getVarint(p, end, n) && n <= raw.size() / 6 && n <= uint64_t(compressedBytes) * kMaxRecordsPerCompressedByte;
    for (uint64_t i = 0; ok && i < n; ++i) {
        ChunkIndexEntry c;
        uint64_t v[6];
        for (auto& x : v) ok = ok && getVarint(p, end, x);
        c.offset = v[0];
        c.compressedBytes = static_cast<uint32_t>(v[1]);
        c.rawBytes = static_cast<uint32_t>(v[2]);
        c.eventCount = static_cast<uint32_t>(v[3]);
        c.firstNs = v[4];
        c.lastNs = v[5];
        if (ok) f.chunks.push_back(c);
    }
    uint64_t types = 0;
    ok = ok && getVarint(p, end, types) && types <= 256;
    for (uint64_t i = 0; ok && i < types; ++i) {
        uint64_t t = 0, count = 0;
        ok = getVarint(p, end, t) && getVarint(p, end, count) && t < 256;
        if (ok) f.countsByType[t] = count;
    }
    ok = ok && getVarint(p, end, f.totalEvents) && getVarint(p, end, f.droppedEvents) &&
         getVarint(p, end, f.firstNs) && getVarint(p, end, f.lastNs);
    if (!ok) {
        if (why) *why = "malformed";
        return false;
    }
    f.present = true;
    out = std::move(f);
    return true;
}

void TraceReader::readFooter(const uint8_t* payload, uint32_t compressedBytes, uint32_t rawBytes, uint64_t offset) {
    std::string why;
    footerOffset_ = offset;
    if (!decodeFooter(payload, compressedBytes, rawBytes, footer_, &why))
        problems_.push_back({TraceProblem::Kind::CorruptChunk, offset,
                             "the footer at offset " + offsetText(offset) + " is damaged (" + why + "); ignoring it"});
}

// The footer's figures against the chunk headers scanned: its counts per type
// must add up to its total (without wrapping: 2^64 − 1 + 6 is not 5), and,
// when the scan found every chunk intact, its index must list exactly those
// chunks and its total their events. (In a file with a damaged chunk header
// the footer lists more than the scan found; that damage is reported already.)
void TraceReader::checkFooter() {
    uint64_t typed = 0;
    bool overflow = false;
    for (uint64_t count : footer_.countsByType) overflow |= __builtin_add_overflow(typed, count, &typed);
    const bool scanIntact = std::none_of(problems_.begin(), problems_.end(), [](const TraceProblem& p) {
        return p.kind == TraceProblem::Kind::CorruptHeader || p.kind == TraceProblem::Kind::Truncated ||
               p.kind == TraceProblem::Kind::CorruptChunk;
    });
    uint64_t scannedEvents = 0;
    for (const auto& c : chunks_) scannedEvents += c.eventCount;  // < 2^32 per chunk, < 2^27 chunks in any file
    bool indexMatches = footer_.chunks.size() == chunks_.size();
    for (size_t i = 0; indexMatches && i < chunks_.size(); ++i) {
        const ChunkIndexEntry& f = footer_.chunks[i];
        const ChunkIndexEntry& c = chunks_[i];
        indexMatches = f.offset == c.offset && f.compressedBytes == c.compressedBytes && f.rawBytes == c.rawBytes &&
                       f.eventCount == c.eventCount;
    }
    std::string why;
    if (overflow || typed != footer_.totalEvents) {
        why = "its counts per record type add up to " + (overflow ? std::string("more than 2^64") : std::to_string(typed)) +
              ", not to its " + std::to_string(footer_.totalEvents) + " events";
    } else if (scanIntact && (!indexMatches || footer_.totalEvents != scannedEvents)) {
        why = "it lists " + std::to_string(footer_.totalEvents) + " events in " + std::to_string(footer_.chunks.size()) +
              " chunks, the file holds " + std::to_string(scannedEvents) + " in " + std::to_string(chunks_.size());
    }
    footer_.matchesChunks = why.empty() && scanIntact;
    if (!why.empty())
        problems_.push_back({TraceProblem::Kind::FooterMismatch, footerOffset_,
                             "the footer at offset " + offsetText(footerOffset_) + " does not match the chunks (" + why +
                                 "): the file was altered or damaged; its figures were ignored and the chunks read instead"});
}

uint64_t TraceReader::footerCountHint(RecordType type) const {
    if (!footer_.present || !footer_.matchesChunks) return 0;
    return std::min<uint64_t>(footer_.countsByType[static_cast<uint8_t>(type)], size_);
}

bool footerCountsProblem(const TraceReader& reader, const uint64_t decodedCounts[256], TraceProblem* problem) {
    const FooterInfo& f = reader.footer();
    if (!f.present || !f.matchesChunks) return false;
    for (int t = 0; t < 256; ++t) {
        if (f.countsByType[t] == decodedCounts[t]) continue;
        const char* name = recordTypeName(static_cast<RecordType>(t));
        const std::string type = name ? name : "type " + std::to_string(t);
        if (problem)
            *problem = {TraceProblem::Kind::FooterMismatch, 0,
                        "the footer says the file holds " + std::to_string(f.countsByType[t]) + " " + type +
                            " records, its chunks hold " + std::to_string(decodedCounts[t]) +
                            ": the file was altered or damaged; the chunks' records are shown"};
        return true;
    }
    return false;
}

bool decodeChunkPayload(const ChunkIndexEntry& c, const uint8_t* payload, DecodedChunk& out, std::string* why) {
    out.clear();
    std::fill(std::begin(out.countsByType), std::end(out.countsByType), 0);
    out.unknownRecords = out.events = 0;
    auto& raw = scratch().raw;
    std::string reason;
    bool ok = true;
    if (c.eventCount > uint64_t(c.compressedBytes) * kMaxRecordsPerCompressedByte) {
        ok = false;  // checked before decompressing: nothing is allocated for it
        reason = "its header says " + std::to_string(c.eventCount) + " events in " + std::to_string(c.compressedBytes) +
                 " compressed bytes, more than any trace packs (at most " + std::to_string(kMaxRecordsPerCompressedByte) +
                 " a byte): damaged, or made to exhaust memory";
    }
    if (ok) ok = decompress(payload, c.compressedBytes, c.rawBytes, raw, reason);
    if (ok) {
        ok = decodeRecords(raw.data(), raw.data() + c.rawBytes, c.eventCount, out, reason);
        if (ok && out.events != c.eventCount) {
            ok = false;
            reason = "holds " + std::to_string(out.events) + " events, its header says " + std::to_string(c.eventCount);
        }
    }
    if (!ok) {
        if (why) *why = reason;
        out.clear();
        out.events = 0;
    }
    return ok;
}

bool TraceReader::decodeChunk(size_t index, DecodedChunk& out, std::string* error) const {
    if (index >= chunks_.size()) {
        out.clear();
        out.events = 0;
        if (error) *error = "no chunk " + std::to_string(index);
        return false;
    }
    const ChunkIndexEntry& c = chunks_[index];
    std::string why;
    const uint8_t* payload = nullptr;
    if (!fd_) {
        payload = memory_.data() + c.offset + kChunkHeaderBytes;
    } else {
        std::vector<uint8_t>& buffer = scratch().compressed;
        buffer.resize(c.compressedBytes);
        if (readAt(c.offset + kChunkHeaderBytes, c.compressedBytes, buffer.data())) payload = buffer.data();
        else why = "it could not be read: the file changed or shrank since it was opened";
    }
    if (payload && decodeChunkPayload(c, payload, out, &why)) return true;
    if (!payload) {
        out.clear();
        out.events = 0;
    }
    if (error)
        *error = name_ + ": chunk " + std::to_string(index) + " at offset " + offsetText(c.offset) + " is corrupt (" +
                 why + "); its " + std::to_string(c.eventCount) + " events were skipped";
    return false;
}

const std::string& TraceContents::text(uint32_t id) const {
    static const std::string empty;
    auto it = strings.find(id);
    return it == strings.end() ? empty : it->second;
}

bool loadTrace(const TraceReader& reader, TraceContents& out, const LoadOptions& options, std::string* error) {
    const size_t n = reader.chunks().size();
    std::vector<DecodedChunk> decoded(n);
    std::vector<std::string> errors(n);
    std::vector<char> ok(n, 0);
    unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(n, 1)));
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> cancelled{false};
    auto work = [&] {
        for (size_t i; !cancelled && (i = next++) < n;) {
            ok[i] = reader.decodeChunk(i, decoded[i], &errors[i]);
            ++done;
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    if (options.progress) {
        // The calling thread decodes too, reporting between chunks.
        for (size_t i; !cancelled && (i = next++) < n;) {
            ok[i] = reader.decodeChunk(i, decoded[i], &errors[i]);
            ++done;
            if (!options.progress(done.load(), n)) cancelled = true;
        }
    } else {
        work();
    }
    for (auto& t : pool) t.join();
    if (cancelled) {
        if (error) *error = "loading was cancelled";
        return false;
    }
    if (options.progress) options.progress(n, n);

    out = TraceContents{};
    out.problems = reader.problems();
    // Reserve once, then move each chunk's lists in file order.
    forEachRecordType([&](auto tag) {
        using R = typename decltype(tag)::type;
        size_t total = 0;
        for (auto& d : decoded) total += d.template get<R>().size();
        out.template get<R>().reserve(total);
    });
    for (size_t i = 0; i < n; ++i) {
        if (!ok[i]) {
            ++out.chunksDropped;
            out.problems.push_back({TraceProblem::Kind::CorruptChunk, reader.chunks()[i].offset, errors[i]});
            continue;
        }
        ++out.chunksDecoded;
        auto& d = decoded[i];
        forEachRecordType([&](auto tag) {
            using R = typename decltype(tag)::type;
            appendAll(out.template get<R>(), d.template get<R>());
        });
        for (int t = 0; t < 256; ++t) out.countsByType[t] += d.countsByType[t];
        out.unknownRecords += d.unknownRecords;
        out.events += d.events;
        d = DecodedChunk{};  // free as we go: peak memory stays near one copy
    }
    auto& defs = out.get<StringDef>();
    out.strings.reserve(defs.size());
    for (auto& s : defs) out.strings[s.id] = s.text;
    for (auto& d : out.get<Dropped>()) out.droppedEvents = saturatingAdd(out.droppedEvents, d.count);
    TraceProblem footer;
    if (out.chunksDropped == 0 && footerCountsProblem(reader, out.countsByType, &footer)) out.problems.push_back(footer);
    return true;
}

}  // namespace vramscope::format
