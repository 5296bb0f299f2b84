// Chrome trace / Perfetto JSON export: open the file in ui.perfetto.dev or
// chrome://tracing. Memory curves and hardware counters (percent of
// peak) become counter tracks, kernels and copies
// slices on one track per stream, NVTX ranges slices per host thread, and
// iterations, phases and recomputes slices on a "training" process.
// Timestamps are microseconds from the trace's first event.
#pragma once

#include "analysis/iterations.h"
#include "model/trace_model.h"

#include <cstddef>
#include <ostream>
#include <string_view>

namespace vramscope::exporting {

struct ChromeTraceOptions {
    // 0 keeps every point; otherwise a curve with more points is drawn from
    // its min/max pyramid at this many buckets (two points per bucket).
    size_t maxCounterPoints = 0;
    bool kernels = true;  // false leaves kernels and copies out (much smaller files)
};

// Writes the whole JSON document. False when the stream failed.
bool writeChromeTrace(const model::TraceModel& model, const analysis::IterationSet& iterations, std::ostream& out,
                      const ChromeTraceOptions& options = {});

// JSON string escaping (quotes included): control characters as \u escapes,
// a byte that starts no well-formed UTF-8 sequence as \ufffd, so the file is
// valid JSON whatever bytes a name holds. Shared with the CSV writer's tests.
void writeJsonString(std::ostream& out, std::string_view text);

}  // namespace vramscope::exporting
