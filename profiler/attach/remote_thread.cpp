#include "remote_thread.h"

#if defined(__x86_64__)

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace vramscope::attach {

namespace {

// x86-64 EFLAGS bits the System V ABI wants clear at a call: DF (string
// instructions run forwards); TF would single-step our call into SIGTRAPs.
constexpr unsigned long long kFlagTrap = 0x100, kFlagDirection = 0x400;
// The XSAVE area is 2.7 KiB with AVX-512 and ~11 KiB with AMX; the kernel
// writes at most the buffer and shrinks iov_len to what it wrote.
constexpr size_t kMaxExtendedState = 64 * 1024;

double msBetween(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

bool fail(std::string* error, const std::string& what) {
    if (error) *error = what;
    return false;
}

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool isFaultSignal(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP;
}

}  // namespace

RemoteThread::~RemoteThread() {
    if (!attached_) return;
    if (ptrace(PTRACE_DETACH, tid_, nullptr, nullptr) == 0) return;
    // Detach needs a ptrace-stop; a thread still running (a call that timed
    // out) is stopped first so it is not left traced by a long-lived caller.
    if (errno == ESRCH && ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) == 0) {
        int status = 0;
        if (waitStop(Clock::now() + std::chrono::seconds(2), &status) == Wait::Stopped) {
            const int sig = (status >> 16) == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80) ? WSTOPSIG(status) : 0;
            ptrace(PTRACE_DETACH, tid_, nullptr, reinterpret_cast<void*>(uintptr_t(sig)));
        }
    }
}

RemoteThread::Wait RemoteThread::waitStop(Clock::time_point deadline, int* status) {
    // Polled rather than blocking: waitpid has no timeout, and a SIGCHLD-based
    // wait would race with the caller's other threads. 20 µs doubling to 1 ms
    // (the caller lowers its timer slack). A 100 µs cap measured worse on the
    // 2-core dev VM (held p50 0.36 vs 0.17 ms over 3×100 injections): the
    // polling then competes with the borrowed thread for a CPU.
    long sleepNs = 20'000;
    for (;;) {
        pid_t r = ::waitpid(tid_, status, __WALL | WNOHANG);
        if (r == tid_) {
            if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
                exited_ = true;
                attached_ = false;
                return Wait::Exited;
            }
            return Wait::Stopped;
        }
        if (r < 0 && errno != EINTR) {
            if (errno == ECHILD) {  // reaped elsewhere or gone
                exited_ = true;
                attached_ = false;
                return Wait::Exited;
            }
            return Wait::Failed;
        }
        if (Clock::now() >= deadline) return Wait::Timeout;
        timespec ts{0, sleepNs};
        ::nanosleep(&ts, nullptr);
        sleepNs = std::min(sleepNs * 2, 1'000'000L);
    }
}

bool RemoteThread::seize(int* err) {
    if (ptrace(PTRACE_SEIZE, tid_, nullptr, reinterpret_cast<void*>(uintptr_t(PTRACE_O_TRACESYSGOOD))) != 0) {
        *err = errno;
        return false;
    }
    attached_ = true;
    return true;
}

bool RemoteThread::interrupt(Clock::time_point deadline, std::string* error) {
    if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) return fail(error, errnoText("PTRACE_INTERRUPT"));
    for (;;) {
        int status = 0;
        switch (waitStop(deadline, &status)) {
        case Wait::Exited: return fail(error, "thread " + std::to_string(tid_) + " exited");
        case Wait::Timeout: return fail(error, "thread " + std::to_string(tid_) + " did not stop in time");
        case Wait::Failed: return fail(error, errnoText("waitpid"));
        case Wait::Stopped: break;
        }
        const int event = status >> 16, sig = WSTOPSIG(status);
        // The interrupt's own stop (or a group stop, which also holds the thread).
        if (event == PTRACE_EVENT_STOP) {
            running_ = false;
            return true;
        }
        // A signal that raced with the interrupt: hand it on; the interrupt
        // stays pending (JOBCTL_TRAP_STOP) and reports next.
        const int pass = (event == 0 && sig != (SIGTRAP | 0x80)) ? sig : 0;
        if (ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(uintptr_t(pass))) != 0)
            return fail(error, errnoText("PTRACE_CONT"));
    }
}

