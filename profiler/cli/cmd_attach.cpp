// vramscope attach PID [options] | --stop PID | --status PID: parse, then runAttach().
#include "attach_command.h"
#include "command.h"
#include "command_args.h"

namespace vramscope::cli {
namespace {

int runAttachCommand(const QStringList& arguments) {
    AttachArgs args;
    int exitCode = 0;
    if (!parseAttachArgs(arguments, &args, &exitCode)) return exitCode;
    switch (args.request) {
    case AttachArgs::Request::Stop: return runAttachStop(args.options.pid, false);
    case AttachArgs::Request::Status: return runAttachStatus(args.options.pid);
    case AttachArgs::Request::Attach: break;
    }
    return runAttach(args.options);
}

const CommandRegistration registration{
    {"attach", "Attach to a running job and record it from now on (PID; --stop PID detaches)", &runAttachCommand}};

}  // namespace
}  // namespace vramscope::cli
