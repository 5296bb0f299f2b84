// Leaks: memory that piles up from one iteration to the next.
//
// The blocks responsible are the ones categorize() marks leaked (kept across
// iterations, the same kind allocated in >= 3 iterations); warm-up is not a
// leak (optimizer state created in the first step is allocated once; the
// caching allocator growing its reserve is not allocated memory at all).
#pragma once

#include "categories.h"
#include "iterations.h"

#include "model/trace_model.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::analysis {

// Leaked blocks of one kind.
struct LeakGroup {
    BlockSignature signature;
    uint32_t callsiteId = 0;
    std::string callsite;           // "file:line function", "" when unknown
    uint64_t blocks = 0;
    uint64_t totalBytes = 0;
    uint64_t minBytes = 0, maxBytes = 0;
    int32_t firstIteration = -1;    // first iteration one was allocated in
    uint32_t iterations = 0;        // distinct iterations with one
};

struct LeakReport {
    bool detected = false;
    // Leaked bytes per iteration from the first leaking iteration on, over
    // countedIterations (the steady rate); 0 when none.
    uint64_t bytesPerIteration = 0;
    int32_t firstIteration = -1;    // -1 when none
    uint64_t totalLeakedBytes = 0;  // leaked blocks still live at the end
    // Least-squares slope of allocated bytes at iteration starts, past warm-up:
    // a cross-check that needs no block matching (can be a few bytes either way).
    double growthBytesPerIteration = 0;
    uint32_t warmupIterations = 0;
    std::vector<LeakGroup> groups;  // largest first
    // Iterations bytesPerIteration is spread over: from the first leaking one
    // to the last whose blocks could be judged (see leftOutBlocks).
    uint32_t countedIterations = 0;
    // Blocks of a leaking kind from the last iterations that outlived their
    // iteration but were freed (at teardown, say) before two more iterations
    // began, so nothing tells them from memory kept for one step (the next
    // batch, the loss). They are neither counted as leaked nor in the rate:
    // counting the iterations without their blocks reported 4 MiB a step
    // as 3.33 (10 blocks over 12 iterations).
    uint64_t leftOutBlocks = 0;
    uint64_t leftOutBytes = 0;
    int32_t leftOutFromIteration = -1;  // the first iteration they were allocated in, -1 when none
};

LeakReport detectLeaks(const model::TraceModel& model, const IterationSet& iterations, const Categorization& categories);

}  // namespace vramscope::analysis
