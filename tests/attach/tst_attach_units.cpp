// The attach injector's pure parts: /proc parsers on odd text, ELF symbol
// lookup (versioned dlopen, truncated and garbage files), which threads may be
// borrowed, and the sentence for each ptrace refusal.
#include "attach/elf_symbols.h"
#include "attach/process_inspect.h"
#include "attach/ptrace_refusal.h"
#include "attach/thread_choice.h"

#include <QTest>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <fstream>
#include <gnu/libc-version.h>
#include <iterator>
#include <random>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace vramscope::attach;

namespace {

std::vector<uint8_t> fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

const Mapping* ourLibc(ProcessFacts* facts) {
    std::string error;
    if (!readProcess(getpid(), facts, &error)) return nullptr;
    return findLibrary(*facts, "libc.so.6");
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

class TestAttachUnits : public QObject {
    Q_OBJECT
private slots:
    void mapsLineKeepsPathWithSpacesAndDeletedSuffix() {
        Mapping m;
        QVERIFY(parseMapsLine("7f0000001000-7f0000002000 r-xp 00001000 fd:01 1234   /opt/my lib/libx.so (deleted)", &m));
        QCOMPARE(m.start, 0x7f0000001000ULL);
        QCOMPARE(m.end, 0x7f0000002000ULL);
        QCOMPARE(m.offset, 0x1000ULL);
        QCOMPARE(m.inode, 1234ULL);
        QCOMPARE(m.perms, std::string("r-xp"));
        QCOMPARE(m.path, std::string("/opt/my lib/libx.so (deleted)"));
        QVERIFY(parseMapsLine("7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]", &m));
        QCOMPARE(m.path, std::string("[stack]"));
        QVERIFY(parseMapsLine("1000-2000 ---p 00000000 00:00 0", &m));
        QVERIFY(m.path.empty());
    }

    void mapsLineRejectsGarbage() {
        Mapping m;
        for (const char* bad : {"", "garbage", "1000 r-xp 0 fd:01 1 /x", "2000-1000 r-xp 0 fd:01 1 /x",
                                "zz-1000 r-xp 0 fd:01 1 /x", "1000-2000 rx 0 fd:01 1 /x", "1000-2000 r-xp 0 fd01 1 /x",
                                "1000-2000 r-xp 0 fd:01 notanumber /x", "1000-11112222333344445 r-xp 0 fd:01 1 /x"})
            QVERIFY2(!parseMapsLine(bad, &m), bad);
        QVERIFY(!parseMapsLine(std::string(9000, 'a'), &m));
    }

    void statLineTakesCommUpToTheLastParenthesis() {
        std::string comm;
        char state = 0;
        QVERIFY(parseStatLine("123 (evil) S (name) R 1 2 3", &comm, &state));
        QCOMPARE(comm, std::string("evil) S (name"));
        QCOMPARE(state, 'R');
        QVERIFY(parseStatLine("7 (a b\nc) Z 1", &comm, &state));
        QCOMPARE(state, 'Z');
        QVERIFY(!parseStatLine("7 (unterminated S 1", &comm, &state));
        QVERIFY(!parseStatLine("7 (x)", &comm, &state));
        QVERIFY(!parseStatLine("", &comm, &state));
    }

    void syscallLineParsesEveryForm() {
        ThreadFacts t;
        QVERIFY(parseSyscallLine("running\n", &t));
        QVERIFY(t.running && t.syscallKnown);
        QVERIFY(parseSyscallLine("-1 0x7ffd1000 0x7f0012345678\n", &t));
        QCOMPARE(t.syscallNr, -1L);
        QCOMPARE(t.sp, 0x7ffd1000ULL);
        QVERIFY(parseSyscallLine("202 0x55d0 0x80 0x0 0x0 0x0 0x0 0x7f00aa000 0x7f00bb000\n", &t));
        QCOMPARE(t.syscallNr, 202L);
        QCOMPARE(t.args[0], 0x55d0ULL);
        QCOMPARE(t.args[1], 0x80ULL);
        QCOMPARE(t.pc, 0x7f00bb000ULL);
        for (const char* bad : {"", "202", "202 0x1 0x2", "abc 0x1 0x2", "99999 0x1 0x2", "-1 0x1",
                                "0 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 0x9", "0 0x1 0x2 0x3 0x4 0x5 0xZZ 0x7 0x8"})
            QVERIFY2(!parseSyscallLine(bad, &t), bad);
    }

    void statusFieldFindsWholeKeysOnly() {
        const std::string text = "Name:\tx\nTracerPidX:\t9\nTracerPid:\t42\nUid:\t1000\t1000\t1000\t1000\n";
        QCOMPARE(std::string(statusField(text, "TracerPid")), std::string("\t42"));
        QCOMPARE(std::string(statusField(text, "Uid")), std::string("\t1000\t1000\t1000\t1000"));
        QVERIFY(statusField(text, "Gid").empty());
    }

    void readsThisProcess() {
        ProcessFacts f;
        const Mapping* libc = ourLibc(&f);
        QVERIFY(f.exists);
        QVERIFY(libc);
        QCOMPARE(f.uid, uint32_t(getuid()));
        QCOMPARE(f.elfClass, uint8_t(ELFCLASS64));
        QCOMPARE(f.elfMachine, uint16_t(EM_X86_64));
        QCOMPARE(f.tracerPid, 0);
        QVERIFY(f.mapsReadable);
        QVERIFY(findLibrary(f, "libQt6Test"));
        QVERIFY(!findLibrary(f, "libdoesnotexist"));
        ProcessFacts none;
        std::string error;
        QVERIFY(!readProcess(0x3ffffff0, &none, &error));
        QVERIFY(!none.exists);
    }

    void seesAThreadBlockedInRead() {
        int fds[2];
        QVERIFY(pipe(fds) == 0);
        std::atomic<int> tid{0};
        std::thread reader([&] {
            tid = int(syscall(SYS_gettid));
            char c;
            (void)!read(fds[0], &c, 1);
        });
        while (!tid) std::this_thread::yield();
        ThreadFacts t;
        bool blocked = false;
        for (int i = 0; i < 200 && !blocked; ++i) {
            blocked = readThread(getpid(), tid, &t) && t.syscallNr == SYS_read && t.state == 'S';
            if (!blocked) QTest::qWait(5);
        }
        QVERIFY(blocked);
        QCOMPARE(t.args[0], uint64_t(fds[0]));
        QVERIFY(descriptorIsStream(getpid(), uint64_t(fds[0])));
        const std::vector<int> tids = threadIds(getpid());
        QVERIFY(std::find(tids.begin(), tids.end(), tid.load()) != tids.end());
        (void)!write(fds[1], "x", 1);
        reader.join();
        close(fds[0]);
        close(fds[1]);
    }

    void picksTheDefaultVersionOfDlopen() {
        ProcessFacts f;
        const Mapping* libc = ourLibc(&f);
        QVERIFY(libc);
        ElfSymbol sym;
        std::string error;
        QVERIFY2(findDynamicSymbol(libc->path, "dlopen", &sym, &error), error.c_str());
        // glibc 2.34 moved dlopen into libc: dlopen@@GLIBC_2.34 plus a hidden dlopen@GLIBC_2.2.5.
        if (strverscmp(gnu_get_libc_version(), "2.34") >= 0) {
            QCOMPARE(sym.version, std::string("GLIBC_2.34"));
            QVERIFY(!sym.hiddenVersion);
        }
        uint64_t address = 0;
        QVERIFY2(symbolAddress(f, *libc, "dlopen", &address, &error), error.c_str());
        QCOMPARE(address, uint64_t(reinterpret_cast<uintptr_t>(dlsym(RTLD_DEFAULT, "dlopen"))));
        QVERIFY(symbolAddress(f, *libc, "dlerror", &address, &error));
        QCOMPARE(address, uint64_t(reinterpret_cast<uintptr_t>(dlsym(RTLD_DEFAULT, "dlerror"))));
    }

    void refusesMissingAndIndirectSymbols() {
        ProcessFacts f;
        const Mapping* libc = ourLibc(&f);
        QVERIFY(libc);
        ElfSymbol sym;
        std::string error;
        QVERIFY(!findDynamicSymbol(libc->path, "vramscope_no_such_symbol", &sym, &error));
        QVERIFY(contains(error, "does not define"));
        QVERIFY(!findDynamicSymbol(libc->path, "memcpy", &sym, &error));  // an IFUNC in glibc on x86-64
        QVERIFY2(contains(error, "IFUNC"), error.c_str());
        QVERIFY(!findDynamicSymbol("/nonexistent/libc.so.6", "dlopen", &sym, &error));
    }

    void truncatedFilesYieldErrors() {
        ProcessFacts f;
        const Mapping* libc = ourLibc(&f);
        QVERIFY(libc);
        const std::vector<uint8_t> bytes = fileBytes(libc->path);
        QVERIFY(bytes.size() > 100000);
        ElfSymbol sym;
        std::string error;
        QVERIFY(findDynamicSymbolInMemory(bytes.data(), bytes.size(), "dlopen", &sym, &error));
        // Section headers sit at the end of the file: every cut loses them.
        for (size_t size : {size_t(0), size_t(3), size_t(63), size_t(64), size_t(4096), bytes.size() / 3, bytes.size() / 2,
                            bytes.size() - 4096, bytes.size() - 1}) {
            error.clear();
            QVERIFY2(!findDynamicSymbolInMemory(bytes.data(), size, "dlopen", &sym, &error), std::to_string(size).c_str());
            QVERIFY(!error.empty());
        }
        uint64_t vaddr = 0;
        QVERIFY(!firstLoadAddress(bytes.data(), 40, &vaddr, &error));
        QVERIFY(firstLoadAddress(bytes.data(), bytes.size(), &vaddr, &error));
        QCOMPARE(vaddr, 0ULL);
    }

    void garbageFilesYieldErrors() {
        ProcessFacts f;
        const Mapping* libc = ourLibc(&f);
        QVERIFY(libc);
        const std::vector<uint8_t> good = fileBytes(libc->path);
        ElfSymbol sym;
        std::string error;
        std::mt19937_64 rng(20261215);
        // Random bytes behind a valid ELF64 identification.
        std::vector<uint8_t> junk(64 * 1024);
        for (auto& b : junk) b = uint8_t(rng());
        std::memcpy(junk.data(), good.data(), 16);
        QVERIFY(!findDynamicSymbolInMemory(junk.data(), junk.size(), "dlopen", &sym, &error));
        // Header fields pointing anywhere: e_shoff, e_shnum, section sizes, links, verdef chains.
        Elf64_Ehdr eh;
        std::memcpy(&eh, good.data(), sizeof eh);
        int survived = 0;
        for (int round = 0; round < 3000; ++round) {
            std::vector<uint8_t> bytes = good;
            const int flips = 1 + int(rng() % 8);
            for (int i = 0; i < flips; ++i) {
                // Mostly the ELF header and the section header table, sometimes anywhere.
                uint64_t at;
                switch (rng() % 3) {
                case 0: at = rng() % sizeof eh; break;
                case 1: at = eh.e_shoff + rng() % (uint64_t(eh.e_shnum) * sizeof(Elf64_Shdr)); break;
                default: at = rng() % bytes.size(); break;
                }
                bytes[at] = uint8_t(rng());
            }
            error.clear();
            if (findDynamicSymbolInMemory(bytes.data(), bytes.size(), "dlopen", &sym, &error)) ++survived;
            else QVERIFY(!error.empty());
            uint64_t vaddr;
            firstLoadAddress(bytes.data(), bytes.size(), &vaddr, &error);
        }
        QVERIFY(survived > 0);  // harmless flips still find it: the lookup did not just give up
    }

    void classifiesSystemCalls() {
        QCOMPARE(syscallSafety(SYS_futex), SyscallSafety::Restarts);
        QCOMPARE(syscallSafety(SYS_read), SyscallSafety::Restarts);
        QCOMPARE(syscallSafety(SYS_clock_nanosleep), SyscallSafety::Restarts);
        QCOMPARE(syscallSafety(SYS_epoll_wait), SyscallSafety::ReturnsEintr);
        for (long nr : {long(SYS_mmap), long(SYS_munmap), long(SYS_mprotect), long(SYS_brk), long(SYS_madvise),
                        long(SYS_mremap), long(SYS_write), long(SYS_openat), -1L, 100000L})
            QCOMPARE(syscallSafety(nr), SyscallSafety::Unsafe);
        QVERIFY(interruptedInsideCall(-512) && interruptedInsideCall(-516) && interruptedInsideCall(-EINTR));
        QVERIFY(!interruptedInsideCall(0) && !interruptedInsideCall(1) && !interruptedInsideCall(-EAGAIN));
        const uint64_t wait[6] = {0x1000, 0 /*FUTEX_WAIT*/ | 128 /*PRIVATE*/}, unlockPi[6] = {0x1000, 7 | 128};
        QVERIFY(safeAtSyscallEntry(getpid(), SYS_futex, wait));
        QVERIFY(!safeAtSyscallEntry(getpid(), SYS_futex, unlockPi));
        QVERIFY(!safeAtSyscallEntry(getpid(), SYS_mmap, wait));
        const uint64_t timedFutex[6] = {0x1000, 9, 0, 0x2000}, plainFutex[6] = {0x1000, 0, 0, 0};
        const uint64_t absSleep[6] = {1, 1 /*TIMER_ABSTIME*/}, relSleep[6] = {1, 0}, pollForever[6] = {0, 1, ~0ULL};
        QVERIFY(resumesThroughRestartBlock(SYS_futex, timedFutex) && !resumesThroughRestartBlock(SYS_futex, plainFutex));
        QVERIFY(resumesThroughRestartBlock(SYS_clock_nanosleep, relSleep));
        QVERIFY(!resumesThroughRestartBlock(SYS_clock_nanosleep, absSleep));
        QVERIFY(!resumesThroughRestartBlock(SYS_poll, pollForever) && resumesThroughRestartBlock(SYS_restart_syscall, plainFutex));
        QCOMPARE(syscallName(SYS_futex), std::string("futex"));
        QCOMPARE(syscallName(333), std::string("syscall 333"));
    }

    void ranksBorrowableThreads() {
        ProcessFacts f;
        f.pid = 100;
        Mapping stack{0x7ff000000000, 0x7ff000800000, 0, "rw-p", 0, ""};       // an 8 MiB thread stack
        Mapping small{0x7fe000000000, 0x7fe000010000, 0, "rw-p", 0, ""};       // 64 KiB
        Mapping mainStack{0x7ffd00000000, 0x7ffd00021000, 0, "rw-p", 0, "[stack]"};
        f.maps = {small, stack, mainStack};
        auto thread = [&](int tid, const char* name, long nr, uint64_t sp, char state = 'S') {
            ThreadFacts t;
            t.tid = tid;
            t.name = name;
            t.state = state;
            t.syscallKnown = true;
            t.syscallNr = nr;
            t.sp = sp;
            t.args[0] = uint64_t(tid);  // the "descriptor" read by read(): odd tids are files
            return t;
        };
        const uint64_t deep = stack.end - 4096, shallow = small.end - 4096;
        std::vector<ThreadFacts> threads = {
            thread(100, "python", SYS_futex, mainStack.end - 4096),
            thread(101, "epoller", SYS_epoll_wait, deep),
            thread(102, "cuda-EvtHandlr", SYS_poll, deep),
            thread(103, "allocator", SYS_mmap, deep),
            thread(104, "pipe-reader", SYS_read, deep),
            thread(105, "file-reader", SYS_read, deep),
            thread(106, "tiny", SYS_futex, shallow),
            thread(107, "busy", -1, deep, 'R'),
            thread(108, "sigmasked", SYS_futex, deep),
            thread(109, "worker", SYS_futex, deep),
            thread(110, "disk", SYS_futex, deep, 'D'),
            thread(112, "timed", SYS_futex, deep),
        };
        threads.back().args[3] = 0x7ff0007ff000;  // a timeout: resumes through restart_block
        threads[8].blockedSignals = uint64_t(1) << (SIGSEGV - 1);
        threads.push_back(thread(111, "running", 0, deep));
        threads.back().running = true;
        auto isStream = [](int, uint64_t fd) { return fd % 2 == 0; };
        std::string why;
        std::vector<ThreadCandidate> ranked = rankBlockedThreads(f, threads, &why, isStream);
        std::vector<int> order;
        for (const ThreadCandidate& c : ranked) order.push_back(c.tid);
        // Restartable calls first: those restarted as themselves (other threads before
        // the CUDA helper), then the timed wait resumed through restart_block; then
        // the EINTR one; the main thread last.
        QCOMPARE(order, (std::vector<int>{104, 109, 102, 112, 101, 100}));
        QVERIFY(ranked.back().mainThread);
        QVERIFY(contains(why, "1 in a call that may hold a lock"));
        QVERIFY(contains(why, "1 reading a file"));
        QVERIFY(contains(why, "1 blocking SIGSEGV"));
        QVERIFY(contains(why, "1 with less than 256 KiB"));
        // A process that ignores SIGSEGV has no thread whose return trap is harmless.
        f.ignoredSignals = uint64_t(1) << (SIGSEGV - 1);
        QVERIFY(rankBlockedThreads(f, threads, nullptr, isStream).empty());
    }

    void explainsEachRefusal() {
        PtraceEnvironment user;
        user.ourUid = 1000;
        user.targetKnown = true;
        user.targetUid = 1000;
        auto says = [](const PtraceEnvironment& env, int err, const char* part) {
            const std::string s = explainPtraceRefusal(err, env, 4242, "python");
            qInfo("%s", s.c_str());
            return contains(s, part) && contains(s, "4242") && s.back() == '.';
        };
        QVERIFY(says(user, ESRCH, "exited before"));
        QVERIFY(says(user, EIO, "Input/output error"));
        PtraceEnvironment e = user;
        e.yamaScope = 3;
        e.root = e.capSysPtrace = true;
        QVERIFY(says(e, EPERM, "until the next reboot"));
        e = user;
        e.yamaScope = 2;
        QVERIFY(says(e, EPERM, "ptrace_scope is 2"));
        e.yamaScope = 1;
        QVERIFY(says(e, EPERM, "echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope"));
        e.container = "Docker";
        QVERIFY(says(e, EPERM, "on the host"));
        e = user;
        e.targetDumpable = false;
        QVERIFY(says(e, EPERM, "PR_SET_DUMPABLE 0"));
        e = user;
        e.targetUid = 0;
        QVERIFY(says(e, EACCES, "belongs to uid 0"));
        e = user;
        e.container = "Docker";
        QVERIFY(says(e, EPERM, "--cap-add=SYS_PTRACE"));
        e.container = "Kubernetes";
        QVERIFY(says(e, EPERM, "securityContext"));
        e = user;
        e.root = e.capSysPtrace = true;
        e.ourUid = 0;
        e.container = "Docker";
        e.seccompMode = 2;
        QVERIFY(says(e, EPERM, "seccomp"));
        e.container.clear();
        QVERIFY(says(e, EPERM, "seccomp filter"));
        e.seccompMode = 0;
        QVERIFY(says(e, EPERM, "even though vramscope runs as root"));
        QVERIFY(says(user, EPERM, "gVisor"));
        // Privileged callers are not told to become root.
        e = user;
        e.yamaScope = 1;
        e.capSysPtrace = e.root = true;
        QVERIFY(!says(e, EPERM, "echo 0"));
    }

    void readsThisMachinesEnvironment() {
        const PtraceEnvironment env = readPtraceEnvironment(getpid());
        struct stat st{};
        if (stat("/proc/sys/kernel/yama/ptrace_scope", &st) != 0) QCOMPARE(env.yamaScope, -1);
        else QVERIFY(env.yamaScope >= 0 && env.yamaScope <= 3);
        QCOMPARE(env.root, geteuid() == 0);
        QVERIFY(env.targetKnown);
        QVERIFY(env.targetDumpable);
        QCOMPARE(env.targetUid, uint32_t(getuid()));
        if (stat("/.dockerenv", &st) == 0 && !getenv("KUBERNETES_SERVICE_HOST")) QCOMPARE(env.container, std::string("Docker"));
    }

    void listsNoCudaProcessesWithoutLibcuda() {
        // This test process maps no libcuda: it must never list itself, and
        // every listed process must really map it.
        for (const CudaProcess& p : listCudaProcesses()) {
            QVERIFY(p.pid != getpid());
            ProcessFacts f;
            std::string error;
            if (readProcess(p.pid, &f, &error)) QVERIFY(findLibrary(f, "libcuda.so"));
        }
    }
};

QTEST_GUILESS_MAIN(TestAttachUnits)
#include "tst_attach_units.moc"
