// The memory lane's bytes scale: which byte count sits at the lane's top and
// where the gridlines go. In compare mode both traces share one scale (and
// one lane height), so equal heights are equal bytes: with a scale each, a
// 3 GiB peak and a 1.4 GiB peak filled their lanes alike, under gridlines of
// 4.66 GiB in one and 1.86/3.73/5.59 GiB in the other.
#pragma once

#include "model/trace_model.h"

#include <array>
#include <cstdint>
#include <vector>

namespace vramscope::app {

struct MemoryScale {
    uint64_t topBytes = 1;                  // at the lane's top; room above the peak for the legend
    double gridStepBytes = 1;               // 1-2-5 steps, about four lines up to the top
    std::array<bool, 2> deviceVisible{};    // per trace: whether its device limit is on the scale

    // The gridlines' byte counts, from the bottom up.
    std::vector<double> gridlinesBytes() const;
};

// One trace's scale, or (second given) one for both: the largest allocated or
// reserved bytes of the traces. Device-used memory (CUDA context, other
// processes) and the device limit join only when close; otherwise they would
// flatten what the job itself allocates, and are clipped.
MemoryScale memoryScale(const model::TraceModel& first, const model::TraceModel* second = nullptr);

// 1-2-5 steps: the smallest of 1, 2, 5 × 10^k at or above rawStep.
double niceStep(double rawStep);

}  // namespace vramscope::app
