// `vramscope attach` into real running processes on a machine without a
// GPU: the capture library is loaded into a program that was started
// without vramscope, in VRAMSCOPE_TEST_NO_CUPTI mode (the writer, the
// control socket, the live stream, detach and re-attach all run; CUPTI is
// never touched). The target must run on unharmed: same output, same exit.
#include "attach_command.h"
#include "test_support.h"

#include <format/reader.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace vramscope::format;
using vramscope::cli::AttachOptions;
using vramscope::cli::AttachStarted;

namespace {

const QString kInjector = QStringLiteral(VRAMSCOPE_INJECTOR_PATH);
const QString kHelper = QStringLiteral(VRAMSCOPE_TEST_HELPER);
const QString kPythonDir = QStringLiteral(VRAMSCOPE_SOURCE_DIR "/python");

// A target started the way users start their jobs: no vramscope anywhere.
struct Target {
    QProcess process;
    void start(const QString& program, const QStringList& args, const QStringList& env = {}) {
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        for (const QString& k : e.keys())
            if (k.startsWith("VRAMSCOPE_") || k == "LD_PRELOAD" || k == "CUDA_INJECTION64_PATH") e.remove(k);
        for (const QString& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
        process.setProcessEnvironment(e);
        process.start(program, args);
        QVERIFY(process.waitForStarted(10000));
    }
    // Waits until the target printed `marker` (it is past its start-up).
    bool waitFor(const QByteArray& marker) {
        for (int i = 0; i < 100 && !seen.contains(marker); ++i) {
            process.waitForReadyRead(100);
            seen += process.readAllStandardOutput();
        }
        return seen.contains(marker);
    }
    QByteArray finish() {
        process.waitForFinished(30000);
        seen += process.readAllStandardOutput();
        return seen;
    }
    int pid() const { return int(process.processId()); }
    QByteArray seen;
};

AttachOptions optionsFor(int pid, const QString& output) {
    AttachOptions o;
    o.pid = pid;
    o.capture.output = output.toStdString();
    o.capture.injectorPath = kInjector.toStdString();
    o.capture.quiet = true;
    return o;
}

// Every "tick I" line of a `work` run, in order, none missing, none extra.
bool ticksIntact(const QByteArray& out, int* ticks) {
    int next = 0;
    for (const QByteArray& line : out.split('\n')) {
        if (line.startsWith("tick ")) {
            if (line.mid(5).toInt() != next) return false;
            ++next;
        } else if (line.startsWith("done ")) {
            *ticks = next;
            return line.mid(5).toInt() == next;
        } else if (!line.isEmpty()) {
            return false;  // nothing of ours in the job's output
        }
    }
    return false;
}

bool stop(const AttachStarted& s, std::vector<std::string>* lines = nullptr) {
    std::vector<std::string> own;
    std::string error;
    return vramscope::cli::controlRequest(s.socketPath, "stop", 30000, lines ? lines : &own, &error);
}

int connectUnix(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Reads until the peer closes (at most timeoutMs).
QByteArray readAll(int fd, int timeoutMs) {
    QByteArray out;
    char buf[65536];
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, int(n));
    }
    return out;
}

}  // namespace

