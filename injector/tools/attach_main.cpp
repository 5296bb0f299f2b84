// vramscope-attach: `vramscope attach` without Qt, for GPU servers where only
// the capture side is built (the same Qt-free logic: profiler/cli/attach_command.cpp).
//   vramscope-attach PID [-o FILE] [--duration S] [--no-wait] [--tcp] [--no-bridge] [--no-phase-hooks]
//                    [--no-kernels] [--no-copies] [--no-callbacks] [--counters MODE] [--counter-interval-us N]
//                    [--meminfo-ms N] [--buffer-mb N] [--launch-times] [--python-stacks | --no-python-stacks]
//                    [--python-stack-depth N] [--injector PATH] [--quiet] [--verbose] [--no-summary]
//   vramscope-attach --stop PID | --status PID
#include "attach_command.h"

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    vramscope::cli::AttachOptions o;
    o.capture.selfPath = argv[0];
    bool stop = false, status = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "-o" || a == "--output") o.capture.output = next();
        else if (a == "--duration") o.durationSeconds = std::atof(next());
        else if (a == "--no-wait") o.noWait = true;
        else if (a == "--tcp") o.tcp = true;
        else if (a == "--no-bridge") o.bridge = false;
        else if (a == "--no-phase-hooks") o.phaseHooks = false;
        else if (a == "--no-kernels") o.capture.kernels = false;
        else if (a == "--no-copies") o.capture.copies = false;
        else if (a == "--no-callbacks") o.capture.callbacks = false;
        else if (a == "--counters") o.capture.counters = next();
        else if (a == "--counter-interval-us") o.capture.counterIntervalUs = uint32_t(std::atoi(next()));
        else if (a == "--meminfo-ms") o.capture.memInfoIntervalMs = std::atoi(next());
        else if (a == "--buffer-mb") o.capture.bufferMegabytes = uint32_t(std::atoi(next()));
        else if (a == "--launch-times") o.capture.launchTimes = true;
        else if (a == "--no-python-stacks") o.capture.pythonStacks = 0;
        else if (a == "--python-stacks") o.capture.pythonStacks = 1;
        else if (a == "--python-stack-depth") o.capture.pythonStackDepth = std::atoi(next());
        else if (a == "--injector") o.capture.injectorPath = next();
        else if (a == "--quiet") o.capture.quiet = true;
        else if (a == "--verbose") o.capture.verbose = true;
        else if (a == "--no-summary") o.capture.summary = false;
        else if (a == "--stop") stop = true;
        else if (a == "--status") status = true;
        else if (!a.empty() && a[0] != '-' && o.pid == 0) o.pid = std::atoi(a.c_str());
        else {
            std::fprintf(stderr, "vramscope-attach: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (o.pid <= 0) {
        std::fprintf(stderr, "usage: vramscope-attach PID [options] | --stop PID | --status PID\n");
        return 2;
    }
    if (stop) return vramscope::cli::runAttachStop(o.pid, o.capture.quiet);
    if (status) return vramscope::cli::runAttachStatus(o.pid);
    return vramscope::cli::runAttach(o);
}
