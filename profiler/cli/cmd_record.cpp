// vramscope record [-o FILE] [options] -- CMD ARGS...: parse, then runRecord().
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
    const QCommandLineOption injector("injector", "The capture library to load (default: found next to vramscope).", "PATH");
    const QCommandLineOption buffer("buffer-mb", "Memory for capture buffers in MiB (default 64); beyond it, events are "
                                                 "dropped and counted, never the job slowed.", "N");
    const QCommandLineOption meminfo("meminfo-ms", "Device memory sampling interval in ms (default 20; 0 = off).", "N");
    const QCommandLineOption noKernels("no-kernels", "Do not record kernels.");
    const QCommandLineOption launchTimes(
        "launch-times", "Record when the CPU queued each kernel (CUPTI latency timestamps), so that each phase gets the GPU "
                        "work it launched even where the GPU runs behind the CPU. Off by default: it cost ~5% of a GPT-2 "
                        "small training step on an H100 (docs/boundness.md).");
    const QCommandLineOption counters(
        "counters", "Hardware counters (SM, DRAM, tensor-pipe throughput) for compute-/bandwidth-bound classes: 'pm' "
                    "(CUPTI PM sampling, else NVML GPM), 'gpm' (NVML GPM only) or 'off' (the default). Every 1 ms, PM "
                    "sampling added nothing measurable to a GPT-2 small training step (H100, H200; docs/boundness.md).",
        "MODE");
    const QCommandLineOption counterInterval("counter-interval-us",
                                             "Counter sampling period in microseconds (10-1000000, default 1000). 250 tells "
                                             "a step's kernels apart better (closer to ncu per kernel) at about 2% of "
                                             "a GPT-2 small step; 100 at about 3%.",
                                             "N");
    const QCommandLineOption counterDuty(
        "counter-duty", "Sample counters in bursts: ON ms of sampling, then OFF ms of pause, e.g. 200:800 (default: "
                        "all along). Fewer samples and less decoding; steps in the pauses have no class.", "ON:OFF");
    const QCommandLineOption noCopies("no-copies", "Do not record memcpy/memset.");
    const QCommandLineOption noNvtx("no-nvtx", "Do not record NVTX ranges.");
    const QCommandLineOption noCallbacks("no-callbacks", "No driver-API callbacks (failed allocations, VMM).");
    const QCommandLineOption pythonStacks(
        "python-stacks", "PyTorch jobs: the Python file:line (and callers) of every tensor allocation (off by default: it "
                         "cost 4% of a 15 ms training step; docs/pytorch.md).");
    const QCommandLineOption noPythonStacks("no-python-stacks", "PyTorch jobs: no Python callsites (the default).");
    const QCommandLineOption stackDepth("python-stack-depth", "Python frames kept per allocation (1-64, default 16).",
                                        "N");
    const QCommandLineOption start("start", "When capture starts: 'cuinit' (default: inside cuInit, processes that "
                                            "never use CUDA stay untouched) or 'preload' (at load time).", "WHEN", "cuinit");
    const QCommandLineOption quiet({"q", "quiet"}, "Print nothing of our own.");
    const QCommandLineOption verbose("verbose", "Print capture statistics at exit.");
    const QCommandLineOption noSummary("no-summary", "Do not read the trace back for a summary afterwards.");
    parser.addOptions({output, injector, buffer, meminfo, noKernels, launchTimes, counters, counterInterval, counterDuty,
                       noCopies, noNvtx, noCallbacks, pythonStacks, noPythonStacks, stackDepth, start, quiet, verbose,
                       noSummary});
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
    o.injectorPath = parser.value(injector).toStdString();
    bool ok = true;
    if (parser.isSet(buffer)) {
        o.bufferMegabytes = parser.value(buffer).toUInt(&ok);
        if (!ok || o.bufferMegabytes == 0) {
            printError("record", "--buffer-mb must be a positive whole number");
            return kExitUsage;
        }
    }
    if (parser.isSet(meminfo)) {
        o.memInfoIntervalMs = parser.value(meminfo).toInt(&ok);
        if (!ok || o.memInfoIntervalMs < 0) {
            printError("record", "--meminfo-ms must be 0 or a positive whole number");
            return kExitUsage;
        }
    }
    if (parser.isSet(counters)) {
        const QString mode = parser.value(counters).toLower();
        if (mode != "pm" && mode != "gpm" && mode != "off") {
            printError("record", "--counters must be 'pm', 'gpm' or 'off'");
            return kExitUsage;
        }
        o.counters = mode.toStdString();
    }
    if (parser.isSet(counterInterval)) {
        o.counterIntervalUs = parser.value(counterInterval).toUInt(&ok);
        if (!ok || o.counterIntervalUs < 10 || o.counterIntervalUs > 1000000) {
            printError("record", "--counter-interval-us must be a whole number from 10 to 1000000");
            return kExitUsage;
        }
        if (o.counters.empty()) o.counters = "pm";
    }
    if (parser.isSet(counterDuty)) {
        const QStringList parts = parser.value(counterDuty).split(':');
        bool onOk = false, offOk = false;
        const uint on = parts.size() == 2 ? parts[0].toUInt(&onOk) : 0, off = parts.size() == 2 ? parts[1].toUInt(&offOk) : 0;
        if (!onOk || !offOk || on < 10 || on > 100000 || off > 100000) {
            printError("record", "--counter-duty must be ON:OFF in milliseconds, ON from 10 to 100000 and OFF from 0 to "
                                 "100000 (e.g. 200:800)");
            return kExitUsage;
        }
        o.counterDuty = std::to_string(on) + ":" + std::to_string(off);
        if (o.counters.empty()) o.counters = "pm";  // bursts of what: the counters
    }
    if (parser.isSet(pythonStacks) && parser.isSet(noPythonStacks)) {
        printError("record", "--python-stacks and --no-python-stacks contradict each other");
        return kExitUsage;
    }
    if (parser.isSet(pythonStacks)) o.pythonStacks = 1;
    if (parser.isSet(noPythonStacks)) o.pythonStacks = 0;
    if (parser.isSet(stackDepth)) {
        o.pythonStackDepth = parser.value(stackDepth).toInt(&ok);
        if (!ok || o.pythonStackDepth < 1 || o.pythonStackDepth > 64) {
            printError("record", "--python-stack-depth must be a whole number from 1 to 64");
            return kExitUsage;
        }
    }
    const QString when = parser.value(start);
    if (when != "cuinit" && when != "preload") {
        printError("record", "--start must be 'cuinit' or 'preload'");
        return kExitUsage;
    }
    o.startAtCuInit = when == "cuinit";
    o.kernels = !parser.isSet(noKernels);
    o.launchTimes = parser.isSet(launchTimes);
    o.copies = !parser.isSet(noCopies);
    o.nvtx = !parser.isSet(noNvtx);
    o.callbacks = !parser.isSet(noCallbacks);
    o.quiet = parser.isSet(quiet);
    o.verbose = parser.isSet(verbose);
    o.summary = !parser.isSet(noSummary);
    o.selfPath = QCoreApplication::applicationFilePath().toStdString();
    std::vector<std::string> argv;
    for (const QString& a : command) argv.push_back(a.toStdString());
    return runRecord(o, std::move(argv));
}

const CommandRegistration registration{
    {"record", "Run a command with capture on and write a .vtrace (-- CMD ARGS...)", &runRecordCommand}};

}  // namespace
}  // namespace vramscope::cli
