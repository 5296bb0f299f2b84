// vramscope record [-o FILE] [options] -- CMD ARGS...: parse, then runRecord().
#include "capture_options.h"
#include "command.h"
#include "record_command.h"

#include <QCoreApplication>

namespace vramscope::cli {
namespace {

int runRecordCommand(const QStringList& arguments) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Runs CMD with the vramscope injector loaded and writes a .vtrace: every CUDA allocation, kernel, copy, "
        "NVTX range and device memory sample (and PyTorch tensor events and phases when the job uses torch). "
        "The command's exit code is passed through (128+N when it dies of signal N; 125: no injector; "
        "127: CMD cannot be started). Every option is also a VRAMSCOPE_* environment variable for setting "
        "LD_PRELOAD yourself (docs/injector.md).\n\nExample: vramscope record -o run.vtrace -- python train.py");
    parser.addPositionalArgument("CMD", "The command to trace, after --.", "-- CMD [ARGS...]");
    const QCommandLineOption output({"o", "output"},
                                    "Trace file (default vramscope.<program>.<pid>.vtrace), a directory ending in /, "
                                    "or a pattern with %p (pid), %h (host), %r (rank). Other processes of the job "
                                    "write <base>.<host>.<pid>[.rank<R>].vtrace beside it.",
                                    "FILE");
    parser.addOption(output);
    const CaptureOptions capture(parser, CaptureOptions::For::Record);
    // Everything after the command's first word belongs to the command.
    parser.setOptionsAfterPositionalArgumentsMode(QCommandLineParser::ParseAsPositionalArguments);
    int exitCode = 0;
    if (!parseOrExit(parser, arguments, &exitCode)) return exitCode;
    const QStringList command = parser.positionalArguments();
    if (command.isEmpty()) {
        printError("record", "no command to run: vramscope record [-o FILE] -- CMD ARGS... (see --help)");
        return kExitUsage;
    }
    RecordOptions o;
    o.output = parser.value(output).toStdString();
    if (!capture.read(parser, &o)) return kExitUsage;
    std::vector<std::string> argv;
    for (const QString& a : command) argv.push_back(a.toStdString());
    return runRecord(o, std::move(argv));
}

const CommandRegistration registration{
    {"record", "Run a command with capture on and write a .vtrace (-- CMD ARGS...)", &runRecordCommand}};

}  // namespace
}  // namespace vramscope::cli
