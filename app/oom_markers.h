// Out-of-memory on the timeline: a red line across the memory lane at each
// failed allocation, "OOM" at its top, and what it was on hover. "Why did it
// OOM" is the first question, so the moment is visible at any zoom.
#pragma once

#include "trace_document.h"

#include <imgui.h>

#include <functional>

namespace vramscope::app {

// Draws the markers of doc between y0 and y1; x maps trace time to pixels,
// [t0, t1] is the visible trace time. Returns how many were drawn. A marker
// under the mouse shows its tooltip (and takes the memory tooltip's place).
int drawOutOfMemoryMarkers(ImDrawList* dl, const TraceDocument& doc, const std::function<float(double)>& x, double t0,
                           double t1, float y0, float y1, bool* hovered);

}  // namespace vramscope::app
