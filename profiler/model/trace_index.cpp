#include "trace_index.h"

#include "memory_replay.h"
#include "record_collector.h"

#include "format/chunk_pipeline.h"
#include "format/codec.h"
#include "format/input_file.h"
#include "format/saturating.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

namespace vramscope::model {

using namespace vramscope::format;

uint32_t TraceIndex::bucketOf(uint64_t timeNs) const {
    if (buckets == 0 || timeNs <= startNs) return 0;
    const uint64_t b = (timeNs - startNs) / bucketNs;
    return b >= buckets ? buckets - 1 : static_cast<uint32_t>(b);
}

size_t TraceIndex::memoryBytes() const {
    size_t bytes = sizeof *this;
    for (const IndexCurve* c : {&allocated, &reserved, &deviceUsed})
        bytes += (c->minBytes.capacity() + c->maxBytes.capacity()) * sizeof(uint64_t);
    bytes += kernelCount.capacity() * sizeof(uint32_t) + kernelBusyNs.capacity() * sizeof(uint64_t);
    return bytes + stepStartsNs.capacity() * sizeof(uint64_t);
}

namespace {

// ---- building ------------------------------------------------------------------

// A curve's points, arriving in time order batch after batch, folded into the
// grid's buckets with MemoryCurve::minMaxIn's meaning: a bucket's min and max
// include the value carried in from before it unless a point sits exactly at
// its start; a bucket without points holds the carried value.
class CurveFold {
public:
    explicit CurveFold(const TraceIndex& grid)
        : grid_(grid), min_(grid.buckets, 0), max_(grid.buckets, 0), last_(grid.buckets, 0), touched_(grid.buckets, 0) {}

    void add(const MemoryCurve& points) {
        const auto& times = points.timesNs();
        const auto& values = points.values();
        for (size_t i = 0; i < times.size(); ++i) add(times[i], values[i]);
    }
    void add(uint64_t t, uint64_t v) {
        present_ = true;
        if (v > peak_.bytes) peak_ = {t, v};
        const uint32_t b = grid_.bucketOf(t);
        if (!touched_[b]) {
            touched_[b] = 1;
            // The value carried in counts unless this first point sits at the bucket's start.
            min_[b] = max_[b] = t == grid_.bucketStartNs(b) ? v : value_;
            min_[b] = std::min(min_[b], v);
            max_[b] = std::max(max_[b], v);
        } else {
            min_[b] = std::min(min_[b], v);
            max_[b] = std::max(max_[b], v);
        }
        last_[b] = v;
        value_ = v;
    }
    // The buckets without points take the value carried into them.
    IndexCurve finish() {
        IndexCurve c;
        uint64_t carried = 0;
        for (uint32_t b = 0; b < grid_.buckets; ++b) {
            if (touched_[b]) {
                carried = last_[b];
            } else {
                min_[b] = max_[b] = carried;
            }
        }
        c.minBytes = std::move(min_);
        c.maxBytes = std::move(max_);
        c.peak = peak_;
        c.present = present_;
        return c;
    }

private:
    const TraceIndex& grid_;
    std::vector<uint64_t> min_, max_, last_;
    std::vector<uint8_t> touched_;
    uint64_t value_ = 0;  // the curve's value after the last point
    MemoryCurve::Point peak_;
    bool present_ = false;
};

// Records from chunks still to come have timestamps at or after their
// chunk's firstNs, so once chunk i is in, every pending record earlier than
// the smallest firstNs of the chunks after i is final: it is replayed in time
// order, the same order a whole-file sort gives (ties keep file order). A
// file whose headers understate a chunk's first time (damaged, crafted) could
// hold records back forever: past kMaxPending they are replayed anyway.
constexpr size_t kMaxPending = size_t(1) << 24;

template <class Less>
size_t takeReady(std::vector<RawMemory>& pending, uint64_t watermark, bool all, Less less) {
    auto ready = all ? pending.end()
                     : std::stable_partition(pending.begin(), pending.end(),
                                             [&](const RawMemory& r) { return r.timeNs < watermark; });
    if (!std::is_sorted(pending.begin(), ready, less)) std::stable_sort(pending.begin(), ready, less);
    return static_cast<size_t>(ready - pending.begin());
}

struct IndexBuilder {
    TraceIndex& out;
    RecordCollector c;
    std::vector<uint64_t> watermarks;  // watermarks[i]: smallest firstNs of the chunks after i

