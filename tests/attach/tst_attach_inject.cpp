// injectLibrary() against real running programs (attach_target modes): the
// probe runs, its result comes back, and the target's output and exit code
// are exactly what they would have been without the injection. Plus every
// refusal a user can meet, each as one sentence.
#include "attach/process_inspect.h"
#include "attach/ptrace_inject.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <grp.h>
#include <csignal>
#include <sys/syscall.h>
#include <thread>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace vramscope::attach;

namespace {

const QString kTarget = QStringLiteral(ATTACH_TARGET);
const QString kProbe = QStringLiteral(ATTACH_PROBE);
const QString kTool = QStringLiteral(ATTACH_TOOL);
const QString kStaticTarget = QStringLiteral(ATTACH_STATIC_TARGET);
const char* const kEntry = "vramscope_probe_entry";
constexpr int kProbeResult = 4242;
constexpr uid_t kNobody = 65534;

void becomeNobody() {
    // Runs in the child between fork and exec.
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(99);
}

// A program under test; killed if a test leaves it running.
struct Program {
    QProcess p;
    QByteArray out;

    bool start(const QString& program, const QStringList& args, bool asNobody = false) {
        if (asNobody) p.setChildProcessModifier(becomeNobody);
        p.start(program, args);
        return p.waitForStarted(10000);
    }
    int pid() const { return int(p.processId()); }
    bool waitFor(const QByteArray& text, int ms = 10000) {
        QElapsedTimer t;
        t.start();
        while (!out.contains(text) && t.elapsed() < ms && p.state() == QProcess::Running) {
            p.waitForReadyRead(50);
            out += p.readAllStandardOutput();
        }
        out += p.readAllStandardOutput();
        return out.contains(text);
    }
    // The exit code, or -1 for a crash or a hang.
    int finish(int ms = 30000) {
        bool done = p.waitForFinished(ms);
        out += p.readAllStandardOutput();
        if (!done || p.exitStatus() == QProcess::CrashExit) return -1;
        return p.exitCode();
    }
    ~Program() {
        if (p.state() != QProcess::NotRunning) {
            p.kill();
            p.waitForFinished(5000);
        }
    }
};

InjectReport inject(int pid, const QString& argument, const QString& library = kProbe, const char* entry = kEntry,
                    int timeoutMs = 10000) {
    InjectRequest req;
    req.pid = pid;
    req.libraryPath = library.toStdString();
    req.entrySymbol = entry;
    req.argument = argument.toStdString();
    req.timeoutMs = timeoutMs;
    InjectReport report;
    const bool ok = injectLibrary(req, &report);
    if (ok != report.ok) report.error += " [return value and report.ok disagree]";
    if (!report.ok) qInfo("inject: %s", report.error.c_str());
    else qInfo("inject: %s, held %.2f ms of %.2f ms", report.how.c_str(), report.stoppedMs, report.totalMs);
    return report;
}

QList<QByteArray> nonEmptyLines(const QByteArray& text) {
    QList<QByteArray> lines;
    for (const QByteArray& l : text.split('\n'))
        if (!l.isEmpty()) lines << l;
    return lines;
}

// prefix 0 .. prefix N-1 in order, then exactly `last`, nothing else.
bool numberedLinesIntact(const QByteArray& out, const QByteArray& prefix, int expected, const QByteArray& last) {
    const QList<QByteArray> lines = nonEmptyLines(out);
    if (expected >= 0 && lines.size() != expected + 1) return false;
    for (int i = 0; i + 1 < lines.size(); ++i)
        if (lines[i] != prefix + QByteArray::number(i)) return false;
    return !lines.isEmpty() && lines.last() == last;
}

int tracerOf(int pid) {
    ProcessFacts f;
    std::string error;
    return readProcess(pid, &f, &error) ? f.tracerPid : -1;
}

QList<QByteArray> probeRuns(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? nonEmptyLines(f.readAll()) : QList<QByteArray>{};
}

// Runs attach_tool as uid 65534 against pid; its "key=" line.
QByteArray toolLineAsNobody(const QStringList& args, const QByteArray& key = "error=") {
    Program tool;
    if (!tool.start(kTool, args, true)) return "tool did not start";
    tool.finish();
    for (const QByteArray& l : nonEmptyLines(tool.out))
        if (l.startsWith(key)) return l.mid(key.size());
    return "no " + key + " line in: " + tool.out;
}
QByteArray toolErrorAsNobody(int pid) { return toolLineAsNobody({QString::number(pid), kProbe, kEntry, "/dev/null"}); }

}  // namespace

