// What each block of memory is for, inferred from its lifetime relative to
// iterations and phases:
//   weights          allocated before the first step and kept (parameters,
//                    buffers), or created once in forward and kept. In a
//                    trace attached to a running job, the blocks PyTorch
//                    named at the attach take what it named them (parameter,
//                    gradient, optimizer state); its other blocks kept from
//                    before the first step are other
//   optimizer_state  created once in an optimizer phase and kept (Adam moments)
//   gradients        allocated in backward and kept until the optimizer step or
//                    later (set_to_none=True: freed each step; otherwise kept)
//   activations      allocated in forward, freed in backward or later
//   temporaries      allocated and freed inside one phase
//   leaked           kept across iterations, and the same kind of block
//                    (callsite and exact size; past the first two iterations
//                    callsite and size class) piles up in >= 3 iterations,
//                    still in the second half of the run
//   other            outside every iteration and short-lived
#pragma once

#include "iterations.h"

#include "model/memory_curve.h"
#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <vector>

namespace vramscope::analysis {

enum class Category : uint8_t { Weights, OptimizerState, Gradients, Activations, Temporaries, Leaked, Other };
inline constexpr int kCategoryCount = 7;
// "weights", "optimizer_state", "gradients", "activations", "temporaries", "leaked", "other".
const char* categoryName(Category category);
// Weights and optimizer state: what people call persistent memory.
inline bool isPersistent(Category c) { return c == Category::Weights || c == Category::OptimizerState; }

// What a leak report groups by: callsite and size class (phase for display).
struct BlockSignature {
    int8_t phase = -1;          // PhaseName at allocation, -1 outside phases
    uint32_t callsiteId = 0;
    uint8_t sizeClass = 0;      // floor(log2(bytes))
    bool operator==(const BlockSignature&) const = default;
};

// Blocks kept across iterations must outlive this many iteration starts to be
// leak candidates (one is normal: e.g. the next batch prefetched, or the loss).
inline constexpr int kLeakMinIterationsSpanned = 2;
// A signature counts as leaking when its kept blocks were allocated in at
// least this many distinct iterations (warm-up allocates once), the last of
// them in the second half of the run (allocator growth stops early).
inline constexpr uint32_t kLeakMinIterations = 3;

struct Categorization {
    // Per block of model.blocks:
    std::vector<Category> category;
    std::vector<int32_t> iteration;  // iteration it was allocated in, -1 outside
    std::vector<int8_t> phase;       // PhaseName it was allocated in, -1 outside

    // Each category's own peak, and the split at the allocated peak.
    std::array<uint64_t, kCategoryCount> peakBytes{};
    std::array<uint64_t, kCategoryCount> bytesAtPeak{};
    uint64_t peakTimeNs = 0;
    uint64_t peakBytesTotal = 0;
    // Iterations [0, warmupIterations) allocated one-off persistent memory.
    uint32_t warmupIterations = 0;
    // Host memory (isHostMemory) in a driver-level trace: at its own peak and
    // at the allocated peak. Not on the device: in no category above.
    uint64_t hostPeakBytes = 0;
    uint64_t hostBytesAtPeak = 0;
};

Categorization categorize(const model::TraceModel& model, const IterationSet& iterations);

BlockSignature signatureOf(const model::TraceModel& model, const Categorization& c, size_t block);

// Host memory (cudaMallocHost, cudaHostAlloc; pageable) that a driver-level
// trace holds beside device memory. It is never device memory: the allocated
// curve leaves it out, so categorize() puts it in no device category (it
// stays Other and never Leaked) and lists show its kind instead. Managed
// memory (cudaMallocManaged) is counted as device memory, and marked.
bool isHostMemory(uint8_t memoryKind);
// format::MemoryKind as a stable key: "device", "pool", "vmm", "managed",
// "pinned_host", "module_static", "pageable", "unknown" (the CSV and the JSON).
const char* memoryKindText(uint8_t memoryKind);

// One curve per category, for stacked memory lanes and range breakdowns.
struct CategoryCurves {
    std::array<model::MemoryCurve, kCategoryCount> curves;
    // The most each category held within [t0, t1). O(categories · log n).
    std::array<uint64_t, kCategoryCount> maxIn(uint64_t t0, uint64_t t1) const;
    // What each category held at timeNs. O(categories · log n).
    std::array<uint64_t, kCategoryCount> at(uint64_t timeNs) const;
};
CategoryCurves buildCategoryCurves(const model::TraceModel& model, const Categorization& c);

}  // namespace vramscope::analysis
