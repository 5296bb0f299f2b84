#include "roofline.h"

#include <algorithm>
#include <unordered_map>

namespace vramscope::analysis {

// FP32 (non-tensor) against dense bf16 tensor throughput per SM and clock:
// 256 against 4096 FLOP on Hopper, 128 against 2048 on Ampere.
constexpr double kTensorToFp32 = 16;

double roofAt(const Roofline& r, double flopsPerByte, bool fp32) {
    return std::min(fp32 ? r.peakFp32FlopsPerSec : r.peakFlopsPerSec, flopsPerByte * r.peakDramBytesPerSec);
}

Roofline roofline(const model::TraceModel& m, const KernelBoundness& kernels, const std::vector<KernelStats>& stats) {
    Roofline r;
    if (m.devices.empty() || !kernels.fromCounters) return r;
    r.peakFlopsPerSec = double(m.devices.front().peakFlopsPerSec);
    r.peakDramBytesPerSec = double(m.devices.front().peakDramBytesPerSec);
    if (r.peakFlopsPerSec <= 0 || r.peakDramBytesPerSec <= 0) return r;
    r.peakFp32FlopsPerSec = r.peakFlopsPerSec / kTensorToFp32;
    r.ridgeFlopsPerByte = r.peakFlopsPerSec / r.peakDramBytesPerSec;
    r.valid = true;
    std::unordered_map<uint32_t, uint64_t> timeByName;
    for (const KernelStats& k : stats) timeByName[k.nameId] = k.totalNs;
    for (const auto& [name, smAndDram] : kernels.smAndDramPct) {
        RooflinePoint p;
        p.nameId = name;
        auto bound = kernels.byName.find(name);
        p.bound = bound == kernels.byName.end() ? Bound::Unknown : bound->second;
        p.timeNs = timeByName[name];
        auto tensor = kernels.tensorPct.find(name);
        const double tensorPct = tensor == kernels.tensorPct.end() ? 0.0 : tensor->second;
        p.computePct = std::max(smAndDram.first, tensorPct);
        p.dramPct = std::max(0.0, smAndDram.second);
        p.flopsPerSec = std::max(tensorPct / 100 * r.peakFlopsPerSec, smAndDram.first / 100 * r.peakFp32FlopsPerSec);
        p.dramBytesPerSec = p.dramPct / 100 * r.peakDramBytesPerSec;
        p.flopsPerByte = p.dramBytesPerSec > 0 ? p.flopsPerSec / p.dramBytesPerSec : 0;
        r.points.push_back(p);
    }
    std::sort(r.points.begin(), r.points.end(), [](const RooflinePoint& a, const RooflinePoint& b) {
        return a.timeNs != b.timeNs ? a.timeNs > b.timeNs : a.nameId < b.nameId;
    });
    return r;
}

}  // namespace vramscope::analysis