    std::vector<RawMemory> tensorPending, driverPending, memInfoPending;

    // The replays' outputs, emptied after every batch (dropClosed).
    BlockColumns tensorBlocks, driverBlocks;
    MemoryCurve tensorAllocated, segments, driverAllocated, driverReserved;
    std::vector<uint32_t> tensorPointBlocks, driverPointBlocks;
    TensorReplay tensor{{&tensorBlocks, &tensorAllocated, &tensorPointBlocks, &segments, nullptr}};
    DriverReplay driver{{&driverBlocks, &driverAllocated, &driverPointBlocks, &driverReserved, nullptr}};
    CurveFold tensorFold, segmentFold, driverFold, reservedFold, usedFold;
    bool tensorBlocksSeen = false;
    uint64_t firstNs = UINT64_MAX, lastNs = 0;

    explicit IndexBuilder(TraceIndex& index)
        : out(index), tensorFold(index), segmentFold(index), driverFold(index), reservedFold(index), usedFold(index) {}

    void add(const DecodedChunk& chunk, uint64_t watermark, bool last) {
        c.add(chunk);
        out.events += chunk.events;
        out.tensorEvents += c.tensorEvents;
        out.driverEvents += c.driverEvents;
        out.droppedEvents = saturatingAdd(out.droppedEvents, c.droppedEvents);
        if (c.firstNs != UINT64_MAX) firstNs = std::min(firstNs, c.firstNs);
        lastNs = std::max(lastNs, c.lastNs);

        const KernelColumns& k = c.m.kernels;
        for (size_t i = 0; i < k.size(); ++i) {
            const uint32_t b = out.bucketOf(k.startNs[i]);
            ++out.kernelCount[b];
            out.kernelBusyNs[b] += k.durationNs[i];
        }
        out.kernels += k.size();
        for (const Phase& p : c.m.phases)
            if (p.kind == PhaseKind::StepBegin) out.stepStartsNs.push_back(p.timestampNs);

        tensorPending.insert(tensorPending.end(), c.tensor.begin(), c.tensor.end());
        driverPending.insert(driverPending.end(), c.pool.begin(), c.pool.end());
        driverPending.insert(driverPending.end(), c.driver.begin(), c.driver.end());
        for (size_t i = 0; i < c.memInfoTimes.size(); ++i) {
            RawMemory r;
            r.timeNs = c.memInfoTimes[i];
            r.bytes = c.memInfoValues[i];
            memInfoPending.push_back(r);
        }
        c.clearRows();
        replayReady(watermark, last);
    }

    void replayReady(uint64_t watermark, bool all) {
        const size_t pending = tensorPending.size() + driverPending.size() + memInfoPending.size();
        if (!all && pending > kMaxPending) {
            ++out.reorderOverflows;
            all = true;
        }
        auto byTime = [](const RawMemory& a, const RawMemory& b) { return a.timeNs < b.timeNs; };

        size_t n = takeReady(tensorPending, watermark, all, byTime);
        if (n) {
            tensor.replay(tensorPending.data(), tensorPending.data() + n);
            tensorBlocksSeen |= !tensorBlocks.allocNs.empty();
            tensorFold.add(tensorAllocated);
            segmentFold.add(segments);
            tensor.dropClosed();
            tensorPending.erase(tensorPending.begin(), tensorPending.begin() + static_cast<ptrdiff_t>(n));
        }
        n = takeReady(driverPending, watermark, all, driverReplayBefore);
        if (n) {
            driver.replay(driverPending.data(), driverPending.data() + n);
            driverFold.add(driverAllocated);
            reservedFold.add(driverReserved);
            driver.dropClosed();
            driverPending.erase(driverPending.begin(), driverPending.begin() + static_cast<ptrdiff_t>(n));
        }
        n = takeReady(memInfoPending, watermark, all, byTime);
        for (size_t i = 0; i < n; ++i) usedFold.add(memInfoPending[i].timeNs, memInfoPending[i].bytes);
        memInfoPending.erase(memInfoPending.begin(), memInfoPending.begin() + static_cast<ptrdiff_t>(n));
    }

