// The injector inside real processes on a machine without a GPU: it must
// never harm the host, and (in VRAMSCOPE_TEST_NO_CUPTI mode, where CUPTI is
// never touched) its writer thread, exit, signal and fork handling must
// leave complete traces. Also `vramscope record`'s runRecord().
#include "test_support.h"
#include "record_command.h"

#include <format/reader.h>

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <dlfcn.h>

using namespace vramscope::format;

namespace {

const QString kInjector = QStringLiteral(VRAMSCOPE_INJECTOR_PATH);
const QString kHelper = QStringLiteral(VRAMSCOPE_TEST_HELPER);

bool machineHasDriver() {
    void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h) h = dlopen("libcuda.so.1", RTLD_LAZY);
    return h != nullptr;
}

struct Run {
    int exitCode = -1;
    bool crashed = false;
    QByteArray out, err;
};

Run run(const QString& program, const QStringList& args, const QStringList& env, int killAfterReadyMs = -1) {
    QProcess p;
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const char* k : {"VRAMSCOPE_ROOT_PID", "VRAMSCOPE_OUTPUT", "VRAMSCOPE_WARNED", "CUDA_INJECTION64_PATH", "NVTX_INJECTION64_PATH"})
        e.remove(k);
    e.insert("LD_PRELOAD", kInjector);
    for (const QString& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(e);
    p.start(program, args);
    Run r;
    if (!p.waitForStarted(10000)) return r;
    if (killAfterReadyMs >= 0) {
        while (!p.readAllStandardOutput().contains("ready") && p.state() == QProcess::Running) p.waitForReadyRead(200);
        QTest::qWait(killAfterReadyMs);
        p.kill();
    }
    p.waitForFinished(30000);
    r.crashed = p.exitStatus() == QProcess::CrashExit;
    r.exitCode = p.exitCode();
    r.out += p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QList<QByteArray> lines(const QByteArray& text) {
    QList<QByteArray> out;
    for (const QByteArray& l : text.split('\n'))
        if (!l.trimmed().isEmpty()) out << l;
    return out;
}

using vramscope::inject::testing::Loaded;
using vramscope::inject::testing::load;

// The only trace of a test-mode run in dir (helper runs are root processes).
QString onlyTrace(const QString& dir) {
    QStringList files = QDir(dir).entryList({"*.vtrace"}, QDir::Files);
    return files.size() == 1 ? dir + "/" + files[0] : QString();
}

}  // namespace

