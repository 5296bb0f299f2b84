// The index of a trace: what the whole run looks like — memory curves as
// min/max per time bucket, kernel density, step starts, totals — built in one
// pass over the chunks that holds only what is live (bounded memory, whatever
// the trace's length), and cached beside the file so that the next open
// reads a few hundred kilobytes instead of decoding billions of events.
//
// The buckets cut [startNs, startNs + buckets·bucketNs) into equal spans; the
// curves' min/max per bucket are exactly what TraceModel's curves give for
// the same span (MemoryCurve::minMaxIn), so a view drawn from the index and
// one drawn from a full decode have the same pixels at the index's
// resolution (tests/model/tst_trace_index.cpp holds them to it).
#pragma once

#include "trace_model.h"

#include "format/reader.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vramscope::model {

// One memory curve at the index's resolution.
struct IndexCurve {
    std::vector<uint64_t> minBytes, maxBytes;  // per bucket, the carried-in value included
    MemoryCurve::Point peak;                   // the largest value and when it is first reached
    bool present = false;                      // the trace has points for this curve
};

struct TraceIndex {
    static constexpr uint32_t kDefaultBuckets = 16384;
    static constexpr uint32_t kMaxBuckets = 1u << 20;

    // ---- the grid -------------------------------------------------------------
    uint64_t startNs = 0;   // the first chunk's first timestamp
    uint64_t bucketNs = 1;  // width of one bucket
    uint32_t buckets = 0;
    uint64_t bucketStartNs(uint32_t b) const { return startNs + uint64_t(b) * bucketNs; }
    // The bucket holding timeNs, clamped to the grid.
    uint32_t bucketOf(uint64_t timeNs) const;

    // ---- what the model would say -------------------------------------------------
    uint64_t firstNs = 0, lastNs = 0;  // TraceModel::firstNs / lastNs
    uint64_t events = 0, tensorEvents = 0, driverEvents = 0, droppedEvents = 0, kernels = 0;
    AllocationLevel allocationLevel = AllocationLevel::None;
    IndexCurve allocated, reserved, deviceUsed;  // TraceModel's three curves
    std::vector<uint32_t> kernelCount;           // kernels starting in each bucket
    std::vector<uint64_t> kernelBusyNs;          // their summed durations
    std::vector<uint64_t> stepStartsNs;          // step-begin markers, in time order

    // ---- how it was made ---------------------------------------------------------
    uint64_t chunks = 0, chunksDropped = 0;  // chunks read, chunks that did not decode
    // Memory records replayed late because a chunk header understated its
    // first timestamp (a damaged or crafted file): the curves near them may
    // differ from a full decode's. 0 for every file vramscope writes.
    uint64_t reorderOverflows = 0;

    size_t memoryBytes() const;
};

struct IndexOptions {
    unsigned threads = 0;  // 0 = every core
    uint32_t buckets = TraceIndex::kDefaultBuckets;
    // (chunks done, chunks total), from one thread at a time; false cancels.
    std::function<bool(size_t, size_t)> progress;
};

// Builds the index of reader's trace in one pass. False with a sentence in
// *error only when cancelled; a damaged trace gives the index of what decodes.
bool buildTraceIndex(const format::TraceReader& reader, TraceIndex& out, const IndexOptions& options,
                     std::string* error);

// ---- the cache beside the trace -------------------------------------------------
// FILE.vidx next to FILE; where that folder cannot be written,
// $XDG_CACHE_HOME/vramscope (or ~/.cache/vramscope) under a name made from
// FILE's absolute path. VRAMSCOPE_INDEX_CACHE=off keeps no cache, and an
// absolute folder there holds every cache instead. The cache names the trace
// it indexes by size, modification time, inode and device: a trace rewritten
// since gets a new index.

// Where the cache of tracePath is looked for, in order.
std::vector<std::string> indexCachePaths(const std::string& tracePath);
// Writes out for tracePath to indexPath (atomically: a temporary file renamed).
bool saveTraceIndex(const std::string& indexPath, const std::string& tracePath, const TraceIndex& index,
                    std::string* error);
// Reads indexPath: false with the reason when it is missing, damaged, of
// another version, or made for another state of tracePath. Treats the file
// as hostile: every count is bounded before anything is allocated.
bool loadTraceIndex(const std::string& indexPath, const std::string& tracePath, TraceIndex& out, std::string* why);
// The index from bytes (loadTraceIndex's decoding, for fuzzing).
bool decodeTraceIndex(const uint8_t* bytes, size_t size, TraceIndex& out, uint64_t* traceIdentity, std::string* why);

enum class IndexSource { Cache, Built };
struct IndexOpen {
    IndexSource source = IndexSource::Built;
    std::string cachePath;   // the cache read, or written ("" when none could be)
    std::string cacheIssue;  // why a cache present was not used, or why none was written
};
// The cached index when it is valid for the trace, else built (options) and
// saved for the next time. False only when the trace cannot be opened or
// building was cancelled.
bool openTraceIndex(const std::string& tracePath, TraceIndex& out, const IndexOptions& options, IndexOpen* how,
                    std::string* error);

}  // namespace vramscope::model
