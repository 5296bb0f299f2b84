// Boundness per phase: compute-bound, bandwidth-bound or neither (latency,
// launch overhead, idle gaps), from hardware counter samples overlaid on the
// phases. Without counters, a clearly labelled estimate from kernel names.
#pragma once

#include "iterations.h"

#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vramscope::analysis {

enum class Bound : uint8_t { Unknown, Compute, Bandwidth, Latency };
// "unknown", "compute", "bandwidth", "latency".
const char* boundText(Bound bound);

// The class from counters (percent of peak; -1 where not sampled): compute
// when the SM side is at smThresholdPct or more, or the tensor pipes at 50 %
// or more, and ahead of DRAM; bandwidth when DRAM is at 50 % or more;
// otherwise neither (latency, launch overhead, dependent chains).
Bound classifyCounters(double smPct, double dramPct, double tensorPct, double smThresholdPct);

// The first sampled series of a metric in the trace, or null.
const model::CounterSeries* counterSeries(const model::TraceModel& model, format::CounterMetric metric);

// The SM side's compute threshold for a series (percent): 30 for an
// instruction-issue rate alone (what PM sampling gave on GH100 before the
// LSU side was added), else 50.
double smThresholdPct(const model::TraceModel& model, const model::CounterSeries* sm);

// A kernel's likely bound from its name alone (GEMM, convolution, attention,
// torch.compile's Triton templates: compute; NCCL collectives, which wait on
// the interconnect: latency, i.e. neither unit; elementwise, norms,
// reductions, copies, optimizers, matrix-vector products: bandwidth).
Bound boundFromKernelName(std::string_view name);

struct PhaseBoundness {
    Bound bound = Bound::Unknown;
    double smThroughputPct = -1;    // mean over the phase's samples, -1 when none
    double dramThroughputPct = -1;
    double tensorPipePct = -1;
    double busyFraction = 0;        // kernel time / phase time
    // Shares of the phase's kernel time in kernels of each class (per kernel
    // name: kernel_boundness.h), 0 without kernels.
    double computeKernelShare = 0, bandwidthKernelShare = 0, latencyKernelShare = 0;
    uint64_t samples = 0;
    uint64_t durationNs = 0;        // summed over iterations
};

struct IterationBoundness {
    std::array<PhaseBoundness, kPhaseCount> phases;
    PhaseBoundness overall;
    bool steady = true;  // counted in BoundnessReport::phases
};

struct BoundnessReport {
    // "pm_sampling", "gpm", "synthetic" (from CounterInfo.source), "estimated"
    // (kernel names), or "none" (no phases).
    std::string source = "none";
    // Over the steady iterations: with 3 or more, those lasting more than
    // 3× the median are left out (the first step's lazy initialisation,
    // cuBLAS autotuning, a checkpoint save), since their idle GPU would
    // otherwise outweigh every real step.
    std::array<PhaseBoundness, kPhaseCount> phases;
    PhaseBoundness overall;
    std::vector<IterationBoundness> iterations;  // one per IterationSet iteration
    std::vector<size_t> leftOut;                 // indices of the iterations not steady
    uint64_t medianIterationNs = 0;
    // How a phase gets its GPU work: "launch_time" (the kernels the CPU
    // launched inside the phase, wherever they ran: traces recorded with
    // launch times) or "cpu_time" (what the GPU ran while the CPU was in it).
    std::string attribution = "cpu_time";
};

// kernels: the trace's per-name classes (kernelBoundness), when already at
// hand; computed here otherwise.
struct KernelBoundness;
BoundnessReport analyzeBoundness(const model::TraceModel& model, const IterationSet& iterations,
                                 const KernelBoundness* kernels = nullptr);

// One kernel's bound (for colouring kernel lanes): from the counter samples
// overlapping it, weighted by overlap, when it lasts at least half a sampling
// interval; otherwise (or without SM/DRAM counters) from its name. O(log n).
Bound kernelBound(const model::TraceModel& model, size_t kernel);

}  // namespace vramscope::analysis
