// Attach to Process in the app, as a user meets it: the dialog lists the
// user's processes that have the CUDA driver loaded; attaching loads the
// capture into a running program (test mode: no GPU, CUPTI never touched),
// the window shows it live as it grows, and Detach stops the capture while
// the program runs on, its output and exit code unchanged.
#include "attach_dialog.h"
#include "live_session.h"
#include "main_window.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

using namespace vramscope;
using namespace vramscope::app;

namespace {

const QString kInjector = QStringLiteral(VRAMSCOPE_INJECTOR_PATH);
const QString kHelper = QStringLiteral(VRAMSCOPE_TEST_HELPER);
const QString kCudaStub = QStringLiteral(VRAMSCOPE_CUDA_STUB);

void startClean(QProcess& p, const QStringList& args) {
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const QString& k : e.keys())
        if (k.startsWith("VRAMSCOPE_") || k == "LD_PRELOAD" || k == "CUDA_INJECTION64_PATH") e.remove(k);
    p.setProcessEnvironment(e);
    p.start(kHelper, args);
}

bool waitForOutput(QProcess& p, const QByteArray& marker, QByteArray* seen) {
    for (int i = 0; i < 100 && !seen->contains(marker); ++i) {
        p.waitForReadyRead(100);
        *seen += p.readAllStandardOutput();
    }
    return seen->contains(marker);
}

}  // namespace

class TestAttachApp : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { qputenv("VRAMSCOPE_TEST_NO_CUPTI", "1"); }

    void attachShowsTheJobLiveAndDetachLeavesItRunning() {
        QTemporaryDir dir;
        QProcess target;
        startClean(target, {"work", "4000"});
        QVERIFY(target.waitForStarted(10000));
        QByteArray out;
        QVERIFY(waitForOutput(target, "tick 2", &out));
        MainWindow window;
        window.setInteractive(false);
        window.resize(1200, 700);
        window.show();
        QSignalSpy attached(&window, &MainWindow::attachFinished);
        AttachController::Options o;
        o.pid = int(target.processId());
        o.output = dir.filePath("live.vtrace");
        o.injectorPath = kInjector;
        window.attachToProcess(o);
        QVERIFY(attached.wait(20000));
        QCOMPARE(attached.at(0).at(0).toBool(), true);
        QVERIFY(window.attachController()->isAttached());
        QVERIFY(window.liveSession());
        // The program's step markers arrive while it runs.
        QTRY_VERIFY_WITH_TIMEOUT(window.document(0) && window.document(0)->model.phases.size() >= 25, 10000);
        QVERIFY(window.windowTitle().contains("(live)"));
        QSignalSpy ended(&window, &MainWindow::liveEnded);
        window.detachFromProcess();
        QVERIFY(ended.wait(20000));
        QCOMPARE(ended.at(0).at(0).toBool(), true);  // the footer arrived: the trace is complete
        const auto doc = window.document(0);
        QCOMPARE(doc->model.processes.size(), size_t(1));
        QCOMPARE(doc->model.processes[0].captureStart, format::CaptureStart::Attach);
        QVERIFY(doc->summary.capture.attached);
        QVERIFY(!window.attachController()->isAttached());
        // The program ran on, untouched.
        target.waitForFinished(30000);
        out += target.readAllStandardOutput();
        QCOMPARE(target.exitCode(), 7);
        QVERIFY(out.contains("done "));
        int next = 0;
        for (const QByteArray& line : out.split('\n'))
            if (line.startsWith("tick ")) QCOMPARE(line.mid(5).toInt(), next++);
    }

    void closingTheWindowDetaches() {
        QTemporaryDir dir;
        QProcess target;
        startClean(target, {"work", "3000"});
        QVERIFY(target.waitForStarted(10000));
        QByteArray out;
        QVERIFY(waitForOutput(target, "tick 1", &out));
        std::string socket;
        {
            MainWindow window;
            window.setInteractive(false);
            window.show();
            QSignalSpy attached(&window, &MainWindow::attachFinished);
            AttachController::Options o;
            o.pid = int(target.processId());
            o.output = dir.filePath("closed.vtrace");
            o.injectorPath = kInjector;
            window.attachToProcess(o);
            QVERIFY(attached.wait(20000));
            QVERIFY(window.attachController()->isAttached());
            window.close();  // the capture stops with the window
        }
        target.waitForFinished(30000);
        QCOMPARE(target.exitCode(), 7);
        // The trace was finished at the detach, not at the program's exit.
        QFile trace(dir.filePath("closed.vtrace"));
        QVERIFY(trace.open(QIODevice::ReadOnly));
        QVERIFY(trace.size() > 64);
    }

    void attachingToNothingSaysWhy() {
        MainWindow window;
        window.setInteractive(false);
        QSignalSpy attached(&window, &MainWindow::attachFinished);
        AttachController::Options o;
        o.pid = 999999999;
        o.injectorPath = kInjector;
        window.attachToProcess(o);
        QVERIFY(attached.wait(10000));
        QCOMPARE(attached.at(0).at(0).toBool(), false);
        QVERIFY2(window.lastError().contains("there is no process"), qPrintable(window.lastError()));
    }

    void theDialogListsProcessesThatUseTheDriver() {
        if (!QFile::exists(kCudaStub)) QSKIP("no CUDA stub driver (libcuda.so) in the toolkit");
        QProcess target;
        startClean(target, {"cuda-stub", kCudaStub, "20000"});
        QVERIFY(target.waitForStarted(10000));
        QByteArray out;
        QVERIFY2(waitForOutput(target, "ready", &out), out.constData());
        AttachDialog dialog;
        bool listed = false;
        for (int row = 0; row < dialog.table()->rowCount(); ++row)
            listed |= dialog.table()->item(row, 0)->text().toLongLong() == target.processId();
        QVERIFY(listed);
        // A process without the driver is not offered.
        for (int row = 0; row < dialog.table()->rowCount(); ++row)
            QVERIFY(dialog.table()->item(row, 0)->text().toLongLong() != QCoreApplication::applicationPid());
        target.kill();
        target.waitForFinished(5000);
    }
};

QTEST_MAIN(TestAttachApp)
#include "tst_attach_app.moc"
