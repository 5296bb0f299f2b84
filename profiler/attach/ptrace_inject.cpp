#include "ptrace_inject.h"

#include "elf_symbols.h"
#include "process_inspect.h"
#include "remote_thread.h"
#include "thread_choice.h"

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace vramscope::attach {

#if defined(__x86_64__)

namespace {

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

bool fail(InjectReport* report, std::string sentence) {
    report->ok = false;
    report->error = std::move(sentence);
    return false;
}

std::string describe(const ProcessFacts& f) {
    return "process " + std::to_string(f.pid) + (f.name.empty() ? "" : " (" + f.name + ")");
}

std::string userName(uint32_t uid) {
    passwd pw{}, *found = nullptr;
    char buf[4096];
    if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found)
        return "user " + std::string(found->pw_name) + " (uid " + std::to_string(uid) + ")";
    return "uid " + std::to_string(uid);
}

bool hasLiveThread(int pid) {
    for (int tid : threadIds(pid)) {
        ThreadFacts t;
        if (readThread(pid, tid, &t) && t.state != 'Z' && t.state != 'X') return true;
    }
    return false;
}

// Every refusal that can be decided from /proc alone, before any ptrace call.
bool preflight(const InjectRequest& req, ProcessFacts* f, InjectReport* report) {
    if (req.pid <= 0) return fail(report, "there is no process with PID " + std::to_string(req.pid) + ".");
    if (req.pid == ::getpid())
        return fail(report, "PID " + std::to_string(req.pid) + " is vramscope itself; give the PID of the training process.");
    std::string error;
    if (!readProcess(req.pid, f, &error)) return fail(report, "no process with PID " + std::to_string(req.pid) + " is running.");
    const std::string who = describe(*f);
    // A leader that is a zombie while other threads still run is a process
    // whose main thread called pthread_exit: still alive.
    if ((f->state == 'Z' || f->state == 'X') && !hasLiveThread(req.pid))
        return fail(report, who + " is exiting; there is nothing left to attach to.");
    if (f->tracerPid != 0) {
        ProcessFacts tracer;
        std::string tracerName = readProcess(f->tracerPid, &tracer, &error) ? " (" + tracer.name + ")" : "";
        return fail(report, who + " is already being traced by process " + std::to_string(f->tracerPid) + tracerName +
                                "; a process can have only one tracer: detach that debugger (gdb, strace, py-spy) and try again.");
    }
    if (f->state == 'T' || f->state == 't')
        return fail(report, who + " is stopped (Ctrl-Z or SIGSTOP); continue it with `kill -CONT " + std::to_string(req.pid) +
                                "` and try again.");
    const bool root = ::geteuid() == 0;
    if (!root && f->uid != ::getuid())
        return fail(report, who + " belongs to " + userName(f->uid) + " and vramscope runs as " + userName(::getuid()) +
                                "; run vramscope attach as that user or as root.");
    // Reading maps passes the same ptrace_may_access() check as attaching
    // (PTRACE_MODE_READ vs _ATTACH), so a denied read is the kernel's answer already.
    if (!f->mapsReadable)
        return fail(report, explainPtraceRefusal(f->mapsErrno == ENOENT ? ESRCH : EPERM, readPtraceEnvironment(req.pid),
                                                 req.pid, f->name));
    if (f->elfClass == ELFCLASS32 || (f->elfMachine != 0 && f->elfMachine != EM_X86_64))
        return fail(report, who + " is not a 64-bit x86 program; vramscope attach supports x86-64 processes only.");
    if (!findLibrary(*f, "libc.so.6"))
        return fail(report, who + " does not use glibc's shared libc.so.6 (it is statically linked or uses another C "
                                  "library), so vramscope cannot load a library into it; start it under `vramscope record` instead.");
    // The return trap needs address 0 unmapped (vm.mmap_min_addr keeps it so
    // unless a program such as Wine maps it on purpose).
    if (!f->maps.empty() && f->maps.front().start == 0)
        return fail(report, who + " has memory mapped at address 0; vramscope attach cannot call into it safely.");
    return true;
}

struct LoaderFunctions {
    uint64_t dlopen = 0, dlsym = 0, dlerror = 0;  // dlerror 0: none (glibc < 2.34 without libdl)
    int openFlags = RTLD_NOW | RTLD_GLOBAL;
    std::string source;
};

bool resolveTriple(const ProcessFacts& f, const Mapping& lib, LoaderFunctions* fns, std::string* error) {
    ElfSymbol info;
    if (!symbolAddress(f, lib, "dlopen", &fns->dlopen, error, &info) || !symbolAddress(f, lib, "dlsym", &fns->dlsym, error) ||
        !symbolAddress(f, lib, "dlerror", &fns->dlerror, error))
        return false;
    fns->source = lib.path + (info.version.empty() ? "" : " (" + info.version + ")");
    return true;
}

// glibc 2.34 moved dlopen & co. into libc.so.6; before, they live in libdl.so.2
// when the program links it, else libc's private __libc_dlopen_mode/__libc_dlsym
// (what gdb-based injectors use) are the way in.
bool findLoaderFunctions(const ProcessFacts& f, LoaderFunctions* fns, std::string* error) {
    const Mapping* libc = findLibrary(f, "libc.so.6");
    std::string libcError;
    if (resolveTriple(f, *libc, fns, &libcError)) return true;
    if (const Mapping* libdl = findLibrary(f, "libdl.so.2"); libdl && resolveTriple(f, *libdl, fns, error)) return true;
    fns->dlerror = 0;
    if (symbolAddress(f, *libc, "__libc_dlopen_mode", &fns->dlopen, error) &&
        symbolAddress(f, *libc, "__libc_dlsym", &fns->dlsym, error)) {
        // __RTLD_DLOPEN (glibc's internal 0x80000000) marks the object as dlopen'ed, as dlopen itself does.
        fns->openFlags |= int(0x80000000u);
        fns->source = libc->path + " (__libc_dlopen_mode)";
        return true;
    }
    *error = "cannot find dlopen in " + describe(f) + ": " + libcError;
    return false;
}

// Ctrl-C (and kill's default SIGTERM) must not end us while the target runs
// our call: it would continue into the return trap untraced and crash.
class ScopedQuietSignals {
public:
    ScopedQuietSignals() {
        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, s);
        pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~ScopedQuietSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

private:
    sigset_t old_;
};

// waitpid is polled with short sleeps; the default 50 µs timer slack would
// add to every stop of the target. Per thread (prctl PR_SET_TIMERSLACK).
class ScopedTimerSlack {
public:
    ScopedTimerSlack() : old_(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) { prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); }
    ~ScopedTimerSlack() {
        if (old_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(old_), 0, 0, 0);
    }

private:
    long old_;
};

