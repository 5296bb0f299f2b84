// Activation checkpointing: lower peak, recompute detected and costed.
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

QTEST_GUILESS_MAIN(TestCheckpointing)
#include "tst_checkpointing.moc"
