// Activation checkpointing: lower peak, recompute detected and costed.
#include "step_trace.h"
#include "synth_fixture.h"

#include "analysis/compare.h"
#include "analysis/summary.h"

#include <QtTest>

using namespace vramscope;
using analysis::RecomputeSource;

class TestCheckpointing : public QObject {
    Q_OBJECT
private slots:
    void checkpointedRunHasLowerPeakAndDetectedRecompute();
    void recomputeIsFoundFromKernelsWithoutMarkers();
    void plainRunHasNoRecompute();
    void diffReportsPeakSavedAgainstTimeSpent();
    void tradeOffIsSeenFromTheRunThatCheckpoints();
};

static synth::SynthOptions checkpointed(bool markers) {
    auto o = testing::synthOptions(40);
    o.checkpointing = true;
    o.phaseMarkers = markers;
    return o;
}

void TestCheckpointing::checkpointedRunHasLowerPeakAndDetectedRecompute() {
    const auto plain = analysis::summarize(testing::synthModel("clean40", testing::synthOptions(40)));
    const auto ckpt = analysis::summarize(testing::synthModel("ckpt40", checkpointed(true)));
    QVERIFY(ckpt.peakAllocated.bytes < plain.peakAllocated.bytes * 7 / 10);
    QVERIFY(ckpt.checkpointing.detected);
    QCOMPARE(ckpt.checkpointing.source, RecomputeSource::Markers);
    QCOMPARE(ckpt.checkpointing.iterationsWithRecompute, 40u);
    // 12 layers × 10 forward kernels re-run per step.
    QCOMPARE(ckpt.checkpointing.recomputeKernels, uint64_t(40 * 12 * 10));
    QVERIFY(ckpt.checkpointing.fractionOfIterationTime > 0.1 && ckpt.checkpointing.fractionOfIterationTime < 0.4);
}

void TestCheckpointing::recomputeIsFoundFromKernelsWithoutMarkers() {
    const auto marked = analysis::summarize(testing::synthModel("ckpt40", checkpointed(true)));
    const auto s = analysis::summarize(testing::synthModel("ckpt40_unmarked", checkpointed(false)));
    QVERIFY(s.checkpointing.detected);
    QCOMPARE(s.checkpointing.source, RecomputeSource::RepeatedForwardKernels);
    QVERIFY(s.checkpointing.iterationsWithRecompute >= 39);
    const double ratio = double(s.checkpointing.recomputeNsPerIteration) / double(marked.checkpointing.recomputeNsPerIteration);
    QVERIFY2(ratio > 0.85 && ratio < 1.15, qPrintable(QString::number(ratio)));
}

void TestCheckpointing::plainRunHasNoRecompute() {
    QVERIFY(!analysis::summarize(testing::synthModel("clean40", testing::synthOptions(40))).checkpointing.detected);
    auto o = testing::synthOptions(40);
    o.phaseMarkers = false;
    QVERIFY(!analysis::summarize(testing::synthModel("unmarked40", o)).checkpointing.detected);
}

void TestCheckpointing::diffReportsPeakSavedAgainstTimeSpent() {
    const auto plain = analysis::summarize(testing::synthModel("clean40", testing::synthOptions(40)));
    const auto ckpt = analysis::summarize(testing::synthModel("ckpt40", checkpointed(true)));
    const auto c = analysis::compareRuns(plain, ckpt);
    QCOMPARE(c.alignedIterations, size_t(40));
    QVERIFY(c.peakSavedBytes > 0);
    QVERIFY(c.iterationTimeAddedNs > 0);
    QVERIFY(!c.regressed(0));
    QVERIFY(c.phaseMeanNs[size_t(analysis::PhaseName::Backward)].delta() > 0);
}

// The H200 GPT pair of the issue (step_trace.h), in either order: the same
// trade-off, said of the run that checkpoints, from its steady steps.
void TestCheckpointing::tradeOffIsSeenFromTheRunThatCheckpoints() {
    auto summaryOf = [](const char* name, const testing::RunShape& shape) {
        const std::string path = testing::fixtureDir().filePath(name).toStdString();
        if (!testing::writeRun(path, shape)) qFatal("cannot write %s", path.c_str());
        model::TraceModel m;
        std::string error;
        if (!model::loadModel(path, m, {}, &error)) qFatal("load failed: %s", error.c_str());
        return analysis::summarize(m);
    };
    const auto plain = summaryOf("h200_plain.vtrace", testing::h200GptPlain());
    const auto ckpt = summaryOf("h200_ckpt.vtrace", testing::h200GptCheckpointed());
    QCOMPARE(ckpt.steps.leftOut, std::vector<size_t>{0});
    QCOMPARE(ckpt.checkpointing.recomputeNsPerIteration, uint64_t(3'600'000));
    QCOMPARE(ckpt.checkpointing.recomputeRegionNsPerIteration, uint64_t(11'000'000));
    QVERIFY(std::abs(ckpt.checkpointing.fractionOfBackward - 3.6 / 22.0) < 1e-6);
    constexpr int64_t ms = 1'000'000;
    for (const bool checkpointedIsA : {false, true}) {
        const auto c = checkpointedIsA ? analysis::compareRuns(ckpt, plain) : analysis::compareRuns(plain, ckpt);
        QCOMPARE(c.checkpointed, checkpointedIsA ? analysis::CheckpointedRun::A : analysis::CheckpointedRun::B);
        const auto t = c.tradeOff();
        QCOMPARE(t.checkpointedIsA, checkpointedIsA);
        QCOMPARE(t.peakSavedBytes, int64_t(2ll << 30) - int64_t(400ll << 20));
        QCOMPARE(t.stepTimeAddedNs, 219 * ms / 10);
        QCOMPARE(t.recomputeAddedNs, 36 * ms / 10);
        QCOMPARE(t.gpuIdleAddedNs, 183 * ms / 10);
        QCOMPARE(t.otherKernelAddedNs, int64_t(0));
        QVERIFY(std::abs(t.backwardBusyOther - 10.5 / 10.9) < 1e-6);
        QVERIFY(std::abs(t.backwardBusyOwn - 14.1 / 22.0) < 1e-6);
    }
}

QTEST_GUILESS_MAIN(TestCheckpointing)
#include "tst_checkpointing.moc"
