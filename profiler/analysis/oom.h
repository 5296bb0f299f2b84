// Why a job ran out of memory: each failed allocation in the trace, with
// what the device held at that instant. "Why did it OOM" is the first
// question people bring, so `summary` leads with it and the app opens there.
//
// One out-of-memory is usually several records: the driver's failed
// cudaMalloc (the allocator's segment, rounded up), the caching allocator's
// retry after it freed its cache, and the framework's OutOfMemoryError with
// the size the program asked for. Failures on one device within
// kOomMergeNs of each other are one OOM; the framework's record names it.
#pragma once

#include "categories.h"

#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::analysis {

inline constexpr uint64_t kOomMergeNs = 100'000'000;

struct OutOfMemory {
    uint64_t timeNs = 0;
    uint32_t deviceId = 0;
    bool fromFramework = false;     // PyTorch raised it (else only the driver refused)
    uint32_t failures = 0;          // records merged into this one
    uint64_t requestedBytes = 0;    // what the program asked for (the framework's size when known)
    uint64_t allocatedBytes = 0;    // allocated (tensor level, or driver) at that instant
    uint64_t reservedBytes = 0;
    int64_t deviceFreeBytes = -1;   // as the driver or the last memory sample said; -1 unknown
    uint64_t deviceTotalBytes = 0;  // 0 unknown
    // What would have to be freed on the device for the request to fit:
    // requested − free. 0 when it would have fit (the allocator could not
    // find one piece that large: fragmentation), or free is unknown.
    uint64_t shortfallBytes = 0;
    // The request is larger than the whole device: nothing freed would make
    // it fit (a wrong size, or a shape that needs sharding).
    bool largerThanDevice = false;
    // The request is more than free plus all the program reserved: freeing
    // the program's own memory would not make it fit (other processes hold
    // the rest, or the size is wrong). Set when free is known.
    bool moreThanProgramCanFree = false;
    std::array<uint64_t, kCategoryCount> liveByCategory{};  // device memory live then, by category
    std::vector<uint32_t> largestBlocks;                     // model.blocks live then, largest first
    uint32_t callsiteId = 0;                                 // of the failed request, 0 unknown
};

// Every OOM in the trace, in time order.
std::vector<OutOfMemory> findOutOfMemory(const model::TraceModel& model, const Categorization& categories,
                                         size_t topBlocks = 10);

}  // namespace vramscope::analysis
