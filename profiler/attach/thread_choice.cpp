#include "thread_choice.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sys/stat.h>
#include <unistd.h>

namespace vramscope::attach {

namespace {

struct KnownSyscall {
    long nr;  // x86-64 numbers (arch/x86/entry/syscalls/syscall_64.tbl); the injector is x86-64 only
    const char* name;
    SyscallSafety safety;
};

// Blocking calls made outside malloc and the loader. What an interrupted one
// returns, from the kernel sources (6.x): pipe/socket reads, futex without
// timeout, wait4, accept: -ERESTARTSYS; select/pause/ppoll/pselect6:
// -ERESTARTNOHAND; nanosleep, clock_nanosleep, poll and futex with a timeout:
// -ERESTART_RESTARTBLOCK. All are restarted by the kernel when no handler
// runs, which is what our detach leads to. epoll_wait* and rt_sigtimedwait
// return -EINTR (signal(7) lists them), so the program sees one EINTR.
constexpr KnownSyscall kKnown[] = {
    {0, "read", SyscallSafety::Restarts},
    {7, "poll", SyscallSafety::Restarts},
    {19, "readv", SyscallSafety::Restarts},
    {23, "select", SyscallSafety::Restarts},
    {34, "pause", SyscallSafety::Restarts},
    {35, "nanosleep", SyscallSafety::Restarts},
    {43, "accept", SyscallSafety::Restarts},
    {45, "recvfrom", SyscallSafety::Restarts},
    {47, "recvmsg", SyscallSafety::Restarts},
    {61, "wait4", SyscallSafety::Restarts},
    {202, "futex", SyscallSafety::Restarts},
    {230, "clock_nanosleep", SyscallSafety::Restarts},
    {247, "waitid", SyscallSafety::Restarts},
    {270, "pselect6", SyscallSafety::Restarts},
    {271, "ppoll", SyscallSafety::Restarts},
    {288, "accept4", SyscallSafety::Restarts},
    {449, "futex_waitv", SyscallSafety::Restarts},
    // A call above resumed after -ERESTART_RESTARTBLOCK (timed futex,
    // nanosleep, poll): it continues through current->restart_block.
    {219, "restart_syscall", SyscallSafety::Restarts},
    {128, "rt_sigtimedwait", SyscallSafety::ReturnsEintr},
    {232, "epoll_wait", SyscallSafety::ReturnsEintr},
    {281, "epoll_pwait", SyscallSafety::ReturnsEintr},
    {441, "epoll_pwait2", SyscallSafety::ReturnsEintr},
    // Named for reports only: these run inside malloc with its lock held.
    {9, "mmap", SyscallSafety::Unsafe},
    {10, "mprotect", SyscallSafety::Unsafe},
    {11, "munmap", SyscallSafety::Unsafe},
    {12, "brk", SyscallSafety::Unsafe},
    {25, "mremap", SyscallSafety::Unsafe},
    {28, "madvise", SyscallSafety::Unsafe},
    {1, "write", SyscallSafety::Unsafe},
    {16, "ioctl", SyscallSafety::Unsafe},
    {257, "openat", SyscallSafety::Unsafe},
};

const KnownSyscall* known(long nr) {
    for (const KnownSyscall& k : kKnown)
        if (k.nr == nr) return &k;
    return nullptr;
}

bool isMainThread(const ProcessFacts& facts, int tid) { return tid == facts.pid; }

}  // namespace

SyscallSafety syscallSafety(long nr) {
    const KnownSyscall* k = known(nr);
    return k ? k->safety : SyscallSafety::Unsafe;
}

std::string syscallName(long nr) {
    const KnownSyscall* k = known(nr);
    return k ? std::string(k->name) : "syscall " + std::to_string(nr);
}

bool resumesThroughRestartBlock(long nr, const uint64_t* args) {
    constexpr uint64_t kTimerAbstime = 1;  // clock_nanosleep flags
    switch (nr) {
    case 35: case 219: return true;                           // nanosleep, restart_syscall
    case 230: return (args[1] & kTimerAbstime) == 0;          // clock_nanosleep: absolute ones return -ERESTARTNOHAND
    case 7: return int32_t(uint32_t(args[2])) > 0;            // poll(fds, n, timeoutMs)
    case 202: return args[3] != 0;                            // futex(uaddr, op, val, timeout, ...)
    default: return false;
    }
}

bool syscallReadsDescriptor(long nr) { return nr == 0 || nr == 19 || nr == 45 || nr == 47; }

bool descriptorIsStream(int pid, uint64_t fd) {
    if (fd > (1u << 30)) return false;
    // stat() follows the magic link to the open file itself: named FIFOs and
    // sockets show as their path in the link text, but their type is right.
    struct stat st{};
    const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    if (::stat(path.c_str(), &st) != 0) return false;
    // Anonymous inodes (eventfd, signalfd, timerfd) have no file type bits.
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode) || (st.st_mode & S_IFMT) == 0;
}

