// The injector's tensor-event entry point (vramscope_tensor_event, what the
// PyTorch bridge calls from inside the caching allocator) in real processes
// without a GPU: VRAMSCOPE_TEST_NO_CUPTI mode runs the writer thread with no
// CUPTI call. Each event must become one TensorMemory record (OOM: one
// AllocFailure from the framework) with its fields intact; a burst beyond the
// queue is dropped and counted, never blocks; when capture is off the entry
// point is inert. And `vramscope record` puts the Python hooks on PYTHONPATH:
// a Python child importing (a fake) torch writes phase markers.
#include "test_support.h"
#include "record_command.h"

#include <format/reader.h>

#include <QDir>
#include <QFile>
#include <QStandardPaths>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <map>

using namespace vramscope::format;

namespace {

const QString kInjector = QStringLiteral(VRAMSCOPE_INJECTOR_PATH);
const QString kHelper = QStringLiteral(VRAMSCOPE_TENSOR_HELPER);

struct Run {
    int exitCode = -1;
    QByteArray out;
};

Run run(const QStringList& args, const QStringList& env) {
    QProcess p;
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const char* k : {"VRAMSCOPE_ROOT_PID", "VRAMSCOPE_OUTPUT", "VRAMSCOPE_WARNED", "CUDA_INJECTION64_PATH"})
        e.remove(k);
    e.insert("LD_PRELOAD", kInjector);
    e.insert("VRAMSCOPE_QUIET", "1");
    for (const QString& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(e);
    p.start(kHelper, args);
    Run r;
    if (!p.waitForStarted(10000) || !p.waitForFinished(60000)) return r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = p.readAllStandardOutput();
    return r;
}

// runRecord options for a quiet capture into dir, with this build's injector.
vramscope::cli::RecordOptions quietRecordOptions(const QTemporaryDir& dir) {
    vramscope::cli::RecordOptions o;
    o.injectorPath = kInjector.toStdString();
    o.summary = false;
    o.quiet = true;
    o.output = (dir.path() + "/t.vtrace").toStdString();
    return o;
}

// What a child started by runRecord(o) sees: `text` expanded by /bin/sh
// (e.g. "$VRAMSCOPE_COUNTERS"), or "exit N" when record did not return 0.
QString childSees(const vramscope::cli::RecordOptions& o, const QTemporaryDir& dir, const char* text) {
    const QString file = dir.path() + "/seen";
    QFile::remove(file);
    const std::string show = std::string("echo \"") + text + "\" > " + file.toStdString();
    if (int code = vramscope::cli::runRecord(o, {"/bin/sh", "-c", show}); code != 0) return QString("exit %1").arg(code);
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()).trimmed() : QString("unreadable");
}

using vramscope::inject::testing::Loaded;
using vramscope::inject::testing::load;

}  // namespace

