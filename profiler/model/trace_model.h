// TraceModel: a loaded trace as columns (struct of arrays), memory curves with
// level-of-detail pyramids, and the queries that a timeline, a table or an
// analysis needs. No object per event: a 10M-event trace is a few dozen flat
// vectors (measured 28.3 bytes per event, see docs/analysis.md).
//
// Build one with loadModel() (model_builder.h), which decodes chunks in
// parallel. Once built a model is immutable; every const method is safe to
// call from several threads. A LiveModel (live_model.h) grows one in place
// while a recording arrives; between two of its appends the model keeps every
// promise made here (sorted columns, valid indexes).
//
// Time is ns in the trace's clock domain; sizes are bytes.
#pragma once

#include "memory_curve.h"

#include "format/reader.h"
#include "format/records.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vramscope::model {

// freeNs of a block that was still live when the trace ended.
inline constexpr uint64_t kNeverNs = UINT64_MAX;

// Which events the allocated curve and blocks() come from.
enum class AllocationLevel : uint8_t {
    None,    // neither tensor nor driver allocations in the trace
    Tensor,  // framework (PyTorch caching allocator) blocks
    Driver,  // driver allocations: a plain CUDA program, or no tensor bridge
};

// Allocations, one row each, ordered by allocNs.
struct BlockColumns {
    std::vector<uint64_t> allocNs;
    std::vector<uint64_t> freeNs;      // kNeverNs: never freed within the trace
    std::vector<uint64_t> bytes;
    std::vector<uint64_t> address;
    std::vector<uint32_t> callsiteId;  // CallsiteDef id, 0 = unknown
    std::vector<uint8_t> memoryKind;   // format::MemoryKind (Device for tensor blocks)

    size_t size() const { return allocNs.size(); }
    bool liveAt(size_t i, uint64_t timeNs) const { return allocNs[i] <= timeNs && timeNs < freeNs[i]; }
    size_t memoryBytes() const;
};

// Kernels ordered by startNs.
struct KernelColumns {
    std::vector<uint64_t> startNs;
    std::vector<uint32_t> durationNs;  // clamped to 4.29 s
    std::vector<uint32_t> nameId;      // string id
    std::vector<uint32_t> streamId;
    std::vector<uint16_t> deviceId;
    // How long before its start each kernel was queued by the CPU (format
    // Kernel.queuedLeadNs, clamped to 4.29 s); empty when the trace has no
    // launch times, else one per kernel, 0 = unknown.
    std::vector<uint32_t> queuedLeadNs;
    uint64_t maxDurationNs = 0;        // lets a window query find kernels that started before it

    size_t size() const { return startNs.size(); }
    uint64_t endNs(size_t i) const { return startNs[i] + durationNs[i]; }
    bool hasLaunchTimes() const { return !queuedLeadNs.empty(); }
    // When the CPU launched kernel i (its start when unknown).
    uint64_t launchNs(size_t i) const {
        const uint64_t lead = queuedLeadNs.empty() ? 0 : queuedLeadNs[i];
        return lead < startNs[i] ? startNs[i] - lead : 0;
    }
    size_t memoryBytes() const;
};

// Memcpy or memset operations ordered by startNs.
struct CopyColumns {
    std::vector<uint64_t> startNs;
    std::vector<uint32_t> durationNs;
    std::vector<uint64_t> bytes;
    std::vector<uint32_t> streamId;
    std::vector<uint8_t> copyKind;  // format::CopyKind (0 for memsets)

    size_t size() const { return startNs.size(); }
    uint64_t endNs(size_t i) const { return startNs[i] + durationNs[i]; }
    size_t memoryBytes() const;
};

// NVTX ranges in file order.
struct RangeColumns {
    std::vector<uint64_t> startNs;
    std::vector<uint64_t> endNs;
    std::vector<uint32_t> nameId;
    std::vector<uint32_t> domainId;
    std::vector<uint32_t> threadId;
    std::vector<uint16_t> depth;

    size_t size() const { return startNs.size(); }
    size_t memoryBytes() const;
};

// One hardware counter: its definition and samples (time = end of interval).
struct CounterSeries {
    format::CounterInfo info;
    std::vector<uint64_t> timesNs;
    std::vector<uint32_t> valuesMilli;  // value × 1000 (percent × 1000)
};

// A counter metric's name for people: "SM throughput %", or the short form
// for narrow labels ("SM %"); null for metrics without one (Other: the
// source's own metric name, CounterInfo::nameId, says what it is).
const char* counterMetricName(format::CounterMetric metric, bool shortForm = false);

// The kernels of one stream, for drawing a lane: indices into
// TraceModel::kernels in start order, and a running sum of their durations so
// that the busy time of any window costs O(log n).
struct KernelLane {
    uint32_t deviceId = 0;
    uint32_t streamId = 0;
    std::vector<uint32_t> kernels;
    std::vector<uint64_t> busyPrefixNs;  // busyPrefixNs[j] = durations of kernels[0, j)
};

// One pixel column of a kernel lane.
struct LaneBucket {
    uint64_t startNs = 0, endNs = 0;
    uint32_t kernels = 0;   // kernels starting in the bucket
    uint64_t busyNs = 0;    // their summed duration (not clipped at the bucket's end)
    // The first kernel starting in the bucket (index into TraceModel::kernels),
    // UINT32_MAX when none: a name and colour to show when zoomed out.
    uint32_t firstKernel = UINT32_MAX;
};

