// A memory curve: bytes in use over time as a step function, with a min/max
// pyramid so that any window can be summarised in O(buckets), whatever the
// number of points.
//
// Point i says "from timesNs[i] on, the value is values[i]" (until point i+1).
// Before the first point the value is 0. Several points may share a time
// (an allocation and a free in the same nanosecond): min/max see all of them,
// valueAt() sees the last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vramscope::model {

class MemoryCurve {
public:
    // One drawing bucket: the smallest and largest value the curve takes in
    // [startNs, endNs), including the value carried in from before startNs
    // (unless a point sits exactly at startNs).
    struct Bucket {
        uint64_t startNs = 0, endNs = 0;
        uint64_t minBytes = 0, maxBytes = 0;
    };
    struct Point {
        uint64_t timeNs = 0;
        uint64_t bytes = 0;
    };

    // ---- building -----------------------------------------------------------
    // Points must come in non-decreasing time; finish() builds the pyramid.
    void reserve(size_t points);
    void append(uint64_t timeNs, uint64_t bytes);
    void finish();
    void clear();
    // Takes whole columns at once (sorted by time), then builds the pyramid.
    void assign(std::vector<uint64_t>&& timesNs, std::vector<uint64_t>&& values);

    // ---- growing (model/live_model.h) ------------------------------------------
    // A curve that is read between changes: append() and truncate() mark the
    // points they touch, refreshLevels() brings the pyramid up to date by
    // recomputing only the groups above them (for appended points, the last
    // group of each level), so extending a curve of n points by k costs
    // O(k + log n), not O(n).
    void truncate(size_t points);
    // Adds points given in arrival order (not necessarily by time, e.g. late
    // MemInfo samples) so that the curve stays sorted by time, a point
    // landing after those already there at the same time. Refreshes the pyramid.
    void merge(const std::vector<uint64_t>& timesNs, const std::vector<uint64_t>& values);
    void refreshLevels();

    // ---- reading ------------------------------------------------------------
    size_t size() const { return timesNs_.size(); }
    bool empty() const { return timesNs_.empty(); }
    const std::vector<uint64_t>& timesNs() const { return timesNs_; }
    const std::vector<uint64_t>& values() const { return values_; }
    uint64_t firstNs() const { return timesNs_.empty() ? 0 : timesNs_.front(); }
    uint64_t lastNs() const { return timesNs_.empty() ? 0 : timesNs_.back(); }

    // The value in effect at timeNs (after every point at timeNs). O(log n).
    uint64_t valueAt(uint64_t timeNs) const;

    // The largest value and the first time it is reached within [t0, t1),
    // including the value carried in at t0 (then its time is t0). O(log n).
    Point peakIn(uint64_t t0, uint64_t t1) const;
    Point peak() const { return peakIn(0, UINT64_MAX); }

    // Smallest and largest value within [t0, t1). O(log n).
    Bucket minMaxIn(uint64_t t0, uint64_t t1) const;

    // [t0, t1) cut into `buckets` equal buckets, each with its min and max:
    // what a timeline draws for one pixel column. O(buckets * log n).
    std::vector<Bucket> query(uint64_t t0, uint64_t t1, size_t buckets) const;

    // Index of the first point with time > timeNs (points before it are in effect).
    size_t upperIndex(uint64_t timeNs) const;

    // Memory held by this curve, its pyramid included.
    size_t memoryBytes() const;

private:
    // Min and max of values over point indices [a, b) using the pyramid.
    void scan(size_t a, size_t b, uint64_t& lo, uint64_t& hi) const;
    // First index in [a, b) whose value >= bytes, or b.
    size_t firstAtLeast(size_t a, size_t b, uint64_t bytes) const;

    static constexpr size_t kFanout = 16;
    std::vector<uint64_t> timesNs_;
    std::vector<uint64_t> values_;
    size_t firstStale_ = 0;  // levels_ hold the points before it; refreshLevels() does the rest
    // levels_[k] holds min and max over groups of kFanout^(k+1) points.
    struct Level {
        std::vector<uint64_t> minBytes, maxBytes;
    };
    std::vector<Level> levels_;
};

}  // namespace vramscope::model
