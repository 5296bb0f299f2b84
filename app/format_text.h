// The app prints bytes and durations exactly as the CLI does.
#pragma once
#include "format/units.h"
namespace vramscope::app {
using vramscope::formatBytes;
using vramscope::formatDuration;
}  // namespace vramscope::app
