#include "oom_markers.h"

#include "display_text.h"

#include "format/units.h"

#include <string>

namespace vramscope::app {

int drawOutOfMemoryMarkers(ImDrawList* dl, const TraceDocument& doc, const std::function<float(double)>& x, double t0,
                           double t1, float y0, float y1, bool* hovered) {
    const ImU32 red = IM_COL32(235, 64, 52, 255);
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    int drawn = 0;
    for (const analysis::OutOfMemory& o : doc.summary.outOfMemory) {
        const double t = double(o.timeNs);
        if (t < t0 || t > t1) continue;
        const float cx = x(t);
        dl->AddLine(ImVec2(cx, y0), ImVec2(cx, y1), red, 2.0f);
        const float label = ImGui::CalcTextSize("OOM").x;
        dl->AddText(ImVec2(cx + 3 + label > x(t1) ? cx - 3 - label : cx + 3, y0 + 1), red, "OOM");
        ++drawn;
        if (mouse.y < y0 || mouse.y >= y1 || mouse.x < cx - 4 || mouse.x > cx + 4) continue;
        *hovered = true;
        ImGui::BeginTooltip();
        ImGui::Text("Out of memory on device %u%s", o.deviceId, o.fromFramework ? " (the program's request)" : "");
        ImGui::Text("asked for %s; %s free on the device", formatBytes(double(o.requestedBytes)).c_str(),
                    o.deviceFreeBytes >= 0 ? formatBytes(double(o.deviceFreeBytes)).c_str() : "unknown");
        ImGui::Text("allocated %s, reserved %s", formatBytes(double(o.allocatedBytes)).c_str(),
                    formatBytes(double(o.reservedBytes)).c_str());
        if (o.largerThanDevice)
            ImGui::TextUnformatted("larger than the whole device: nothing freed would make it fit");
        else if (o.moreThanProgramCanFree)
            ImGui::TextUnformatted("more than free plus all the program holds: freeing its memory would not make it fit");
        else if (o.shortfallBytes)
            ImGui::Text("%s would have to go for it to fit", formatBytes(double(o.shortfallBytes)).c_str());
        else if (o.deviceFreeBytes >= 0)
            ImGui::TextUnformatted("enough was free, but not in one piece (fragmentation)");
        const std::string site = shownUtf8(doc.model.callsiteText(o.callsiteId), kTooltipTextBytes);
        if (!site.empty()) ImGui::Text("at %s", site.c_str());
        ImGui::TextUnformatted("Click the memory lane here for the live set (Live Set at Cursor).");
        ImGui::EndTooltip();
    }
    return drawn;
}

}  // namespace vramscope::app