class TestAttachInject : public QObject {
    Q_OBJECT
private slots:
    void injectsIntoRunningProgramUnnoticed() {
        QTemporaryDir dir;
        const QString record = dir.filePath("probe.txt");
        Program t;
        QVERIFY(t.start(kTarget, {"lines", "150", "10", "7"}));
        QVERIFY(t.waitFor("line 5"));
        const InjectReport r = inject(t.pid(), record);
        QVERIFY2(r.ok, r.error.c_str());
        QCOMPARE(r.entryResult, kProbeResult);
        // A background thread blocked in futex or read was borrowed: the main thread never stopped.
        QVERIFY(!r.mainThread);
        QVERIFY(r.tid != t.pid());
        QVERIFY(r.interruptedSyscall == 202 || r.interruptedSyscall == 0);
        QVERIFY(r.stoppedMs > 0 && r.stoppedMs <= r.totalMs);
        QCOMPARE(tracerOf(t.pid()), 0);
        const QList<QByteArray> runs = probeRuns(record);
        QCOMPARE(runs.size(), 1);
        QCOMPARE(runs[0], "entry tid=" + QByteArray::number(r.tid) + " main=0 loads=1 aligned=1");
        QCOMPARE(t.finish(), 7);
        QVERIFY2(numberedLinesIntact(t.out, "line ", 150, "end reader=1 waiter=1 usr1=0"), t.out.right(400).constData());
        QVERIFY(t.p.readAllStandardError().isEmpty());
    }

    void injectingTwiceRunsTheEntryTwice() {
        QTemporaryDir dir;
        const QString record = dir.filePath("probe.txt");
        Program t;
        QVERIFY(t.start(kTarget, {"lines", "120", "10", "0"}));
        QVERIFY(t.waitFor("line 3"));
        const InjectReport a = inject(t.pid(), record);
        QVERIFY2(a.ok, a.error.c_str());
        QVERIFY(t.waitFor("line 20"));
        const InjectReport b = inject(t.pid(), record);
        QVERIFY2(b.ok, b.error.c_str());
        QCOMPARE(b.entryResult, kProbeResult);
        const QList<QByteArray> runs = probeRuns(record);
        QCOMPARE(runs.size(), 2);
        for (const QByteArray& run : runs) QVERIFY2(run.endsWith("loads=1 aligned=1"), run.constData());  // one load, two calls
        QCOMPARE(t.finish(), 0);
        QVERIFY(numberedLinesIntact(t.out, "line ", 120, "end reader=1 waiter=1 usr1=0"));
    }

    void missingLibraryReportsDlerrorAndLeavesTargetRunning() {
        Program t;
        QVERIFY(t.start(kTarget, {"lines", "80", "10", "3"}));
        QVERIFY(t.waitFor("line 2"));
        InjectReport r = inject(t.pid(), "/dev/null", "/nonexistent/libvramscope_nothing.so");
        QVERIFY(!r.ok);
        // glibc's own dlerror() text, read back from the target.
        QVERIFY2(r.error.find("libvramscope_nothing.so: cannot open shared object file: No such file or directory") !=
                     std::string::npos,
                 r.error.c_str());
        r = inject(t.pid(), "/dev/null", kProbe, "vramscope_no_such_entry");
        QVERIFY(!r.ok);
        QVERIFY2(r.error.find("has no function vramscope_no_such_entry") != std::string::npos, r.error.c_str());
        QVERIFY2(r.error.find("undefined symbol") != std::string::npos, r.error.c_str());
        QCOMPARE(tracerOf(t.pid()), 0);
        QCOMPARE(t.finish(), 3);
        QVERIFY(numberedLinesIntact(t.out, "line ", 80, "end reader=1 waiter=1 usr1=0"));
    }

