// injectLibrary() from the command line, one "key=value" line per report
// field. The tests run it under another uid (setuid in the child before
// exec) to see the refusals a user would get.
//   attach_tool PID LIBRARY ENTRY ARGUMENT [TIMEOUT_MS]
//   attach_tool --seize PID     only PTRACE_SEIZE: "errno=N" and the explanation
//                               of the kernel's answer (skips the preflight)
#include "attach/ptrace_inject.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/ptrace.h>

int main(int argc, char** argv) {
    if (argc == 3 && !std::strcmp(argv[1], "--seize")) {
        const int pid = std::atoi(argv[2]);
        const int err = ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) == 0 ? 0 : errno;
        // A successful seize needs no detach: the kernel detaches when we exit.
        const auto env = vramscope::attach::readPtraceEnvironment(pid);
        std::printf("errno=%d\nerror=%s\n", err, err ? vramscope::attach::explainPtraceRefusal(err, env, pid, "").c_str() : "");
        return err ? 1 : 0;
    }
    if (argc < 5) {
        std::fprintf(stderr, "usage: attach_tool PID LIBRARY ENTRY ARGUMENT [TIMEOUT_MS]\n");
        return 2;
    }
    vramscope::attach::InjectRequest req;
    req.pid = std::atoi(argv[1]);
    req.libraryPath = argv[2];
    req.entrySymbol = argv[3];
    req.argument = argv[4];
    if (argc > 5) req.timeoutMs = std::atoi(argv[5]);
    vramscope::attach::InjectReport r;
    const bool ok = vramscope::attach::injectLibrary(req, &r);
    std::printf("ok=%d\nresult=%lld\ntid=%d\nmain=%d\nsyscall=%ld\nstopped_ms=%.3f\ntotal_ms=%.3f\nhow=%s\nerror=%s\n", int(ok),
                r.entryResult, r.tid, int(r.mainThread), r.interruptedSyscall, r.stoppedMs, r.totalMs, r.how.c_str(),
                r.error.c_str());
    return ok ? 0 : 1;
}
