#include "checkpointing.h"

#include <algorithm>
#include <unordered_set>

namespace vramscope::analysis {

using model::TraceModel;

const char* recomputeSourceText(RecomputeSource source) {
    switch (source) {
    case RecomputeSource::None: return "none";
    case RecomputeSource::Markers: return "markers";
    case RecomputeSource::RepeatedForwardKernels: return "repeated_forward_kernels";
    }
    return "?";
}

namespace {

constexpr size_t kMinRecomputeRun = 6;

uint64_t trigram(const model::KernelColumns& k, size_t i) {
    return (static_cast<uint64_t>(k.nameId[i]) * 0x9E3779B97F4A7C15ull) ^
           (static_cast<uint64_t>(k.nameId[i + 1]) * 0xC2B2AE3D27D4EB4Full) ^ static_cast<uint64_t>(k.nameId[i + 2]);
}

}  // namespace

CheckpointingReport detectCheckpointing(const TraceModel& m, const IterationSet& set) {
    CheckpointingReport r;
    const auto& k = m.kernels;
    uint64_t iterationNs = 0;
    for (const auto& it : set.iterations) iterationNs += it.span.durationNs();

    bool anyMarkers = false;
    for (const auto& it : set.iterations) anyMarkers |= !it.recomputes.empty();
    if (anyMarkers) {
        r.source = RecomputeSource::Markers;
        for (const auto& it : set.iterations) {
            if (it.recomputes.empty()) continue;
            ++r.iterationsWithRecompute;
            for (const auto& span : it.recomputes) {
                auto [first, last] = m.kernelsIn(span.startNs, span.endNs);
                for (size_t i = first; i < last; ++i) {
                    const uint64_t a = std::max(span.startNs, k.startNs[i]), b = std::min(span.endNs, k.endNs(i));
                    if (k.startNs[i] < span.startNs || a >= b) continue;
                    ++r.recomputeKernels;
                    r.recomputeNs += b - a;
                }
            }
        }
    } else {
        // Forward kernel trigrams from the first few iterations with a forward phase.
        std::unordered_set<uint64_t> forward;
        std::unordered_set<uint32_t> forwardNames;
        size_t sampled = 0;
        for (const auto& it : set.iterations) {
            if (!it.phases[0].valid() || sampled >= 5) continue;
            ++sampled;
            auto [first, last] = m.kernelsIn(it.phases[0].startNs, it.phases[0].endNs);
            for (size_t i = first; i + 2 < last; ++i)
                if (k.startNs[i] >= it.phases[0].startNs) forward.insert(trigram(k, i));
            for (size_t i = first; i < last; ++i)
                if (k.startNs[i] >= it.phases[0].startNs) forwardNames.insert(k.nameId[i]);
        }
        if (forward.empty()) return r;
        r.source = RecomputeSource::RepeatedForwardKernels;
        std::vector<char> marked;
        for (const auto& it : set.iterations) {
            const TimeSpan& backward = it.phases[1];
            if (!backward.valid()) continue;
            auto [first, last] = m.kernelsIn(backward.startNs, backward.endNs);
            while (first < last && k.startNs[first] < backward.startNs) ++first;
            if (last - first < 3) continue;
            // Markers come from the host while kernels run later on the GPU:
            // backward's first kernels are often forward's last, still queued.
            // Skip that leading stretch of forward-named kernels.
            size_t from = first;
            while (from < last && forwardNames.count(k.nameId[from])) ++from;
            if (last - from < 3) continue;
            marked.assign(last - from, 0);
            for (size_t i = from; i + 2 < last; ++i)
                if (forward.count(trigram(k, i))) marked[i - from] = marked[i - from + 1] = marked[i - from + 2] = 1;
            // Only runs of kMinRecomputeRun forward kernels in a row count: a
            // re-run layer is a dozen kernels, a coincidence two or three.
            uint64_t count = 0, ns = 0;
            for (size_t i = from; i < last;) {
                size_t j = i;
                uint64_t runNs = 0;
                while (j < last && marked[j - from]) runNs += k.durationNs[j++];
                if (j - i >= kMinRecomputeRun) {
                    count += j - i;
                    ns += runNs;
                }
                i = j == i ? i + 1 : j;
            }
            // A stray coincidence is not checkpointing: ask for 5% of backward's kernels.
            if (count * 20 < last - first) continue;
            ++r.iterationsWithRecompute;
            r.recomputeKernels += count;
            r.recomputeNs += ns;
        }
    }
    r.detected = r.iterationsWithRecompute > 0;
    if (!r.detected) r.source = RecomputeSource::None;
    if (r.iterationsWithRecompute) r.recomputeNsPerIteration = r.recomputeNs / r.iterationsWithRecompute;
    if (iterationNs) r.fractionOfIterationTime = static_cast<double>(r.recomputeNs) / static_cast<double>(iterationNs);
    return r;
}

}  // namespace vramscope::analysis
