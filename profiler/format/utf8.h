// Well-formed UTF-8 (RFC 3629): what may be copied into JSON and CSV as it
// is. Names in a trace are whatever bytes the program gave CUDA, NVTX or
// Python; writers that promise UTF-8 check every sequence with this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vramscope::format {

// Length (1 to 4) of the well-formed sequence at text[i], its code point in
// *codePoint; 0 when the bytes there are not one (a stray continuation byte,
// an overlong form, a surrogate, above U+10FFFF, cut off by the end).
inline size_t utf8SequenceAt(std::string_view text, size_t i, char32_t* codePoint = nullptr) {
    const auto byte = [&](size_t k) -> unsigned { return i + k < text.size() ? uint8_t(text[i + k]) : 0x100u; };
    const auto continuation = [&](size_t k) { return (byte(k) & 0xC0u) == 0x80u; };
    const unsigned b0 = byte(0);
    char32_t c = 0;
    size_t n = 0;
    if (b0 < 0x80) {
        c = b0, n = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF && continuation(1)) {
        c = (char32_t(b0 & 0x1F) << 6) | (byte(1) & 0x3F), n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF && continuation(1) && continuation(2)) {
        const unsigned b1 = byte(1);
        if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0)) return 0;  // overlong; surrogate
        c = (char32_t(b0 & 0x0F) << 12) | (char32_t(b1 & 0x3F) << 6) | (byte(2) & 0x3F), n = 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4 && continuation(1) && continuation(2) && continuation(3)) {
        const unsigned b1 = byte(1);
        if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90)) return 0;  // overlong; above U+10FFFF
        c = (char32_t(b0 & 0x07) << 18) | (char32_t(b1 & 0x3F) << 12) | (char32_t(byte(2) & 0x3F) << 6) |
            (byte(3) & 0x3F);
        n = 4;
    }
    if (n && codePoint) *codePoint = c;
    return n;
}

// The length of text's longest prefix of at most maxBytes that does not cut
// a well-formed sequence (a byte that starts none counts as one).
inline size_t utf8PrefixBytes(std::string_view text, size_t maxBytes) {
    if (text.size() <= maxBytes) return text.size();
    size_t i = 0;
    for (;;) {
        const size_t n = utf8SequenceAt(text, i);
        const size_t step = n ? n : 1;
        if (i + step > maxBytes) return i;
        i += step;
    }
}

}  // namespace vramscope::format
