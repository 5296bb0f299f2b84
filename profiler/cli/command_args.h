// What each `vramscope` subcommand was asked: its arguments parsed and
// checked into a plain struct before any file is opened. The cmd_*.cpp
// files run from these; tests/fuzz/fuzz_cli.cpp feeds them any argument
// list. Every number goes through number_args.h, so each has a range and
// "nan" or "4294967295" is refused the same way everywhere.
//
// Each parse*Args(arguments, out, exitCode) takes arguments[0] as
// "vramscope <name>" (as Command::run does). It returns true with *out
// filled, or false with *exitCode set: kExitOk after --help was printed,
// kExitUsage after a one-line usage error on stderr.
#pragma once

#include "attach_command.h"
#include "record_command.h"

#include "analysis/summary.h"
#include "export/chrome_trace.h"
#include "synth/synth.h"

#include <QString>
#include <QStringList>

#include <string>
#include <vector>

namespace vramscope::cli {

struct SummaryArgs {
    QString path;
    bool json = false;
    analysis::SummaryOptions options;
};
bool parseSummaryArgs(const QStringList& arguments, SummaryArgs* out, int* exitCode);

struct DiffArgs {
    QString pathA, pathB;
    bool json = false;
    double thresholdPercent = -1;  // --fail-on-regression; negative: no gate
    bool allowDamaged = false;     // --allow-damaged: a damaged input does not fail the gate
    size_t topKernels = 10;
};
bool parseDiffArgs(const QStringList& arguments, DiffArgs* out, int* exitCode);

struct ExportArgs {
    QString path;
    QString format;  // chrome, csv or kernels
    QString output;  // "-" for standard output
    exporting::ChromeTraceOptions chrome;
};
bool parseExportArgs(const QStringList& arguments, ExportArgs* out, int* exitCode);

struct ImportArgs {
    QString input;
    bool outputGiven = false;  // -o; else the snapshot's name with .vtrace
    QString output;
    bool keepCppFrames = false;
    bool json = false;
};
bool parseImportArgs(const QStringList& arguments, ImportArgs* out, int* exitCode);

struct InfoArgs {
    QString path;
    bool json = false;
};
bool parseInfoArgs(const QStringList& arguments, InfoArgs* out, int* exitCode);

struct SynthArgs {
    QString output;
    synth::SynthOptions options;
};
bool parseSynthArgs(const QStringList& arguments, SynthArgs* out, int* exitCode);

struct RecordArgs {
    RecordOptions options;
    std::vector<std::string> command;  // what to run, as given after --
};
bool parseRecordArgs(const QStringList& arguments, RecordArgs* out, int* exitCode);

struct AttachArgs {
    enum class Request { Attach, Stop, Status };
    Request request = Request::Attach;
    AttachOptions options;  // options.pid is set for every request
};
bool parseAttachArgs(const QStringList& arguments, AttachArgs* out, int* exitCode);

}  // namespace vramscope::cli
