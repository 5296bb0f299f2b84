// The timeline's hover tooltips (timeline_canvas.cpp draws the lanes; these
// say what is under the mouse). Each draws one ImGui tooltip for trace time t.
#pragma once

#include "trace_document.h"

#include <cstdint>

namespace vramscope::app {

// The memory lane: allocated and reserved bytes, bytes per category and the
// largest blocks live at t.
void memoryTooltip(const TraceDocument& doc, uint64_t t);

// The phases band: the phase at t, its iteration, length and what limited the GPU.
void phaseTooltip(const TraceDocument& doc, uint64_t t);

}  // namespace vramscope::app
