#include "display_text.h"

namespace vramscope::app {

std::string shownUtf8(std::string_view text, size_t maxBytes) {
    if (text.size() <= maxBytes) return std::string(text);
    size_t cut = maxBytes;
    // Back to the start of a character: continuation bytes are 10xxxxxx.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut)) + "\u2026";
}

QString shownText(std::string_view text, size_t maxBytes) {
    const std::string shown = shownUtf8(text, maxBytes);
    return QString::fromUtf8(shown.data(), qsizetype(shown.size()));
}

QString shownText(const QString& text, size_t maxUnits) {
    if (size_t(text.size()) <= maxUnits) return text;
    qsizetype cut = qsizetype(maxUnits);
    if (text[cut].isLowSurrogate()) --cut;  // keep a surrogate pair whole
    return text.left(cut) + QChar(0x2026);
}

}  // namespace vramscope::app