    void finish() {
        out.firstNs = firstNs == UINT64_MAX ? 0 : firstNs;
        out.lastNs = lastNs;
        IndexCurve tensorCurve = tensorFold.finish(), segmentCurve = segmentFold.finish();
        IndexCurve driverCurve = driverFold.finish(), reservedCurve = reservedFold.finish();
        // The same choices as ModelBuilder: tensor blocks when the trace has
        // any, else driver allocations; the driver's reserved memory when
        // there is any, else the framework's segments.
        if (tensorBlocksSeen) {
            out.allocationLevel = AllocationLevel::Tensor;
            out.allocated = std::move(tensorCurve);
        } else if (driverCurve.present) {
            out.allocationLevel = AllocationLevel::Driver;
            out.allocated = std::move(driverCurve);
        } else {
            out.allocated = IndexCurve{};
            out.allocated.minBytes.assign(out.buckets, 0);
            out.allocated.maxBytes.assign(out.buckets, 0);
        }
        out.reserved = reservedCurve.present ? std::move(reservedCurve) : std::move(segmentCurve);
        out.deviceUsed = usedFold.finish();
        std::stable_sort(out.stepStartsNs.begin(), out.stepStartsNs.end());
    }
};

}  // namespace

bool buildTraceIndex(const TraceReader& reader, TraceIndex& out, const IndexOptions& options, std::string* error) {
    out = TraceIndex{};
    const std::vector<ChunkIndexEntry>& chunks = reader.chunks();
    const uint32_t buckets = std::clamp<uint32_t>(options.buckets, 1, TraceIndex::kMaxBuckets);
    uint64_t start = UINT64_MAX, end = 0;
    for (const ChunkIndexEntry& ch : chunks) {
        start = std::min(start, ch.firstNs);
        end = std::max(end, ch.lastNs);
    }
    if (chunks.empty()) start = end = 0;
    if (end < start) end = start;
    const uint64_t span = saturatingAdd(end - start, 1);
    out.startNs = start;
    out.buckets = buckets;
    out.bucketNs = std::max<uint64_t>(1, span / buckets + (span % buckets != 0));
    out.kernelCount.assign(buckets, 0);
    out.kernelBusyNs.assign(buckets, 0);
    out.chunks = chunks.size();

    IndexBuilder builder(out);
    builder.watermarks.assign(chunks.size(), UINT64_MAX);
    for (size_t i = chunks.size(); i-- > 1;)
        builder.watermarks[i - 1] = std::min(builder.watermarks[i], chunks[i].firstNs);

    const size_t n = chunks.size();
    const bool finished =
        decodeChunksInOrder(reader, options.threads, [&](size_t i, const DecodedChunk& chunk, bool ok, const std::string&) {
            if (ok) builder.add(chunk, builder.watermarks[i], i + 1 == n);
            else ++out.chunksDropped;
            return !options.progress || options.progress(i + 1, n);
        });
    if (!finished) {
        if (error) *error = reader.name() + ": indexing was cancelled";
        out = TraceIndex{};
        return false;
    }
    builder.replayReady(UINT64_MAX, true);
    builder.finish();
    return true;
}

// ---- the cache file ----------------------------------------------------------------
//
//   "VIDX" | u32 version | u64 trace identity | u64 compressed bytes | u64 raw bytes
//   | zstd frame of varints (see encode())

namespace {

constexpr uint32_t kIndexVersion = 1;
constexpr size_t kIndexHeaderBytes = 32;
constexpr uint64_t kMaxIndexRawBytes = uint64_t(256) << 20;
constexpr uint64_t kMaxIndexSteps = uint64_t(64) << 20;

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

// Which state of the trace file an index belongs to.
bool traceIdentity(const std::string& tracePath, uint64_t* identity) {
    struct stat st {};
    if (::stat(tracePath.c_str(), &st) != 0) return false;
    const uint64_t fields[] = {uint64_t(st.st_size), uint64_t(st.st_mtim.tv_sec), uint64_t(st.st_mtim.tv_nsec),
                               uint64_t(st.st_ino), uint64_t(st.st_dev)};
    *identity = fnv1a64(fields, sizeof fields);
    return true;
}

class Encoder {
public:
    void u(uint64_t v) {
        uint8_t tmp[10];
        bytes.insert(bytes.end(), tmp, putVarint(tmp, v));
    }
    void curve(const IndexCurve& c) {
        u(c.present);
        u(c.peak.timeNs);
        u(c.peak.bytes);
        uint64_t previous = 0;  // deltas: neighbouring buckets are close
        for (size_t b = 0; b < c.minBytes.size(); ++b) {
            u(zigzag(static_cast<int64_t>(c.minBytes[b] - previous)));
            u(c.maxBytes[b] - c.minBytes[b]);
            previous = c.minBytes[b];
        }
    }
    std::vector<uint8_t> bytes;
};

class Decoder {
public:
    Decoder(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}
    bool u(uint64_t& v) { return ok_ = ok_ && getVarint(p_, end_, v); }
    bool curve(IndexCurve& c, uint32_t buckets) {
        uint64_t present = 0;
        if (!u(present) || !u(c.peak.timeNs) || !u(c.peak.bytes)) return false;
        c.present = present != 0;
        c.minBytes.resize(buckets);
        c.maxBytes.resize(buckets);
        uint64_t previous = 0;
        for (uint32_t b = 0; b < buckets; ++b) {
            uint64_t delta = 0, range = 0;
            if (!u(delta) || !u(range)) return false;
            c.minBytes[b] = previous + static_cast<uint64_t>(unzigzag(delta));
            c.maxBytes[b] = c.minBytes[b] + range;
            previous = c.minBytes[b];
        }
        return true;
    }
    size_t left() const { return static_cast<size_t>(end_ - p_); }
    bool ok() const { return ok_; }

private:
    const uint8_t* p_;
    const uint8_t* end_;
    bool ok_ = true;
};

std::vector<uint8_t> encode(const TraceIndex& x) {
    Encoder e;
    for (uint64_t v : {x.startNs, x.bucketNs, uint64_t(x.buckets), x.firstNs, x.lastNs, x.events, x.tensorEvents,
                       x.driverEvents, x.droppedEvents, x.kernels, uint64_t(x.allocationLevel), x.chunks,
                       x.chunksDropped, x.reorderOverflows})
        e.u(v);
    for (const IndexCurve* c : {&x.allocated, &x.reserved, &x.deviceUsed}) e.curve(*c);
    for (uint32_t b = 0; b < x.buckets; ++b) {
        e.u(x.kernelCount[b]);
        e.u(x.kernelBusyNs[b]);
    }
    e.u(x.stepStartsNs.size());
    uint64_t previous = 0;
    for (uint64_t t : x.stepStartsNs) {
        e.u(t - previous);
        previous = t;
    }
    return std::move(e.bytes);
}

}  // namespace

bool decodeTraceIndex(const uint8_t* bytes, size_t size, TraceIndex& out, uint64_t* identity, std::string* why) {
    auto fail = [&](const char* reason) {
        if (why) *why = reason;
        return false;
    };
    if (size < kIndexHeaderBytes || std::memcmp(bytes, "VIDX", 4) != 0) return fail("not a vramscope index");
    if (loadLe32(bytes + 4) != kIndexVersion) return fail("written by another version");
    if (identity) *identity = loadLe64(bytes + 8);
    const uint64_t compressed = loadLe64(bytes + 16), raw = loadLe64(bytes + 24);
    if (compressed != size - kIndexHeaderBytes) return fail("cut off or with bytes after its end");
    if (raw > kMaxIndexRawBytes) return fail("claims more than any index holds");
    const unsigned long long content = ZSTD_getFrameContentSize(bytes + kIndexHeaderBytes, compressed);
    if (content != raw) return fail("damaged");
    std::vector<uint8_t> payload(raw);
    const size_t got = ZSTD_decompress(payload.data(), payload.size(), bytes + kIndexHeaderBytes, compressed);
    if (ZSTD_isError(got) || got != raw) return fail("damaged");

    TraceIndex x;
    Decoder d(payload.data(), payload.data() + payload.size());
    uint64_t buckets = 0, level = 0;
    for (uint64_t* field : {&x.startNs, &x.bucketNs, &buckets, &x.firstNs, &x.lastNs, &x.events, &x.tensorEvents,
                            &x.driverEvents, &x.droppedEvents, &x.kernels, &level, &x.chunks, &x.chunksDropped,
                            &x.reorderOverflows})
        d.u(*field);
    if (!d.ok()) return fail("damaged");
    // Each bucket takes at least 8 bytes (3 curves × 2 + 2 kernel varints):
    // the count is checked against the payload before anything is sized by it.
    if (buckets == 0 || buckets > TraceIndex::kMaxBuckets || buckets * 8 > d.left() || x.bucketNs == 0 ||
        level > uint64_t(AllocationLevel::Driver))
        return fail("damaged");
    x.buckets = static_cast<uint32_t>(buckets);
    x.allocationLevel = static_cast<AllocationLevel>(level);
    for (IndexCurve* c : {&x.allocated, &x.reserved, &x.deviceUsed})
        if (!d.curve(*c, x.buckets)) return fail("damaged");
    x.kernelCount.resize(x.buckets);
    x.kernelBusyNs.resize(x.buckets);
    for (uint32_t b = 0; b < x.buckets; ++b) {
        uint64_t count = 0;
        if (!d.u(count) || !d.u(x.kernelBusyNs[b]) || count > UINT32_MAX) return fail("damaged");
        x.kernelCount[b] = static_cast<uint32_t>(count);
    }
    uint64_t steps = 0;
    if (!d.u(steps) || steps > d.left() || steps > kMaxIndexSteps) return fail("damaged");
    x.stepStartsNs.resize(steps);
    uint64_t t = 0;
    for (uint64_t& s : x.stepStartsNs) {
        uint64_t delta = 0;
        if (!d.u(delta)) return fail("damaged");
        s = t += delta;
    }
    if (d.left() != 0) return fail("damaged");
    out = std::move(x);
    return true;
}

std::vector<std::string> indexCachePaths(const std::string& tracePath) {
    // VRAMSCOPE_INDEX_CACHE: "off" keeps no cache; an absolute folder holds
    // every cache instead of the two places below (tests, read-only data).
    const char* setting = std::getenv("VRAMSCOPE_INDEX_CACHE");
    if (setting && (std::strcmp(setting, "off") == 0 || std::strcmp(setting, "0") == 0)) return {};
    const bool ownFolder = setting && *setting == '/';
    std::vector<std::string> paths;
    if (!ownFolder) paths.push_back(tracePath + ".vidx");
    std::string folder;
    if (ownFolder) folder = setting;
    else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') folder = std::string(xdg) + "/vramscope";
    else if (const char* home = std::getenv("HOME"); home && *home == '/') folder = std::string(home) + "/.cache/vramscope";
    if (!folder.empty()) {
        char resolved[PATH_MAX];
        const std::string absolute = ::realpath(tracePath.c_str(), resolved) ? std::string(resolved) : tracePath;
        char name[32];
        std::snprintf(name, sizeof name, "%016llx.vidx",
                      static_cast<unsigned long long>(fnv1a64(absolute.data(), absolute.size())));
        paths.push_back(folder + "/" + name);
    }
    return paths;
}

bool saveTraceIndex(const std::string& indexPath, const std::string& tracePath, const TraceIndex& index,
                    std::string* error) {
    uint64_t identity = 0;
    if (!traceIdentity(tracePath, &identity)) {
        if (error) *error = tracePath + ": " + std::strerror(errno);
        return false;
    }
    const std::vector<uint8_t> raw = encode(index);
    std::vector<uint8_t> file(kIndexHeaderBytes + ZSTD_compressBound(raw.size()));
    // With zstd's content checksum: a damaged cache is refused, never read as other figures.
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    size_t compressed = cctx ? ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1) : size_t(-1);
    if (cctx && !ZSTD_isError(compressed))
        compressed = ZSTD_compress2(cctx, file.data() + kIndexHeaderBytes, file.size() - kIndexHeaderBytes, raw.data(),
                                    raw.size());
    ZSTD_freeCCtx(cctx);
    if (!cctx || ZSTD_isError(compressed)) {
        if (error) *error = "cannot compress the index";
        return false;
    }
    file.resize(kIndexHeaderBytes + compressed);
    std::memcpy(file.data(), "VIDX", 4);
    storeLe32(file.data() + 4, kIndexVersion);
    storeLe64(file.data() + 8, identity);
    storeLe64(file.data() + 16, compressed);
    storeLe64(file.data() + 24, raw.size());

