// vramscope record [-o FILE] [options] -- CMD ARGS...: parse, then runRecord().
#include "command.h"
#include "command_args.h"
#include "record_command.h"

namespace vramscope::cli {
namespace {

int runRecordCommand(const QStringList& arguments) {
    RecordArgs args;
    int exitCode = 0;
    if (!parseRecordArgs(arguments, &args, &exitCode)) return exitCode;
    return runRecord(args.options, std::move(args.command));
}

const CommandRegistration registration{
    {"record", "Run a command with capture on and write a .vtrace (-- CMD ARGS...)", &runRecordCommand}};

}  // namespace
}  // namespace vramscope::cli
