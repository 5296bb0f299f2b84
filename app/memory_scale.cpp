#include "memory_scale.h"

#include <algorithm>
#include <cmath>

namespace vramscope::app {

double niceStep(double rawStep) {
    double p = std::pow(10.0, std::floor(std::log10(rawStep)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= rawStep) return m * p;
    return 10 * p;
}

std::vector<double> MemoryScale::gridlinesBytes() const {
    std::vector<double> out;
    for (double g = gridStepBytes; g < double(topBytes) * 1.01; g += gridStepBytes) out.push_back(g);
    return out;
}

MemoryScale memoryScale(const model::TraceModel& first, const model::TraceModel* second) {
    const model::TraceModel* models[2] = {&first, second};
    // The whole traces' peaks, so zooming keeps the scale.
    uint64_t top = uint64_t(1) << 20;
    for (const model::TraceModel* m : models)
        if (m) top = std::max({top, m->allocated.peak().bytes, m->reserved.peak().bytes});
    const uint64_t jobPeak = top;
    for (const model::TraceModel* m : models)
        if (m && m->deviceUsed.peak().bytes <= jobPeak * 2) top = std::max(top, m->deviceUsed.peak().bytes);
    MemoryScale s;
    const uint64_t beforeDevice = top;
    for (size_t i = 0; i < 2; ++i) {
        const uint64_t device = models[i] ? models[i]->deviceTotalBytes() : 0;
        s.deviceVisible[i] = device && double(device) <= double(beforeDevice) * 1.6;
        if (s.deviceVisible[i]) top = std::max(top, device);
    }
    s.topBytes = top + top / 12;
    s.gridStepBytes = niceStep(double(s.topBytes) / 4);
    return s;
}

}  // namespace vramscope::app
