// Which thread of a running process may be borrowed to call dlopen, and when.
//
// dlopen takes the loader lock and calls malloc. If the borrowed thread was
// stopped while holding the malloc arena lock or the loader lock, the call
// deadlocks the target (or, the loader lock being recursive, re-enters the
// loader half-way through another load). A thread blocked in the kernel in a
// system call that is not part of memory management holds neither: glibc's
// malloc only makes brk/mmap/munmap/mprotect/madvise/mremap with its lock held,
// and the loader's blocking calls while holding its lock are open/read/mmap
// on the library files. So the rules here accept a thread only at such a
// system call, and a read only when its descriptor is a pipe, socket, eventfd
// or device (never a regular file, which is what the loader reads).
#pragma once

#include "process_inspect.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vramscope::attach {

enum class SyscallSafety {
    Unsafe,        // memory management, file I/O, anything unknown
    Restarts,      // interrupted, the kernel restarts it (-ERESTARTSYS & co.): invisible to the program
    ReturnsEintr,  // interrupted, it fails with EINTR (epoll_wait, rt_sigtimedwait: signal(7)); programs retry
};
SyscallSafety syscallSafety(long nr);
// "futex", "read", ... for reports; "syscall N" for others.
std::string syscallName(long nr);
// Whether an interrupted call will resume through the thread's restart_block
// (-ERESTART_RESTARTBLOCK): futex with a timeout, nanosleep, relative
// clock_nanosleep, poll with a timeout, restart_syscall itself. Such a thread
// is borrowed only after others, because a call the injected code makes may
// overwrite that block (see ptrace_inject.cpp).
bool resumesThroughRestartBlock(long nr, const uint64_t* args);
// read/readv/recv*: the first argument is a descriptor that must not be a regular file.
bool syscallReadsDescriptor(long nr);
// What a thread stopped by PTRACE_INTERRUPT shows in rax when the interrupt
// found it inside a blocking call: -ERESTARTSYS, -ERESTARTNOINTR,
// -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK (include/linux/errno.h) or -EINTR.
// Any other value means the call had completed and the thread is back in its
// own code right after it, possibly having just acquired something
// (FUTEX_LOCK_PI hands over the lock in the kernel).
bool interruptedInsideCall(long long rax);
// At a syscall-entry stop nothing of the call has happened yet; the one
// exception that matters is FUTEX_UNLOCK_PI, whose caller still owns the
// mutex until the kernel releases it.
bool safeAtSyscallEntry(int pid, long nr, const uint64_t* args);

// True when /proc/PID/fd/FD is a pipe or FIFO, socket, anon inode (eventfd, ...) or character device.
bool descriptorIsStream(int pid, uint64_t fd);

// The stack a borrowed thread must have left below its sp: dlopen, the
// library constructors and the entry function run on it. glibc gives threads
// RLIMIT_STACK (8 MiB by default); a thread with less than 256 KiB left is
// deep in recursion or runs on a small custom stack, and is passed over.
constexpr uint64_t kMinimumStackBytes = 256 * 1024;

// SIGSEGV is the return trap (the call returns to address 0). The kernel's
// force_sig_fault() resets the handler of a fault signal to SIG_DFL for the
// whole process and unblocks it when the faulting thread blocks it or the
// process ignores it (kernel/signal.c, force_sig_info_to_task), so such a
// thread is never borrowed.
bool returnTrapIsHarmless(const ProcessFacts& facts, const ThreadFacts& thread);

struct ThreadCandidate {
    int tid = 0;
    bool mainThread = false;
    long syscallNr = -1;
    std::string name;
};

// The threads blocked in a safe system call, best first: other threads before
// the main thread (the training loop is then never stopped), restartable calls
// before EINTR ones, calls restarted as themselves before those resumed
// through restart_block, threads not named cuda-* (the CUDA driver's own helper
// threads, whose work the injected library may end up waiting for) first, then
// by thread id. `why` lists, for a report, why threads were passed over when
// none qualifies. fdIsStream defaults to descriptorIsStream.
std::vector<ThreadCandidate> rankBlockedThreads(const ProcessFacts& facts, const std::vector<ThreadFacts>& threads,
                                                std::string* why = nullptr,
                                                const std::function<bool(int tid, uint64_t fd)>& fdIsStream = {});

}  // namespace vramscope::attach
