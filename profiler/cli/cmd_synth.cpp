// vramscope synth -o FILE --iterations N ...: write a synthetic training trace.
#include "command.h"
#include "command_args.h"
#include "path_bytes.h"
#include "format/output_file.h"
#include "synth/synth.h"

#include <cstdio>

namespace vramscope::cli {
namespace {

int runSynth(const QStringList& arguments) {
    SynthArgs args;
    int exitCode = 0;
    if (!parseSynthArgs(arguments, &args, &exitCode)) return exitCode;
    const synth::SynthOptions& o = args.options;

    // Written beside FILE and renamed over it once complete.
    synth::SynthResult result;
    std::string error;
    format::OutputFile target;
    if (!target.begin(pathBytes(args.output), {}, &error)) {
        printError("synth", textFromBytes(error));
        return target.refusedPath() ? kExitUsage : kExitBadInput;
    }
    if (!synth::writeSynthTrace(target.writePath(), o, &result, &error) || !target.commit(&error)) {
        printError("synth", textFromBytes(target.userText(error)));
        return kExitBadInput;
    }
    std::printf("wrote %s: %u iterations, %llu events, %llu bytes (%.2f bytes/event), %.3f s of trace\n",
                pathBytes(args.output).c_str(), o.iterations, static_cast<unsigned long long>(result.events),
                static_cast<unsigned long long>(result.bytes), result.events ? double(result.bytes) / result.events : 0.0,
                double(result.durationNs) / 1e9);
    return kExitOk;
}

const CommandRegistration registration{{"synth", "Write a synthetic training trace (no GPU needed)", &runSynth}};

}  // namespace
}  // namespace vramscope::cli
