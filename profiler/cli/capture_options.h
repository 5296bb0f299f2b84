// The capture options of `record` and `attach` for the Qt command line:
// built from the one table both commands and the Qt-free launchers share
// (capture_option_table.h), checked by the same code.
#pragma once

#include "capture_option_table.h"
#include "record_command.h"

#include <QCommandLineOption>
#include <QCommandLineParser>

#include <vector>

namespace vramscope::cli {

class CaptureOptions {
public:
    using For = CaptureCommand;
    // Adds the options to parser (`-o` is the caller's: its help differs).
    CaptureOptions(QCommandLineParser& parser, For command);
    // Fills *out from what was given; false after printing a usage error.
    bool read(const QCommandLineParser& parser, RecordOptions* out) const;

private:
    const char* command_;
    std::vector<CaptureOptionSpec> specs_;
    std::vector<QCommandLineOption> options_;  // one per spec, in the same order
};

}  // namespace vramscope::cli
