// vramscope attach PID [options] | --stop PID | --status PID: parse, then runAttach().
#include "attach_command.h"
#include "capture_options.h"
#include "command.h"

namespace vramscope::cli {
namespace {

bool readPid(const QString& text, int* pid) {
    bool ok = false;
    *pid = text.toInt(&ok);
    return ok && *pid > 0;
}

int runAttachCommand(const QStringList& arguments) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Loads vramscope's capture into a job that is already running (started without vramscope) and records it "
        "from now on into a .vtrace: kernels, copies, driver allocations, device memory, and for PyTorch the tensor "
        "allocations and training phases. Memory in use at the attach is in the trace from its first instant "
        "(the device's, and PyTorch's allocator state from its own snapshot). Ctrl-C, --duration or --stop detaches: "
        "the footer is written and the job runs on untouched; attaching again later writes a new file.\n\n"
        "Only processes of your own user (or any as root). Linux x86-64; the target must use glibc and have the CUDA "
        "driver loaded. Exit codes: 0 done, 1 the attach failed (the job is unharmed), 2 usage, 125 no capture library."
        "\n\nExamples:\n  vramscope attach 12345                  # until Ctrl-C\n"
        "  vramscope attach 12345 --duration 60 -o step.vtrace\n"
        "  vramscope attach 12345 --no-wait && vramscope-gui --connect unix:/run/user/$UID/vramscope/12345.sock\n"
        "  vramscope attach --stop 12345");
    parser.addPositionalArgument("PID", "The process to attach to.", "PID");
    const QCommandLineOption output({"o", "output"},
                                    "Trace file (default vramscope.<name>.<pid>.attach<N>.vtrace in this directory, "
                                    "N the first free number). Written by the job itself, so its user must be able "
                                    "to write there.",
                                    "FILE");
    const QCommandLineOption duration("duration", "Detach after S seconds (default: at Ctrl-C or when the job ends).",
                                      "S");
    const QCommandLineOption noWait("no-wait", "Start the capture and return at once; it runs until "
                                               "`vramscope attach --stop PID` or the job's end.");
    const QCommandLineOption stop("stop", "Detach the capture attached to PID (footer written, job untouched).");
    const QCommandLineOption status("status", "Print the state of the capture attached to PID.");
    const QCommandLineOption tcp("tcp", "Also serve the live stream on 127.0.0.1 (a random port and token, printed): "
                                        "for `ssh -L` from a desktop.");
    const QCommandLineOption noBridge("no-bridge", "PyTorch jobs: no tensor-level events (driver level only).");
    const QCommandLineOption noPhaseHooks("no-phase-hooks", "PyTorch jobs: no training-phase markers.");
    parser.addOptions({output, duration, noWait, stop, status, tcp, noBridge, noPhaseHooks});
    const CaptureOptions capture(parser, CaptureOptions::For::Attach);
    int exitCode = 0;
    if (!parseOrExit(parser, arguments, &exitCode)) return exitCode;
    const QStringList positional = parser.positionalArguments();
    int pid = 0;
    if (positional.size() != 1 || !readPid(positional[0], &pid)) {
        printError("attach", positional.isEmpty() ? "which process? vramscope attach PID (see --help)"
                                                  : "PID must be one positive process id (see --help)");
        return kExitUsage;
    }
    if (parser.isSet(stop) && parser.isSet(status)) {
        printError("attach", "--stop and --status are two different requests; give one");
        return kExitUsage;
    }
    if (parser.isSet(stop)) return runAttachStop(pid, false);
    if (parser.isSet(status)) return runAttachStatus(pid);
    AttachOptions o;
    o.pid = pid;
    o.capture.output = parser.value(output).toStdString();
    if (!capture.read(parser, &o.capture)) return kExitUsage;
    if (parser.isSet(duration)) {
        bool ok = false;
        o.durationSeconds = parser.value(duration).toDouble(&ok);
        if (!ok || o.durationSeconds <= 0) {
            printError("attach", "--duration must be a positive number of seconds");
            return kExitUsage;
        }
    }
    if (parser.isSet(noWait) && parser.isSet(duration)) {
        printError("attach", "--no-wait returns at once, so it cannot also wait --duration");
        return kExitUsage;
    }
    o.noWait = parser.isSet(noWait);
    o.tcp = parser.isSet(tcp);
    o.bridge = !parser.isSet(noBridge);
    o.phaseHooks = !parser.isSet(noPhaseHooks);
    return runAttach(o);
}

const CommandRegistration registration{
    {"attach", "Attach to a running job and record it from now on (PID; --stop PID detaches)", &runAttachCommand}};

}  // namespace
}  // namespace vramscope::cli
