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
    void plainCudaLoopPhasesAreNotCalledTraining();
    void unmarkedTrainingKeepsItsPhaseNames();
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

// A plain CUDA program (no framework, no NVTX): each pass cudaMallocs two
// scratch buffers, runs a stencil and a reduction, frees them, and the host
// prints between passes. Its memory rises and falls like a training step's.
static std::string plainCudaLoop(const char* name, int passes) {
    const std::string path = testing::fixtureDir().filePath(name).toStdString();
    format::TraceWriter w;
    std::string error;
    if (!w.open(path, &error)) qFatal("%s", error.c_str());
    const uint32_t names[] = {w.intern("init_grid(float*, int)"), w.intern("stencil_5pt(float const*, float*, int)"),
                              w.intern("reduce_sum(float const*, float*, int)"), w.intern("scale_field(float*, float, int)")};
    uint64_t t = 1'000'000;
    auto driver = [&](format::DriverMemoryOp op, uint64_t address, uint64_t bytes) {
        format::DriverMemory d;
        d.timestampNs = t += 2000;
        d.op = op;
        d.address = address;
        d.bytes = bytes;
        w.write(d);
    };
    auto kernel = [&](uint32_t nameId, uint64_t ns) {
        format::Kernel k;
        k.startNs = t += 1000;
        k.endNs = t += ns;
        k.nameId = nameId;
        w.write(k);
    };
    driver(format::DriverMemoryOp::Alloc, 0x10000000, 512 << 20);  // the field, kept
    for (int pass = 0; pass < passes; ++pass) {
        driver(format::DriverMemoryOp::Alloc, 0x50000000, 256 << 20);
        kernel(names[0], 20000);
        driver(format::DriverMemoryOp::Alloc, 0x70000000, 128 << 20);
        for (int i = 0; i < 4; ++i) kernel(names[1], 50000);
        driver(format::DriverMemoryOp::Free, 0x50000000, 256 << 20);
        kernel(names[2], 30000);
        driver(format::DriverMemoryOp::Free, 0x70000000, 128 << 20);
        kernel(names[3], 10000);
        kernel(names[3], 10000);
        t += 2'000'000;  // the host prints and waits
    }
    if (!w.close()) qFatal("close failed");
    return path;
}

void TestIterations::plainCudaLoopPhasesAreNotCalledTraining() {
    model::TraceModel m;
    std::string error;
    QVERIFY(model::loadModel(plainCudaLoop("plain_cuda.vtrace", 20), m, {}, &error));
    const auto set = analysis::detectIterations(m);
    QCOMPARE(set.source, IterationSource::KernelPattern);
    QCOMPARE(set.size(), size_t(20));
    QVERIFY(set.phasesInferred);
    QVERIFY(set.iterations[5].phases[0].valid() && set.iterations[5].phases[1].valid());
    // Shown as forward / backward / optimizer before: nothing here says training.
    QVERIFY(!set.trainingPhases);
    QCOMPARE(QString(analysis::phaseLabel(set, analysis::PhaseName::Forward)), QString("phase 1"));
    QCOMPARE(QString(analysis::phaseLabel(set, analysis::PhaseName::Backward)), QString("phase 2"));
    QCOMPARE(QString(analysis::phaseLabel(set, analysis::PhaseName::Optimizer)), QString("phase 3"));
    QVERIFY(!set.phaseEvidence.empty());
}

void TestIterations::unmarkedTrainingKeepsItsPhaseNames() {
    // The same GPT step as clean40 without markers: its backward kernels
    // (flash_bwd, layer_norm_grad_input) are in the inferred backward.
    const auto set = analysis::detectIterations(testing::synthModel("unmarked40", unmarked(40)));
    QVERIFY(set.phasesInferred);
    QVERIFY(set.trainingPhases);
    QCOMPARE(QString(analysis::phaseLabel(set, analysis::PhaseName::Backward)), QString("backward"));
    const auto marked = analysis::detectIterations(testing::synthModel("clean40", testing::synthOptions(40)));
    QVERIFY(marked.trainingPhases);
    QVERIFY(!marked.phasesInferred);
}

QTEST_GUILESS_MAIN(TestIterations)
#include "tst_iterations.moc"
