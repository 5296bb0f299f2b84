// How every CLI command opens its input: a .vtrace, or a PyTorch memory
// snapshot imported to a temporary trace first.
#pragma once

#include "model/trace_model.h"

#include <QString>

namespace vramscope::cli {

// Loads path into out. On failure prints "vramscope <command>: <sentence>"
// on stderr and returns false (the caller exits with kExitBadInput).
bool loadModelForCommand(const QString& command, const QString& path, model::TraceModel& out);

}  // namespace vramscope::cli
