// Memory kinds in a driver-level trace: pinned host memory is never device
// memory, managed memory is device memory and is marked as such.
#include "synth_fixture.h"

#include "analysis/summary.h"
#include "format/writer.h"

#include <QtTest>

using namespace vramscope;

class TestMemoryKinds : public QObject {
    Q_OBJECT
private slots:
    void pinnedHostIsItsOwnKindAndInNoCategory();
};

// A CUDA program with cudaMallocHost (16 MiB) and cudaMallocManaged (8 MiB)
// beside its device memory (64 MiB kept, 32 MiB per step), with step
// markers: what a real H200 run listed as two "weights" blocks while the
// weights total counted only the managed one.
static std::string hostAndManagedTrace(const char* name) {
    const std::string path = testing::fixtureDir().filePath(name).toStdString();
    format::TraceWriter w;
    std::string error;
    if (!w.open(path, &error)) qFatal("%s", error.c_str());
    uint64_t t = 1'000'000;
    auto driver = [&](format::DriverMemoryOp op, format::MemoryKind kind, uint64_t address, uint64_t bytes) {
        format::DriverMemory d;
        d.timestampNs = t += 1000;
        d.op = op;
        d.kind = kind;
        d.address = address;
        d.bytes = bytes;
        w.write(d);
    };
    auto phase = [&](format::PhaseKind kind, uint64_t step) { w.write(format::Phase{t += 1000, kind, step, 0}); };
    using format::DriverMemoryOp;
    using format::MemoryKind;
    driver(DriverMemoryOp::Alloc, MemoryKind::Device, 0x700000000, 64 << 20);
    driver(DriverMemoryOp::Alloc, MemoryKind::PinnedHost, 0x7f0000000000, 16 << 20);
    driver(DriverMemoryOp::Alloc, MemoryKind::Managed, 0x710000000, 8 << 20);
    for (uint64_t step = 0; step < 10; ++step) {
        phase(format::PhaseKind::StepBegin, step);
        phase(format::PhaseKind::ForwardBegin, step);
        driver(DriverMemoryOp::Alloc, MemoryKind::Device, 0x720000000, 32 << 20);
        phase(format::PhaseKind::BackwardBegin, step);
        driver(DriverMemoryOp::Free, MemoryKind::Device, 0x720000000, 32 << 20);
        phase(format::PhaseKind::StepEnd, step);
        t += 100000;
    }
    if (!w.close()) qFatal("close failed");
    return path;
}

void TestMemoryKinds::pinnedHostIsItsOwnKindAndInNoCategory() {
    model::TraceModel m;
    std::string error;
    QVERIFY(model::loadModel(hostAndManagedTrace("host_managed.vtrace"), m, {}, &error));
    const auto s = analysis::summarize(m);
    using analysis::Category;
    // The peak is device memory: weights, managed, one step's activations.
    QCOMPARE(s.peakAllocated.bytes, uint64_t(104) << 20);
    const analysis::BlockInfo* pinned = nullptr;
    const analysis::BlockInfo* managed = nullptr;
    uint64_t listedWeights = 0;
    for (const auto& b : s.topBlocksAtPeak) {
        if (b.memoryKind == uint8_t(format::MemoryKind::PinnedHost)) pinned = &b;
        if (b.memoryKind == uint8_t(format::MemoryKind::Managed)) managed = &b;
        if (b.category == Category::Weights) listedWeights += b.bytes;
    }
    QVERIFY(pinned && managed);
    QVERIFY(analysis::isHostMemory(pinned->memoryKind));
    QCOMPARE(QString(analysis::memoryKindText(pinned->memoryKind)), QString("pinned_host"));
    QCOMPARE(QString(analysis::memoryKindText(managed->memoryKind)), QString("managed"));
    QVERIFY(!analysis::isHostMemory(managed->memoryKind));
    // Pinned host memory is in no device category; managed memory is weights.
    QVERIFY(pinned->category != Category::Weights);
    QCOMPARE(managed->category, Category::Weights);
    // The list and the category total agree (they did not: 88 MiB listed, 72 counted).
    QCOMPARE(s.categories.bytesAtPeak[size_t(Category::Weights)], uint64_t(72) << 20);
    QCOMPARE(listedWeights, s.categories.bytesAtPeak[size_t(Category::Weights)]);
}

QTEST_GUILESS_MAIN(TestMemoryKinds)
#include "tst_memory_kinds.moc"
