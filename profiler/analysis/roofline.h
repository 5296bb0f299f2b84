// A roofline of the kernels from sampled counters and the device's peak
// figures (DeviceInfo: DRAM bytes/s, dense bf16 tensor FLOP/s). Counters
// give fractions of peak, not FLOP or byte counts, so each kernel name's
// achieved rates are estimates: DRAM bytes/s = DRAM % × peak bandwidth;
// FLOP/s = the larger of tensor pipes % × the tensor peak and SM % × the
// non-tensor FP32 peak (1/16 of the dense bf16 tensor peak on Ampere and
// Hopper). The intensity is their ratio. Two compute roofs: tensor and FP32;
// left of a roof's ridge (its peak ÷ peak bytes/s) the roof is memory.
#pragma once

#include "kernel_boundness.h"

#include "model/trace_model.h"

#include <cstdint>
#include <vector>

namespace vramscope::analysis {

struct RooflinePoint {
    uint32_t nameId = 0;
    Bound bound = Bound::Unknown;
    uint64_t timeNs = 0;            // all its executions
    double computePct = 0;          // max(tensor pipes, SM), percent of peak
    double dramPct = 0;             // percent of peak
    double flopsPerSec = 0;         // estimated achieved
    double dramBytesPerSec = 0;     // estimated achieved
    double flopsPerByte = 0;        // flopsPerSec / dramBytesPerSec (0 when no DRAM traffic)
};

struct Roofline {
    bool valid = false;             // counters and the device's peak figures present
    double peakFlopsPerSec = 0;     // dense bf16 on the tensor pipes
    double peakFp32FlopsPerSec = 0; // without tensor pipes
    double peakDramBytesPerSec = 0;
    double ridgeFlopsPerByte = 0;   // where the memory roof meets the tensor roof
    std::vector<RooflinePoint> points;  // names the counters covered, longest first
};

// The roof at an intensity: min(peak FLOP/s, intensity × peak bytes/s), for
// the tensor roof or (fp32) the one without tensor pipes.
double roofAt(const Roofline& roofline, double flopsPerByte, bool fp32 = false);

// `stats`: kernelStats(model), for each name's GPU time.
Roofline roofline(const model::TraceModel& model, const KernelBoundness& kernels, const std::vector<KernelStats>& stats);

}  // namespace vramscope::analysis
