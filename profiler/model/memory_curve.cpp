#include "memory_curve.h"

#include "column_merge.h"

#include <algorithm>

namespace vramscope::model {

void MemoryCurve::reserve(size_t points) {
    timesNs_.reserve(points);
    values_.reserve(points);
}

void MemoryCurve::append(uint64_t timeNs, uint64_t bytes) {
    firstStale_ = std::min(firstStale_, timesNs_.size());
    timesNs_.push_back(timeNs);
    values_.push_back(bytes);
}

void MemoryCurve::assign(std::vector<uint64_t>&& timesNs, std::vector<uint64_t>&& values) {
    timesNs_ = std::move(timesNs);
    values_ = std::move(values);
    values_.resize(timesNs_.size());
    finish();
}

void MemoryCurve::clear() {
    timesNs_.clear();
    values_.clear();
    levels_.clear();
    firstStale_ = 0;
}

void MemoryCurve::finish() {
    if (timesNs_.capacity() > timesNs_.size() + timesNs_.size() / 10 + 64) timesNs_.shrink_to_fit();
    if (values_.capacity() > values_.size() + values_.size() / 10 + 64) values_.shrink_to_fit();
    levels_.clear();
    firstStale_ = 0;
    refreshLevels();
}

void MemoryCurve::truncate(size_t points) {
    if (points >= timesNs_.size()) return;
    timesNs_.resize(points);
    values_.resize(points);
    firstStale_ = std::min(firstStale_, points);
}

void MemoryCurve::merge(const std::vector<uint64_t>& timesNs, const std::vector<uint64_t>& values) {
    const size_t first = mergeSortedRows(timesNs_, timesNs, [&](auto&& column) {
        column(timesNs_, timesNs);
        column(values_, values);
    });
    firstStale_ = std::min(firstStale_, first);
    refreshLevels();
}

void MemoryCurve::refreshLevels() {
    // Level k's group g covers level k-1's entries [g·16, g·16 + 16): only
    // groups from firstStale_ / 16^(k+1) on can differ, except in a level the
    // curve has just grown into, which is computed whole (and so is every
    // level above it). Levels exist while the level below has more than
    // kFanout entries, as finish() always did.
    size_t from = firstStale_;
    size_t below = values_.size();
    size_t k = 0;
    for (; below > kFanout; ++k) {
        const size_t groups = (below + kFanout - 1) / kFanout;
        if (levels_.size() <= k) {
            levels_.emplace_back();
            from = 0;
        }
        Level& level = levels_[k];
        const std::vector<uint64_t>& lo = k == 0 ? values_ : levels_[k - 1].minBytes;
        const std::vector<uint64_t>& hi = k == 0 ? values_ : levels_[k - 1].maxBytes;
        level.minBytes.resize(groups);
        level.maxBytes.resize(groups);
        for (size_t g = from / kFanout; g < groups; ++g) {
            const size_t a = g * kFanout, b = std::min(below, a + kFanout);
            uint64_t mn = UINT64_MAX, mx = 0;
            for (size_t i = a; i < b; ++i) {
                mn = std::min(mn, lo[i]);
                mx = std::max(mx, hi[i]);
            }
            level.minBytes[g] = mn;
            level.maxBytes[g] = mx;
        }
        from /= kFanout;
        below = groups;
    }
    levels_.resize(k);
    firstStale_ = values_.size();
}

size_t MemoryCurve::upperIndex(uint64_t timeNs) const {
    return static_cast<size_t>(std::upper_bound(timesNs_.begin(), timesNs_.end(), timeNs) - timesNs_.begin());
}

uint64_t MemoryCurve::valueAt(uint64_t timeNs) const {
    const size_t i = upperIndex(timeNs);
    return i == 0 ? 0 : values_[i - 1];
}

void MemoryCurve::scan(size_t a, size_t b, uint64_t& lo, uint64_t& hi) const {
    size_t level = 0;  // 0 = the points themselves, k = levels_[k - 1]
    auto take = [&](size_t i) {
        if (level == 0) {
            lo = std::min(lo, values_[i]);
            hi = std::max(hi, values_[i]);
        } else {
            lo = std::min(lo, levels_[level - 1].minBytes[i]);
            hi = std::max(hi, levels_[level - 1].maxBytes[i]);
        }
    };
    while (a < b) {
        if (level < levels_.size() && b - a >= 2 * kFanout) {
            while (a % kFanout && a < b) take(a++);
            while (b % kFanout && a < b) take(--b);
            a /= kFanout;
            b /= kFanout;
            ++level;
        } else {
            for (; a < b; ++a) take(a);
        }
    }
}

size_t MemoryCurve::firstAtLeast(size_t a, size_t b, uint64_t bytes) const {
    if (a >= b) return b;
    auto maxAt = [&](size_t level, size_t i) { return level == 0 ? values_[i] : levels_[level - 1].maxBytes[i]; };
    auto countAt = [&](size_t level) { return level == 0 ? values_.size() : levels_[level - 1].maxBytes.size(); };
    size_t i = a, level = 0, span = 1;
    // Walk right, climbing whenever aligned, until a group reaches `bytes`.
    for (;;) {
        if (i >= countAt(level) || i * span >= b) return b;
        if (maxAt(level, i) >= bytes) break;
        ++i;
        if (i % kFanout == 0 && level < levels_.size()) {
            i /= kFanout;
            ++level;
            span *= kFanout;
        }
    }
    // Descend into the leftmost child that reaches it.
    while (level > 0) {
        --level;
        i *= kFanout;
        const size_t n = countAt(level);
        while (i < n && maxAt(level, i) < bytes) ++i;
    }
    return std::min(i, b);
}

MemoryCurve::Bucket MemoryCurve::minMaxIn(uint64_t t0, uint64_t t1) const {
    Bucket r{t0, t1, 0, 0};
    if (t1 <= t0) return r;
    const size_t first = static_cast<size_t>(std::lower_bound(timesNs_.begin(), timesNs_.end(), t0) - timesNs_.begin());
    const size_t last = static_cast<size_t>(std::lower_bound(timesNs_.begin() + first, timesNs_.end(), t1) - timesNs_.begin());
    // The value carried in from before t0 counts unless a point sits at t0 itself.
    const bool carries = first == timesNs_.size() || timesNs_[first] > t0;
    uint64_t lo = UINT64_MAX, hi = 0;
    if (carries) lo = hi = first == 0 ? 0 : values_[first - 1];
    scan(first, last, lo, hi);
    r.minBytes = lo;
    r.maxBytes = hi;
    return r;
}

MemoryCurve::Point MemoryCurve::peakIn(uint64_t t0, uint64_t t1) const {
    Point p{t0, 0};
    if (t1 <= t0) return p;
    const size_t first = static_cast<size_t>(std::lower_bound(timesNs_.begin(), timesNs_.end(), t0) - timesNs_.begin());
    const size_t last = static_cast<size_t>(std::lower_bound(timesNs_.begin() + first, timesNs_.end(), t1) - timesNs_.begin());
    const bool carries = first == timesNs_.size() || timesNs_[first] > t0;
    const uint64_t carried = carries && first > 0 ? values_[first - 1] : 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    scan(first, last, lo, hi);
    if (first == last || (carries && carried >= hi)) {
        p.bytes = carried;
        return p;
    }
    const size_t at = firstAtLeast(first, last, hi);
    p.timeNs = timesNs_[at];
    p.bytes = values_[at];
    return p;
}

std::vector<MemoryCurve::Bucket> MemoryCurve::query(uint64_t t0, uint64_t t1, size_t buckets) const {
    std::vector<Bucket> out;
    if (buckets == 0 || t1 <= t0) return out;
    out.reserve(buckets);
    const double width = static_cast<double>(t1 - t0) / static_cast<double>(buckets);
    for (size_t k = 0; k < buckets; ++k) {
        const uint64_t a = t0 + static_cast<uint64_t>(width * static_cast<double>(k));
        const uint64_t b = k + 1 == buckets ? t1 : t0 + static_cast<uint64_t>(width * static_cast<double>(k + 1));
        out.push_back(minMaxIn(a, std::max(b, a + 1)));
    }
    return out;
}

size_t MemoryCurve::memoryBytes() const {
    size_t bytes = (timesNs_.capacity() + values_.capacity()) * sizeof(uint64_t);
    for (const auto& l : levels_) bytes += (l.minBytes.capacity() + l.maxBytes.capacity()) * sizeof(uint64_t);
    return bytes;
}

}  // namespace vramscope::model