struct Context {
    const InjectRequest& req;
    const ProcessFacts& facts;
    const LoaderFunctions& fns;
};

struct Placed {
    uint64_t path = 0, entry = 0, argument = 0, stackTop = 0;
};

// The strings go on the borrowed thread's own stack, below the 128-byte red
// zone the System V ABI lets the interrupted code keep below its rsp; the
// calls' stack starts below them.
bool placeStrings(RemoteThread& t, const Context& c, uint64_t sp, Placed* out, std::string* error) {
    std::string blob;
    auto add = [&](const std::string& s) {
        uint64_t at = blob.size();
        blob += s;
        blob.push_back('\0');
        return at;
    };
    const uint64_t path = add(c.req.libraryPath), entry = add(c.req.entrySymbol), argument = add(c.req.argument);
    const uint64_t base = (sp - 128 - blob.size()) & ~uint64_t(15);
    const Mapping* stack = mappingAt(c.facts, sp);
    if (!stack || base - 4096 < stack->start) {
        // Linux ≥ 6.5 no longer grows a stack for another process's writes
        // (gup), so below the mapping is off limits.
        if (error) *error = "the thread's stack has no room for the call";
        return false;
    }
    if (!t.writeMemory(base, blob.data(), blob.size())) {
        if (error) *error = "cannot write to the thread's stack";
        return false;
    }
    *out = {base + path, base + entry, base + argument, (base - 64) & ~uint64_t(15)};
    return true;
}