struct TraceModel {
    // ---- what was traced -----------------------------------------------------
    std::string name;                              // file name it came from
    std::vector<format::ProcessInfo> processes;
    std::vector<format::DeviceInfo> devices;
    std::unordered_map<uint32_t, std::string> strings;
    std::unordered_map<uint32_t, format::CallsiteDef> callsites;
    uint64_t firstNs = 0, lastNs = 0;              // span of all timed events
    uint64_t events = 0;                           // records decoded
    uint64_t tensorEvents = 0;                     // TensorMemory records
    uint64_t driverEvents = 0;                     // DriverMemory records
    uint64_t droppedEvents = 0;                    // lost during capture (Dropped records)
    std::vector<format::TraceProblem> problems;    // truncation, corrupt chunks

    // ---- memory ---------------------------------------------------------------
    AllocationLevel allocationLevel = AllocationLevel::None;
    // Bytes allocated: tensor level where the trace has tensor events, else
    // driver level. Point i is the alloc or free of block allocatedEventBlocks[i].
    MemoryCurve allocated;
    // Bytes reserved from the driver (device allocations + pool reserve; the
    // allocator's segments when the trace has no driver events).
    MemoryCurve reserved;
    // Device memory in use as the device reports it (MemInfo samples):
    // includes the CUDA context and other processes.
    MemoryCurve deviceUsed;

    // The blocks behind `allocated` (tensor blocks, or driver allocations).
    // At driver level this includes host allocations (pinned, memoryKind)
    // that the curve leaves out: filter on memoryKind to sum device memory.
    BlockColumns blocks;
    // For point i of `allocated`: the block index, with kFreeBit set for a free.
    std::vector<uint32_t> allocatedEventBlocks;
    static constexpr uint32_t kFreeBit = 0x80000000u;
    // Driver-level allocations (device, pool, VMM, managed, pinned host...),
    // kept even when blocks holds tensor blocks.
    BlockColumns driverBlocks;

    // ---- execution ------------------------------------------------------------
    KernelColumns kernels;
    CopyColumns memcpys;
    CopyColumns memsets;
    // NVTX ranges, then the user's regions (vramscope.region()) with domainId
    // kRegionDomain at depths below every NVTX row.
    RangeColumns ranges;
    static constexpr uint32_t kRegionDomain = 0xFFFFFFFFu;
    std::vector<format::Phase> phases;  // markers in time order
    std::vector<CounterSeries> counters;
    std::vector<format::AllocFailure> allocFailures;
    std::vector<format::Note> notes;
    std::vector<format::Mark> marks;

    // ---- lookups --------------------------------------------------------------
    // Text of a string id, "" when unknown.
    const std::string& text(uint32_t id) const;
    // Total memory of the first device, 0 when unknown.
    uint64_t deviceTotalBytes() const;
    // "file:line function" of a callsite's innermost frame in the user's own
    // code (not an installed package or the standard library), followed by
    // " → file:line function" of the innermost frame when that is library
    // code (torch/nn/modules/linear.py and the like); "" when unknown.
    std::string callsiteText(uint32_t callsiteId) const;
    // Every frame of a callsite chain, innermost first, "file:line function".
    std::vector<std::string> callsiteStack(uint32_t callsiteId) const;

    // ---- queries --------------------------------------------------------------
    // Indices of the blocks live at timeNs (allocNs <= t < freeNs), in
    // allocation order. O(log n + k·log n) with the max-free pyramid.
    std::vector<uint32_t> liveBlocksAt(uint64_t timeNs) const;
    // The n largest blocks live at timeNs, largest first.
    std::vector<uint32_t> topLiveBlocksAt(uint64_t timeNs, size_t n) const;
    // Indices [first, last) of the kernels that may overlap [t0, t1): callers
    // skip the few that end before t0. O(log n).
    std::pair<size_t, size_t> kernelsIn(uint64_t t0, uint64_t t1) const;
    // One lane per (device, stream) that ran kernels, ordered by device then stream.
    const std::vector<KernelLane>& kernelLanes() const { return lanes_; }
    // [t0, t1) of lane `lane` cut into `buckets` pixel columns: how many kernels
    // start in each and how busy it is. O(buckets · log n), whatever the zoom.
    std::vector<LaneBucket> laneQuery(size_t lane, uint64_t t0, uint64_t t1, size_t buckets) const;
    // Index of the first block allocated at or after timeNs.
    size_t firstBlockAllocatedFrom(uint64_t timeNs) const;

    // Memory the model holds (columns, curves, pyramids), for the benchmark.
    size_t memoryBytes() const;

    // Builds the indexes used by the queries. loadModel() calls it; call it
    // again after changing columns by hand (tests).
    void buildIndexes();
    // Brings the indexes up to date after rows were added or changed, without
    // rebuilding them (LiveModel): kernels from firstKernel on (appended, or
    // moved there by a late kernel's re-sort); blocks from firstBlock on,
    // plus the blocks below it in changedBlocks (their freeNs changed). Costs
    // O(changed rows + the pyramid groups above them).
    void refreshKernelIndex(size_t firstKernel);
    void refreshBlockIndex(size_t firstBlock, const std::vector<uint32_t>& changedBlocks);

private:
    std::string frameText(const format::CallsiteDef& c, bool shortFile) const;
    // Pyramid of max(freeNs) over blocks, groups of kLiveFanout.
    static constexpr size_t kLiveFanout = 16;
    std::vector<std::vector<uint64_t>> freeMaxLevels_;
    std::vector<KernelLane> lanes_;
};

}  // namespace vramscope::model
