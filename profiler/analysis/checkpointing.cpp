#include "checkpointing.h"
#include "step_times.h"

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
    r.recomputeNsByIteration.assign(set.iterations.size(), 0);
    std::vector<uint64_t> regionNs(set.iterations.size(), 0);
    std::vector<bool> recomputes(set.iterations.size(), false);

    bool anyMarkers = false;
    for (const auto& it : set.iterations) anyMarkers |= !it.recomputes.empty();
    if (anyMarkers) {
        r.source = RecomputeSource::Markers;
        for (size_t n = 0; n < set.iterations.size(); ++n) {
            const auto& it = set.iterations[n];
            if (it.recomputes.empty()) continue;
            ++r.iterationsWithRecompute;
            recomputes[n] = true;
            for (const auto& span : it.recomputes) {
                regionNs[n] += span.durationNs();
                auto [first, last] = m.kernelsIn(span.startNs, span.endNs);
                for (size_t i = first; i < last; ++i) {
                    const uint64_t a = std::max(span.startNs, k.startNs[i]), b = std::min(span.endNs, k.endNs(i));
                    if (k.startNs[i] < span.startNs || a >= b) continue;
                    ++r.recomputeKernels;
                    r.recomputeNsByIteration[n] += b - a;
                }
            }
            r.recomputeNs += r.recomputeNsByIteration[n];
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
        for (size_t n = 0; n < set.iterations.size(); ++n) {
            const auto& it = set.iterations[n];
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
            recomputes[n] = true;
            r.recomputeKernels += count;
            r.recomputeNs += ns;
            r.recomputeNsByIteration[n] = ns;
        }
    }
    r.detected = r.iterationsWithRecompute > 0;
    if (!r.detected) r.source = RecomputeSource::None;
    if (!r.detected) return r;

    // The figures per iteration, from the steady iterations that recompute.
    const std::vector<bool> steady = steadyIterations(set);
    bool anySteady = false;
    for (size_t n = 0; n < set.iterations.size(); ++n) anySteady |= recomputes[n] && steady[n];
    std::vector<uint64_t> kernelNs, hostNs;
    uint64_t recomputeNs = 0, recomputeHostNs = 0, iterationNs = 0, backwardNs = 0;
    for (size_t n = 0; n < set.iterations.size(); ++n) {
        if (!recomputes[n] || (anySteady && !steady[n])) continue;
        const auto& it = set.iterations[n];
        kernelNs.push_back(r.recomputeNsByIteration[n]);
        hostNs.push_back(regionNs[n]);
        recomputeNs += r.recomputeNsByIteration[n];
        recomputeHostNs += regionNs[n];
        iterationNs += it.span.durationNs();
        backwardNs += it.phases[size_t(PhaseName::Backward)].durationNs();
    }
    r.recomputeNsPerIteration = medianOf(std::move(kernelNs));
    r.recomputeRegionNsPerIteration = medianOf(std::move(hostNs));
    if (iterationNs) r.fractionOfIterationTime = static_cast<double>(recomputeNs) / static_cast<double>(iterationNs);
    if (backwardNs) {
        r.fractionOfBackward = static_cast<double>(recomputeNs) / static_cast<double>(backwardNs);
        r.regionFractionOfBackward = static_cast<double>(recomputeHostNs) / static_cast<double>(backwardNs);
    }
    return r;
}

}  // namespace vramscope::analysis
