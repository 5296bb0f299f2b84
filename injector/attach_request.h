// What `vramscope attach` asks of the capture library it has just loaded into
// a running process: one text, passed to vramscope_attach_start().
//
// The target's environment was fixed when it started, so the settings of an
// attach travel in the request instead: one "KEY=VALUE" per line. The
// VRAMSCOPE_* keys are the same variables `vramscope record` sets
// (config.h), read by the same parser; the lower-case keys are the attach's
// own:
//   output=/abs/file.vtrace    the trace to write (required, absolute: the
//                              target's working directory is not the user's)
//   socket=/abs/dir/PID.sock   the control and live-stream socket (required)
//   python_dir=/abs/python     where the `vramscope` Python package is, for
//                              the phase hooks and the PyTorch bridge
//   tcp=1                      also serve the live stream on loopback TCP
// The request comes from a process of the same user (or root), but it is
// still parsed as untrusted text: bounded, and every value checked.
#pragma once

#include "config.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vramscope::inject {

struct AttachRequest {
    std::string output;
    std::string socketPath;
    std::string pythonDir;
    bool tcp = false;
    std::map<std::string, std::string> environment;  // the VRAMSCOPE_* lines
};

// Longest request accepted, and longest socket path (sockaddr_un.sun_path).
constexpr size_t kMaxAttachRequestBytes = 64 * 1024;
constexpr size_t kMaxSocketPathBytes = 107;

// Parses a request. False with a sentence in *error when it cannot be used;
// lines it does not know become *warnings.
bool parseAttachRequest(const char* text, AttachRequest* out, std::string* error, std::vector<std::string>* warnings);

// The capture settings of a request (VRAMSCOPE_OUTPUT is the request's output).
InjectorConfig attachConfig(const AttachRequest& request, std::vector<std::string>* warnings);

}  // namespace vramscope::inject
