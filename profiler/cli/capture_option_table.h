// The capture options of `record` and `attach`, once: names, help, checks.
// Qt-free, so the `vramscope` CLI (capture_options.h, Qt's parser) and the
// launchers without Qt (vramscope-record, vramscope-attach) read the same
// table and cannot drift apart; their --help comes from it too.
#pragma once

#include "record_command.h"

#include <functional>
#include <string>
#include <vector>

namespace vramscope::cli {

enum class CaptureCommand { Record, Attach };

struct CaptureOptionSpec {
    const char* name;       // long name, without "--"
    const char* shortName;  // one letter or nullptr
    const char* valueName;  // nullptr for a flag
    const char* help;
    bool recordOnly;        // NVTX and the start point make sense only from a process's start
};

// The options a command takes, in --help order.
std::vector<CaptureOptionSpec> captureOptionTable(CaptureCommand command);

// Applies one given option (value "" for a flag) to *out; false with a
// sentence in *error when the value is not one the option takes.
bool applyCaptureOption(const std::string& name, const std::string& value, RecordOptions* out, std::string* error);

// "  --name VALUE   help" lines for a launcher's --help, wrapped at 100 columns.
std::string captureOptionsHelp(CaptureCommand command);

// A launcher's own argument parsing (no Qt): walks args (argv without the
// program), taking "--name VALUE", "--name=VALUE" and "-x VALUE" for the
// table's options and for `extra` (the command's own, e.g. attach's
// --duration). Parsing stops at "--" or, when stopAtPositional, at the
// first word that is not an option (record's command). Each option found
// goes to onOption(name, value); positional words to *positional. False
// with a sentence in *error for an unknown option or a missing value.
struct LauncherOption {
    const char* name;
    const char* valueName;  // nullptr for a flag
    const char* help;
};
// The same help lines for a launcher's own options ("-o, --output" for output).
std::string launcherOptionsHelp(const std::vector<LauncherOption>& options);

bool parseLauncherArgs(const std::vector<std::string>& args, CaptureCommand command,
                       const std::vector<LauncherOption>& extra, bool stopAtPositional,
                       const std::function<bool(const std::string& name, const std::string& value, std::string* error)>& onOption,
                       std::vector<std::string>* positional, std::string* error);

}  // namespace vramscope::cli
