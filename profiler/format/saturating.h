// Arithmetic on counts and byte sizes that come from a file. A file can say
// anything (a block of 2^64 − 1 bytes, 2^63 dropped events, a thousand blocks
// of 256 TiB), so sums and products of such numbers saturate instead of
// wrapping around, at kSaturatedCount = 2^63 − 1: the largest number a signed
// 64-bit integer holds, so a saturated figure stays positive wherever it goes
// (qint64 in JSON, printf's %lld, a double). Real figures are many orders of
// magnitude below it (a device holds 2^37 bytes), so only a damaged or
// crafted trace ever reaches it.
#pragma once

#include <cstdint>

namespace vramscope {

inline constexpr uint64_t kSaturatedCount = INT64_MAX;

inline uint64_t saturated(uint64_t v) { return v < kSaturatedCount ? v : kSaturatedCount; }

inline uint64_t saturatingAdd(uint64_t a, uint64_t b) { return saturated(saturated(a) + saturated(b)); }

// a − b, 0 when b is larger.
inline uint64_t saturatingSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

inline uint64_t saturatingMul(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? kSaturatedCount : saturated(r);
}

// Running sums that may go below 0 (a free of a block allocated before
// capture): no signed overflow, ever.
inline int64_t saturatingAddSigned(int64_t a, int64_t b) {
    int64_t r;
    if (!__builtin_add_overflow(a, b, &r)) return r;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

// A double (an estimate, a product with a ratio) as a count: NaN and
// negatives are 0, anything from 2^63 on is kSaturatedCount. (Converting a
// double beyond the integer's range is undefined behaviour.)
inline uint64_t saturatingFromDouble(double v) {
    if (!(v > 0)) return 0;
    if (v >= 9223372036854775808.0) return kSaturatedCount;
    return static_cast<uint64_t>(v);
}

}  // namespace vramscope
