#include "estimator.h"

#include "format/saturating.h"

#include <algorithm>
#include <cmath>
#include <regex>

namespace vramscope::analysis {

using model::TraceModel;

namespace {

uint32_t firstNumber(const std::string& text, const std::regex& pattern) {
    std::smatch match;
    if (!std::regex_search(text, match, pattern)) return 0;
    const unsigned long value = std::stoul(match[1].str());
    return value > 0 && value < (1u << 24) ? static_cast<uint32_t>(value) : 0;
}

bool scales(Category c) { return c == Category::Activations || c == Category::Temporaries; }

}  // namespace

uint32_t batchFromCommandLine(const std::string& commandLine) {
    static const std::regex pattern(R"((?:^|[^a-z])(?:micro[_-]?)?(?:batch(?:[_-]?size)?|bs|bsz)[ =:]+(\d+))",
                                    std::regex::icase);
    return firstNumber(commandLine, pattern);
}

uint32_t sequenceFromCommandLine(const std::string& commandLine) {
    static const std::regex pattern(
        R"((?:^|[^a-z])(?:seq(?:uence)?(?:[_-]?len(?:gth)?)?|block[_-]size|max[_-](?:seq[_-])?len(?:gth)?|context[_-]len(?:gth)?)[ =:]+(\d+))",
        std::regex::icase);
    return firstNumber(commandLine, pattern);
}

uint64_t Estimate::predictPeakBytes(double tokenRatio) const {
    double best = 0;
    for (const auto& [fixed, scaling] : profile)
        best = std::max(best, static_cast<double>(fixed) + static_cast<double>(scaling) * tokenRatio);
    return saturatingFromDouble(best);
}

uint64_t Estimate::predictDeviceBytes(double tokenRatio) const {
    return saturatingAdd(saturatingFromDouble(static_cast<double>(predictPeakBytes(tokenRatio)) * reservedPerAllocated),
                         contextBytes);
}

Estimate estimateMemory(const TraceModel& m, const Categorization& c, const EstimatorOptions& options) {
    Estimate e;
    e.headroom = options.headroom;
    e.deviceTotalBytes = m.deviceTotalBytes();
    const std::string commandLine = m.processes.empty() ? std::string() : m.text(m.processes.front().commandLineId);
    if (options.measuredBatch) {
        e.measuredBatch = options.measuredBatch;
        e.batchSource = "option";
    } else if (uint32_t b = batchFromCommandLine(commandLine)) {
        e.measuredBatch = b;
        e.batchSource = "command_line";
    }
    if (options.measuredSequence) {
        e.measuredSequence = options.measuredSequence;
        e.sequenceSource = "option";
    } else if (uint32_t s = sequenceFromCommandLine(commandLine)) {
        e.measuredSequence = s;
        e.sequenceSource = "command_line";
    }
    e.targetBatch = options.targetBatch ? options.targetBatch : 2 * e.measuredBatch;
    e.targetSequence = options.targetSequence ? options.targetSequence : e.measuredSequence;
    if (m.allocated.empty() || m.blocks.size() == 0) return e;
    e.valid = true;

    // Replay the allocated curve split into fixed and scaling bytes, keeping
    // the local peaks (an allocation followed by a free, or the end).
    const auto& events = m.allocatedEventBlocks;
    const auto& bytes = m.blocks.bytes;
    uint64_t fixed = 0, scaling = 0;
    std::vector<std::pair<uint64_t, uint64_t>> peaks;
    for (size_t i = 0; i < events.size(); ++i) {
        const uint32_t block = events[i] & ~TraceModel::kFreeBit;
        uint64_t& part = scales(c.category[block]) ? scaling : fixed;
        if (events[i] & TraceModel::kFreeBit) part = saturatingSub(part, bytes[block]);
        else part = saturatingAdd(part, bytes[block]);
        const bool nextFrees = i + 1 == events.size() || (events[i + 1] & TraceModel::kFreeBit);
        if (!(events[i] & TraceModel::kFreeBit) && nextFrees) peaks.emplace_back(fixed, scaling);
    }
    // Pareto front: by scaling descending, keep only strictly growing fixed.
    std::sort(peaks.begin(), peaks.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first > b.first;
    });
    uint64_t bestFixed = 0;
    bool first = true;
    for (const auto& p : peaks) {
        if (first || p.first > bestFixed) {
            e.profile.push_back(p);
            bestFixed = p.first;
            first = false;
        }
    }

    e.measuredPeakBytes = m.allocated.peak().bytes;
    e.weightsBytes = c.peakBytes[static_cast<size_t>(Category::Weights)];
    e.gradientsBytes = c.peakBytes[static_cast<size_t>(Category::Gradients)];
    e.optimizerStateBytes = c.peakBytes[static_cast<size_t>(Category::OptimizerState)];
    for (int k = 0; k < kCategoryCount; ++k) {
        uint64_t& part = scales(static_cast<Category>(k)) ? e.activationsBytes : e.fixedBytesAtPeak;
        part = saturatingAdd(part, c.bytesAtPeak[static_cast<size_t>(k)]);
    }
    e.activationsPerSampleBytes = e.activationsBytes / e.measuredBatch;
    if (e.measuredSequence) e.activationsPerTokenBytes = e.activationsPerSampleBytes / e.measuredSequence;

    const double sequenceRatio =
        e.measuredSequence && e.targetSequence ? static_cast<double>(e.targetSequence) / e.measuredSequence : 1.0;
    e.predictedPeakBytes = e.predictPeakBytes(static_cast<double>(e.targetBatch) / e.measuredBatch * sequenceRatio);

    // What the caching allocator and the CUDA context add on top.
    const uint64_t peakReserved = m.reserved.peak().bytes;
    if (peakReserved > e.measuredPeakBytes && e.measuredPeakBytes)
        e.reservedPerAllocated = static_cast<double>(peakReserved) / static_cast<double>(e.measuredPeakBytes);
    const uint64_t peakUsed = m.deviceUsed.peak().bytes;
    const uint64_t reservedOrAllocated = std::max(peakReserved, e.measuredPeakBytes);
    if (peakUsed > reservedOrAllocated) e.contextBytes = peakUsed - reservedOrAllocated;

    bool scalingSeen = false;
    for (const auto& p : e.profile) scalingSeen |= p.second > 0;
    if (!scalingSeen) {
        // A driver-level trace of a caching allocator sees segments, not tensors:
        // nothing is freed per step, so nothing can be told to scale.
        e.note = "no memory was seen to scale with the batch (a caching allocator keeps its segments: record "
                 "tensor events with the PyTorch bridge, or run with PYTORCH_NO_CUDA_MEMORY_CACHING=1, for batch "
                 "predictions)";
    } else if (e.batchSource == "assumed") {
        e.note = "batch size unknown (pass --batch N): per-sample figures are per traced step";
    }
    if (e.deviceTotalBytes && scalingSeen) {
        const double capacity = static_cast<double>(e.deviceTotalBytes) * (1.0 - e.headroom);
        auto fits = [&](uint32_t batch) {
            return static_cast<double>(e.predictDeviceBytes(static_cast<double>(batch) / e.measuredBatch * sequenceRatio)) <=
                   capacity;
        };
        uint32_t lo = 0, hi = 1u << 20;  // fits(lo) or lo == 0; !fits(hi)
        if (fits(hi)) lo = hi;
        while (hi - lo > 1) {
            const uint32_t mid = lo + (hi - lo) / 2;
            (fits(mid) ? lo : hi) = mid;
        }
        e.maxBatchThatFits = lo;
    }
    return e;
}

}  // namespace vramscope::analysis
