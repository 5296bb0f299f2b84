// Iterations and phases: from markers, and inferred without them.
#include "synth_fixture.h"

#include "analysis/categories.h"
#include "analysis/iterations.h"
#include "format/writer.h"

#include <QtTest>

using namespace vramscope;
using analysis::IterationSource;

class TestIterations : public QObject {
    Q_OBJECT
private slots:
    void fortyMarkedIterationsGiveForty();
    void fortyUnmarkedIterationsGiveForty();
    void unmarkedCheckpointedIterationsGiveForty();
    void oddCountsAreExactWithoutMarkers_data();
    void oddCountsAreExactWithoutMarkers();
    void inferredPhasesAgreeWithMarkers();
    void allocationOnlyTraceCountsMemoryRises();
    void categoriesFollowLifetimes();
};

static synth::SynthOptions unmarked(uint32_t iterations) {
    auto o = testing::synthOptions(iterations);
    o.phaseMarkers = false;
    return o;
}

void TestIterations::fortyMarkedIterationsGiveForty() {
    const auto set = analysis::detectIterations(testing::synthModel("clean40", testing::synthOptions(40)));
    QCOMPARE(set.source, IterationSource::Markers);
    QCOMPARE(set.size(), size_t(40));
    for (const auto& it : set.iterations)
        for (const auto& phase : it.phases) QVERIFY(phase.valid());
    QCOMPARE(set.iterations[7].step, uint64_t(7));
}

void TestIterations::fortyUnmarkedIterationsGiveForty() {
    const auto set = analysis::detectIterations(testing::synthModel("unmarked40", unmarked(40)));
    QCOMPARE(set.source, IterationSource::KernelPattern);
    QCOMPARE(set.size(), size_t(40));
    QVERIFY(set.phasesInferred);
    for (const auto& it : set.iterations)
        for (const auto& phase : it.phases) QVERIFY(phase.valid());
}

void TestIterations::unmarkedCheckpointedIterationsGiveForty() {
    auto o = unmarked(40);
    o.checkpointing = true;
    const auto set = analysis::detectIterations(testing::synthModel("unmarked_ckpt40", o));
    QCOMPARE(set.size(), size_t(40));
}

void TestIterations::oddCountsAreExactWithoutMarkers_data() {
    QTest::addColumn<uint32_t>("iterations");
    QTest::newRow("3") << 3u;
    QTest::newRow("7") << 7u;
    QTest::newRow("61") << 61u;
}

void TestIterations::oddCountsAreExactWithoutMarkers() {
    QFETCH(uint32_t, iterations);
    const auto& m = testing::synthModel("unmarked" + std::to_string(iterations), unmarked(iterations));
    QCOMPARE(analysis::detectIterations(m).size(), size_t(iterations));
}

void TestIterations::inferredPhasesAgreeWithMarkers() {
    // Same seed: the same kernels and allocations, with and without markers.
    const auto marked = analysis::detectIterations(testing::synthModel("clean40", testing::synthOptions(40)));
    const auto inferred = analysis::detectIterations(testing::synthModel("unmarked40", unmarked(40)));
    QCOMPARE(inferred.size(), marked.size());
    for (size_t i = 1; i < marked.size(); ++i) {
        // Backward starts at the loss in both; the optimizer after the last backward kernel.
        const auto& a = marked.iterations[i].phases;
        const auto& b = inferred.iterations[i].phases;
        QVERIFY(qAbs(qint64(a[1].startNs) - qint64(b[1].startNs)) < 5'000);
        QVERIFY(qAbs(qint64(a[2].startNs) - qint64(b[2].startNs)) < 200'000);
    }
}

void TestIterations::allocationOnlyTraceCountsMemoryRises() {
    // No kernels, no markers: weights, then 25 rises and falls of activations.
    const std::string path = testing::fixtureDir().filePath("rises.vtrace").toStdString();
    {
        format::TraceWriter w;
        std::string error;
        QVERIFY(w.open(path, &error));
        uint64_t t = 1000;
        auto tensor = [&](format::TensorAction action, uint64_t address, uint64_t bytes) {
            format::TensorMemory r;
            r.timestampNs = t += 1000;
            r.action = action;
            r.address = address;
            r.bytes = bytes;
            w.write(r);
        };
        tensor(format::TensorAction::Alloc, 1 << 20, 100 << 20);
        for (int step = 0; step < 25; ++step) {
            for (uint64_t a = 0; a < 8; ++a) tensor(format::TensorAction::Alloc, (1ull << 32) + (a << 24), 10 << 20);
            for (uint64_t a = 8; a-- > 0;) tensor(format::TensorAction::FreeCompleted, (1ull << 32) + (a << 24), 10 << 20);
            t += 50000;
        }
        QVERIFY(w.close());
    }
    model::TraceModel m;
    std::string error;
    QVERIFY(model::loadModel(path, m, {}, &error));
    const auto set = analysis::detectIterations(m);
    QCOMPARE(set.source, IterationSource::MemoryPattern);
    QCOMPARE(set.size(), size_t(25));
}

void TestIterations::categoriesFollowLifetimes() {
    const auto& m = testing::synthModel("clean40", testing::synthOptions(40));
    const auto set = analysis::detectIterations(m);
    const auto c = analysis::categorize(m, set);
    using analysis::Category;
    auto peak = [&](Category k) { return c.peakBytes[size_t(k)]; };
    // GPT-2 small: 124M bf16 parameters; Adam keeps two fp32 moments each (4x the bf16 bytes).
    QVERIFY(peak(Category::Weights) > 230u << 20 && peak(Category::Weights) < 260u << 20);
    QCOMPARE(peak(Category::OptimizerState), 4 * peak(Category::Weights));
    QCOMPARE(peak(Category::Gradients), peak(Category::Weights));
    QVERIFY(peak(Category::Activations) > 2 * peak(Category::Weights));
    QVERIFY(peak(Category::Temporaries) > 0);
    QCOMPARE(peak(Category::Leaked), uint64_t(0));
    uint64_t sum = 0;
    for (auto b : c.bytesAtPeak) sum += b;
    QCOMPARE(sum, m.allocated.peak().bytes);
    // The category curves add up to the allocated curve.
    const auto curves = analysis::buildCategoryCurves(m, c);
    const uint64_t t = m.firstNs + (m.lastNs - m.firstNs) / 2;
    uint64_t total = 0;
    for (auto b : curves.at(t)) total += b;
    QCOMPARE(total, m.allocated.valueAt(t));
}

QTEST_GUILESS_MAIN(TestIterations)
#include "tst_iterations.moc"
