// Decoded records → model columns, before anything is sorted or matched: the
// first step of both builders. ModelBuilder collects a whole file into one
// collector; LiveModel collects each arriving chunk into a fresh one and
// merges it into the model (live_model.h).
#pragma once

#include "memory_replay.h"
#include "size_check.h"
#include "trace_model.h"

#include "format/reader.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace vramscope::model {

struct RecordCollector {
    // Columns that need no matching, in file order: strings (demangled),
    // callsites, processes, devices, kernels, copies, NVTX ranges, phases,
    // counters (series in order of first appearance), failures, notes, marks.
    TraceModel m;
    // Memory records in file order, for the replays (memory_replay.h).
    std::vector<RawMemory> tensor, driver, pool;
    // MemInfo samples of one device: the first one any MemInfo names.
    std::vector<uint64_t> memInfoTimes, memInfoValues;
    uint32_t memInfoDevice = UINT32_MAX;  // kept by clearRows(): it is the file's first
    // Devices' memory, and the memory records left out for sizes beyond it
    // (size_check.h); kept by clearRows(): it is the whole file's.
    SizeCheck sizes;
    uint64_t tensorEvents = 0, driverEvents = 0, droppedEvents = 0;
    uint64_t firstNs = UINT64_MAX, lastNs = 0;  // every timestamp seen, kernel and range ends too

    // Memory records whose sizes no device holds are left out (and counted
    // in `sizes`), so the replays only ever see plausible sizes.
    void add(const format::RecordLists& records);
    // Empties everything but memInfoDevice and sizes, for the next chunk.
    void clearRows();

private:
    void seen(uint64_t t) {
        firstNs = std::min(firstNs, t);
        lastNs = std::max(lastNs, t);
    }
    CounterSeries& series(uint32_t counterId);
    std::unordered_map<uint32_t, size_t> counterIndex_;
};

// The rows NVTX ranges need: `rows`, or more for a range from `from` on
// that is deeper (its depth + 1).
uint16_t nvtxRowsAfter(uint16_t rows, const RangeColumns& ranges, size_t from);

// User regions (vramscope.region(): RegionBegin/RegionEnd markers with a
// name) become ranges of the domain TraceModel::kRegionDomain, appended to
// `ranges` at depths below the nvtxRows rows of NVTX ranges. phases must be
// in time order (only region markers are looked at). A begin pairs with the
// latest open begin of the same name; one still open at the end closes at
// lastNs, an end without a begin is dropped.
void addRegionRanges(const std::vector<format::Phase>& phases, uint16_t nvtxRows, uint64_t lastNs, RangeColumns& ranges);

}  // namespace vramscope::model
