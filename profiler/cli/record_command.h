// `vramscope record [-o FILE] [options] -- CMD ARGS...`: the logic, Qt-free.
//
// The CLI parses its options into RecordOptions and calls runRecord(). Every
// option is also a VRAMSCOPE_* environment variable that the injector reads
// (docs/injector.md); runRecord only sets them for the child.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vramscope::cli {

struct RecordOptions {
    // -o/--output FILE|DIR/|PATTERN (VRAMSCOPE_OUTPUT). Empty: the root
    // process writes "vramscope.<program>.<pid>.vtrace" in the working directory.
    std::string output;
    // --injector PATH (VRAMSCOPE_INJECTOR). Empty: next to the vramscope
    // binary (build tree: ../injector/, installed: ../lib/vramscope/).
    std::string injectorPath;
    uint32_t bufferMegabytes = 0;  // --buffer-mb N (VRAMSCOPE_BUFFER_MB); 0 = injector default (64)
    int memInfoIntervalMs = -1;    // --meminfo-ms N (VRAMSCOPE_MEMINFO_MS); -1 = default (20), 0 = off
    bool kernels = true;           // --no-kernels  (VRAMSCOPE_KERNELS=0)
    bool launchTimes = false;      // --launch-times (VRAMSCOPE_LAUNCH_TIMES=1)
    std::string counters;          // --counters pm|gpm|off (VRAMSCOPE_COUNTERS); empty = the injector's default (off)
    uint32_t counterIntervalUs = 0;  // --counter-interval-us N (VRAMSCOPE_COUNTER_INTERVAL_US); 0 = default (1000)
    std::string counterDuty;       // --counter-duty ON:OFF (VRAMSCOPE_COUNTER_DUTY); empty = sample all along
    bool copies = true;            // --no-copies   (VRAMSCOPE_COPIES=0)
    bool nvtx = true;              // --no-nvtx     (VRAMSCOPE_NVTX=0)
    bool callbacks = true;         // --no-callbacks (VRAMSCOPE_CALLBACKS=0): no OOM/VMM driver callbacks
    // --python-stacks / --no-python-stacks (VRAMSCOPE_PYTHON_STACKS=1/0):
    // Python file:line of each PyTorch tensor allocation; -1 = the default.
    int pythonStacks = -1;
    int pythonStackDepth = 0;      // --python-stack-depth N (VRAMSCOPE_PYTHON_STACK_DEPTH); 0 = default (16)
    // --start=cuinit (default): the injector starts inside cuInit through
    // CUDA_INJECTION64_PATH, so processes that never use CUDA stay untouched.
    // --start=preload: it starts in its LD_PRELOAD constructor.
    bool startAtCuInit = true;
    bool quiet = false;            // --quiet (VRAMSCOPE_QUIET=1): no summary, no injector lines
    bool verbose = false;          // --verbose (VRAMSCOPE_VERBOSE=1): injector statistics at exit
    bool summary = true;           // --no-summary: skip reading the trace afterwards
    std::string selfPath;          // the vramscope binary; empty = /proc/self/exe
};

// Runs `command` traced. Returns the command's exit code, 128 + signal if it
// died of a signal, 127 if it could not be started, 125 if the injector is
// missing. Prints where the trace(s) went and a short summary on stdout.
int runRecord(const RecordOptions& options, std::vector<std::string> command);

// Whether a recording may be written to output (-o FILE, as given). A new
// file, a folder, a device or a pattern with %p is fine. An existing file is
// replaced only when it is an earlier recording (a .vtrace, or empty: then
// *replacing is set, and the caller says so); any other file, and the
// program or a file named on the command line, is refused with a sentence in
// *error, so a slip in -o cannot destroy it.
bool checkRecordingOutput(const std::string& output, const std::vector<std::string>& command, bool* replacing,
                          std::string* error);

// The VRAMSCOPE_* variables that carry the capture options (not the output,
// not how the library is loaded): what `record` sets for the child and
// `attach` sends in its request.
std::map<std::string, std::string> captureEnvironment(const RecordOptions& options);

// The directory holding the `vramscope` Python package (phase hooks, PyTorch
// bridge loader) that runRecord puts on PYTHONPATH: $VRAMSCOPE_PYTHON_PATH
// (empty = off), share/vramscope/python of an installation, or python/ of
// the source tree above the binary's build directory. "" when not found.
std::string findPythonDir(const RecordOptions& options);

// The injector library runRecord would use, or "" (with *searched listing
// the places looked at).
std::string findInjector(const RecordOptions& options, std::string* searched);

// One paragraph about a trace: duration, events, kernels, allocations, peak
// reserved. False with *error when the trace cannot be read.
bool summarizeTrace(const std::string& path, std::string* text, std::string* error);

}  // namespace vramscope::cli
