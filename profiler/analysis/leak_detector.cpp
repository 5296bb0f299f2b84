#include "leak_detector.h"

#include "format/saturating.h"

#include <algorithm>
#include <cmath>
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
        g.totalBytes = saturatingAdd(g.totalBytes, b.bytes[i]);
        g.minBytes = std::min(g.minBytes, b.bytes[i]);
        g.maxBytes = std::max(g.maxBytes, b.bytes[i]);
        if (r.firstIteration < 0 || iteration < r.firstIteration) r.firstIteration = iteration;
        if (b.freeNs[i] == model::kNeverNs) r.totalLeakedBytes = saturatingAdd(r.totalLeakedBytes, b.bytes[i]);
    }
    // A block kept past the start of the iteration after next is a leak
    // candidate; blocks of the last two iterations cannot show that unless
    // never freed. Those of a leaking kind that outlived their iteration are
    // left out, and so are their iterations from the rate.
    for (size_t i = 0; i < b.size() && !groups.empty(); ++i) {
        if (c.category[i] == Category::Leaked || b.freeNs[i] == model::kNeverNs) continue;
        const int32_t iteration = c.iteration[i] >= 0 ? c.iteration[i] : set.iterationStartingBefore(b.allocNs[i]);
        if (iteration < 0 || static_cast<size_t>(iteration) + 2 < set.size()) continue;
        if (b.freeNs[i] < set.iterations[static_cast<size_t>(iteration)].span.endNs) continue;
        const BlockSignature s = signatureOf(m, c, i);
        if (!groups.count(std::make_tuple(int8_t(0), s.callsiteId, s.sizeClass))) continue;
        ++r.leftOutBlocks;
        r.leftOutBytes = saturatingAdd(r.leftOutBytes, b.bytes[i]);
        if (r.leftOutFromIteration < 0 || iteration < r.leftOutFromIteration) r.leftOutFromIteration = iteration;
    }
    for (auto& [key, g] : groups) r.groups.push_back(std::move(g));
    std::sort(r.groups.begin(), r.groups.end(), [](const LeakGroup& x, const LeakGroup& y) { return x.totalBytes > y.totalBytes; });
    if (!r.groups.empty() && r.firstIteration >= 0 && set.size() > static_cast<size_t>(r.firstIteration)) {
        r.detected = true;
        // The steady rate over the iterations that could be judged, from the
        // first leaking one on: the slope of the leaked bytes added up
        // iteration by iteration. A first iteration that also kept one-off
        // blocks of a leaking kind (a gradient the size of a leaked
        // activation, when no callsites tell them apart) moves the mean, not
        // the slope: torch_gpt_leak.vtrace leaks 23897124 B a step (allocated
        // at each step's start), the mean said 27381825.
        int32_t lastJudged = static_cast<int32_t>(set.size()) - 1;
        if (r.leftOutFromIteration >= 0) lastJudged = std::max(r.firstIteration, r.leftOutFromIteration - 1);
        r.countedIterations = static_cast<uint32_t>(lastJudged + 1 - r.firstIteration);
        std::vector<double> leakedIn(r.countedIterations, 0.0);
        for (size_t i = 0; i < b.size(); ++i) {
            if (c.category[i] != Category::Leaked) continue;
            const int32_t iteration = c.iteration[i] >= 0 ? c.iteration[i] : std::max(0, set.iterationStartingBefore(b.allocNs[i]));
            if (iteration >= r.firstIteration && iteration <= lastJudged)
                leakedIn[static_cast<size_t>(iteration - r.firstIteration)] += static_cast<double>(b.bytes[i]);
        }
        double total = 0;
        for (double bytes : leakedIn) total += bytes;
        double rate = total / static_cast<double>(r.countedIterations);
        if (leakedIn.size() >= 3) {
            double sx = 0, sy = 0, sxx = 0, sxy = 0, cumulative = 0;
            for (size_t k = 0; k < leakedIn.size(); ++k) {
                cumulative += leakedIn[k];
                const double x = static_cast<double>(k);
                sx += x, sy += cumulative, sxx += x * x, sxy += x * cumulative;
            }
            const double n = static_cast<double>(leakedIn.size());
            rate = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        }
        r.bytesPerIteration = saturatingFromDouble(std::round(rate));
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
