// One thread of another process held through ptrace: stop it, save and
// restore all of its registers, write and read its memory, and make it call a
// function. x86-64 Linux only; ptrace_inject.cpp decides when and on which
// thread, this file only knows how.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <sys/user.h>
#endif

namespace vramscope::attach {

using Clock = std::chrono::steady_clock;

#if defined(__x86_64__)

// Everything the thread's own code can see of its CPU state.
struct SavedRegisters {
    user_regs_struct regs{};     // includes orig_rax, fs_base, gs_base, eflags
    std::vector<uint8_t> extended;  // NT_X86_XSTATE (x87, SSE, AVX, AVX-512, ...) or NT_PRFPREG
    int extendedNote = 0;         // the regset note extended came from
};

class RemoteThread {
public:
    RemoteThread(int pid, int tid) : pid_(pid), tid_(tid) {}
    RemoteThread(const RemoteThread&) = delete;
    RemoteThread& operator=(const RemoteThread&) = delete;
    // Detaches without touching registers if still attached (never leaves a tracee behind).
    ~RemoteThread();

    int tid() const { return tid_; }
    bool attached() const { return attached_; }

    // PTRACE_SEIZE (never SIGSTOP, never PTRACE_O_EXITKILL: if vramscope dies
    // the kernel detaches and the target lives on). False with errno in *err.
    bool seize(int* err);
    // PTRACE_INTERRUPT, then wait for the resulting stop. A signal reported
    // first is passed on to the thread. False on timeout or if the thread exits.
    bool interrupt(Clock::time_point deadline, std::string* error);
    // PTRACE_SYSCALL until the entry of a system call accepted by isSafe(nr, args)
    // and made by a `syscall` instruction. Returns 1 when stopped there, 0 on
    // timeout (the thread is stopped again, untouched), -1 on failure.
    // runningMs accumulates the time the thread ran meanwhile.
    int waitForSyscallEntry(Clock::time_point deadline, bool (*isSafe)(int pid, long nr, const uint64_t* args),
                            long* nr, double* runningMs, std::string* error);

    bool save(SavedRegisters* out, std::string* error);
    bool restore(const SavedRegisters& saved, std::string* error);

    // Makes the stopped thread call function(a0, a1, a2) on the stack below
    // stackTop (16-byte aligned) and return to address 0; *result = rax.
    // Signals that arrive meanwhile are delivered, a group stop is ridden
    // through. False on a fault (the thread stays stopped at it), on the
    // thread's exit (exited() true) or when deadline passes (it keeps running).
    bool call(const SavedRegisters& base, uint64_t function, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t stackTop,
              Clock::time_point deadline, uint64_t* result, std::string* error);
    bool exited() const { return exited_; }
    // A call that timed out: the thread is still running it (traced, not stopped).
    bool running() const { return running_; }
    // A signal was delivered or a group stop happened while calls ran: either
    // may have interrupted a system call of the injected code and left its
    // restart_block on the thread.
    bool disturbedDuringCalls() const { return disturbed_; }

    bool writeMemory(uint64_t address, const void* data, size_t size);
    bool readMemory(uint64_t address, void* data, size_t size);
    // A NUL-terminated string of at most maxBytes, read page by page.
    std::string readString(uint64_t address, size_t maxBytes = 2048);

    // PTRACE_DETACH from the current stop with signal 0.
    bool detach(std::string* error);

private:
    enum class Wait { Stopped, Exited, Timeout, Failed };
    Wait waitStop(Clock::time_point deadline, int* status);

    int pid_, tid_;
    bool attached_ = false;
    bool exited_ = false;
    bool running_ = false;
    bool disturbed_ = false;
    int pendingSignal_ = 0;  // a signal met while stopping the thread, handed on at detach
};

#endif  // __x86_64__

}  // namespace vramscope::attach