class TestAttachProcess : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { qputenv("VRAMSCOPE_TEST_NO_CUPTI", "1"); }

    void attachedProgramRunsOnUnharmed() {
        QTemporaryDir dir;
        Target target;
        target.start(kHelper, {"work", "2500"});
        QVERIFY(target.waitFor("tick 3"));
        const int pid = target.pid();
        AttachStarted started;
        std::string error;
        QVERIFY2(vramscope::cli::startAttach(optionsFor(target.pid(), dir.filePath("a.vtrace")), &started, &error),
                 error.c_str());
        QCOMPARE(QString::fromStdString(started.output), dir.filePath("a.vtrace"));
        QTest::qWait(400);
        std::vector<std::string> lines;
        QVERIFY(stop(started, &lines));
        QCOMPARE(vramscope::cli::statusValue(lines, "state"), std::string("stopped"));
        const QByteArray out = target.finish();
        QCOMPARE(target.process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(target.process.exitCode(), 7);
        int ticks = 0;
        QVERIFY2(ticksIntact(out, &ticks), out.constData());
        QVERIFY(ticks > 50);

        auto loaded = vramscope::inject::testing::load(dir.filePath("a.vtrace"));
        QVERIFY(loaded.ok);
        QVERIFY(loaded.footer);
        const auto& processes = loaded.t.get<ProcessInfo>();
        QCOMPARE(processes.size(), size_t(1));
        QCOMPARE(processes[0].captureStart, CaptureStart::Attach);
        QCOMPARE(processes[0].attachIndex, 1u);
        QCOMPARE(int(processes[0].pid), pid);
        QVERIFY(processes[0].processStartUnixNs > 0);
        QVERIFY(processes[0].processStartUnixNs <= processes[0].wallClockNs);
        // The markers the program sent once the library was there.
        QVERIFY(loaded.t.get<Phase>().size() >= 5 * 5);
        bool saysAttached = false;
        for (const Note& n : loaded.t.get<Note>())
            saysAttached |= loaded.t.text(n.textId).find("attached to this running process") != std::string::npos;
        QVERIFY(saysAttached);
    }

    void attachingAgainWritesANewTrace() {
        QTemporaryDir dir;
        Target target;
        target.start(kHelper, {"work", "3000"});
        QVERIFY(target.waitFor("tick 2"));
        for (int i = 1; i <= 2; ++i) {
            AttachStarted started;
            std::string error;
            const QString path = dir.filePath(QString("run%1.vtrace").arg(i));
            AttachOptions o = optionsFor(target.pid(), path);
            o.capture.verbose = true;  // the statistics go into the trace, not the job's stderr
            QVERIFY2(vramscope::cli::startAttach(o, &started, &error), error.c_str());
            QTest::qWait(250);
            QVERIFY(stop(started));
            auto loaded = vramscope::inject::testing::load(path);
            QVERIFY(loaded.ok && loaded.footer);
            QCOMPARE(loaded.t.get<ProcessInfo>().at(0).attachIndex, uint32_t(i));
            QVERIFY(!loaded.t.get<Phase>().empty());
            // Each trace holds its own notes only: nothing of the one before.
            int stats = 0, ownAttach = 0, otherAttach = 0;
            for (const Note& n : loaded.t.get<Note>()) {
                const std::string text = loaded.t.text(n.textId);
                stats += text.rfind("stats:", 0) == 0;
                ownAttach += text.find("(attach " + std::to_string(i) + ")") != std::string::npos;
                otherAttach += text.find("(attach " + std::to_string(3 - i) + ")") != std::string::npos;
            }
            QCOMPARE(stats, 1);
            QCOMPARE(ownAttach, 1);
            QCOMPARE(otherAttach, 0);
            // Nothing queued after the last trace's footer leaks into this one.
            const uint64_t began = loaded.t.get<ProcessInfo>().at(0).timestampNs;
            for (const Phase& ph : loaded.t.get<Phase>()) QVERIFY(ph.timestampNs >= began);
        }
        const QByteArray out = target.finish();
        QCOMPARE(target.process.exitCode(), 7);
        int ticks = 0;
        QVERIFY2(ticksIntact(out, &ticks), out.constData());
    }

    void secondAttachWhileCapturingIsRefused() {
        QTemporaryDir dir;
        Target target;
        target.start(kHelper, {"work", "2000"});
        QVERIFY(target.waitFor("tick 1"));
        AttachStarted started, second;
        std::string error;
        QVERIFY2(vramscope::cli::startAttach(optionsFor(target.pid(), dir.filePath("a.vtrace")), &started, &error),
                 error.c_str());
        QVERIFY(!vramscope::cli::startAttach(optionsFor(target.pid(), dir.filePath("b.vtrace")), &second, &error));
        QVERIFY2(error.find("already attached") != std::string::npos, error.c_str());
        QVERIFY(stop(started));
        target.finish();
        QCOMPARE(target.process.exitCode(), 7);
        QVERIFY(!QFile::exists(dir.filePath("b.vtrace")));
    }

    void theLiveStreamIsTheFile() {
        QTemporaryDir dir;
        Target target;
        target.start(kHelper, {"work", "2000"});
        QVERIFY(target.waitFor("tick 1"));
        AttachStarted started;
        std::string error;
        QVERIFY2(vramscope::cli::startAttach(optionsFor(target.pid(), dir.filePath("a.vtrace")), &started, &error),
                 error.c_str());
        // Only this user may use the socket, in a directory only this user may enter.
        struct stat st {};
        QCOMPARE(::stat(started.socketPath.c_str(), &st), 0);
        QCOMPARE(st.st_mode & 0777, 0600u);
        QCOMPARE(::stat(QFileInfo(QString::fromStdString(started.socketPath)).path().toUtf8().constData(), &st), 0);
        QCOMPARE(st.st_mode & 0777, 0700u);
        QTest::qWait(300);  // a late viewer still gets everything from the start
        const int fd = connectUnix(started.socketPath);
        QVERIFY(fd >= 0);
        QCOMPARE(send(fd, "stream\n", 7, 0), ssize_t(7));
        QTest::qWait(300);
        QVERIFY(stop(started));
        const QByteArray got = readAll(fd, 10000);
        close(fd);
        QVERIFY(got.startsWith("ok\n"));
        QFile file(dir.filePath("a.vtrace"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(got.mid(3), file.readAll());  // byte for byte, footer included
        target.finish();
        QCOMPARE(target.process.exitCode(), 7);
    }

    void theSocketIsInTheJobsRuntimeDirectory() {
        QTemporaryDir dir, runtime;
        QFile::setPermissions(runtime.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
        Target target;
        target.start(kHelper, {"work", "1500"}, {"XDG_RUNTIME_DIR=" + runtime.path()});
        QVERIFY(target.waitFor("tick 1"));
        AttachStarted started;
        std::string error;
        QVERIFY2(vramscope::cli::startAttach(optionsFor(target.pid(), dir.filePath("a.vtrace")), &started, &error),
                 error.c_str());
        QCOMPARE(QString::fromStdString(started.socketPath),
                 runtime.path() + "/vramscope/" + QString::number(target.pid()) + ".sock");
        QVERIFY(stop(started));
        target.finish();
        QCOMPARE(target.process.exitCode(), 7);
    }

    void tcpStreamNeedsTheToken() {
        QTemporaryDir dir;
        Target target;
        target.start(kHelper, {"work", "2000"});
        QVERIFY(target.waitFor("tick 1"));
        AttachOptions o = optionsFor(target.pid(), dir.filePath("a.vtrace"));
        o.tcp = true;
        AttachStarted started;
        std::string error;
        QVERIFY2(vramscope::cli::startAttach(o, &started, &error), error.c_str());
        QVERIFY(QString::fromStdString(started.tcpAddress).startsWith("127.0.0.1:"));
        QCOMPARE(started.token.size(), size_t(32));
        const int port = QString::fromStdString(started.tcpAddress).section(':', 1).toInt();
        auto connectTcp = [&] {
            const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in in{};
            in.sin_family = AF_INET;
            in.sin_port = htons(uint16_t(port));
            in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return ::connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in) == 0 ? fd : -1;
        };
        int fd = connectTcp();
        QVERIFY(fd >= 0);
        const QByteArray wrong = "token 0123\nstream\n";
        send(fd, wrong.constData(), size_t(wrong.size()), 0);
        QVERIFY(readAll(fd, 3000).startsWith("error"));
        close(fd);
        fd = connectTcp();
        const QByteArray right = "token " + QByteArray::fromStdString(started.token) + "\nstream\n";
        send(fd, right.constData(), size_t(right.size()), 0);
        QTest::qWait(200);
        QVERIFY(stop(started));
        const QByteArray got = readAll(fd, 10000);
        close(fd);
        QVERIFY(got.startsWith("ok\nVRAMSCOP"));
        target.finish();
        QCOMPARE(target.process.exitCode(), 7);
    }

    void theTraceEndsWhenTheProgramDoes() {
        QTemporaryDir dir;
        Target target;
        target.start(kHelper, {"work", "700"});
        QVERIFY(target.waitFor("tick 1"));
        AttachStarted started;
        std::string error;
        QVERIFY2(vramscope::cli::startAttach(optionsFor(target.pid(), dir.filePath("a.vtrace")), &started, &error),
                 error.c_str());
        target.finish();  // exits while attached
        QCOMPARE(target.process.exitCode(), 7);
        auto loaded = vramscope::inject::testing::load(dir.filePath("a.vtrace"));
        QVERIFY(loaded.ok);
        QVERIFY(loaded.footer);  // written at exit
    }

    void pythonWithoutTorchIsTracedAtDriverLevel() {
        QTemporaryDir dir;
        Target target;
        target.start("python3", {"-u", "-c",
                                 "import time\n"
                                 "for i in range(150):\n"
                                 "    print('tick', i)\n"
                                 "    time.sleep(0.02)\n"
                                 "print('done', 150)\n"
                                 "raise SystemExit(7)\n"});
        QVERIFY(target.waitFor("tick 2"));
        AttachOptions o = optionsFor(target.pid(), dir.filePath("py.vtrace"));
        AttachStarted started;
        std::string error;
        qputenv("VRAMSCOPE_PYTHON_PATH", kPythonDir.toUtf8());
        const bool ok = vramscope::cli::startAttach(o, &started, &error);
        qunsetenv("VRAMSCOPE_PYTHON_PATH");
        QVERIFY2(ok, error.c_str());
        QCOMPARE(vramscope::cli::statusValue(started.status, "python"), std::string("no-torch"));
        QVERIFY(stop(started));
        const QByteArray out = target.finish();
        QCOMPARE(target.process.exitCode(), 7);
        int ticks = 0;
        QVERIFY2(ticksIntact(out, &ticks), out.constData());
        auto loaded = vramscope::inject::testing::load(dir.filePath("py.vtrace"));
        QVERIFY(loaded.ok && loaded.footer);
        bool saysNoTorch = false;
        for (const Note& n : loaded.t.get<Note>())
            saysNoTorch |= loaded.t.text(n.textId).find("has not imported torch") != std::string::npos;
        QVERIFY(saysNoTorch);
    }

    void refusals() {
        AttachStarted started;
        std::string error;
        QVERIFY(!vramscope::cli::startAttach(optionsFor(999999999, "/tmp/x.vtrace"), &started, &error));
        QVERIFY2(error.find("there is no process") != std::string::npos, error.c_str());
        // Without the test mode, a program without the CUDA driver is not a CUDA job.
        Target target;
        target.start(kHelper, {"work", "1000"});
        QVERIFY(target.waitFor("tick 1"));
        qunsetenv("VRAMSCOPE_TEST_NO_CUPTI");
        const bool ok = vramscope::cli::startAttach(optionsFor(target.pid(), "/tmp/x.vtrace"), &started, &error);
        qputenv("VRAMSCOPE_TEST_NO_CUPTI", "1");
        QVERIFY(!ok);
        QVERIFY2(error.find("has not loaded the CUDA driver") != std::string::npos, error.c_str());
        // Nothing attached: --stop says so.
        QCOMPARE(vramscope::cli::runAttachStop(target.pid(), true), 1);
        target.finish();
        QCOMPARE(target.process.exitCode(), 7);
    }
};

QTEST_GUILESS_MAIN(TestAttachProcess)
#include "tst_attach_process.moc"
