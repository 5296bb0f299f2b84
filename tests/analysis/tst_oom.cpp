// Why a job ran out of memory: a trace shaped like a PyTorch job that
// allocates 4 GiB blocks until OutOfMemoryError (the driver's failed
// cudaMalloc, then the framework's error a moment later) gives one OOM that
// says what was asked for, what the device had free, what was live by
// category, the largest blocks, and how much would have to go.
#include "analysis/summary.h"
#include "format/writer.h"
#include "model/model_builder.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace vramscope;
using namespace vramscope::format;
using analysis::Category;

namespace {

constexpr uint64_t GiB = 1ull << 30;
constexpr uint64_t kOomNs = 10'000'000'000ull;

std::string writeOomTrace(const QString& dir) {
    const std::string path = (dir + "/oom.vtrace").toStdString();
    TraceWriter w;
    std::string error;
    if (!w.open(path, &error)) qFatal("%s", error.c_str());
    DeviceInfo d;
    d.timestampNs = 1;
    d.nameId = w.intern("NVIDIA H100 80GB HBM3");
    d.totalMemoryBytes = 80 * GiB;
    w.write(d);
    CallsiteDef c;
    c.id = 7;
    c.fileId = w.intern("/home/me/train.py");
    c.functionId = w.intern("main");
    c.line = 88;
    w.write(c);
    uint64_t t = 1'000'000;
    auto tensor = [&](TensorAction a, uint64_t address, uint64_t bytes, uint32_t callsite = 0) {
        TensorMemory m;
        m.timestampNs = t;
        m.action = a;
        m.address = address;
        m.bytes = bytes;
        m.callsiteId = callsite;
        w.write(m);
    };
    auto phase = [&](PhaseKind k, uint64_t step) {
        Phase p;
        p.timestampNs = t;
        p.kind = k;
        p.step = step;
        w.write(p);
    };
    tensor(TensorAction::Alloc, 0x100000000, 10 * GiB);  // the weights, before the first step
    for (uint64_t step = 0; step < 4; ++step) {
        t = 1'000'000'000 + step * 1'000'000'000;
        phase(PhaseKind::StepBegin, step);
        phase(PhaseKind::ForwardBegin, step);
        t += 1000;
        tensor(TensorAction::Alloc, 0x400000000, 2 * GiB);
        t += 100'000'000;
        phase(PhaseKind::BackwardBegin, step);
        t += 100'000'000;
        tensor(TensorAction::FreeCompleted, 0x400000000, 2 * GiB);
        phase(PhaseKind::OptimizerBegin, step);
        t += 10'000'000;
        phase(PhaseKind::StepEnd, step);
    }
    // The last step allocates 4 GiB blocks until the device is full.
    t = 9'000'000'000;
    phase(PhaseKind::StepBegin, 4);
    phase(PhaseKind::ForwardBegin, 4);
    for (uint64_t i = 0; i < 15; ++i) {
        t += 10'000'000;
        tensor(TensorAction::Alloc, 0x1000000000 + i * 4 * GiB, 4 * GiB, 7);
    }
    MemInfo mi;
    mi.timestampNs = t;
    mi.usedBytes = 77 * GiB;
    mi.freeBytes = 3 * GiB;
    w.write(mi);
    AllocFailure driver;
    driver.timestampNs = kOomNs;
    driver.source = FailureSource::Driver;
    driver.requestedBytes = 4 * GiB + 2 * (1ull << 20);  // the allocator's segment, rounded up
    w.write(driver);
    AllocFailure framework;
    framework.timestampNs = kOomNs + 2'000'000;
    framework.source = FailureSource::Framework;
    framework.requestedBytes = 4 * GiB;
    framework.freeBytes = 3 * GiB;
    framework.callsiteId = 7;
    w.write(framework);
    if (!w.close()) qFatal("close failed");
    return path;
}

}  // namespace

class TestOom : public QObject {
    Q_OBJECT
private slots:
    void oneOutOfMemoryExplained() {
        QTemporaryDir dir;
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(writeOomTrace(dir.path()), m, {}, &error));
        const analysis::TraceSummary s = analysis::summarize(m);
        QCOMPARE(s.outOfMemory.size(), size_t(1));  // the driver's and the framework's records are one OOM
        const analysis::OutOfMemory& o = s.outOfMemory[0];
        QVERIFY(o.fromFramework);
        QCOMPARE(o.failures, 2u);
        QCOMPARE(o.timeNs, kOomNs);
        QCOMPARE(o.requestedBytes, 4 * GiB);  // what the program asked for, not the rounded segment
        QCOMPARE(o.deviceFreeBytes, int64_t(3 * GiB));
        QCOMPARE(o.deviceTotalBytes, 80 * GiB);
        QCOMPARE(o.shortfallBytes, 1 * GiB);
        QVERIFY(!o.largerThanDevice);  // freeing 1 GiB would have made it fit
        QVERIFY(!o.moreThanProgramCanFree);
        QCOMPARE(o.allocatedBytes, 70 * GiB);  // 10 GiB of weights and 15 blocks of 4 GiB
        QCOMPARE(o.liveByCategory[size_t(Category::Weights)], 10 * GiB);
        QCOMPARE(o.liveByCategory[size_t(Category::Weights)] + o.liveByCategory[size_t(Category::Activations)] +
                     o.liveByCategory[size_t(Category::Temporaries)] + o.liveByCategory[size_t(Category::Other)] +
                     o.liveByCategory[size_t(Category::Leaked)],
                 70 * GiB);
        QCOMPARE(o.largestBlocks.size(), size_t(10));
        QCOMPARE(m.blocks.bytes[o.largestBlocks[0]], 10 * GiB);
        QCOMPARE(m.blocks.bytes[o.largestBlocks[1]], 4 * GiB);
        QVERIFY(m.callsiteText(o.callsiteId).find("train.py:88") != std::string::npos);
    }

    void aTraceWithoutFailuresHasNone() {
        QTemporaryDir dir;
        TraceWriter w;
        const std::string path = (dir.path() + "/fine.vtrace").toStdString();
        std::string error;
        QVERIFY(w.open(path, &error));
        TensorMemory t;
        t.timestampNs = 5;
        t.bytes = 1024;
        t.address = 0x1000;
        w.write(t);
        QVERIFY(w.close());
        model::TraceModel m;
        QVERIFY(model::loadModel(path, m, {}, &error));
        QVERIFY(analysis::summarize(m).outOfMemory.empty());
    }
};

QTEST_GUILESS_MAIN(TestOom)
#include "tst_oom.moc"
