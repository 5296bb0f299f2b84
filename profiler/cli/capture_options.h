// The capture options `record` and `attach` share (buffers, kernels, copies,
// callbacks, counters, Python stacks, quiet/verbose/summary): one table, one
// set of checks, so the two commands cannot drift apart.
#pragma once

#include "record_command.h"

#include <QCommandLineOption>
#include <QCommandLineParser>

#include <vector>

namespace vramscope::cli {

class CaptureOptions {
public:
    enum class For { Record, Attach };
    // Adds the options to parser (`-o` is the caller's: its help differs).
    CaptureOptions(QCommandLineParser& parser, For command);
    // Fills *out from what was given; false after printing a usage error.
    bool read(const QCommandLineParser& parser, RecordOptions* out) const;

private:
    const char* command_;
    For for_;
    std::vector<QCommandLineOption> options_;  // in the order the constructor adds them
    const QCommandLineOption& option(const char* name) const;
};

}  // namespace vramscope::cli
