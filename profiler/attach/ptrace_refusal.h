// Why the kernel may refuse to let us trace a process, in one sentence that
// says what to change. Kept apart from the injector so it is a pure function
// of plain facts (unit-tested for every environment without needing one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vramscope::attach {

struct PtraceEnvironment {
    // /proc/sys/kernel/yama/ptrace_scope: 0 classic, 1 only ancestors may
    // attach, 2 only CAP_SYS_PTRACE, 3 nobody until reboot; -1 when the
    // kernel has no Yama (as on the H200 hosts, Dec 2026).
    int yamaScope = -1;
    bool root = false;          // our effective uid is 0
    bool capSysPtrace = false;  // CAP_SYS_PTRACE (bit 19) in our CapEff
    int seccompMode = 0;        // "Seccomp:" of /proc/self/status: 0 none, 1 strict, 2 filter
    std::string container;      // "Docker", "Podman", "Kubernetes", "LXC", "a container"; empty: none seen
    uint32_t ourUid = 0;
    // About the target, when its /proc entry was readable.
    bool targetKnown = false;
    uint32_t targetUid = 0;
    // The kernel makes the files under /proc/PID owned by root while a
    // process is not dumpable (PR_SET_DUMPABLE 0, setuid/setgid exec;
    // task_dump_owner() in fs/proc/base.c; the directory itself keeps its
    // owner on 6.18), so a root-owned /proc/PID/status of a non-root process
    // means "not dumpable".
    bool targetDumpable = true;
};

// The facts above for this process and target pid.
PtraceEnvironment readPtraceEnvironment(int pid);

// One sentence for a failed PTRACE_SEIZE (or a denied read of /proc/PID/maps,
// which the kernel checks with the same ptrace_may_access()), err = errno.
std::string explainPtraceRefusal(int err, const PtraceEnvironment& env, int pid, std::string_view targetName);

}  // namespace vramscope::attach
