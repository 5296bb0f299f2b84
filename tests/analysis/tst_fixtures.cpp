// Real GPU traces from tests/data (see its README for how each was made):
// what the analysis must find on them.
#include "analysis/summary.h"
#include "model/model_builder.h"

#include <QDir>

#include <cmath>
#include <QtTest>

using namespace vramscope;

class TestFixtures : public QObject {
    Q_OBJECT
private slots:
    void everyFixtureSummarisesWithoutCrashing();
    void leakSampleLeaksOneMibPerIteration();
    void trainSampleHasFourStepsFromNvtxRangesAndNoLeak();
    void gptSmallHasFourStepsAndNoFalseRecompute();
    void asyncPoolReservesMoreThanItAllocates();
    void killedTraceKeepsItsCompleteChunks();
    void rankTracesHaveTwoStepsEach();
    void realBatch4PredictsBatch16WithinTenPercent();
    void outOfOrderFreesAreMatchedByTime();
    void torchTensorTraceBatch4PredictsBatch8WithinTenPercent();
    void torchTracesHavePhasesTensorEventsAndTheirFeatures();
    void huggingFaceLoopsHaveOneIterationPerOptimizerStep();
    void pythonCallsitesNameTheLeakingLine();
    void stepPeriodHoldsWhatRunsBetweenSteps();
    void realLeakRateIsTheGrowthPerStep();
};

static QString dataDir() { return QStringLiteral(VRAMSCOPE_TEST_DATA); }

static bool load(const char* name, model::TraceModel& m) {
    const QString path = dataDir() + "/" + name;
    if (!QFile::exists(path)) return false;
    std::string error;
    return model::loadModel(path.toStdString(), m, {}, &error);
}

#define LOAD_OR_SKIP(name, m)                                              \
    model::TraceModel m;                                                   \
    if (!load(name, m)) QSKIP(name " is not in tests/data");

void TestFixtures::everyFixtureSummarisesWithoutCrashing() {
    const QStringList files = QDir(dataDir()).entryList({"*.vtrace"}, QDir::Files);
    if (files.isEmpty()) QSKIP("no fixtures in tests/data");
    for (const QString& f : files) {
        model::TraceModel m;
        std::string error;
        if (!model::loadModel((dataDir() + "/" + f).toStdString(), m, {}, &error)) continue;  // format tests own those
        const analysis::TraceSummary s = analysis::summarize(m);
        QVERIFY(s.perIteration.size() == s.iterations.size());
        QVERIFY(s.peakAllocated.bytes <= std::max(s.peakReserved.bytes, s.peakAllocated.bytes));
        if (!s.leak.detected) QCOMPARE(s.leak.bytesPerIteration, uint64_t(0));
    }
}

void TestFixtures::leakSampleLeaksOneMibPerIteration() {
    LOAD_OR_SKIP("injector_leak.vtrace", m);  // vramscope_samples leak --iters 5 --leak-kb 1024
    const auto s = analysis::summarize(m);
    QCOMPARE(s.perIteration.size(), size_t(5));
    QVERIFY(s.leak.detected);
    QCOMPARE(s.leak.bytesPerIteration, uint64_t(1) << 20);
    QCOMPARE(s.leak.firstIteration, 0);
    QCOMPARE(s.leak.totalLeakedBytes, uint64_t(5) << 20);
}

void TestFixtures::trainSampleHasFourStepsFromNvtxRangesAndNoLeak() {
    LOAD_OR_SKIP("injector_train.vtrace", m);  // vramscope_samples train --iters 4
    QCOMPARE(m.allocationLevel, model::AllocationLevel::Driver);
    const auto s = analysis::summarize(m);
    QCOMPARE(s.iterations.source, analysis::IterationSource::Ranges);
    QCOMPARE(s.perIteration.size(), size_t(4));
    QVERIFY(!s.leak.detected);
    QVERIFY(!s.checkpointing.detected);
    QVERIFY(s.categories.peakBytes[size_t(analysis::Category::Activations)] > 0);
}

