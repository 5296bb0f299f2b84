// vramscope-record: `vramscope record` without Qt, for machines (GPU runners,
// containers) where only the capture side is built. Its options are the
// CLI's own table (profiler/cli/capture_option_table.h), --help included.
#include "capture_option_table.h"
#include "record_command.h"

#include <cstdio>
#include <string>
#include <vector>

using namespace vramscope::cli;

int main(int argc, char** argv) {
    RecordOptions o;
    o.selfPath = argv[0];
    const std::vector<std::string> args(argv + 1, argv + argc);
    const std::vector<LauncherOption> own = {
        {"output", "FILE", "Trace file, a directory ending in /, or a pattern with %p %h %r (as `vramscope record -o`)."},
        {"help", nullptr, "Show this help."},
    };
    bool help = false;
    std::vector<std::string> command;
    std::string error;
    std::vector<std::string> withShortOutput;
    for (const std::string& a : args) withShortOutput.push_back(a == "-o" ? "--output" : a == "-h" ? "--help" : a);
    const bool ok = parseLauncherArgs(
        withShortOutput, CaptureCommand::Record, own, true,
        [&](const std::string& name, const std::string& value, std::string* e) {
            if (name == "output") o.output = value;
            else if (name == "help") help = true;
            else return applyCaptureOption(name, value, &o, e);
            return true;
        },
        &command, &error);
    if (help) {
        std::printf("Usage: vramscope-record [options] -- CMD [ARGS...]\n"
                    "Runs CMD with vramscope's capture loaded and writes a .vtrace (`vramscope record` without Qt).\n\n"
                    "%s%s",
                    launcherOptionsHelp(own).c_str(), captureOptionsHelp(CaptureCommand::Record).c_str());
        return 0;
    }
    if (!ok) {
        std::fprintf(stderr, "vramscope-record: %s (see --help)\n", error.c_str());
        return 2;
    }
    return runRecord(o, command);
}