int RemoteThread::waitForSyscallEntry(Clock::time_point deadline, bool (*isSafe)(int, long, const uint64_t*), long* nr,
                                      double* runningMs, std::string* error) {
    int pass = 0;
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, tid_, nullptr, reinterpret_cast<void*>(uintptr_t(pass))) != 0) {
            fail(error, errnoText("PTRACE_SYSCALL"));
            return -1;
        }
        pass = 0;
        const Clock::time_point resumed = Clock::now();
        int status = 0;
        Wait w = waitStop(deadline, &status);
        *runningMs += msBetween(resumed, Clock::now());
        if (w == Wait::Timeout) {
            // Stop it again where it is and leave it untouched; a signal met
            // on the way is handed on by detach().
            if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0 ||
                waitStop(Clock::now() + std::chrono::seconds(5), &status) != Wait::Stopped) {
                fail(error, "thread " + std::to_string(tid_) + " could not be stopped again");
                return -1;
            }
            if ((status >> 16) == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80)) pendingSignal_ = WSTOPSIG(status);
            return 0;
        }
        if (w != Wait::Stopped) {
            fail(error, w == Wait::Exited ? "the process exited" : errnoText("waitpid"));
            return -1;
        }
        const int event = status >> 16, sig = WSTOPSIG(status);
        if (event == PTRACE_EVENT_STOP && sig != SIGTRAP) {
            fail(error, "the process was stopped (" + std::string(strsignal(sig)) + ") while vramscope waited for it");
            return -1;
        }
        if (event != 0) continue;
        if (sig != (SIGTRAP | 0x80)) {  // a signal for the thread: deliver it
            pass = sig;
            continue;
        }
        // A syscall stop: entry or exit? PTRACE_GET_SYSCALL_INFO (Linux 5.3)
        // says; on older kernels rax is -ENOSYS only at entry (x86-64 entry code).
        __ptrace_syscall_info info{};
        user_regs_struct regs{};
        if (ptrace(PTRACE_GETREGS, tid_, nullptr, &regs) != 0) continue;
        bool entry = false;
        uint64_t args[6] = {regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9};
        long number = long(regs.orig_rax);
        long got = ptrace(PTRACE_GET_SYSCALL_INFO, tid_, reinterpret_cast<void*>(sizeof info), &info);
        if (got > 0) {
            entry = info.op == PTRACE_SYSCALL_INFO_ENTRY;
            if (entry) {
                number = long(info.entry.nr);
                std::memcpy(args, info.entry.args, sizeof args);
            }
        } else {
            entry = long(regs.rax) == -ENOSYS;
        }
        if (!entry || !isSafe(pid_, number, args)) continue;
        // The restore re-executes the call at rip - 2: make sure those two
        // bytes are the 64-bit `syscall` instruction (0f 05).
        unsigned char insn[2] = {};
        if (!readMemory(regs.rip - 2, insn, 2) || insn[0] != 0x0f || insn[1] != 0x05) continue;
        *nr = number;
        return 1;
    }
}

bool RemoteThread::save(SavedRegisters* out, std::string* error) {
    if (ptrace(PTRACE_GETREGS, tid_, nullptr, &out->regs) != 0) return fail(error, errnoText("PTRACE_GETREGS"));
    // The code around a system call keeps live values in xmm/ymm/zmm
    // registers and the callee-saved x87/MXCSR control bits; dlopen clobbers
    // them (memcpy, strlen use AVX), so the whole XSAVE area is saved.
    out->extended.assign(kMaxExtendedState, 0);
    iovec iov{out->extended.data(), out->extended.size()};
    if (ptrace(PTRACE_GETREGSET, tid_, reinterpret_cast<void*>(uintptr_t(NT_X86_XSTATE)), &iov) == 0) {
        out->extendedNote = NT_X86_XSTATE;
    } else {
        iov = {out->extended.data(), sizeof(user_fpregs_struct)};
        if (ptrace(PTRACE_GETREGSET, tid_, reinterpret_cast<void*>(uintptr_t(NT_PRFPREG)), &iov) != 0)
            return fail(error, errnoText("PTRACE_GETREGSET"));
        out->extendedNote = NT_PRFPREG;
    }
    out->extended.resize(iov.iov_len);
    return true;
}

bool RemoteThread::restore(const SavedRegisters& saved, std::string* error) {
    iovec iov{const_cast<uint8_t*>(saved.extended.data()), saved.extended.size()};
    if (ptrace(PTRACE_SETREGSET, tid_, reinterpret_cast<void*>(uintptr_t(saved.extendedNote)), &iov) != 0)
        return fail(error, errnoText("PTRACE_SETREGSET"));
    user_regs_struct regs = saved.regs;
    if (ptrace(PTRACE_SETREGS, tid_, nullptr, &regs) != 0) return fail(error, errnoText("PTRACE_SETREGS"));
    return true;
}

