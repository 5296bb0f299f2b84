// Loads a shared library into a running process and calls a function in it:
// what `vramscope attach PID` uses to start the capture in a job that was not
// started under `vramscope record`. heaptrack -p and memray attach do the same
// through gdb; GPU servers have no gdb, so this is a small ptrace injector.
//
// It runs in the attaching process, never in the target. In the target it
// does, on one borrowed thread:
//     h = dlopen(libraryPath, RTLD_NOW | RTLD_GLOBAL)   // NULL: dlerror() text is reported
//     f = dlsym(h, entrySymbol)                           // NULL: error
//     result = f(argument)                                // int f(const char*)
// and then puts the thread back exactly where it was (every register, the
// interrupted system call restarted). Which thread, and why that keeps the
// target unharmed, is in thread_choice.h and ptrace_inject.cpp.
//
// The entry function runs on a borrowed thread of someone else's program: it
// must return quickly and must not wait for other threads of the target
// (start a thread of its own, or schedule work, e.g. Py_AddPendingCall); the
// borrowed thread may hold the GIL or an application lock.
//
// What the thread rules cannot exclude (rare, and not seen in tests): a thread
// blocked in futex while it holds the loader lock (a library constructor
// waiting inside another dlopen) would re-enter the loader; a thread blocked
// reading a pipe inside stdio holds that FILE's lock, so the injected library
// should not use the same FILE (stdin) from its entry function.
#pragma once

#include "ptrace_refusal.h"

#include <string>

namespace vramscope::attach {

struct InjectRequest {
    int pid = 0;
    std::string libraryPath;   // as the target sees it (its mount namespace)
    std::string entrySymbol;   // extern "C" int entry(const char* argument)
    std::string argument;
    // How long to wait for a moment when the target can be borrowed safely
    // (path 3 below) and, separately, for each stop of a thread.
    int timeoutMs = 10000;
    // How long dlopen + the entry function may run. Past it the thread is
    // put back where it was, which may leave the loader lock taken: only for
    // a library whose constructor hangs.
    int callTimeoutMs = 60000;
};

struct InjectReport {
    bool ok = false;
    std::string error;          // one sentence for a user when !ok
    long long entryResult = 0;  // the entry function's int result
    int tid = 0;                // the thread that made the calls
    bool mainThread = false;    // it was the main thread (the training loop was held)
    long interruptedSyscall = -1;  // the system call the thread was taken from
    double stoppedMs = 0;       // how long that thread was held (interrupt → detach, less any time it ran on its own)
    double totalMs = 0;         // the whole injectLibrary call
    std::string how;            // which path and thread, for logs: "thread 4242 (worker) blocked in futex"
};

// Never throws. On any failure after the thread was stopped, its registers are
// restored and it is detached before returning. SIGINT/SIGTERM/SIGHUP/SIGQUIT
// are blocked in the calling thread meanwhile (so Ctrl-C cannot leave the
// target half-way through a call); a multi-threaded caller should block them
// in its other threads too. SIGKILL cannot be blocked: if the caller is killed
// while the target runs the injected call, the kernel detaches it and the call
// returning to address 0 crashes the target.
//
// On other architectures than x86-64 it refuses: "vramscope attach supports
// x86-64 processes only".
bool injectLibrary(const InjectRequest& request, InjectReport* report);

}  // namespace vramscope::attach