void TestFixtures::gptSmallHasFourStepsAndNoFalseRecompute() {
    LOAD_OR_SKIP("injector_gpt_small.vtrace", m);  // gpt_train.py --steps 4 --nvtx, driver level only
    const auto s = analysis::summarize(m);
    QCOMPARE(s.perIteration.size(), size_t(4));
    for (const auto& it : s.perIteration)
        for (auto d : it.phaseDurationNs) QVERIFY(d > 0);
    QVERIFY(!s.leak.detected);  // the caching allocator growing in step 0 is warm-up
    QVERIFY(!s.checkpointing.detected);
    QVERIFY(!s.estimate.note.empty());  // segments only: no batch prediction
}

void TestFixtures::asyncPoolReservesMoreThanItAllocates() {
    LOAD_OR_SKIP("injector_async.vtrace", m);  // cudaMallocAsync + PoolReserved
    QVERIFY(m.reserved.peak().bytes > m.allocated.peak().bytes);
    QCOMPARE(analysis::summarize(m).perIteration.size(), size_t(4));
}

void TestFixtures::killedTraceKeepsItsCompleteChunks() {
    LOAD_OR_SKIP("injector_killed.vtrace", m);  // SIGKILLed: no footer
    QVERIFY(!m.problems.empty());
    QVERIFY(m.kernels.size() >= 93941);
    QVERIFY(analysis::summarize(m).perIteration.size() > 1000);
}

void TestFixtures::rankTracesHaveTwoStepsEach() {
    LOAD_OR_SKIP("injector_job.rank0.vtrace", a);
    LOAD_OR_SKIP("injector_job.rank1.vtrace", b);
    QCOMPARE(analysis::summarize(a).perIteration.size(), size_t(2));
    QCOMPARE(analysis::summarize(b).perIteration.size(), size_t(2));
    QVERIFY(!analysis::summarize(b).checkpointing.detected);
}

// tests/analysis/data (this suite's own real traces, see its README).
static QString ownData(const char* name) { return QStringLiteral(VRAMSCOPE_ANALYSIS_DATA) + "/" + name; }

void TestFixtures::realBatch4PredictsBatch16WithinTenPercent() {
    model::TraceModel b4, b16;
    std::string error;
    QVERIFY(model::loadModel(ownData("gpt_nocache_b4.vtrace").toStdString(), b4, {}, &error));
    QVERIFY(model::loadModel(ownData("gpt_nocache_b16.vtrace").toStdString(), b16, {}, &error));
    analysis::SummaryOptions options;
    options.estimator.targetBatch = 16;
    const auto s4 = analysis::summarize(b4, options);
    const auto s16 = analysis::summarize(b16);
    QCOMPARE(s4.estimate.measuredBatch, 4u);  // from "--batch 4" in the traced command line
    QCOMPARE(s4.estimate.measuredSequence, 512u);
    QCOMPARE(s4.perIteration.size(), size_t(6));
    const double error16 = std::abs(double(s4.estimate.predictedPeakBytes) - double(s16.peakAllocated.bytes)) /
                           double(s16.peakAllocated.bytes);
    qInfo("batch 4 -> 16 on a real H100 run: %.1f%% off", 100 * error16);
    QVERIFY(error16 < 0.10);
    options.estimator.targetBatch = 4;
    const auto back = analysis::summarize(b16, options);
    const double error4 = std::abs(double(back.estimate.predictedPeakBytes) - double(s4.peakAllocated.bytes)) /
                          double(s4.peakAllocated.bytes);
    QVERIFY(error4 < 0.10);
    QVERIFY(back.estimate.maxBatchThatFits > 16);
}

