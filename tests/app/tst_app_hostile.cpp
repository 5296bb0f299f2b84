// The desktop app given what a careless user or a hostile trace hands it: a
// FIFO or device where a trace should be (never waited on), a screenshot
// that would overwrite an input or fail halfway (the old file stays), a
// window size no GPU holds, a kernel name of megabytes (shown cut, the window
// still paints), file names that are not UTF-8. The batch mode runs through
// fork/exec so that arguments are passed as raw bytes and a file-size limit
// can make a write fail on demand; the models are checked in process.
#include "dock_models.h"
#include "main_window.h"
#include "timeline_canvas.h"

#include "../cli/run_argv.h"
#include "../format/hostile_trace.h"
#include "format/reader.h"

#include <QDockWidget>
#include <QImage>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace vramscope::app;
using vramscope::testing::readBytes;
using vramscope::testing::writeBytes;

using vramscope::testing::entries;
using vramscope::testing::exists;
using vramscope::testing::removeTree;
using vramscope::testing::readFile;
using vramscope::testing::Run;
using vramscope::testing::runArgv;

namespace {

// The app's own lines on stderr (Qt may add warnings of its own).
QList<QByteArray> appErrors(const Run& r) {
    QList<QByteArray> lines;
    for (const QByteArray& line : r.err.split('\n'))
        if (line.startsWith("vramscope-gui: ")) lines << line;
    return lines;
}

bool oneErrorNaming(const Run& r, const QByteArray& what) {
    const QList<QByteArray> lines = appErrors(r);
    return lines.size() == 1 && lines.first().contains(what);
}


constexpr size_t kLongNameBytes = 8u << 20;  // 8 MiB: the size that kept the window from painting for 34 s

// "k" then "é" (two bytes) repeated: any cut at an even byte count falls
// inside a character, so a cut that ignores UTF-8 shows as U+FFFD.
std::string longKernelName() {
    std::string name = "k";
    name.reserve(kLongNameBytes);
    while (name.size() + 2 <= kLongNameBytes) name += "\xc3\xa9";
    return name;
}

// A small trace whose one long kernel, over most of the timeline, has a
// name of kLongNameBytes. TraceWriter::intern caps a string at 64 KiB, as
// the injector does; a hostile file need not, so the StringDef is written
// raw (the reader takes one up to a chunk's 64 MiB).
bool writeLongNameTrace(const std::string& path) {
    using namespace vramscope::format;
    TraceWriter w;
    if (!w.open(path)) return false;
    w.write(ProcessInfo{1000, 42, w.intern("host"), w.intern("python train.py"), -1, -1, 0});
    DeviceInfo d;
    d.timestampNs = 1000;
    d.nameId = w.intern("NVIDIA H100 80GB HBM3");
    d.totalMemoryBytes = 80ull << 30;
    d.smCount = 132;
    d.computeCapability = 90;
    w.write(d);
    const uint32_t gemm = w.intern("gemm");
    const uint32_t longId = 1000;  // above every interned id
    const std::string name = longKernelName();
    std::vector<uint8_t> payload(20 + name.size());
    uint8_t* p = putVarint(putVarint(payload.data(), longId), name.size());
    std::memcpy(p, name.data(), name.size());
    payload.resize(size_t(p - payload.data()) + name.size());
    w.writeRaw(uint8_t(RecordType::StringDef), payload.data(), uint32_t(payload.size()), 1000);
    w.write(TensorMemory{2000, TensorAction::Alloc, 0, 0x7f0000000000ull, 1ull << 30, 7, 0});
    w.write(Kernel{3000, 900000, 0, 7, longId});
    for (uint64_t t = 3000; t < 900000; t += 100000) w.write(Kernel{t, t + 5000, 0, 8, gemm});
    w.write(TensorMemory{1000000, TensorAction::FreeCompleted, 0, 0x7f0000000000ull, 1ull << 30, 7, 0});
    return w.close();
}

}  // namespace

