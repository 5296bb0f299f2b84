#include "timeline_tooltips.h"

#include "display_text.h"
#include "format_text.h"
#include "timeline_style.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace vramscope::app {

void memoryTooltip(const TraceDocument& doc, uint64_t t) {
    const auto& m = doc.model;
    ImGui::BeginTooltip();
    ImGui::Text("%s  at %s", doc.displayName.toUtf8().constData(), formatDuration(double(t) - double(m.firstNs), 0).c_str());
    ImGui::Text("allocated %s   reserved %s", formatBytes(double(m.allocated.valueAt(t))).c_str(),
                formatBytes(double(m.reserved.valueAt(t))).c_str());
    auto byCategory = doc.categoryCurves.at(t);
    for (int k = 0; k < analysis::kCategoryCount; ++k)
        if (byCategory[size_t(k)])
            ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(categoryColor(analysis::Category(k))), "  %-16s %s",
                               analysis::categoryName(analysis::Category(k)), formatBytes(double(byCategory[size_t(k)])).c_str());
    auto top5 = m.topLiveBlocksAt(t, 5);
    if (!top5.empty()) {
        ImGui::Separator();
        ImGui::TextUnformatted("largest live blocks:");
        for (uint32_t bi : top5) {
            std::string where = shownUtf8(m.callsiteText(m.blocks.callsiteId[bi]));
            // Not every block is plain device memory: say which are host or managed.
            const uint8_t kind = m.blocks.memoryKind[bi];
            if (analysis::isHostMemory(kind) || kind == uint8_t(format::MemoryKind::Managed))
                where = std::string("[") + analysis::memoryKindText(kind) + "] " + where;
            ImGui::Text("  %10s  0x%llx  age %s %s", formatBytes(double(m.blocks.bytes[bi])).c_str(),
                        static_cast<unsigned long long>(m.blocks.address[bi]),
                        formatDuration(double(t - m.blocks.allocNs[bi]), 0).c_str(), where.c_str());
        }
    }
    ImGui::EndTooltip();
}

// The phase under the mouse: its iteration, length and what limited the GPU.
void phaseTooltip(const TraceDocument& doc, uint64_t t) {
    // Spans are sorted by start and do not overlap, except recomputes inside a backward.
    auto after = std::upper_bound(doc.phases.begin(), doc.phases.end(), t,
                                  [](uint64_t time, const PhaseSpan& s) { return time < s.startNs; });
    for (int back = 0; back < 64 && after != doc.phases.begin(); ++back) {
        const PhaseSpan& s = *--after;
        if (s.endNs < t || s.phase < 0) continue;
        ImGui::BeginTooltip();
        ImGui::Text("%s, iteration %u: %s", phaseName(doc, s.kind), s.iteration,
                    formatDuration(double(s.endNs - s.startNs), 0).c_str());
        const auto& b = doc.summary.boundness;
        if (s.iteration < b.iterations.size()) {
            const analysis::PhaseBoundness& p = b.iterations[s.iteration].phases[size_t(s.phase)];
            ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(boundColor(p.bound)), "%s-bound", analysis::boundText(p.bound));
            std::string counters = "GPU busy " + std::to_string(int(std::lround(100 * p.busyFraction))) + "%";
            if (p.smThroughputPct >= 0) counters += "   SM " + std::to_string(int(std::lround(p.smThroughputPct))) + "%";
            if (p.dramThroughputPct >= 0) counters += "   DRAM " + std::to_string(int(std::lround(p.dramThroughputPct))) + "%";
            if (p.tensorPipePct >= 0) counters += "   tensor " + std::to_string(int(std::lround(p.tensorPipePct))) + "%";
            ImGui::TextUnformatted(counters.c_str());
            if (p.computeKernelShare + p.bandwidthKernelShare + p.latencyKernelShare > 0)
                ImGui::Text("kernel time: %.0f%% compute, %.0f%% bandwidth, %.0f%% latency", 100 * p.computeKernelShare,
                            100 * p.bandwidthKernelShare, 100 * p.latencyKernelShare);
            ImGui::TextDisabled("%s", b.source == "estimated" ? "estimated from kernel names (no counters in this trace)"
                                                              : ("from " + b.source + " counters").c_str());
            if (!b.iterations[s.iteration].steady) ImGui::TextDisabled("a slow iteration: left out of the per-phase classes");
        }
        ImGui::EndTooltip();
        return;
    }
}

}  // namespace vramscope::app
