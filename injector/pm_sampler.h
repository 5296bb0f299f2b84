// Hardware counters for boundness: SM throughput %, DRAM throughput % and
// tensor-pipe activity over time, sampled while the job runs.
//
// Sources, tried in this order (VRAMSCOPE_COUNTERS=pm; off by default):
//  1. CUPTI PM sampling (cupti_pmsampling.h, CUDA 12.6+): the GPU itself
//     samples its performance monitors every VRAMSCOPE_COUNTER_INTERVAL_US
//     into a device buffer; a decode thread turns that into percentages with
//     GPU timestamps (CUPTI's clock). Runs beside activity tracing.
//  2. NVML GPM (nvmlGpm*, Hopper and later; gpm_sampler.h): two GPM
//     snapshots per interval give per-interval utilisations.
//  3. None: one Note in the trace says why.
// Every failure turns the sampler off, never the job or the trace.
//
// The sampler thread hands CounterEvents to the writer thread through its own
// bounded queue (the writer interns names and writes CounterInfo /
// CounterSample records). The header holds the pure parts the tests call.
#pragma once

#include "side_queue.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vramscope::inject {

struct Recorder;

// One counter record for the writer. Info carries the metric's name.
struct CounterEvent {
    enum class Kind : uint8_t { Info = 1, Sample = 2 };
    Kind kind = Kind::Sample;
    uint8_t metric = 0;        // format::CounterMetric
    uint8_t source = 0;        // format::CounterSource
    uint32_t counterId = 0;
    uint32_t deviceId = 0;
    uint32_t valueMilli = 0;   // Sample: percent × 1000
    uint64_t timestampNs = 0;  // Sample: end of the sampled interval
    uint64_t intervalNs = 0;   // Info: nominal interval
    char name[120] = {};       // Info: the source's own metric name(s)
};

using CounterQueue = BoundedQueue<CounterEvent, 16384>;

// Starts the counter sampler thread if the configuration asks for one
// (after the writer started). False only when no thread was started.
bool startCounterSampler(Recorder& r);
// Asks the sampler thread to decode what is left and stop sampling, and
// joins it (bounded: 10 s), so that no counter work, CUPTI call or thread
// teardown of ours overlaps the process's exit. Idempotent; any thread
// but the sampler's own; a no-op in a forked child.
void stopCounterSampler();
// After stopCounterSampler() and a CUPTI detach: lets startCounterSampler()
// start a new sampler for the next attach. False while the old one still runs.
bool resetCounterSampler();
// Writer thread: pops every queued event. Null before the sampler started.
CounterQueue* counterQueue();

// ---- pure helpers (tested without a GPU) --------------------------------

// A percentage as CounterSample.valueMilli: NaN and negatives become 0,
// values above 1000 % (a broken counter) are clamped there. PM throughputs
// may read slightly above 100 % and are kept as measured.
inline uint32_t percentToMilli(double percent) {
    if (!(percent > 0)) return 0;  // also NaN
    if (percent > 1000.0) percent = 1000.0;
    return static_cast<uint32_t>(std::lround(percent * 1000.0));
}

// Bytes moved in an interval as a percentage of the device's peak bandwidth.
inline double bytesToPercent(double bytes, uint64_t durationNs, uint64_t peakBytesPerSec) {
    if (durationNs == 0 || peakBytesPerSec == 0 || !(bytes > 0)) return 0;
    return bytes * 100.0 / (double(peakBytesPerSec) * double(durationNs) * 1e-9);
}

// How one output percentage is computed from the metrics of a candidate.
enum class Combine : uint8_t {
    Direct,        // the one metric is already a percentage
    Sum,           // read % + write % (both of the same peak)
    Max,           // the busiest of several unit percentages
    BytesOfPeak,   // one byte count per interval → % of the device's peak bandwidth
};

// Combines a candidate's metric values for one sample into a percentage.
inline double combineValues(Combine how, const double* values, int count, uint64_t durationNs,
                            uint64_t peakBytesPerSec) {
    if (count <= 0) return 0;
    switch (how) {
    case Combine::Direct: return values[0];
    case Combine::Sum: {
        double s = 0;
        for (int i = 0; i < count; ++i) s += values[i] > 0 ? values[i] : 0;
        return s;
    }
    case Combine::Max: {
        double m = 0;
        for (int i = 0; i < count; ++i) m = values[i] > m ? values[i] : m;
        return m;
    }
    case Combine::BytesOfPeak: return bytesToPercent(values[0], durationNs, peakBytesPerSec);
    }
    return 0;
}

// Number of samples the host-side counter image holds per decode: what one
// decode period produces at this interval, four times over, within bounds.
inline uint32_t samplesPerDecode(uint32_t intervalUs, uint32_t decodePeriodMs) {
    if (intervalUs == 0) intervalUs = 1;
    uint64_t n = uint64_t(decodePeriodMs) * 1000ull * 4ull / intervalUs;
    if (n < 64) n = 64;
    if (n > 20000) n = 20000;
    return static_cast<uint32_t>(n);
}

// A byte buffer CUPTI writes into, with a guard zone behind it. CUPTI is
// given data() and size(); the guard is ours and holds a pattern. A call
// that writes past the size it was given then damages the guard, which the
// sampler checks after every such call (and stops sampling, saying so),
// instead of the allocator's bookkeeping of the next heap block.
class GuardedBytes {
public:
    static constexpr uint8_t kPattern = 0xA5;
    explicit GuardedBytes(size_t guardBytes = 4096) : guard_(guardBytes) {}
    // size bytes of zeros followed by the guard. Invalidates data().
    void assign(size_t size) {
        size_ = size;
        storage_.assign(size + guard_, kPattern);
        if (size) std::memset(storage_.data(), 0, size);
    }
    uint8_t* data() { return storage_.data(); }
    const uint8_t* data() const { return storage_.data(); }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // How many guard bytes no longer hold the pattern: 0 when nothing was
    // written past size().
    size_t damagedGuardBytes() const {
        size_t n = 0;
        for (size_t i = size_; i < storage_.size(); ++i) n += storage_[i] != kPattern;
        return n;
    }
    // Copies size() bytes of `from` over ours (both the same size); the
    // storage and so data() stay where they are.
    void copyFrom(const std::vector<uint8_t>& from) {
        if (from.size() == size_ && size_) std::memcpy(storage_.data(), from.data(), size_);
    }

private:
    size_t guard_;
    size_t size_ = 0;
    std::vector<uint8_t> storage_;
};

// Copies a name into a fixed buffer, always terminated.
inline void copyName(char* out, size_t size, const char* text) {
    size_t n = text ? strnlen(text, size - 1) : 0;
    if (n) std::memcpy(out, text, n);
    out[n] = 0;
}

}  // namespace vramscope::inject
