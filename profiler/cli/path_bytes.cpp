#include "path_bytes.h"

#include "format/utf8.h"

namespace vramscope::cli {

namespace {

constexpr char16_t kEscapeBase = 0xDC00;  // + byte (0x80..0xFF): U+DC80..U+DCFF

void appendUtf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xC0 | (c >> 6));
        out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += char(0xE0 | (c >> 12));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    } else {
        out += char(0xF0 | (c >> 18));
        out += char(0x80 | ((c >> 12) & 0x3F));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    }
}

}  // namespace

QString textFromBytes(std::string_view bytes) {
    QString text;
    text.reserve(qsizetype(bytes.size()));
    for (size_t i = 0; i < bytes.size();) {
        char32_t c = 0;
        const size_t n = format::utf8SequenceAt(bytes, i, &c);
        if (n == 0) {
            text += QChar(char16_t(kEscapeBase + uint8_t(bytes[i])));
            ++i;
            continue;
        }
        if (c >= 0x10000) {
            text += QChar(QChar::highSurrogate(c));
            text += QChar(QChar::lowSurrogate(c));
        } else {
            text += QChar(char16_t(c));
        }
        i += n;
    }
    return text;
}

std::string pathBytes(const QString& text) {
    std::string out;
    out.reserve(size_t(text.size()));
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char16_t u = text[i].unicode();
        if (QChar::isHighSurrogate(u) && i + 1 < text.size() && QChar::isLowSurrogate(text[i + 1].unicode())) {
            appendUtf8(out, QChar::surrogateToUcs4(u, text[i + 1].unicode()));
            ++i;
        } else if (u >= kEscapeBase + 0x80 && u <= kEscapeBase + 0xFF) {
            out += char(u - kEscapeBase);  // an escaped byte
        } else if (QChar::isSurrogate(u)) {
            appendUtf8(out, 0xFFFD);  // a lone surrogate no byte came from
        } else {
            appendUtf8(out, u);
        }
    }
    return out;
}

QStringList argumentsFromArgv(int argc, char** argv) {
    QStringList arguments;
    for (int i = 0; i < argc; ++i) arguments << textFromBytes(argv[i] ? std::string_view(argv[i]) : std::string_view());
    return arguments;
}

}  // namespace vramscope::cli