void TestFixtures::outOfOrderFreesAreMatchedByTime() {
    // CUPTI hands many cudaFree records over in later buffers than the
    // cudaMallocs that reuse their addresses; matched in file order this run
    // showed a 43 MiB-per-step "leak".
    model::TraceModel m;
    std::string error;
    QVERIFY(model::loadModel(ownData("gpt_nocache_b4.vtrace").toStdString(), m, {}, &error));
    const auto s = analysis::summarize(m);
    QVERIFY(!s.leak.detected);
    using analysis::Category;
    // AdamW state: two fp32 moments per parameter, created in the first step.
    QVERIFY(s.categories.peakBytes[size_t(Category::OptimizerState)] > s.categories.peakBytes[size_t(Category::Weights)]);
    QVERIFY(std::abs(s.leak.growthBytesPerIteration) < 1 << 20);
}

// Tensor-level (PyTorch bridge) traces of the GPT sample at batch 4 and 8 on an H100.
void TestFixtures::torchTensorTraceBatch4PredictsBatch8WithinTenPercent() {
    LOAD_OR_SKIP("torch_gpt_b4.vtrace", b4);
    LOAD_OR_SKIP("torch_gpt_b8.vtrace", b8);
    analysis::SummaryOptions options;
    options.estimator.targetBatch = 8;
    const auto s4 = analysis::summarize(b4, options);
    const auto s8 = analysis::summarize(b8);
    QCOMPARE(s4.estimate.measuredBatch, 4u);
    const double error = std::abs(double(s4.estimate.predictedPeakBytes) - double(s8.peakAllocated.bytes)) /
                         double(s8.peakAllocated.bytes);
    qInfo("tensor-level batch 4 -> 8 on a real H100 run: %.1f%% off", 100 * error);
    QVERIFY(error < 0.10);
}

void TestFixtures::torchTracesHavePhasesTensorEventsAndTheirFeatures() {
    for (const char* name : {"torch_gpt_plain.vtrace", "torch_gpt_ckpt.vtrace", "torch_gpt_leak.vtrace"}) {
        model::TraceModel m;
        QVERIFY2(load(name, m), name);
        const auto s = analysis::summarize(m);
        QVERIFY2(s.tensorEvents > 0, name);
        QVERIFY2(s.iterations.size() >= 3, name);
        for (int p = 0; p < analysis::kPhaseCount; ++p) QVERIFY2(s.phases[size_t(p)].iterations >= 3, name);
    }
    LOAD_OR_SKIP("torch_gpt_ckpt.vtrace", ckpt);
    LOAD_OR_SKIP("torch_gpt_plain.vtrace", plain);
    const auto sc = analysis::summarize(ckpt), sp = analysis::summarize(plain);
    QVERIFY(sc.checkpointing.detected);
    QCOMPARE(int(sc.checkpointing.source), int(analysis::RecomputeSource::Markers));
    QVERIFY(sc.peakAllocated.bytes < sp.peakAllocated.bytes);  // checkpointing saved memory
    QVERIFY(!sp.leak.detected);
    LOAD_OR_SKIP("torch_gpt_leak.vtrace", leak);
    const auto sl = analysis::summarize(leak);
    QVERIFY(sl.leak.detected);
    QVERIFY(sl.leak.bytesPerIteration > 1000000);  // the sample keeps each step's graph alive
}

// transformers.Trainer and accelerate (real, on an H100): gradient
// accumulation 2, evaluation forwards under no_grad between steps. Each of
// the 6 optimizer steps the script printed is one iteration with all phases.
void TestFixtures::huggingFaceLoopsHaveOneIterationPerOptimizerStep() {
    for (const char* name : {"torch_hf_trainer.vtrace", "torch_hf_accelerate.vtrace"}) {
        model::TraceModel m;
        QVERIFY2(load(name, m), name);
        const auto s = analysis::summarize(m);
        QVERIFY2(s.tensorEvents > 0, name);
        QCOMPARE(s.iterations.size(), size_t(6));
        for (int p = 0; p < analysis::kPhaseCount; ++p) QCOMPARE(s.phases[size_t(p)].iterations, 6u);
        QVERIFY2(!s.leak.detected, name);
        QVERIFY2(!m.callsites.empty(), name);
    }
}