bool interruptedInsideCall(long long rax) {
    return rax == -512 || rax == -513 || rax == -514 || rax == -516 || rax == -EINTR;
}

bool safeAtSyscallEntry(int pid, long nr, const uint64_t* args) {
    constexpr long kFutex = 202;
    constexpr uint64_t kFutexCmdMask = 127, kFutexUnlockPi = 7;  // linux/futex.h
    if (syscallSafety(nr) == SyscallSafety::Unsafe) return false;
    if (nr == kFutex && (args[1] & kFutexCmdMask) == kFutexUnlockPi) return false;
    return !syscallReadsDescriptor(nr) || descriptorIsStream(pid, args[0]);
}

bool returnTrapIsHarmless(const ProcessFacts& facts, const ThreadFacts& thread) {
    const uint64_t bit = uint64_t(1) << (SIGSEGV - 1);
    return !(thread.blockedSignals & bit) && !(facts.ignoredSignals & bit);
}

std::vector<ThreadCandidate> rankBlockedThreads(const ProcessFacts& facts, const std::vector<ThreadFacts>& threads,
                                                std::string* why,
                                                const std::function<bool(int, uint64_t)>& fdIsStream) {
    struct Ranked {
        ThreadCandidate c;
        int key[4];
    };
    std::vector<Ranked> ranked;
    int busy = 0, unsafeCall = 0, smallStack = 0, trapUnsafe = 0, fileRead = 0;
    for (const ThreadFacts& t : threads) {
        // 'S' (interruptible sleep) is the state of a thread blocked in one of
        // the calls above; 'D' would not answer PTRACE_INTERRUPT until it wakes.
        if (!t.syscallKnown || t.running || t.syscallNr < 0 || t.state != 'S') {
            ++busy;
            continue;
        }
        const SyscallSafety safety = syscallSafety(t.syscallNr);
        if (safety == SyscallSafety::Unsafe) {
            ++unsafeCall;
            continue;
        }
        if (syscallReadsDescriptor(t.syscallNr)) {
            const bool stream = fdIsStream ? fdIsStream(t.tid, t.args[0]) : descriptorIsStream(facts.pid, t.args[0]);
            if (!stream) {
                ++fileRead;
                continue;
            }
        }
        if (!returnTrapIsHarmless(facts, t)) {
            ++trapUnsafe;
            continue;
        }
        const bool main = isMainThread(facts, t.tid);
        const Mapping* stack = mappingAt(facts, t.sp);
        // The main thread's [stack] grows on demand up to RLIMIT_STACK; thread
        // stacks are fixed mmap'd regions (8 MiB by default in glibc).
        if (!stack || (stack->path != "[stack]" && t.sp - stack->start < kMinimumStackBytes)) {
            ++smallStack;
            continue;
        }
        Ranked r;
        r.c = ThreadCandidate{t.tid, main, t.syscallNr, t.name};
        r.key[0] = main ? 1 : 0;
        r.key[1] = safety == SyscallSafety::Restarts ? 0 : 1;
        r.key[2] = resumesThroughRestartBlock(t.syscallNr, t.args) ? 1 : 0;
        r.key[3] = t.name.rfind("cuda-", 0) == 0 ? 1 : 0;
        ranked.push_back(std::move(r));
    }
    std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
        for (int i = 0; i < 4; ++i)
            if (a.key[i] != b.key[i]) return a.key[i] < b.key[i];
        return a.c.tid < b.c.tid;
    });
    if (why) {
        *why = std::to_string(threads.size()) + " thread(s): " + std::to_string(busy) + " running or not in a system call, " +
               std::to_string(unsafeCall) + " in a call that may hold a lock, " + std::to_string(fileRead) +
               " reading a file, " + std::to_string(trapUnsafe) + " blocking SIGSEGV, " + std::to_string(smallStack) +
               " with less than 256 KiB of stack";
    }
    std::vector<ThreadCandidate> out;
    for (Ranked& r : ranked) out.push_back(std::move(r.c));
    return out;
}

}  // namespace vramscope::attach