class TestTensorEvents : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QVERIFY2(QFile::exists(kInjector), qPrintable(kInjector));
        QVERIFY2(QFile::exists(kHelper), qPrintable(kHelper));
    }

    void everyActionBecomesOneTensorMemoryRecord() {
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        Run r = run({"actions", "100"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + path});
        QCOMPARE(r.exitCode, 0);
        Loaded l = load(path);
        QVERIFY(l.ok && l.footer);
        const auto& mem = l.t.get<TensorMemory>();
        QCOMPARE(mem.size(), size_t(800));
        std::map<int, int> byAction;
        for (const auto& m : mem) ++byAction[int(m.action)];
        for (int action = 1; action <= 8; ++action) QCOMPARE(byAction[action], 100);
        // Fields arrive as sent (the first event: alloc of 1,024 bytes).
        const TensorMemory& first = mem.front();
        QCOMPARE(first.action, TensorAction::Alloc);
        QCOMPARE(first.deviceId, 1u);
        QCOMPARE(first.address, 0x7f0000000000ull);
        QCOMPARE(first.bytes, 1024ull);
        QCOMPARE(first.streamId, 0x5555ull);
        QVERIFY(first.timestampNs > 0);
        for (size_t i = 1; i < mem.size(); ++i) QVERIFY(mem[i].timestampNs >= mem[i - 1].timestampNs);
    }

    void oomBecomesAFrameworkAllocFailure() {
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        QCOMPARE(run({"actions", "1"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + path}).exitCode, 0);
        Loaded l = load(path);
        QVERIFY(l.ok);
        const auto& failures = l.t.get<AllocFailure>();
        QCOMPARE(failures.size(), size_t(1));
        QCOMPARE(failures[0].source, FailureSource::Framework);
        QCOMPARE(failures[0].requestedBytes, 1ull << 40);
        QCOMPARE(failures[0].freeBytes, 1ull << 20);
    }

    // The bridge's Python callsites: CallsiteDef chains with their strings,
    // and each allocation (and the OOM) carrying its innermost frame's id.
    void allocationsCarryTheirPythonCallsite() {
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        QCOMPARE(run({"callsites", "50"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + path}).exitCode, 0);
        Loaded l = load(path);
        QVERIFY(l.ok && l.footer);
        std::map<uint32_t, std::string> text;
        for (const auto& s : l.t.get<StringDef>()) text[s.id] = s.text;
        std::map<uint32_t, CallsiteDef> defs;
        for (const auto& c : l.t.get<CallsiteDef>()) defs[c.id] = c;
        QCOMPARE(defs.size(), size_t(3));
        QCOMPARE(text[defs[2].fileId], std::string("model.py"));
        QCOMPARE(text[defs[2].functionId], std::string("GPT.forward"));
        QCOMPARE(defs[2].line, 57u);
        QCOMPARE(defs[2].parentId, 1u);
        QCOMPARE(defs[3].parentId, 2u);
        QCOMPARE(defs[1].parentId, 0u);
        std::map<uint32_t, int> perCallsite;
        for (const auto& m : l.t.get<TensorMemory>()) {
            ++perCallsite[m.callsiteId];
            if (m.callsiteId) QCOMPARE(m.bytes, 512ull * m.callsiteId);
        }
        QCOMPARE(perCallsite[1], 50);
        QCOMPARE(perCallsite[2], 50);
        QCOMPARE(perCallsite[3], 50);
        QCOMPARE(perCallsite[0], 1);
        const auto& failures = l.t.get<AllocFailure>();
        QCOMPARE(failures.size(), size_t(1));
        QCOMPARE(failures[0].callsiteId, 2u);
    }

    void eventsFromManyThreadsAllArrive() {
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        QCOMPARE(run({"threads", "4", "10000"}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + path}).exitCode, 0);
        Loaded l = load(path);
        QVERIFY(l.ok && l.footer);
        std::map<uint32_t, int> perDevice;
        for (const auto& m : l.t.get<TensorMemory>()) ++perDevice[m.deviceId];
        QCOMPARE(perDevice.size(), size_t(4));
        for (auto [device, n] : perDevice) QCOMPARE(n, 10000);
        QVERIFY(l.t.get<Dropped>().empty());
    }

    void aBurstBeyondTheQueueIsDroppedAndCounted() {
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        const long sent = 1000000;  // far more than the 65,536-event queue holds between two drains
        Run r = run({"burst", QString::number(sent)}, {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + path});
        QCOMPARE(r.exitCode, 0);
        long queued = r.out.trimmed().split(' ').value(1).toLong();
        Loaded l = load(path);
        QVERIFY(l.ok && l.footer);
        uint64_t dropped = 0;
        for (const auto& d : l.t.get<Dropped>()) dropped += d.count;
        QCOMPARE(uint64_t(l.t.get<TensorMemory>().size()), uint64_t(queued));
        QCOMPARE(uint64_t(queued) + dropped, uint64_t(sent));
    }

    // VRAMSCOPE_TEST_PAUSE (cost measurements): tensor events are refused
    // in the pauses, and every pause is a named region that holds none of
    // the events that were recorded.
    void testPauseLeavesItsPartsOutOfItsRegions() {
        QTemporaryDir dir;
        QString path = dir.path() + "/t.vtrace";
        Run r = run({"paced", "150", "2"},
                    {"VRAMSCOPE_TEST_NO_CUPTI=1", "VRAMSCOPE_OUTPUT=" + path, "VRAMSCOPE_TEST_PAUSE=40:40:tensors"});
        QCOMPARE(r.exitCode, 0);
        Loaded l = load(path);
        QVERIFY(l.ok && l.footer);
        std::map<uint32_t, std::string> text;
        for (const auto& s : l.t.get<StringDef>()) text[s.id] = s.text;
        std::vector<std::pair<uint64_t, uint64_t>> pauses;
        for (const Phase& p : l.t.get<Phase>()) {
            QCOMPARE(text[p.nameId], std::string("capture paused: tensors"));
            if (p.kind == PhaseKind::RegionBegin) pauses.push_back({p.timestampNs, UINT64_MAX});
            if (p.kind == PhaseKind::RegionEnd && !pauses.empty()) pauses.back().second = p.timestampNs;
        }
        QVERIFY2(pauses.size() >= 2, qPrintable(QString::number(pauses.size())));
        const auto& mem = l.t.get<TensorMemory>();
        QVERIFY2(mem.size() > 20 && mem.size() < 140, qPrintable(QString::number(mem.size())));
        for (const auto& m : mem)
            for (const auto& [begin, end] : pauses) QVERIFY(m.timestampNs < begin || m.timestampNs > end);
        bool noted = false;
        for (const Note& n : l.t.get<Note>()) noted |= text[n.textId].find("VRAMSCOPE_TEST_PAUSE") != std::string::npos;
        QVERIFY(noted);
    }

    void entryPointIsInertWhenCaptureIsOff() {
        QTemporaryDir dir;
        Run r = run({"inert"}, {"VRAMSCOPE_DISABLE=1", "VRAMSCOPE_OUTPUT=" + dir.path() + "/t.vtrace"});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out.trimmed(), QByteArray("active 0 event 0"));
    }

    void recordPassesThePythonStackOptions() {
        QTemporaryDir dir;
        vramscope::cli::RecordOptions o = quietRecordOptions(dir);
        const char* show = "$VRAMSCOPE_PYTHON_STACKS/$VRAMSCOPE_PYTHON_STACK_DEPTH$VRAMSCOPE_LAUNCH_TIMES";
        QCOMPARE(childSees(o, dir, show), QString("/"));  // defaults: the Python side decides
        o.pythonStacks = 0;
        QCOMPARE(childSees(o, dir, show), QString("0/"));
        o.pythonStacks = 1;
        o.pythonStackDepth = 4;
        QCOMPARE(childSees(o, dir, show), QString("1/4"));
        o.launchTimes = true;  // --launch-times
        QCOMPARE(childSees(o, dir, show), QString("1/41"));
    }

    void recordPassesTheCounterOptions() {
        QTemporaryDir dir;
        vramscope::cli::RecordOptions o = quietRecordOptions(dir);
        const char* show = "$VRAMSCOPE_COUNTERS/$VRAMSCOPE_COUNTER_INTERVAL_US/$VRAMSCOPE_COUNTER_DUTY";
        qunsetenv("VRAMSCOPE_COUNTERS");
        QCOMPARE(childSees(o, dir, show), QString("//"));  // the injector's defaults
        o.counters = "pm";  // --counters pm --counter-interval-us 500 --counter-duty 200:800
        o.counterIntervalUs = 500;
        o.counterDuty = "200:800";
        QCOMPARE(childSees(o, dir, show), QString("pm/500/200:800"));
    }

    void recordPutsThePythonHooksFirstOnPythonPath() {
        QTemporaryDir dir;
        vramscope::cli::RecordOptions o = quietRecordOptions(dir);
        const QString file = dir.path() + "/pythonpath";
        qputenv("PYTHONPATH", "/elsewhere");
        QCOMPARE(vramscope::cli::runRecord(o, {"/bin/sh", "-c", ("echo \"$PYTHONPATH\" > " + file).toStdString()}), 0);
        qunsetenv("PYTHONPATH");
        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString python = QDir(QStringLiteral(VRAMSCOPE_SOURCE_DIR "/python")).canonicalPath();
        QCOMPARE(QString::fromUtf8(f.readAll()).trimmed(), python + "/vramscope/_boot:" + python + ":/elsewhere");
    }

    void pythonChildImportingTorchWritesPhases() {
        const QString python = QStandardPaths::findExecutable("python3");
        if (python.isEmpty()) QSKIP("no python3");
        QTemporaryDir dir;
        vramscope::cli::RecordOptions o = quietRecordOptions(dir);
        o.startAtCuInit = false;  // test mode never calls cuInit
        qputenv("VRAMSCOPE_TEST_NO_CUPTI", "1");
        qputenv("PYTHONPATH", VRAMSCOPE_SOURCE_DIR "/tests/injector/python/fake_torch");
        const char* script =
            "import torch\n"
            "m, opt = torch.nn.Module(torch.nn.Module()), torch.optim.Optimizer()\n"
            "for _ in range(3):\n"
            "    m(); torch.Tensor().backward(); opt.step()\n";
        int code = vramscope::cli::runRecord(o, {python.toStdString(), "-c", script});
        qunsetenv("PYTHONPATH");
        qunsetenv("VRAMSCOPE_TEST_NO_CUPTI");
        QCOMPARE(code, 0);
        Loaded l = load(dir.path() + "/t.vtrace");
        QVERIFY(l.ok && l.footer);
        std::map<PhaseKind, int> kinds;
        for (const auto& p : l.t.get<Phase>()) ++kinds[p.kind];
        for (PhaseKind k : {PhaseKind::StepBegin, PhaseKind::ForwardBegin, PhaseKind::BackwardBegin,
                            PhaseKind::OptimizerBegin, PhaseKind::StepEnd})
            QCOMPARE(kinds[k], 3);
    }

    // The real H100 fixtures (tests/data/README.md): counts as recorded, and
    // what PyTorch's own memory history reported for the same workload.
    void realTorchTracesCarryTensorsAndPhases_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("allocs");
        QTest::addColumn<int>("steps");
        QTest::addColumn<int>("forwards");
        QTest::addColumn<int>("recomputes");
        QTest::newRow("plain") << "torch_gpt_plain.vtrace" << 1074 << 6 << 6 << 0;
        QTest::newRow("b8") << "torch_gpt_b8.vtrace" << 1170 << 6 << 6 << 0;
        QTest::newRow("checkpointing") << "torch_gpt_ckpt.vtrace" << 1387 << 6 << 6 << 12;
        QTest::newRow("leak") << "torch_gpt_leak.vtrace" << 1500 << 6 << 12 << 0;
        QTest::newRow("grad-accum 3") << "torch_gpt_accum.vtrace" << 2028 << 4 << 12 << 0;
        QTest::newRow("compile") << "torch_gpt_compile.vtrace" << 1137 << 6 << 6 << 0;
    }
    void realTorchTracesCarryTensorsAndPhases() {
        QFETCH(QString, file);
        QFETCH(int, allocs);
        QFETCH(int, steps);
        QFETCH(int, forwards);
        QFETCH(int, recomputes);
        Loaded l = load(QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/") + file);
        QVERIFY(l.ok && l.footer);
        int n = 0;
        for (const auto& m : l.t.get<TensorMemory>()) n += m.action == TensorAction::Alloc;
        QCOMPARE(n, allocs);
        std::map<PhaseKind, int> kinds;
        for (const auto& p : l.t.get<Phase>()) ++kinds[p.kind];
        QCOMPARE(kinds[PhaseKind::StepBegin], steps);
        QCOMPARE(kinds[PhaseKind::StepEnd], steps);
        QCOMPARE(kinds[PhaseKind::OptimizerBegin], steps);
        QCOMPARE(kinds[PhaseKind::ForwardBegin], forwards);
        QCOMPARE(kinds[PhaseKind::RecomputeBegin], recomputes);
        QCOMPARE(kinds[PhaseKind::RecomputeEnd], recomputes);
    }
};

QTEST_GUILESS_MAIN(TestTensorEvents)
#include "tst_tensor_events.moc"
