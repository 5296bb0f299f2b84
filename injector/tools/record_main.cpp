// vramscope-record: `vramscope record` without Qt, for machines (GPU runners,
// containers) where only the injector is built.
//   vramscope-record [-o FILE] [--buffer-mb N] [--meminfo-ms N] [--no-kernels]
//                    [--launch-times] [--no-copies] [--no-nvtx] [--no-callbacks] [--start=preload]
//                    [--python-stacks | --no-python-stacks] [--python-stack-depth N]
//                    [--quiet] [--verbose] -- CMD ARGS...
#include "record_command.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    vramscope::cli::RecordOptions o;
    o.selfPath = argv[0];
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](int& out) { if (i + 1 < argc) out = std::atoi(argv[++i]); };
        if (a == "--") { ++i; break; }
        if ((a == "-o" || a == "--output") && i + 1 < argc) o.output = argv[++i];
        else if (a == "--injector" && i + 1 < argc) o.injectorPath = argv[++i];
        else if (a == "--buffer-mb") { int v = 0; value(v); o.bufferMegabytes = uint32_t(v); }
        else if (a == "--meminfo-ms") value(o.memInfoIntervalMs);
        else if (a == "--no-kernels") o.kernels = false;
        else if (a == "--launch-times") o.launchTimes = true;
        else if (a == "--no-copies") o.copies = false;
        else if (a == "--no-nvtx") o.nvtx = false;
        else if (a == "--no-callbacks") o.callbacks = false;
        else if (a == "--start=preload") o.startAtCuInit = false;
        else if (a == "--start=cuinit") o.startAtCuInit = true;
        else if (a == "--python-stacks") o.pythonStacks = 1;
        else if (a == "--no-python-stacks") o.pythonStacks = 0;
        else if (a == "--python-stack-depth") value(o.pythonStackDepth);
        else if (a == "--quiet") o.quiet = true;
        else if (a == "--verbose") o.verbose = true;
        else if (a[0] != '-') break;
        else { std::fprintf(stderr, "vramscope-record: unknown option %s\n", a.c_str()); return 2; }
    }
    std::vector<std::string> command(argv + i, argv + argc);
    return vramscope::cli::runRecord(o, command);
}