    // A new file beside the index, renamed over it once complete: a reader
    // never sees half an index, and a symlink planted at indexPath is
    // replaced, not followed.
    const std::string temporary = indexPath + ".tmp-" + std::to_string(::getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (error) *error = indexPath + ": " + std::strerror(errno);
        return false;
    }
    size_t written = 0;
    while (written < file.size()) {
        const ssize_t w = ::write(fd, file.data() + written, file.size() - written);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        written += static_cast<size_t>(w);
    }
    const bool ok = written == file.size() && ::close(fd) == 0;
    if (written != file.size()) ::close(fd);
    if (!ok || ::rename(temporary.c_str(), indexPath.c_str()) != 0) {
        if (error) *error = indexPath + ": " + std::strerror(errno ? errno : EIO);
        ::unlink(temporary.c_str());
        return false;
    }
    return true;
}

bool loadTraceIndex(const std::string& indexPath, const std::string& tracePath, TraceIndex& out, std::string* why) {
    std::string error;
    off_t size = 0;
    const int fd = openRegularFile(indexPath, &error, &size);
    if (fd < 0) {
        if (why) *why = error;
        return false;
    }
    const uint64_t maxFile = kIndexHeaderBytes + ZSTD_compressBound(kMaxIndexRawBytes);
    if (size < 0 || uint64_t(size) > maxFile) {
        ::close(fd);
        if (why) *why = indexPath + ": not a vramscope index (too large)";
        return false;
    }
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<size_t>(r);
    }
    ::close(fd);
    bytes.resize(got);
    uint64_t identity = 0, expected = 0;
    std::string reason;
    if (!decodeTraceIndex(bytes.data(), bytes.size(), out, &identity, &reason)) {
        if (why) *why = indexPath + ": " + reason;
        return false;
    }
    if (!traceIdentity(tracePath, &expected) || identity != expected) {
        if (why) *why = indexPath + ": made for an earlier state of " + tracePath;
        out = TraceIndex{};
        return false;
    }
    return true;
}