class TestAppHostile : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string gui_ = VRAMSCOPE_GUI;
    QByteArray traceBytes_;

    std::string path(const std::string& name) const { return dir_.path().toStdString() + "/" + name; }
    std::string folder(const std::string& name) const {
        const std::string f = path(name);
        ::mkdir(f.c_str(), 0755);
        return f;
    }
    Run gui(std::vector<std::string> arguments, int timeoutMs = 60000, rlim_t fileSizeLimitBytes = 0) const {
        arguments.insert(arguments.begin(), gui_);
        return runArgv(arguments, dir_.path().toStdString(), timeoutMs, fileSizeLimitBytes);
    }

    static bool load(MainWindow& w, const QString& file, int timeoutMs = 30000) {
        QSignalSpy spy(&w, &MainWindow::loadFinished);
        w.openTrace(file, 0);
        if (!spy.wait(timeoutMs)) return false;
        return spy.takeFirst().at(0).toBool();
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QCoreApplication::setOrganizationName("vramscope-tests");  // keep the user's settings out
        qputenv("VRAMSCOPE_INDEX_CACHE", dir_.path().toUtf8());  // no index cache beside the fixtures
        QVERIFY(vramscope::testing::writeSmallTrace(path("t.vtrace")));
        traceBytes_ = readFile(path("t.vtrace"));
        QVERIFY(traceBytes_.size() > 100);
        QVERIFY(::mkfifo(path("fifo").c_str(), 0600) == 0);
        folder("folder");
    }

    // QTemporaryDir cannot remove names that are not UTF-8.
    void cleanupTestCase() { removeTree(dir_.path().toStdString()); }

    // --- special files as inputs ----------------------------------------------

    // Opening a FIFO waited for a writer forever; each is refused at once.
    void specialFilesAreRefusedAtOnce_data() {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QByteArray>("what");
        QTest::newRow("fifo") << QString::fromStdString(path("fifo")) << QByteArray("is a named pipe (FIFO), not a regular file");
        QTest::newRow("/dev/zero") << "/dev/zero" << QByteArray("is a character device, not a regular file");
        QTest::newRow("folder") << QString::fromStdString(path("folder")) << QByteArray("is a folder; give the trace");
    }

    void specialFilesAreRefusedAtOnce() {
        QFETCH(QString, input);
        QFETCH(QByteArray, what);
        const Run r = gui({input.toStdString(), "--screenshot", path("never.png")}, 15000);
        QVERIFY2(r.exitCode == 1, r.err.constData());
        QVERIFY2(oneErrorNaming(r, input.toUtf8() + ": " + what), r.err.constData());
        QVERIFY(!exists(path("never.png")));
        // File > Open takes the same way.
        MainWindow w;
        w.setInteractive(false);
        QSignalSpy spy(&w, &MainWindow::loadFinished);
        w.openTrace(input, 0);
        QVERIFY(spy.wait(10000));
        QCOMPARE(spy.takeFirst().at(0).toBool(), false);
        QVERIFY2(w.lastError().contains(QString::fromUtf8(what)), qPrintable(w.lastError()));
        QVERIFY(!w.document(0));
    }

    // --- the screenshot's file ---------------------------------------------------

    // `--screenshot t.vtrace` wrote the PNG over the trace; under any spelling
    // of an input it is refused before anything loads.
    void screenshotNeverWritesOverAnInput() {
        const std::string f = folder("over-input");
        QVERIFY(writeBytes(f + "/a.vtrace", readBytes(path("t.vtrace"))));
        QVERIFY(writeBytes(f + "/b.vtrace", readBytes(path("t.vtrace"))));
        ::mkdir((f + "/sub").c_str(), 0755);
        QVERIFY(::symlink("a.vtrace", (f + "/link.png").c_str()) == 0);
        QVERIFY(::link((f + "/b.vtrace").c_str(), (f + "/hard.png").c_str()) == 0);
        const std::string a = f + "/a.vtrace", b = f + "/b.vtrace";
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{a, "--screenshot", f + "/link.png"},
              {a, b, "--screenshot", f + "/hard.png"},
              {a, "--screenshot", f + "/sub/../a.vtrace"},
              {a, "--screenshot", a}}) {
            const Run r = gui(argv, 15000);
            QVERIFY2(r.exitCode == 2, (QByteArray::fromStdString(argv.back()) + ": " + r.err).constData());
            QVERIFY2(oneErrorNaming(r, "is the input"), r.err.constData());
            QVERIFY(readFile(a) == traceBytes_ && readFile(b) == traceBytes_);
        }
        QCOMPARE(entries(f), (QStringList{"a.vtrace", "b.vtrace", "hard.png", "link.png", "sub"}));
        // File > Export takes the same care.
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(load(w, QString::fromStdString(a)));
        QVERIFY(!w.exportTrace(false, QString::fromStdString(f + "/link.png")));
        QVERIFY2(w.lastError().contains("is the input"), qPrintable(w.lastError()));
        QVERIFY(readFile(a) == traceBytes_);
    }

    // The PNG was written over the old file in place: a write that failed
    // halfway (disk full) left part of a PNG where the user's file was.
    void aFailedScreenshotLeavesTheExistingFileAlone() {
        const std::string f = folder("failed-write");
        const QByteArray old(20000, 'k');
        QVERIFY(writeBytes(f + "/shot.png", std::vector<uint8_t>(old.begin(), old.end())));
        const Run r = gui({path("t.vtrace"), "--screenshot", f + "/shot.png"}, 60000, 4096);
        QVERIFY(readFile(f + "/shot.png") == old);
        QVERIFY2(r.exitCode == 1, r.err.constData());
        QVERIFY2(oneErrorNaming(r, QByteArray::fromStdString(f + "/shot.png") + ": cannot be written"), r.err.constData());
        QCOMPARE(entries(f), QStringList{"shot.png"});
        // A folder that does not exist: said before loading.
        const Run missing = gui({path("t.vtrace"), "--screenshot", path("missing/shot.png")}, 15000);
        QVERIFY2(missing.exitCode == 1, missing.err.constData());
        QVERIFY2(oneErrorNaming(missing, "check the folder exists"), missing.err.constData());
        // A replaced screenshot keeps the permissions its file had.
        QVERIFY(::chmod((f + "/shot.png").c_str(), 0640) == 0);
        const Run ok = gui({path("t.vtrace"), "--screenshot", f + "/shot.png", "--size", "640x400"});
        QVERIFY2(ok.exitCode == 0, ok.err.constData());
        QVERIFY(!QImage::fromData(readFile(f + "/shot.png")).isNull());
        struct stat st {};
        QVERIFY(::stat((f + "/shot.png").c_str(), &st) == 0);
        QCOMPARE(st.st_mode & 07777, mode_t(0640));
    }

    // 20000x20000 took 7.4 GB before anything was drawn.
    void windowSizesNoScreenHoldsAreRefused() {
        for (const char* size : {"20000x20000", "8193x900", "1600x8193", "199x900", "0x0", "-1600x900", "1600x", "big"}) {
            const Run r = gui({path("t.vtrace"), "--screenshot", path("huge.png"), "--size", size}, 15000);
            QVERIFY2(r.exitCode == 2, (QByteArray(size) + ": " + r.err).constData());
            QVERIFY2(oneErrorNaming(r, QByteArray("--size wants WxH in pixels, each side from 200 to 8192 (got '") + size + "')"),
                     r.err.constData());
            QVERIFY(!exists(path("huge.png")));
        }
    }

    // --- a kernel name of megabytes ----------------------------------------------

    // Qt shaped the whole 8 MiB name on every repaint of the Kernels table
    // (34 s a frame, 2.1 GB for 48 MiB). The trace keeps the name; what the
    // app shows is cut on a character boundary.
    void aHugeKernelNameIsShownCut() {
        QVERIFY(writeLongNameTrace(path("long.vtrace")));
        MainWindow w;
        w.setInteractive(false);
        w.resize(1280, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(load(w, QString::fromStdString(path("long.vtrace"))));
        const auto doc = w.document(0);
        size_t longest = 0;
        for (const auto& [id, text] : doc->model.strings) longest = std::max(longest, text.size());
        QCOMPARE(longest, kLongNameBytes - 1);  // the model holds it whole
        const KernelTableModel* kernels = w.kernelModel();
        QCOMPARE(kernels->rowCount(), 2);
        const QString expectedStart = QString::fromUtf8(longKernelName().substr(0, 201).c_str());
        int cut = 0;
        for (int row = 0; row < kernels->rowCount(); ++row) {
            const QModelIndex name = kernels->index(row, KernelTableModel::Name);
            const QString cell = kernels->data(name, Qt::DisplayRole).toString();
            const QString tip = kernels->data(name, Qt::ToolTipRole).toString();
            if (cell == "gemm") continue;
            ++cut;
            QVERIFY2(cell.toUtf8().size() <= 300 + 3, qPrintable(QString::number(cell.size())));  // 3: the "…"
            QVERIFY(cell.startsWith(expectedStart) && cell.endsWith(QChar(0x2026)));
            QVERIFY2(tip.toUtf8().size() <= 4096 + 3 && tip.toUtf8().size() > 4000, qPrintable(QString::number(tip.size())));
            QVERIFY(tip.startsWith(cell.chopped(1)) && tip.endsWith(QChar(0x2026)));
            QVERIFY(!cell.contains(QChar(0xFFFD)) && !tip.contains(QChar(0xFFFD)));  // cut between characters
        }
        QCOMPARE(cut, 1);
        // The lanes draw the kernel with its (cut) label, and the Kernels
        // table paints (the 34 s frame was this table's).
        w.canvas()->renderFrameNow();
        QVERIFY(w.canvas()->lastLaneStats().kernelItems >= 1);
        auto* kernelsDock = w.findChild<QDockWidget*>("kernelsDock");
        QVERIFY(kernelsDock);
        kernelsDock->raise();
        QVERIFY(!w.grab().toImage().isNull());
        // The batch mode opens and paints it too, well within a test's time.
        const Run r = gui({path("long.vtrace"), "--screenshot", path("long.png"), "--size", "1280x800"}, 60000);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(QImage::fromData(readFile(path("long.png"))).size(), QSize(1280, 800));
    }

    // --- rows of overlapping items ------------------------------------------------------

    // 20,000 start/end ranges (and kernels of one stream) that all cover the
    // whole view: each was painted whole, over the others, so a frame cost
    // 20,000 row widths (a crafted 237 KB trace of 100k such ranges took 70 s
    // to its first screenshot). A row is now painted once across.
    void overlappingItemsPaintEachRowOnce() {
        using namespace vramscope::format;
        {
            TraceWriter w;
            QVERIFY(w.open(path("overlap.vtrace")));
            w.write(ProcessInfo{1000, 42, w.intern("host"), w.intern("python train.py"), -1, -1, 0});
            const uint32_t name = w.intern("range"), gemm = w.intern("gemm");
            for (uint32_t i = 0; i < 20000; ++i) {
                Range r;
                r.startNs = 2000 + i;
                r.endNs = 50'000'000 - i;
                r.kind = RangeKind::StartEnd;
                r.nameId = name;
                w.write(r);
                w.write(Kernel{2000 + i, 50'000'000 - i, 0, 7, gemm});
            }
            w.write(TensorMemory{3000, TensorAction::Alloc, 0, 0x7f0000000000ull, 1 << 20, 7, 0});
            QVERIFY(w.close());
        }
        MainWindow w;
        w.setInteractive(false);
        w.resize(1280, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(load(w, QString::fromStdString(path("overlap.vtrace"))));
        w.canvas()->renderFrameNow();
        const auto& stats = w.canvas()->lastLaneStats();
        QVERIFY2(stats.rangeItems >= 1 && stats.rangeItems <= 16, qPrintable(QString::number(stats.rangeItems)));
        QVERIFY2(stats.kernelItems >= 1 && stats.kernelItems <= 16, qPrintable(QString::number(stats.kernelItems)));
    }

    // --- a footer that lies ------------------------------------------------------------

    // A 401-byte trace whose footer claims 2^64 − 1 records of one type: the
    // loader reserved from it, the app aborted with QUnhandledException (and
    // left its Xvfb behind). It opens what the chunks hold and says the
    // footer was ignored.
    void aFooterClaimingHugeCountsOpensAndIsNamed() {
        const std::vector<uint8_t> good = readBytes(path("t.vtrace"));
        vramscope::format::TraceReader reader;
        std::string error;
        QVERIFY(reader.openMemory(good, &error));
        for (uint64_t claim : {UINT64_MAX, uint64_t(1000000000)}) {
            vramscope::testing::FooterFields f;
            f.chunks = reader.chunks();
            f.counts = {{uint64_t(vramscope::format::RecordType::TensorMemory), claim}};
            f.totalEvents = claim;
            const std::string lying = path("lying-footer.vtrace");
            QVERIFY(writeBytes(lying, vramscope::testing::withFooter(good, f)));
            const Run r = gui({lying, "--screenshot", path("lying.png"), "--size", "640x400"}, 60000);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            QVERIFY(!QImage::fromData(readFile(path("lying.png"))).isNull());
            MainWindow w;
            w.setInteractive(false);
            QVERIFY(load(w, QString::fromStdString(lying)));
            QVERIFY(w.document(0));
            QVERIFY2(w.document(0)->model.blocks.size() > 0, "the chunks' blocks are shown");
            bool named = false;
            for (const auto& p : w.document(0)->model.problems) named |= p.message.find("footer") != std::string::npos;
            QVERIFY(named);
        }
    }

    // --- file names that are not UTF-8 ----------------------------------------------

    // "caf\xe9.vtrace" (Latin-1) reached the app as "caf\uFFFD.vtrace": it
    // could not be opened, and a screenshot named so went to another name.
    void screenshotWithANameThatIsNotUtf8() {
        const std::string f = folder("latin1");
        QVERIFY(writeBytes(f + "/caf\xe9.vtrace", readBytes(path("t.vtrace"))));
        const Run r = gui({f + "/caf\xe9.vtrace", "--screenshot", f + "/caf\xe9.png", "--size", "640x400"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.out.contains(QByteArray::fromStdString("caf\xe9.png")), r.out.constData());
        QVERIFY(!QImage::fromData(readFile(f + "/caf\xe9.png")).isNull());
        QCOMPARE(entries(f), (QStringList{QString::fromLatin1("caf\xe9.png"), QString::fromLatin1("caf\xe9.vtrace")}));
    }
};

QTEST_MAIN(TestAppHostile)
#include "tst_app_hostile.moc"
