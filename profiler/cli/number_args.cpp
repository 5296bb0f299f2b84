#include "number_args.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace vramscope::cli {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// "16777216", "99", "0.5": a bound as the user would type it.
std::string boundText(double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.15g", v);
    return buffer;
}

std::string refusal(const std::string& option, const char* what, const std::string& lo, const std::string& hi,
                    const std::string& text, const char* why) {
    std::string out = option + " must be " + what + " from " + lo + " to " + hi + ", not '" + quotedForMessage(text) + "'";
    if (why) out += std::string(" (") + why + ")";
    return out;
}

// Digits with at most one point, an optional leading '-', at least one digit.
bool isPlainDecimal(const std::string& text) {
    size_t i = text.size() && text[0] == '-' ? 1 : 0;
    bool digit = false, point = false;
    for (; i < text.size(); ++i) {
        if (isDigit(text[i])) digit = true;
        else if (text[i] == '.' && !point) point = true;
        else return false;
    }
    return digit;
}

}  // namespace

std::string quotedForMessage(const std::string& text) {
    constexpr size_t kMaxChars = 40;
    std::string out;
    for (size_t i = 0; i < text.size() && i < kMaxChars; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        out += c < 0x20 || c == 0x7f ? '?' : char(c);
    }
    if (text.size() > kMaxChars) out += "...";
    return out;
}

bool readWholeNumber(const std::string& option, const std::string& text, uint64_t lo, uint64_t hi, uint64_t* out,
                     std::string* error, const char* why) {
    bool digitsOnly = !text.empty();
    for (char c : text) digitsOnly = digitsOnly && isDigit(c);
    uint64_t value = 0;
    if (digitsOnly) {
        // Digits only, so the one failure left is a number too large for 64 bits.
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size() && value >= lo && value <= hi) {
            *out = value;
            return true;
        }
    }
    *error = refusal(option, "a whole number", std::to_string(lo), std::to_string(hi), text, why);
    return false;
}

bool readDecimalNumber(const std::string& option, const std::string& text, double lo, double hi, double* out,
                       std::string* error, const char* why) {
    double value = 0;
    if (isPlainDecimal(text)) {
        // from_chars, not strtod: the same text reads the same under every locale.
        const char* first = text.data() + (text[0] == '-' ? 1 : 0);
        const auto [end, ec] = std::from_chars(first, text.data() + text.size(), value, std::chars_format::fixed);
        if (text[0] == '-') value = -value;
        if (value == 0) value = 0;  // "-0" is 0
        if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(value) && value >= lo && value <= hi) {
            *out = value;
            return true;
        }
    }
    *error = refusal(option, "a number", boundText(lo), boundText(hi), text, why);
    return false;
}

}  // namespace vramscope::cli
