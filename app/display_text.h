// Text from a trace as the app shows it. Kernel names, NVTX ranges, callsites
// and notes are the traced program's and may be any length: Qt elides a
// table cell by shaping the whole string, and an 8 MiB kernel name kept the
// window from painting for 34 s (harfbuzz, on every repaint). Whatever the
// app shows is cut first, on a UTF-8 character boundary, with "…" appended.
#pragma once

#include <QString>

#include <cstddef>
#include <string>
#include <string_view>

namespace vramscope::app {

constexpr size_t kCellTextBytes = 300;      // table cells, lane labels: wider than any column
constexpr size_t kTooltipTextBytes = 4096;  // tooltips, the Details dock: long C++ kernel names in full

// text, or its first maxBytes bytes (whole UTF-8 characters) and "…".
std::string shownUtf8(std::string_view text, size_t maxBytes = kCellTextBytes);
QString shownText(std::string_view text, size_t maxBytes = kCellTextBytes);
// The same for text that is a QString already, in UTF-16 units.
QString shownText(const QString& text, size_t maxUnits = kCellTextBytes);

}  // namespace vramscope::app