class TestInjectorProcess : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QVERIFY2(QFile::exists(kInjector), qPrintable(kInjector));
        QVERIFY2(QFile::exists(kHelper), qPrintable(kHelper));
    }

    void trueExitsZeroWithOneWarning() {
        Run r = run("/bin/true", {}, {});
        QVERIFY(!r.crashed);
        QCOMPARE(r.exitCode, 0);
        QList<QByteArray> l = lines(r.err);
        QVERIFY2(l.size() <= 1, r.err.constData());
        for (const QByteArray& line : l) QVERIFY2(line.startsWith("vramscope: "), line.constData());
        if (!machineHasDriver()) {
            QCOMPARE(l.size(), qsizetype(1));
            QVERIFY2(l[0].contains("no CUDA driver found") && l[0].contains("runs without GPU tracing"), l[0].constData());
        }
    }
    void aWholeJobWarnsOnce() {
        Run r = run("/bin/sh", {"-c", "/bin/true; /bin/true; /bin/true | /bin/cat"}, {});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(lines(r.err).size() <= 1, r.err.constData());
    }
    void programRunsNormallyWithoutGpu() {
        Run r = run(kHelper, {"print"}, {});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out, QByteArray("hello\n"));
        QVERIFY(lines(r.err).size() <= 1);
    }
    void failedCaptureLeavesATraceThatSaysWhy() {
        if (machineHasDriver()) QSKIP("this machine has a CUDA driver");
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        Run r = run(kHelper, {"print"}, {"VRAMSCOPE_OUTPUT=" + path});
        QCOMPARE(r.exitCode, 0);
        Loaded l = load(path);
        QVERIFY(l.ok && l.footer);
        QCOMPARE(l.t.get<Note>().size(), size_t(1));
        QCOMPARE(l.t.get<Note>()[0].severity, Severity::Error);
        QVERIFY(l.t.text(l.t.get<Note>()[0].textId).find("no CUDA driver") != std::string::npos);
        QCOMPARE(l.t.get<ProcessInfo>().size(), size_t(1));
    }
    void disabledInjectorIsSilent() {
        Run r = run(kHelper, {"print"}, {"VRAMSCOPE_DISABLE=1"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.err.isEmpty());
    }
    void cudaInjectionEntryWaitsForCuInit() {
        // With CUDA_INJECTION64_PATH naming the library, the constructor
        // starts nothing: a process that never calls cuInit is untouched.
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        Run r = run(kHelper, {"print"}, {"CUDA_INJECTION64_PATH=" + kInjector, "VRAMSCOPE_OUTPUT=" + path});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.isEmpty(), r.err.constData());
        Loaded l = load(path);  // the root still says why its trace is empty
        QVERIFY(l.ok && l.footer);
        QCOMPARE(l.t.get<Note>().size(), size_t(1));
    }

    void markersReachTheTraceWithFooter() {
        QTemporaryDir dir;
        Run r = run(kHelper, {"phases", "50"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/"});
        QCOMPARE(r.exitCode, 0);
        Loaded l = load(onlyTrace(dir.path()));
        QVERIFY(l.ok && l.footer);
        QCOMPARE(l.t.get<Phase>().size(), size_t(50));
        QCOMPARE(l.t.get<ProcessInfo>().size(), size_t(1));
    }
    void exitFromAnotherThreadCompletesTheTrace() {
        QTemporaryDir dir;
        Run r = run(kHelper, {"exit-thread", "20"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/"});
        QCOMPARE(r.exitCode, 5);
        Loaded l = load(onlyTrace(dir.path()));
        QVERIFY(l.ok && l.footer);
        QCOMPARE(l.t.get<Phase>().size(), size_t(20));
    }
    void sigtermCompletesTheTraceThenKills() {
        QTemporaryDir dir;
        Run r = run(kHelper, {"sigterm", "20"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/"});
        QVERIFY(r.crashed);  // the default action ran after our handler
        Loaded l = load(onlyTrace(dir.path()));
        QVERIFY(l.ok);
        QVERIFY(l.footer);
        QCOMPARE(l.t.get<Phase>().size(), size_t(20));
    }
    void selfKillWithDefaultActionCompletesTheTrace() {
        QTemporaryDir dir;
        Run r = run(kHelper, {"kill-self", "15"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/"});
        QVERIFY(r.crashed);
        Loaded l = load(onlyTrace(dir.path()));
        QVERIFY(l.ok);
        QVERIFY(l.footer);
        QCOMPARE(l.t.get<Phase>().size(), size_t(15));
    }
    void sigkillKeepsWhatWasFlushed() {
        QTemporaryDir dir;
        Run r = run(kHelper, {"hang", "30"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/"}, 0);
        QVERIFY(r.crashed);
        Loaded l = load(onlyTrace(dir.path()));
        QVERIFY(l.ok);
        QVERIFY(!l.footer);
        QCOMPARE(l.t.get<Phase>().size(), size_t(30));  // flushed within 100 ms, long before the kill
    }
    void forkedChildrenRunUntracedWithoutDeadlock() {
        QTemporaryDir dir;
        Run r = run(kHelper, {"fork", "16"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("failures 0"));
        QString trace = onlyTrace(dir.path());  // children wrote nothing
        QVERIFY(!trace.isEmpty());
        Loaded l = load(trace);
        QVERIFY(l.ok && l.footer);
        QCOMPARE(l.t.get<ProcessInfo>().size(), size_t(1));
    }
    void execdChildrenWriteTheirOwnFiles() {
        QTemporaryDir dir;
        QString root = dir.path() + "/run.vtrace";
        QString script = QString("%1 phases 7; RANK=1 %1 phases 7").arg(kHelper);
        Run r = run("/bin/sh", {"-c", script}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + root});
        QCOMPARE(r.exitCode, 0);
        QStringList children = QDir(dir.path()).entryList({"run.*.vtrace"}, QDir::Files);
        QCOMPARE(children.size(), 2);
        QVERIFY(children.filter(".rank1.vtrace").size() == 1);
        for (const QString& c : children) {
            Loaded l = load(dir.path() + "/" + c);
            QVERIFY(l.ok && l.footer);
            QCOMPARE(l.t.get<Phase>().size(), size_t(7));
        }
    }

    void recordPassesTheExitCodeThrough() {
        vramscope::cli::RecordOptions o;
        o.injectorPath = kInjector.toStdString();
        o.summary = false;
        QCOMPARE(vramscope::cli::runRecord(o, {"/bin/sh", "-c", "exit 3"}), 3);
        QCOMPARE(vramscope::cli::runRecord(o, {"/nonexistent/program"}), 127);
        o.injectorPath = "/nonexistent/libvramscope_inject.so";
        QCOMPARE(vramscope::cli::runRecord(o, {"/bin/true"}), 125);
    }
    void recordReportsDeathBySignalAndKeepsTheTrace() {
        QTemporaryDir dir;
        qputenv("VRAMSCOPE_TEST_NO_CUPTI", "1");
        vramscope::cli::RecordOptions o;
        o.injectorPath = kInjector.toStdString();
        o.output = (dir.path() + "/rec.vtrace").toStdString();
        o.quiet = true;
        o.startAtCuInit = false;  // test mode never calls cuInit
        int code = vramscope::cli::runRecord(o, {kHelper.toStdString(), "sigterm", "12"});
        qunsetenv("VRAMSCOPE_TEST_NO_CUPTI");
        QCOMPARE(code, 128 + 15);
        Loaded l = load(dir.path() + "/rec.vtrace");
        QVERIFY(l.ok && l.footer);
        QCOMPARE(l.t.get<Phase>().size(), size_t(12));
        std::string text, error;
        QVERIFY(vramscope::cli::summarizeTrace(o.output, &text, &error));
        QVERIFY(text.find("events") != std::string::npos);
    }
    void recordFindsTheInjectorNextToTheBinary() {
        vramscope::cli::RecordOptions o;
        o.selfPath = (QFileInfo(kInjector).absolutePath() + "/vramscope-record").toStdString();
        std::string searched;
        QCOMPARE(QString::fromStdString(vramscope::cli::findInjector(o, &searched)), QFileInfo(kInjector).canonicalFilePath());
    }
};

QTEST_GUILESS_MAIN(TestInjectorProcess)
#include "tst_injector_process.moc"