// With --python-stacks the leak report points at the user's line: the
// sample's `total += loss` forward on gpt_train.py line 132.
void TestFixtures::pythonCallsitesNameTheLeakingLine() {
    LOAD_OR_SKIP("torch_gpt_leak_stacks.vtrace", m);
    QVERIFY(m.callsites.size() > 50);
    const auto s = analysis::summarize(m);
    QVERIFY(s.leak.detected);
    QVERIFY(!s.leak.groups.empty());
    const std::string& top = s.leak.groups.front().callsite;
    QVERIFY2(top.find("samples/pytorch/gpt_train.py:132 main") != std::string::npos, top.c_str());
    QVERIFY2(top.find("\u2192 functional.py:") != std::string::npos, top.c_str());  // where inside torch
    // Every leaked group names a line of the sample, none a torch internal.
    for (const auto& g : s.leak.groups) QVERIFY2(g.callsite.find("gpt_train.py:") != std::string::npos, g.callsite.c_str());
}

void TestFixtures::stepPeriodHoldsWhatRunsBetweenSteps() {
    // GPT-2 small with phase hooks (H100): an iteration ends at the optimizer
    // step, and the loop then synchronizes (waiting for the GPU's backlog)
    // before the next forward. The step period is what gpt_train.py prints.
    LOAD_OR_SKIP("torch_gpt2_launch.vtrace", hooks);
    const auto h = analysis::summarize(hooks);
    QCOMPARE(h.iterations.source, analysis::IterationSource::Markers);
    QVERIFY2(h.medianBetweenStepsNs > 3000000 && h.medianBetweenStepsNs < 6000000,
             qPrintable(QString::number(h.medianBetweenStepsNs)));
    QVERIFY(h.medianStepPeriodNs > h.medianIterationNs + 3000000);
    QVERIFY(h.medianStepPeriodNs < h.medianIterationNs + h.medianBetweenStepsNs + 1000000);
    // Iterations found from the kernel sequence tile the run: nothing between.
    LOAD_OR_SKIP("injector_gpt2_sigint.vtrace", kernels);
    const auto k = analysis::summarize(kernels);
    QCOMPARE(k.iterations.source, analysis::IterationSource::KernelPattern);
    QCOMPARE(k.medianBetweenStepsNs, uint64_t(0));
    QVERIFY(std::llabs(int64_t(k.medianStepPeriodNs) - int64_t(k.medianIterationNs)) < int64_t(k.medianIterationNs / 100));
}

// gpt_train.py --leak keeps each step's graph alive and frees it all at exit:
// allocated memory at each step's start grows by 23897124 B. The rate said
// 17.4 and 15.2 MiB (the blocks of the last two steps, freed at exit, in no
// count but their steps in the division); the steady rate is the growth.
void TestFixtures::realLeakRateIsTheGrowthPerStep() {
    for (const char* name : {"torch_gpt_leak.vtrace", "torch_gpt_leak_stacks.vtrace"}) {
        model::TraceModel m;
        if (!load(name, m)) QSKIP("the leak fixtures are not in tests/data");
        const auto s = analysis::summarize(m);
        QVERIFY(s.leak.detected);
        QVERIFY2(qAbs(double(s.leak.bytesPerIteration) - 23897124.0) <= 0.05 * 23897124.0, name);
        QVERIFY2(qAbs(s.leak.growthBytesPerIteration - 23897124.0) < 1.0, name);
        QVERIFY2(s.leak.leftOutBlocks > 0, name);
        QCOMPARE(s.leak.leftOutFromIteration, 4);
    }
}

QTEST_GUILESS_MAIN(TestFixtures)
#include "tst_fixtures.moc"
