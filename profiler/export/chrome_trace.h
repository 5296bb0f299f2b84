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

// The most of one text (a kernel name, a callsite) an export writes: 4 KiB,
// then "…". Chrome's format repeats a name in every event, and one kernel
// name of 48 MiB in a 2 KB trace asked for 48 GB of JSON from 1000
// launches. Names a program really gives are far shorter (the longest
// templated kernel names measured are under 1 KiB); the app's tooltips cut
// at the same length.
inline constexpr size_t kMaxExportedTextBytes = 4096;

// JSON string escaping (quotes included): control characters as \u escapes,
// a byte that starts no well-formed UTF-8 sequence as \ufffd, so the file is
// valid JSON whatever bytes a name holds; text beyond kMaxExportedTextBytes
// is cut between characters and ends in "…". Shared with the CSV writer's tests.
void writeJsonString(std::ostream& out, std::string_view text);

}  // namespace vramscope::exporting
