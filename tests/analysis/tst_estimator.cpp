// The estimator: batch-size predictions against measured runs.
#include "synth_fixture.h"

#include "analysis/estimator.h"
#include "analysis/summary.h"

#include <QtTest>

using namespace vramscope;

class TestEstimator : public QObject {
    Q_OBJECT
private slots:
    void batch8PredictsBatch16PeakWithinTenPercent();
    void batch4PredictsBatch12PeakWithinTenPercent();
    void checkpointedBatch8PredictsBatch16WithinTenPercent();
    void largestBatchThatFitsKeepsTheHeadroom();
    void batchAndSequenceAreReadFromTheCommandLine();
    void optionsOverrideTheCommandLine();
};

static synth::SynthOptions batch(uint32_t b, bool checkpointing = false) {
    auto o = testing::synthOptions(10);
    o.batch = b;
    o.checkpointing = checkpointing;
    return o;
}

static double predictionError(const std::string& from, const synth::SynthOptions& a, const std::string& to,
                              const synth::SynthOptions& b) {
    analysis::SummaryOptions options;
    options.estimator.targetBatch = b.batch;
    const auto measured = analysis::summarize(testing::synthModel(from, a), options);
    const auto truth = analysis::summarize(testing::synthModel(to, b));
    if (measured.estimate.batchSource != "command_line" || measured.estimate.measuredBatch != a.batch) return 1e9;
    return std::abs(double(measured.estimate.predictedPeakBytes) - double(truth.peakAllocated.bytes)) /
           double(truth.peakAllocated.bytes);
}

void TestEstimator::batch8PredictsBatch16PeakWithinTenPercent() {
    const double error = predictionError("b8", batch(8), "b16", batch(16));
    qInfo("batch 8 -> 16: %.2f%% off", error * 100);
    QVERIFY(error < 0.10);
}

void TestEstimator::batch4PredictsBatch12PeakWithinTenPercent() {
    QVERIFY(predictionError("b4", batch(4), "b12", batch(12)) < 0.10);
}

void TestEstimator::checkpointedBatch8PredictsBatch16WithinTenPercent() {
    QVERIFY(predictionError("b8c", batch(8, true), "b16c", batch(16, true)) < 0.10);
}

void TestEstimator::largestBatchThatFitsKeepsTheHeadroom() {
    const auto s = analysis::summarize(testing::synthModel("b8", batch(8)));
    const auto& e = s.estimate;
    QVERIFY(e.deviceTotalBytes > 0);
    QVERIFY(e.maxBatchThatFits > 8);
    const double capacity = 0.9 * double(e.deviceTotalBytes);
    QVERIFY(double(e.predictDeviceBytes(e.maxBatchThatFits / 8.0)) <= capacity);
    QVERIFY(double(e.predictDeviceBytes((e.maxBatchThatFits + 1) / 8.0)) > capacity);
    QVERIFY(e.reservedPerAllocated >= 1.0);
    QVERIFY(e.contextBytes > 0);  // MemInfo: the CUDA context beyond reserved
    QCOMPARE(e.measuredSequence, 1024u);
    QCOMPARE(e.activationsPerTokenBytes, e.activationsPerSampleBytes / 1024);
}

void TestEstimator::batchAndSequenceAreReadFromTheCommandLine() {
    QCOMPARE(analysis::batchFromCommandLine("train.py --batch-size 32 --lr 3e-4"), 32u);
    QCOMPARE(analysis::batchFromCommandLine("train.py --batch_size=12"), 12u);
    QCOMPARE(analysis::batchFromCommandLine("torchrun train.py --micro_batch_size 4"), 4u);
    QCOMPARE(analysis::batchFromCommandLine("vramscope synth (GPT 12x768, batch 8, seq 1024)"), 8u);
    QCOMPARE(analysis::batchFromCommandLine("python train.py --epochs 3"), 0u);
    QCOMPARE(analysis::sequenceFromCommandLine("train.py --seq-len 2048"), 2048u);
    QCOMPARE(analysis::sequenceFromCommandLine("train.py --block_size 1024"), 1024u);
    QCOMPARE(analysis::sequenceFromCommandLine("train.py --max_seq_length=512"), 512u);
}

void TestEstimator::optionsOverrideTheCommandLine() {
    analysis::SummaryOptions options;
    options.estimator.measuredBatch = 4;
    options.estimator.targetBatch = 8;
    const auto s = analysis::summarize(testing::synthModel("b8", batch(8)), options);
    QCOMPARE(s.estimate.batchSource, std::string("option"));
    QCOMPARE(s.estimate.measuredBatch, 4u);
    QCOMPARE(s.estimate.activationsPerSampleBytes, s.estimate.activationsBytes / 4);
}

QTEST_GUILESS_MAIN(TestEstimator)
#include "tst_estimator.moc"
