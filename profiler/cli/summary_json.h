// The JSON form of vramscope summary (docs/summary-schema.md); tests/analysis
// pins its keys. The text form is in cmd_summary.cpp.
#pragma once

#include "analysis/summary.h"
#include "model/trace_model.h"

#include <QJsonObject>
#include <QString>

namespace vramscope::cli {

// "tensor", "driver" or "none": which allocations the trace saw.
const char* levelText(model::AllocationLevel level);

// Why leak.left_out_blocks are not in the rate (leak_detector.h).
extern const char* const kLeftOutReason;

QJsonObject summaryJson(const QString& path, const model::TraceModel& m, const analysis::TraceSummary& s);

}  // namespace vramscope::cli
