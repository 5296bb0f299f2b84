#include "leak_detector.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace vramscope::analysis {

using model::TraceModel;

LeakReport detectLeaks(const TraceModel& m, const IterationSet& set, const Categorization& c) {
    LeakReport r;
    r.warmupIterations = c.warmupIterations;
    const auto& b = m.blocks;
    std::map<std::tuple<int8_t, uint32_t, uint8_t>, LeakGroup> groups;
    std::map<std::tuple<int8_t, uint32_t, uint8_t>, int32_t> lastIteration;
    for (size_t i = 0; i < b.size(); ++i) {
        if (c.category[i] != Category::Leaked) continue;
        const BlockSignature s = signatureOf(m, c, i);
        const auto key = std::make_tuple(int8_t(0), s.callsiteId, s.sizeClass);  // phase varies: see categories.cpp
        LeakGroup& g = groups[key];
        // Blocks between iterations count for the iteration before them.
        const int32_t iteration = c.iteration[i] >= 0 ? c.iteration[i] : std::max(0, set.iterationStartingBefore(b.allocNs[i]));
        if (g.blocks == 0) {
            g.signature = s;
            g.callsiteId = s.callsiteId;
            g.callsite = m.callsiteText(s.callsiteId);
            g.minBytes = b.bytes[i];
            g.firstIteration = iteration;
        }
        auto [last, added] = lastIteration.try_emplace(key, iteration);
        if (added || last->second != iteration) ++g.iterations;
        last->second = iteration;
        ++g.blocks;
        g.totalBytes += b.bytes[i];
        g.minBytes = std::min(g.minBytes, b.bytes[i]);
        g.maxBytes = std::max(g.maxBytes, b.bytes[i]);
        if (r.firstIteration < 0 || iteration < r.firstIteration) r.firstIteration = iteration;
        if (b.freeNs[i] == model::kNeverNs) r.totalLeakedBytes += b.bytes[i];
    }
    uint64_t leakedBytes = 0;
    for (auto& [key, g] : groups) {
        leakedBytes += g.totalBytes;
        r.groups.push_back(std::move(g));
    }
    std::sort(r.groups.begin(), r.groups.end(), [](const LeakGroup& x, const LeakGroup& y) { return x.totalBytes > y.totalBytes; });
    if (!r.groups.empty() && r.firstIteration >= 0 && set.size() > static_cast<size_t>(r.firstIteration)) {
        r.detected = true;
        const uint64_t span = set.size() - static_cast<size_t>(r.firstIteration);
        r.bytesPerIteration = leakedBytes / span;
    }

    // Cross-check: the trend of allocated bytes at iteration starts past warm-up.
    const size_t first = std::min<size_t>(std::max<size_t>(c.warmupIterations, 1), set.size());
    const size_t count = set.size() - first;
    if (count >= 3) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (size_t k = first; k < set.size(); ++k) {
            const double x = static_cast<double>(k);
            const double y = static_cast<double>(m.allocated.valueAt(set.iterations[k].span.startNs));
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
        const double nn = static_cast<double>(count);
        const double denominator = nn * sxx - sx * sx;
        if (denominator != 0) r.growthBytesPerIteration = (nn * sxy - sx * sy) / denominator;
    }
    return r;
}

}  // namespace vramscope::analysis
