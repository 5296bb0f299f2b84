// `vramscope attach PID`: capture loaded into a job that is already running.
// Qt-free, like record_command.h: the same code backs the Qt-free
// `vramscope-attach` of GPU servers and the app's Attach to Process.
//
//   1. checks the target (exists, same user, not traced, glibc, x86-64, has
//      the CUDA driver loaded) and that no capture is attached to it yet;
//   2. for a PyTorch job, builds the PyTorch bridge beforehand with the
//      job's own Python (never inside the job: a compile would stall it);
//   3. loads libvramscope_inject.so into it (profiler/attach, ptrace) and
//      calls vramscope_attach_start() with the request (attach_request.h);
//   4. talks to the capture through its control socket (live_server.h):
//      waits until it runs, then until Ctrl-C / --duration / the job's end,
//      then asks it to stop, which writes the footer. The job runs on.
#pragma once

#include "record_command.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vramscope::cli {

// What `attach PID --duration S` takes, from the CLI and from vramscope-attach.
inline constexpr uint64_t kMaxProcessId = 2147483647;  // pid_t
inline constexpr double kMinAttachSeconds = 0.001;
inline constexpr double kMaxAttachSeconds = 30 * 24 * 3600;  // 30 days: longer is a typing slip

struct AttachOptions {
    int pid = 0;
    // The capture settings (what `record` offers that makes sense here:
    // output, injector, buffers, kernels, copies, callbacks, counters,
    // Python stacks, quiet, verbose, summary, selfPath).
    RecordOptions capture;
    double durationSeconds = 0;  // --duration S; 0 = until Ctrl-C or the job ends (kMin/kMaxAttachSeconds)
    bool noWait = false;         // --no-wait: start the capture and return; stop it with --stop
    bool tcp = false;            // --tcp: serve the live stream on 127.0.0.1 too (with a token)
    bool bridge = true;          // --no-bridge: no PyTorch tensor-level events
    bool phaseHooks = true;      // --no-phase-hooks
};

// What a started attach says about itself.
struct AttachStarted {
    std::string output;       // the trace being written (absolute)
    std::string socketPath;   // control + live stream
    std::string tcpAddress;   // "127.0.0.1:PORT" with --tcp
    std::string token;        // its token
    std::string processName;  // comm of the target
    double stoppedMs = 0;     // how long the borrowed thread was held
    bool mainThread = false;  // whether that was the job's main thread
    std::string thread;       // which thread, in words
    std::vector<std::string> status;  // the capture's status lines once running
};

// Steps 1–3 and the wait for the capture to run. False with a sentence in
// *error (and nothing left behind in the target beyond the loaded, idle
// library when the failure came after the load). progress gets lines for
// the user (bridge build, Python hooks) as they happen.
bool startAttach(const AttachOptions& options, AttachStarted* started, std::string* error,
                 const std::function<void(const std::string&)>& progress = {});

// The whole command: startAttach, then wait, then detach and summarise.
// Exit codes: 0 done, 1 the attach failed, 2 usage, 125 no injector.
int runAttach(const AttachOptions& options);
// `vramscope attach --stop PID` / `--status PID`.
int runAttachStop(int pid, bool quiet);
int runAttachStatus(int pid);

// Where the capture attached to pid (a process of user uid) listens:
// $XDG_RUNTIME_DIR/vramscope/PID.sock with the job's XDG_RUNTIME_DIR (else
// /run/user/UID) when that is the user's directory, else
// /tmp/vramscope-UID/PID.sock.
std::string controlSocketPath(int pid, uint32_t uid);

// One request on a control socket: sends `command`, reads lines until "end"
// or the connection closes (at most timeoutMs). False with *error when the
// socket cannot be reached (no capture attached).
bool controlRequest(const std::string& socketPath, const std::string& command, int timeoutMs,
                    std::vector<std::string>* lines, std::string* error);

// "key=value" lines → the value of key, or "".
std::string statusValue(const std::vector<std::string>& lines, const std::string& key);

}  // namespace vramscope::cli
