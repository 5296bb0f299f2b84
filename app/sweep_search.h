// Searches for the timeline's left-to-right sweep over pixel columns.
//
// Each column looks up a time a little past the previous column's, so a
// galloping search from the last answer (O(log distance), its first probes in
// cache) beats a binary search over the rest of the array (O(log n), nearly
// every probe a cache miss on a 10M-event trace).
#pragma once

#include "model/memory_curve.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace vramscope::app {

// std::lower_bound(first, last, value, less), probing first + 1, + 2, + 4, ...
template <class It, class T, class Less>
It gallopLowerBound(It first, It last, const T& value, Less less) {
    if (first == last || !less(*first, value)) return first;
    It below = first;  // *below < value
    for (std::ptrdiff_t step = 1;; step *= 2) {
        if (last - below <= step) return std::lower_bound(below + 1, last, value, less);
        It probe = below + step;
        if (!less(*probe, value)) return std::lower_bound(below + 1, probe, value, less);
        below = probe;
    }
}

template <class It, class T>
It gallopLowerBound(It first, It last, const T& value) {
    return gallopLowerBound(first, last, value, [](const auto& a, const T& b) { return a < b; });
}

// MemoryCurve::valueAt for times that mostly grow, as in a sweep over columns.
class MemoryCurveSweep {
public:
    explicit MemoryCurveSweep(const model::MemoryCurve& curve) : curve_(&curve) {}

    uint64_t valueAt(uint64_t timeNs) {
        const auto& times = curve_->timesNs();
        if (timeNs < lastNs_) next_ = 0;  // went back: start over
        lastNs_ = timeNs;
        // The first point after timeNs; the one before it is in effect.
        next_ = size_t(gallopLowerBound(times.begin() + std::ptrdiff_t(next_), times.end(), timeNs,
                                        [](uint64_t t, uint64_t at) { return t <= at; }) -
                       times.begin());
        return next_ == 0 ? 0 : curve_->values()[next_ - 1];
    }

private:
    const model::MemoryCurve* curve_;
    size_t next_ = 0;
    uint64_t lastNs_ = 0;
};

}  // namespace vramscope::app