enum class CallsEnd { Done, Failed, StillRunning, Gone };

// dlopen, dlsym, entry on a stopped thread whose registers are saved.
CallsEnd runCalls(RemoteThread& t, const Context& c, const SavedRegisters& saved, InjectReport* report) {
    Placed p;
    std::string error;
    if (!placeStrings(t, c, saved.regs.rsp, &p, &error)) {
        fail(report, describe(c.facts) + ": " + error + ".");
        return CallsEnd::Failed;
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(c.req.callTimeoutMs);
    auto failed = [&](const char* what) {
        fail(report, describe(c.facts) + ": " + what + " failed: " + error + ".");
        return t.exited() ? CallsEnd::Gone : t.running() ? CallsEnd::StillRunning : CallsEnd::Failed;
    };
    auto loaderError = [&]() -> std::string {
        uint64_t text = 0;
        if (!c.fns.dlerror || !t.call(saved, c.fns.dlerror, 0, 0, 0, p.stackTop, deadline, &text, &error) || !text)
            return "no reason given";
        return t.readString(text);
    };
    uint64_t handle = 0, entry = 0, result = 0;
    if (!t.call(saved, c.fns.dlopen, p.path, uint64_t(unsigned(c.fns.openFlags)), 0, p.stackTop, deadline, &handle, &error))
        return failed("dlopen");
    if (!handle) {
        fail(report, describe(c.facts) + " could not load " + c.req.libraryPath + ": " + loaderError());
        return t.exited() ? CallsEnd::Gone : CallsEnd::Done;
    }
    if (!t.call(saved, c.fns.dlsym, handle, p.entry, 0, p.stackTop, deadline, &entry, &error)) return failed("dlsym");
    if (!entry) {
        fail(report, c.req.libraryPath + " was loaded into " + describe(c.facts) + " but has no function " +
                         c.req.entrySymbol + " (" + loaderError() + ").");
        return t.exited() ? CallsEnd::Gone : CallsEnd::Done;
    }
    if (!t.call(saved, entry, p.argument, 0, 0, p.stackTop, deadline, &result, &error)) return failed(c.req.entrySymbol.c_str());
    report->ok = true;
    report->error.clear();
    report->entryResult = static_cast<int32_t>(result & 0xffffffffu);  // int return: eax, sign-extended
    return CallsEnd::Done;
}

// Restores `back` and detaches; a call that is still running is stopped first.
bool putBack(RemoteThread& t, const SavedRegisters& back, CallsEnd end, InjectReport* report) {
    std::string error;
    if (end == CallsEnd::Gone) return false;
    if (end == CallsEnd::StillRunning && !t.interrupt(Clock::now() + std::chrono::seconds(5), &error)) return false;
    if (!t.restore(back, &error) || !t.detach(&error)) {
        fail(report, "could not put thread " + std::to_string(t.tid()) + " back where it was: " + error + ".");
        return false;
    }
    return true;
}

// The registers to put back on a thread taken from a blocking call.
// Normally the saved ones: the kernel then restarts the call. One exception:
// a call interrupted with -ERESTART_RESTARTBLOCK resumes through
// restart_syscall, which runs current->restart_block.fn (kernel/signal.c).
// If a system call of the injected code was itself interrupted meanwhile (a
// signal delivered to the thread, a group stop), it may have replaced that
// block with its own (seen: the probe's nanosleep, stopped by SIGSTOP, made a
// borrowed timed futex wait return at once). Then the original call is made
// again from the start with its own arguments (rip back on `syscall`, rax =
// nr; exact for absolute timeouts, a relative timeout starts over), and a
// thread that was already in restart_syscall, whose arguments only the lost
// block held, gets -EINTR, as after a signal handler.
SavedRegisters restoreAfterCalls(const RemoteThread& t, const SavedRegisters& saved) {
    constexpr long long kRestartBlock = -516;  // -ERESTART_RESTARTBLOCK
    constexpr long kRestartSyscall = 219;
    if (static_cast<long long>(saved.regs.rax) != kRestartBlock || !t.disturbedDuringCalls()) return saved;
    SavedRegisters back = saved;
    const long nr = long(saved.regs.orig_rax);
    back.regs.orig_rax = ~0ULL;  // no restart logic on the way out
    if (nr == kRestartSyscall) {
        back.regs.rax = uint64_t(-EINTR);
    } else {
        back.regs.rax = uint64_t(nr);
        back.regs.rip -= 2;
    }
    return back;
}

enum class Attempt { Injected, NotNow, Failed };

// Paths 1 and 2: a thread /proc showed blocked in a safe system call.
Attempt borrowBlockedThread(const Context& c, const ThreadCandidate& cand, InjectReport* report) {
    RemoteThread t(c.facts.pid, cand.tid);
    int err = 0;
    if (!t.seize(&err)) {
        if (err == ESRCH && !cand.mainThread) return Attempt::NotNow;  // that thread just ended
        fail(report, explainPtraceRefusal(err, readPtraceEnvironment(c.facts.pid), c.facts.pid, c.facts.name));
        return Attempt::Failed;
    }
    const Clock::time_point stopAt = Clock::now();
    std::string error;
    if (!t.interrupt(stopAt + std::chrono::milliseconds(c.req.timeoutMs), &error)) {
        if (t.exited() && !cand.mainThread) return Attempt::NotNow;
        fail(report, describe(c.facts) + ": " + error + ".");
        return Attempt::Failed;
    }
    SavedRegisters saved;
    if (!t.save(&saved, &error)) {
        fail(report, describe(c.facts) + ": " + error + ".");
        return Attempt::Failed;
    }
    // /proc was a snapshot: the thread may have left the call since. Only a
    // stop inside a safe call counts.
    const long nr = long(saved.regs.orig_rax);
    if (syscallSafety(nr) == SyscallSafety::Unsafe || !interruptedInsideCall(static_cast<long long>(saved.regs.rax)) ||
        (syscallReadsDescriptor(nr) && !descriptorIsStream(c.facts.pid, saved.regs.rdi))) {
        t.detach(&error);  // registers untouched
        return Attempt::NotNow;
    }
    report->tid = cand.tid;
    report->mainThread = cand.mainThread;
    report->interruptedSyscall = nr;
    report->how = (cand.mainThread ? "main thread " : "thread ") + std::to_string(cand.tid) + " (" + cand.name +
                  ") blocked in " + syscallName(nr);
    // The thread shows rax = -ERESTARTSYS (or -ERESTARTNOHAND,
    // -ERESTART_RESTARTBLOCK) and orig_rax = nr. The calls run with
    // orig_rax = -1; restoring both originals before PTRACE_DETACH lets the
    // kernel's signal-return path (arch_do_signal_or_restart) restart the
    // call, rip -= 2, as after any signal without a handler.
    CallsEnd end = runCalls(t, c, saved, report);
    const bool back = putBack(t, restoreAfterCalls(t, saved), end, report);
    report->stoppedMs = msSince(stopAt);
    if (!back && end == CallsEnd::Gone) fail(report, describe(c.facts) + " exited while vramscope was loading " + c.req.libraryPath + ".");
    return report->ok && back ? Attempt::Injected : Attempt::Failed;
}

// Path 3: the main thread is busy in user code. Let it run to its next safe
// system call (PTRACE_SYSCALL), borrow it at the entry stop, and on restore
// make it execute that system call for real.
Attempt borrowMainAtSyscall(const Context& c, InjectReport* report) {
    RemoteThread t(c.facts.pid, c.facts.pid);
    int err = 0;
    if (!t.seize(&err)) {
        fail(report, explainPtraceRefusal(err, readPtraceEnvironment(c.facts.pid), c.facts.pid, c.facts.name));
        return Attempt::Failed;
    }
    const Clock::time_point stopAt = Clock::now();
    const Clock::time_point deadline = stopAt + std::chrono::milliseconds(c.req.timeoutMs);
    std::string error;
    if (!t.interrupt(deadline, &error)) {
        fail(report, describe(c.facts) + ": " + error + ".");
        return Attempt::Failed;
    }
    long nr = -1;
    double runningMs = 0;
    const int found = t.waitForSyscallEntry(deadline, &safeAtSyscallEntry, &nr, &runningMs, &error);
    if (found <= 0) {
        t.detach(&error);
        if (found == 0) {
            char seconds[32];
            std::snprintf(seconds, sizeof seconds, "%g s", c.req.timeoutMs / 1000.0);
            fail(report, describe(c.facts) + " made no system call that vramscope could borrow it at in " + seconds +
                             " (it is computing without blocking); try again.");
        } else {
            fail(report, describe(c.facts) + ": " + error + ".");
        }
        return Attempt::Failed;
    }
    SavedRegisters saved;
    if (!t.save(&saved, &error)) {
        fail(report, describe(c.facts) + ": " + error + ".");
        return Attempt::Failed;
    }
    report->tid = c.facts.pid;
    report->mainThread = true;
    report->interruptedSyscall = nr;
    report->how = "main thread " + std::to_string(c.facts.pid) + " at the entry of " + syscallName(nr) + " after " +
                  std::to_string(int(runningMs)) + " ms";
    // At the entry stop rip is past the `syscall` instruction and rax is
    // -ENOSYS. The calls run with orig_rax = -1, which makes the kernel skip
    // the call; the restore points rip back at the instruction with rax = nr,
    // so the thread then makes the same call with the same arguments.
    SavedRegisters back = saved;
    back.regs.rip -= 2;
    back.regs.rax = uint64_t(nr);
    back.regs.orig_rax = ~0ULL;
    CallsEnd end = runCalls(t, c, saved, report);
    const bool ok = putBack(t, back, end, report);
    report->stoppedMs = msSince(stopAt) - runningMs;
    return report->ok && ok ? Attempt::Injected : Attempt::Failed;
}

}  // namespace