bool RemoteThread::call(const SavedRegisters& base, uint64_t function, uint64_t a0, uint64_t a1, uint64_t a2,
                        uint64_t stackTop, Clock::time_point deadline, uint64_t* result, std::string* error) {
    // Return address 0 at [rsp]: the function's `ret` jumps to 0 and faults,
    // which the kernel reports to us as a SIGSEGV stop before any handler of
    // the target runs. At entry rsp = stackTop - 8, so (rsp + 8) % 16 == 0 as
    // the System V ABI requires.
    const uint64_t zero = 0;
    if (!writeMemory(stackTop - 8, &zero, sizeof zero)) return fail(error, "cannot write to the thread's stack");
    user_regs_struct regs = base.regs;
    regs.rip = function;
    regs.rdi = a0;
    regs.rsi = a1;
    regs.rdx = a2;
    regs.rax = 0;  // no vector arguments (varargs convention)
    regs.rsp = stackTop - 8;
    regs.eflags &= ~(kFlagTrap | kFlagDirection);
    // orig_rax = -1: "not in a system call", so the kernel does not apply its
    // restart logic (rip -= 2) to our registers when the thread resumes.
    regs.orig_rax = ~0ULL;
    if (ptrace(PTRACE_SETREGS, tid_, nullptr, &regs) != 0) return fail(error, errnoText("PTRACE_SETREGS"));
    int pass = 0;
    for (;;) {
        if (ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(uintptr_t(pass))) != 0)
            return fail(error, errnoText("PTRACE_CONT"));
        pass = 0;
        int status = 0;
        switch (waitStop(deadline, &status)) {
        case Wait::Exited: return fail(error, "the process exited during the call");
        case Wait::Timeout:
            running_ = true;
            return fail(error, "the call did not return in time");
        case Wait::Failed: return fail(error, errnoText("waitpid"));
        case Wait::Stopped: break;
        }
        const int event = status >> 16, sig = WSTOPSIG(status);
        // A group stop (SIGSTOP/SIGTSTP to the process) shows as
        // PTRACE_EVENT_STOP: the call runs on through it; at PTRACE_DETACH the
        // kernel puts the thread back into the group stop (__ptrace_unlink
        // re-arms JOBCTL_STOP_PENDING), so the process still stops as asked.
        if (event == PTRACE_EVENT_STOP && sig != SIGTRAP) disturbed_ = true;
        if (event != 0 || sig == (SIGTRAP | 0x80)) continue;
        siginfo_t si{};
        user_regs_struct now{};
        if (ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &si) != 0 || ptrace(PTRACE_GETREGS, tid_, nullptr, &now) != 0)
            return fail(error, errnoText("PTRACE_GETSIGINFO"));
        const bool fromKernel = si.si_code > 0;  // a fault, not kill()/tgkill()/sigqueue()
        if (sig == SIGSEGV && fromKernel && now.rip == 0 && now.rsp == stackTop) {
            *result = now.rax;
            return true;  // stopped at the return trap; resuming with signal 0 discards the SIGSEGV
        }
        if (isFaultSignal(sig) && fromKernel) {
            char what[160];
            std::snprintf(what, sizeof what, "the call crashed with %s at address 0x%llx (instruction 0x%llx)",
                          strsignal(sig), (unsigned long long)(uintptr_t)si.si_addr, (unsigned long long)now.rip);
            return fail(error, what);
        }
        pass = sig;  // an ordinary signal for this thread: its handler runs on top of our call
        disturbed_ = true;
    }
}

bool RemoteThread::writeMemory(uint64_t address, const void* data, size_t size) {
    iovec local{const_cast<void*>(data), size}, remote{reinterpret_cast<void*>(address), size};
    if (::process_vm_writev(pid_, &local, 1, &remote, 1, 0) == ssize_t(size)) return true;
    // process_vm_writev is refused by some seccomp profiles and on write-protected
    // pages; /proc/PID/mem writes as the tracer (FOLL_FORCE).
    int fd = ::open(("/proc/" + std::to_string(pid_) + "/mem").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::pwrite(fd, data, size, off_t(address)) == ssize_t(size);
    ::close(fd);
    return ok;
}

bool RemoteThread::readMemory(uint64_t address, void* data, size_t size) {
    iovec local{data, size}, remote{reinterpret_cast<void*>(address), size};
    if (::process_vm_readv(pid_, &local, 1, &remote, 1, 0) == ssize_t(size)) return true;
    int fd = ::open(("/proc/" + std::to_string(pid_) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::pread(fd, data, size, off_t(address)) == ssize_t(size);
    ::close(fd);
    return ok;
}

std::string RemoteThread::readString(uint64_t address, size_t maxBytes) {
    std::string out;
    char buf[4096];
    while (out.size() < maxBytes && address != 0) {
        // Never cross a page in one read: the next page may be unmapped.
        size_t chunk = std::min<size_t>({sizeof buf, 4096 - (address & 4095), maxBytes - out.size()});
        if (!readMemory(address, buf, chunk)) break;
        const void* nul = std::memchr(buf, 0, chunk);
        if (nul) {
            out.append(buf, size_t(static_cast<const char*>(nul) - buf));
            return out;
        }
        out.append(buf, chunk);
        address += chunk;
    }
    return out;
}

bool RemoteThread::detach(std::string* error) {
    if (!attached_) return true;
    if (ptrace(PTRACE_DETACH, tid_, nullptr, reinterpret_cast<void*>(uintptr_t(pendingSignal_))) != 0)
        return fail(error, errnoText("PTRACE_DETACH"));
    attached_ = false;
    return true;
}

}  // namespace vramscope::attach

#endif  // __x86_64__
