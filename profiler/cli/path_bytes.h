// File names as the system spells them: bytes. A Linux file name need not be
// UTF-8 ("caf\xe9.vtrace" from a Latin-1 system), but a QString holds
// Unicode, and QCoreApplication::arguments() turns every invalid byte into
// U+FFFD, so such a file could be neither opened nor written. Arguments read
// here keep each byte of an invalid sequence as the lone surrogate
// U+DC80 + (byte - 0x80), as Python's "surrogateescape" does (PEP 383);
// pathBytes() turns them back into the byte, so an argument survives the
// round trip through QString exactly. Valid UTF-8 decodes as usual, and for
// any name QFileDialog gives, pathBytes() equals QFile::encodeName().
// The CLI and the app both take their arguments and file names this way.
#pragma once

#include <QString>
#include <QStringList>

#include <string>
#include <string_view>

namespace vramscope::cli {

// Bytes (a file name, an error sentence naming one) as text, lossless.
QString textFromBytes(std::string_view bytes);
// The bytes text came from: what open(2) and friends are given.
std::string pathBytes(const QString& text);
// argv as textFromBytes() reads each argument.
QStringList argumentsFromArgv(int argc, char** argv);

}  // namespace vramscope::cli
