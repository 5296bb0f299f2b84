// Colours, names and label handling shared by the timeline's lanes
// (timeline_canvas.cpp).
#pragma once

#include "trace_document.h"

#include <imgui.h>

#include <string>
#include <vector>

namespace vramscope::app {

inline ImU32 rgba(int r, int g, int b, int a = 255) { return IM_COL32(r, g, b, a); }

// What glClear paints (ImGuiWidget::paintGL): 0.09, 0.09, 0.11.
inline const ImU32 kBackground = IM_COL32(23, 23, 28, 255);

ImU32 categoryColor(analysis::Category c);
ImU32 phaseColor(PhaseSpanKind k);
const char* phaseName(PhaseSpanKind k);
// The label of a span in this document: forward/backward/optimizer for a
// training step's phases, "phase 1/2/3" for phases inferred in a program
// that nothing shows to be training (analysis::phaseLabel).
const char* phaseName(const TraceDocument& doc, PhaseSpanKind k);
// Kernels coloured by a stable hash of their name (the same in both traces of a comparison).
ImU32 nameColor(uint32_t hash);
// What limits a kernel or phase: green compute, orange bandwidth, violet
// neither (latency, launches), grey unknown.
ImU32 boundColor(analysis::Bound bound);
ImU32 boundColor(const TraceDocument& doc, uint32_t kernelNameId);

// The labels of one row of rectangles. The rectangles go to the raster,
// under everything ImGui draws, so the labels are held back and clipped: a
// rectangle drawn after a label hides the part of it that it overlaps, as
// when each label was drawn right after its own rectangle.
class RowLabels {
public:
    // A rectangle spanning [a, b) in x; `a` never decreases from one call to the next.
    void cover(float a, float b) {
        for (Label& l : labels_) {
            if (l.clipEnd <= a || l.clipStart >= b) continue;
            if (a > l.clipStart) l.clipEnd = a;
            else l.clipStart = b;
        }
    }
    void add(float a, float b, ImVec2 at, ImU32 color, std::string text) {
        labels_.push_back({a, b, at, color, std::move(text)});
    }
    void draw(ImDrawList* dl, float y0, float y1) const {
        for (const Label& l : labels_) {
            if (l.clipEnd <= l.clipStart) continue;
            dl->PushClipRect(ImVec2(l.clipStart, y0), ImVec2(l.clipEnd, y1), true);
            dl->AddText(l.at, l.color, l.text.c_str());
            dl->PopClipRect();
        }
    }

private:
    struct Label {
        float clipStart, clipEnd;
        ImVec2 at;
        ImU32 color;
        std::string text;
    };
    std::vector<Label> labels_;
};

}  // namespace vramscope::app
