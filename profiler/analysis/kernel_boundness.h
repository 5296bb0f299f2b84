// What limits each kernel (by name), for colouring kernel lanes and tables:
// counter samples overlaid on that kernel's executions, weighted by overlap,
// when the trace has SM and DRAM throughput counters; otherwise (and for names
// no sample covers) an estimate from the name (boundFromKernelName).
#pragma once

#include "boundness.h"

#include "model/trace_model.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace vramscope::analysis {

struct KernelBoundness {
    bool fromCounters = false;                   // false: every entry is a name-based estimate
    std::unordered_map<uint32_t, Bound> byName;  // kernel name string id → bound
    // Mean SM and DRAM throughput (percent of peak) over each name's
    // executions, -1 where a counter never covered it; counters only.
    // Per name, fitted to the samples (kernel_boundness.cpp says how).
    std::unordered_map<uint32_t, std::pair<double, double>> smAndDramPct;
    std::unordered_map<uint32_t, double> tensorPct;  // where a tensor-pipe counter was sampled
    // Names whose class came from the counters; the others' from their name
    // (no counters, or the name ran for less than one sample in all).
    std::unordered_set<uint32_t> classedByCounters;

    // A name's fitted percentages, -1 for each one not sampled.
    struct Percentages {
        double sm = -1, dram = -1, tensor = -1;
    };
    Percentages fitted(uint32_t nameId) const;
};

// One entry per kernel name in model.kernels. O(kernels + samples).
KernelBoundness kernelBoundness(const model::TraceModel& model);

// Launches and GPU time per kernel name.
struct KernelStats {
    uint32_t nameId = 0;
    std::string name;
    uint64_t count = 0;
    uint64_t totalNs = 0;
};

// Every kernel name, most total time first. O(kernels).
std::vector<KernelStats> kernelStats(const model::TraceModel& model);

}  // namespace vramscope::analysis
