// vramscope-attach: `vramscope attach` without Qt, for GPU servers where only
// the capture side is built (the same Qt-free logic: profiler/cli/attach_command.cpp,
// the same option table: profiler/cli/capture_option_table.h).
//   vramscope-attach PID [options] | --stop PID | --status PID
#include "attach_command.h"
#include "capture_option_table.h"
#include "number_args.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace vramscope::cli;

int main(int argc, char** argv) {
    AttachOptions o;
    o.capture.selfPath = argv[0];
    const std::vector<LauncherOption> own = {
        {"output", "FILE", "Trace file (default vramscope.<name>.<pid>.attach<N>.vtrace here)."},
        {"duration", "S", "Detach after S seconds (default: at Ctrl-C or when the job ends)."},
        {"no-wait", nullptr, "Start the capture and return; `--stop PID` detaches it later."},
        {"tcp", nullptr, "Also serve the live stream on 127.0.0.1 with a token (for ssh -L)."},
        {"no-bridge", nullptr, "PyTorch jobs: no tensor-level events."},
        {"no-phase-hooks", nullptr, "PyTorch jobs: no training-phase markers."},
        {"stop", nullptr, "Detach the capture attached to PID (footer written, job untouched)."},
        {"status", nullptr, "Print the state of the capture attached to PID."},
        {"help", nullptr, "Show this help."},
    };
    bool stop = false, status = false, help = false;
    std::vector<std::string> args, positional;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        args.push_back(a == "-o" ? "--output" : a == "-h" ? "--help" : a);
    }
    std::string error;
    const bool ok = parseLauncherArgs(
        args, CaptureCommand::Attach, own, false,
        [&](const std::string& name, const std::string& value, std::string* e) {
            if (name == "output") o.capture.output = value;
            else if (name == "duration") {
                if (!readDecimalNumber("--duration", value, kMinAttachSeconds, kMaxAttachSeconds, &o.durationSeconds, e,
                                       "seconds"))
                    return false;
            } else if (name == "no-wait") o.noWait = true;
            else if (name == "tcp") o.tcp = true;
            else if (name == "no-bridge") o.bridge = false;
            else if (name == "no-phase-hooks") o.phaseHooks = false;
            else if (name == "stop") stop = true;
            else if (name == "status") status = true;
            else if (name == "help") help = true;
            else return applyCaptureOption(name, value, &o.capture, e);
            return true;
        },
        &positional, &error);
    if (help) {
        std::printf("Usage: vramscope-attach PID [options] | --stop PID | --status PID\n"
                    "Loads vramscope's capture into a running job and records it from now on (`vramscope attach` "
                    "without Qt; docs/attach.md).\n\n");
        std::fputs(launcherOptionsHelp(own).c_str(), stdout);
        std::fputs(captureOptionsHelp(CaptureCommand::Attach).c_str(), stdout);
        return 0;
    }
    uint64_t pid = 0;
    if (ok && positional.size() != 1) error = "which process? one PID";
    const bool pidGiven = ok && positional.size() == 1 && readWholeNumber("PID", positional[0], 1, kMaxProcessId, &pid, &error);
    if (!pidGiven) {
        std::fprintf(stderr, "vramscope-attach: %s (usage: vramscope-attach PID [options] | --stop PID | --status PID; see --help)\n",
                     error.c_str());
        return 2;
    }
    o.pid = int(pid);
    if (stop) return runAttachStop(o.pid, o.capture.quiet);
    if (status) return runAttachStatus(o.pid);
    return runAttach(o);
}