    // The next two borrow a thread in a timed futex wait, which the kernel
    // resumes through restart_syscall and the thread's restart_block; the
    // probe's sleep, interrupted meanwhile, leaves its own block there. The
    // waiter counts how often its futex call returns: once (the final wake)
    // when the injection was invisible to it.
    void deliversSignalsThatArriveDuringTheCall() {
        QTemporaryDir dir;
        const QString record = dir.filePath("probe.txt");
        Program t;
        QVERIFY(t.start(kTarget, {"timedwait", "100", "10", "0"}));
        QVERIFY(t.waitFor("line 2"));
        // While the (400 ms) entry runs, SIGUSR1 to both threads, the borrowed one included.
        const std::vector<int> tids = threadIds(t.pid());
        QCOMPARE(tids.size(), size_t(2));
        std::thread sender([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(150));
            for (int tid : tids) syscall(SYS_tgkill, t.pid(), tid, SIGUSR1);
        });
        const InjectReport r = inject(t.pid(), record + "#slow");
        sender.join();
        QVERIFY2(r.ok, r.error.c_str());
        QCOMPARE(r.entryResult, kProbeResult);
        QVERIFY(!r.mainThread);
        QCOMPARE(r.interruptedSyscall, 202L);
        QVERIFY(r.stoppedMs >= 400);
        QCOMPARE(probeRuns(record).size(), 1);
        QCOMPARE(t.finish(), 0);
        QVERIFY2(numberedLinesIntact(t.out, "line ", 100, "end waiter=1 usr1=2"), t.out.right(300).constData());
    }

    void ridesThroughAGroupStopDuringTheCall() {
        QTemporaryDir dir;
        const QString record = dir.filePath("probe.txt");
        Program t;
        QVERIFY(t.start(kTarget, {"timedwait", "100", "10", "0"}));
        QVERIFY(t.waitFor("line 2"));
        // SIGSTOP to the process 100 ms into the call; SIGCONT once injectLibrary returned.
        std::thread stopper([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            kill(t.pid(), SIGSTOP);
        });
        const InjectReport r = inject(t.pid(), record + "#slow");
        stopper.join();
        QVERIFY2(r.ok, r.error.c_str());
        QCOMPARE(r.interruptedSyscall, 202L);
        QCOMPARE(probeRuns(record).size(), 1);
        // After the detach the borrowed thread joined the group stop like the others.
        ProcessFacts f;
        ThreadFacts borrowed;
        std::string error;
        auto stopped = [&] {
            return readProcess(t.pid(), &f, &error) && f.state == 'T' && readThread(t.pid(), r.tid, &borrowed) &&
                   borrowed.state == 'T';
        };
        for (int i = 0; i < 400 && !stopped(); ++i) QTest::qWait(5);
        QCOMPARE(f.state, 'T');
        QCOMPARE(borrowed.state, 'T');
        kill(t.pid(), SIGCONT);
        QCOMPARE(t.finish(), 0);
        QVERIFY2(numberedLinesIntact(t.out, "line ", 100, "end waiter=1 usr1=0"), t.out.right(300).constData());
    }

    void restoresEveryRegisterAndRestartsTheSyscall() {
        QTemporaryDir dir;
        Program t;
        QVERIFY(t.start(kTarget, {"regs"}));
        QVERIFY(t.waitFor("ready"));
        // Wait until the only thread is blocked inside read(0, ...).
        const QString syscallFile = QString("/proc/%1/syscall").arg(t.pid());
        bool inRead = false;
        for (int i = 0; i < 400 && !inRead; ++i) {
            QFile f(syscallFile);
            inRead = f.open(QIODevice::ReadOnly) && f.readAll().startsWith("0 0x0 ");
            if (!inRead) QTest::qWait(5);
        }
        QVERIFY(inRead);
        const InjectReport r = inject(t.pid(), dir.filePath("probe.txt"));
        QVERIFY2(r.ok, r.error.c_str());
        QVERIFY(r.mainThread);
        QCOMPARE(r.interruptedSyscall, 0L);
        QCOMPARE(probeRuns(dir.filePath("probe.txt")).size(), 1);
        // Only now the byte the read is waiting for.
        t.p.write("z");
        t.p.closeWriteChannel();
        QCOMPARE(t.finish(), 0);
        QVERIFY2(t.out.contains("ready\nok "), t.out.constData());
    }

    void borrowsTheMainThreadAtItsNextSystemCall() {
        QTemporaryDir dir;
        const QString record = dir.filePath("probe.txt");
        Program t;
        QVERIFY(t.start(kTarget, {"spin", "2", "5"}));
        QVERIFY(t.waitFor("tick 2"));
        const InjectReport r = inject(t.pid(), record);
        QVERIFY2(r.ok, r.error.c_str());
        QCOMPARE(r.entryResult, kProbeResult);
        QVERIFY(r.mainThread);
        QVERIFY2(r.how.find("at the entry of") != std::string::npos, r.how.c_str());
        const QList<QByteArray> runs = probeRuns(record);
        QCOMPARE(runs.size(), 1);
        QVERIFY(runs[0].contains("main=1") && runs[0].endsWith("aligned=1"));
        QCOMPARE(t.finish(), 5);
        QVERIFY2(numberedLinesIntact(t.out, "tick ", -1, "end"), t.out.constData());
        QVERIFY(nonEmptyLines(t.out).size() >= 15);
    }

    void givesUpCleanlyOnAProgramThatMakesNoSystemCall() {
        QTemporaryDir dir;
        const QString record = dir.filePath("probe.txt");
        Program t;
        QVERIFY(t.start(kTarget, {"nosyscall", "3", "9"}));
        QVERIFY(t.waitFor("ready"));
        const InjectReport r = inject(t.pid(), record, kProbe, kEntry, 1000);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.find("made no system call") != std::string::npos && r.error.find("in 1 s") != std::string::npos,
                 r.error.c_str());
        QVERIFY(r.totalMs >= 1000 && r.totalMs < 3000);
        QCOMPARE(tracerOf(t.pid()), 0);
        QVERIFY(!QFile::exists(record));
        QCOMPARE(t.finish(), 9);
        QCOMPARE(t.out, QByteArray("ready\nend\n"));
    }

    void refusesMissingProcessAndItself() {
        InjectReport r = inject(0x3ffffff0, "/dev/null");
        QVERIFY2(r.error == "no process with PID 1073741808 is running.", r.error.c_str());
        r = inject(-5, "/dev/null");
        QVERIFY2(r.error.find("there is no process with PID -5") == 0, r.error.c_str());
        r = inject(int(getpid()), "/dev/null");
        QVERIFY2(r.error.find("is vramscope itself") != std::string::npos, r.error.c_str());
    }

    void refusesAProcessThatIsAlreadyTraced() {
        Program t;
        QVERIFY(t.start(kTarget, {"lines", "60", "10", "0"}));
        QVERIFY(t.waitFor("line 1"));
        QCOMPARE(ptrace(PTRACE_SEIZE, t.pid(), nullptr, nullptr), 0L);  // this test is the other tracer
        const InjectReport r = inject(t.pid(), "/dev/null");
        const std::string expected = "is already being traced by process " + std::to_string(getpid());
        QVERIFY2(!r.ok && r.error.find(expected) != std::string::npos, r.error.c_str());
        QVERIFY(r.error.find("detach that debugger") != std::string::npos);
        // Let go: detach needs a ptrace-stop.
        QCOMPARE(ptrace(PTRACE_INTERRUPT, t.pid(), nullptr, nullptr), 0L);
        int status = 0;
        QCOMPARE(waitpid(t.pid(), &status, __WALL), pid_t(t.pid()));
        QCOMPARE(ptrace(PTRACE_DETACH, t.pid(), nullptr, nullptr), 0L);
        QCOMPARE(t.finish(), 0);
        QVERIFY(numberedLinesIntact(t.out, "line ", 60, "end reader=1 waiter=1 usr1=0"));
    }

    void refusesAnExitingProcess() {
        const pid_t child = fork();
        if (child == 0) _exit(0);
        QVERIFY(child > 0);
        ProcessFacts f;
        std::string error;
        for (int i = 0; i < 400 && !(readProcess(child, &f, &error) && f.state == 'Z'); ++i) QTest::qWait(5);
        QCOMPARE(f.state, 'Z');
        const InjectReport r = inject(child, "/dev/null");
        QVERIFY2(r.error.find("is exiting") != std::string::npos, r.error.c_str());
        int status = 0;
        waitpid(child, &status, 0);
    }

    void refusesAStaticallyLinkedProcess() {
        if (kStaticTarget.isEmpty()) QSKIP("this toolchain cannot link statically (no libc.a)");
        Program t;
        QVERIFY(t.start(kStaticTarget, {"10"}));
        QVERIFY(t.waitFor("ready"));
        const InjectReport r = inject(t.pid(), "/dev/null");
        QVERIFY2(r.error.find("does not use glibc's shared libc.so.6") != std::string::npos &&
                     r.error.find("start it under `vramscope record` instead") != std::string::npos,
                 r.error.c_str());
        QCOMPARE(tracerOf(t.pid()), 0);
    }

    void refusesAnotherUsersProcess() {
        if (geteuid() != 0) QSKIP("needs root: runs the injector as uid 65534 against a root process");
        Program t;
        QVERIFY(t.start(kTarget, {"lines", "60", "10", "0"}));
        QVERIFY(t.waitFor("line 1"));
        const QByteArray error = toolErrorAsNobody(t.pid());
        QVERIFY2(error.contains("belongs to user root (uid 0) and vramscope runs as user nobody (uid 65534)"),
                 error.constData());
        QCOMPARE(t.finish(), 0);
        QVERIFY(numberedLinesIntact(t.out, "line ", 60, "end reader=1 waiter=1 usr1=0"));
    }

    void explainsPtraceDeniedForANonDumpableProcess() {
        if (geteuid() != 0) QSKIP("needs root: runs target and injector as uid 65534");
        Program t;
        QVERIFY(t.start(kTarget, {"nodump", "10"}, true));
        QVERIFY(t.waitFor("ready"));
        QVERIFY(!readPtraceEnvironment(t.pid()).targetDumpable);
        // The injector refuses before any ptrace call (the maps read is denied)...
        const QByteArray error = toolErrorAsNobody(t.pid());
        QVERIFY2(error.contains("non-dumpable (PR_SET_DUMPABLE 0") && error.contains("run vramscope attach as root"),
                 error.constData());
        // ...and that is what the kernel answers a PTRACE_SEIZE from the same user.
        const QStringList seize{"--seize", QString::number(t.pid())};
        QCOMPARE(toolLineAsNobody(seize, "errno="), QByteArray::number(EPERM));
        const QByteArray explained = toolLineAsNobody(seize);
        QVERIFY2(explained.contains("non-dumpable"), explained.constData());
        QCOMPARE(tracerOf(t.pid()), 0);
    }
};

QTEST_GUILESS_MAIN(TestAttachInject)
#include "tst_attach_inject.moc"
