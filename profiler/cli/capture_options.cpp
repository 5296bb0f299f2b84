#include "capture_options.h"

#include "command.h"

#include <QCoreApplication>

namespace vramscope::cli {

CaptureOptions::CaptureOptions(QCommandLineParser& parser, For command)
    : command_(command == For::Record ? "record" : "attach"), specs_(captureOptionTable(command)) {
    for (const CaptureOptionSpec& s : specs_) {
        QStringList names;
        if (s.shortName) names << QString::fromLatin1(s.shortName);
        names << QString::fromLatin1(s.name);
        options_.emplace_back(names, QString::fromUtf8(s.help), s.valueName ? QString::fromLatin1(s.valueName) : QString());
    }
    for (const QCommandLineOption& o : options_) parser.addOption(o);
}

bool CaptureOptions::read(const QCommandLineParser& parser, RecordOptions* o) const {
    for (size_t i = 0; i < specs_.size(); ++i) {
        if (!parser.isSet(options_[i])) continue;
        std::string error;
        const std::string value = specs_[i].valueName ? parser.value(options_[i]).toStdString() : std::string();
        if (!applyCaptureOption(specs_[i].name, value, o, &error)) {
            printError(command_, QString::fromStdString(error));
            return false;
        }
    }
    o->selfPath = QCoreApplication::applicationFilePath().toStdString();
    return true;
}

}  // namespace vramscope::cli