bool openTraceIndex(const std::string& tracePath, TraceIndex& out, const IndexOptions& options, IndexOpen* how,
                    std::string* error) {
    IndexOpen local;
    IndexOpen& h = how ? *how : local;
    h = IndexOpen{};
    const std::vector<std::string> caches = indexCachePaths(tracePath);
    for (const std::string& cache : caches) {
        std::string why;
        if (loadTraceIndex(cache, tracePath, out, &why)) {
            h.source = IndexSource::Cache;
            h.cachePath = cache;
            return true;
        }
        if (::access(cache.c_str(), F_OK) == 0 && h.cacheIssue.empty()) h.cacheIssue = why;
    }
    TraceReader reader;
    if (!reader.open(tracePath, error)) return false;
    if (!buildTraceIndex(reader, out, options, error)) return false;
    h.source = IndexSource::Built;
    std::string firstError;
    for (const std::string& cache : caches) {
        std::string why;
        if (cache != tracePath + ".vidx") {
            // The fallback folder, made on first use (its parent may be missing too).
            const std::string folder = cache.substr(0, cache.rfind('/'));
            ::mkdir(folder.substr(0, folder.rfind('/')).c_str(), 0700);
            ::mkdir(folder.c_str(), 0700);
        }
        if (saveTraceIndex(cache, tracePath, out, &why)) {
            h.cachePath = cache;
            return true;
        }
        if (firstError.empty()) firstError = why;
    }
    if (h.cacheIssue.empty() && !caches.empty()) h.cacheIssue = "the index could not be saved (" + firstError + ")";
    return true;
}

}  // namespace vramscope::model