bool injectLibrary(const InjectRequest& req, InjectReport* report) {
    const Clock::time_point t0 = Clock::now();
    *report = InjectReport{};
    ProcessFacts facts;
    LoaderFunctions fns;
    std::string error;
    if (!preflight(req, &facts, report)) return false;
    if (!findLoaderFunctions(facts, &fns, &error)) return fail(report, error + ".");

    std::vector<ThreadFacts> threads;
    for (int tid : threadIds(req.pid)) {
        ThreadFacts t;
        if (readThread(req.pid, tid, &t)) threads.push_back(std::move(t));
    }
    std::string passedOver;
    const std::vector<ThreadCandidate> candidates = rankBlockedThreads(facts, threads, &passedOver);

    ScopedQuietSignals quiet;
    ScopedTimerSlack slack;
    const Context c{req, facts, fns};
    // A few candidates at most: each costs one interrupt of a thread that
    // turned out to be busy by the time it stopped.
    int tries = 0;
    for (const ThreadCandidate& cand : candidates) {
        if (++tries > 4) break;
        Attempt a = borrowBlockedThread(c, cand, report);
        if (a != Attempt::NotNow) {
            report->totalMs = msSince(t0);
            return a == Attempt::Injected;
        }
    }
    ThreadFacts mainThread;
    for (const ThreadFacts& t : threads)
        if (t.tid == req.pid) mainThread = t;
    if (!returnTrapIsHarmless(facts, mainThread)) {
        report->totalMs = msSince(t0);
        return fail(report, describe(facts) + " has no thread vramscope can borrow safely (" + passedOver +
                                "; its main thread blocks or ignores SIGSEGV).");
    }
    Attempt a = borrowMainAtSyscall(c, report);
    report->totalMs = msSince(t0);
    return a == Attempt::Injected;
}

#else

bool injectLibrary(const InjectRequest&, InjectReport* report) {
    *report = InjectReport{};
    report->error = "vramscope attach supports x86-64 processes only.";
    return false;
}

#endif

}  // namespace vramscope::attach
