// The CLI end to end: `vramscope summary/diff/export` exit codes and the
// summary JSON key set (docs/summary-schema.md: change both together).
#include "step_trace.h"
#include "synth_fixture.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include <random>

using namespace vramscope;

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void summaryJsonHasTheDocumentedKeys();
    void outOfMemoryLeadsTheSummary();
    void outOfMemoryOfAnImportedSnapshotIsExplained();
    void summaryJsonCountsFortyIterationsAndTheLeak();
    void diffOfCleanAndLeakFailsOnFivePercent();
    void diffOfTheSameRunPasses();
    void diffJsonHasTheDocumentedKeys();
    void diffOfWarmUpHeavyRunsComparesSteadySteps();
    void diffSplitsCheckpointingCostIntoRecomputeAndIdle();
    void diffOfTheCheckpointingFixturesPinsTheTradeOff();
    void summaryOfTheCheckpointedFixtureSaysWhatBackwardSpends();
    void chromeExportIsValidTraceJson();
    void csvExportWritesAllocations();
    void kernelsExportListsEveryNameWithItsClass();
    void garbageInputExitsWithOne();
    void missingArgumentsExitWithTwo();
    void boundnessWithoutIterationsIsEstimatedFromKernelNames();
};

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

static Run runCli(const QStringList& arguments) {
    QProcess p;
    p.start(VRAMSCOPE_CLI, arguments);
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(), p.readAllStandardError()};
}

static QString trace(const std::string& name, uint64_t leakBytes = 0) {
    auto o = testing::synthOptions(40);
    o.leakBytesPerIteration = leakBytes;
    return QString::fromStdString(testing::synthTrace(name, o));
}

static QSet<QString> keys(const QJsonObject& o) {
    QSet<QString> s;
    for (auto it = o.begin(); it != o.end(); ++it) s.insert(it.key());
    return s;
}

// An out-of-memory leads the summary: text first, and the JSON "oom" array.
void TestCli::outOfMemoryLeadsTheSummary() {
    const QString fixture = QStringLiteral(VRAMSCOPE_TEST_DATA "/injector_oom.vtrace");
    const Run text = runCli({"summary", fixture});
    QCOMPARE(text.exitCode, 0);
    QVERIFY(text.out.split('\n').value(1).contains("OUT OF MEMORY"));
    // The sample asked for twice the device: no amount freed would have helped.
    QVERIFY(text.out.contains("larger than the whole device"));
    const Run json = runCli({"summary", fixture, "--json"});
    const QJsonArray oom = QJsonDocument::fromJson(json.out).object()["oom"].toArray();
    QCOMPARE(oom.size(), 1);
    QCOMPARE(keys(oom[0].toObject()),
             (QSet<QString>{"time_ns", "device", "source", "failures", "requested_bytes", "allocated_bytes",
                            "reserved_bytes", "device_free_bytes", "device_total_bytes", "shortfall_bytes",
                            "larger_than_device", "more_than_program_can_free", "live_by_category", "largest_blocks", "callsite"}));
    QCOMPARE(oom[0]["requested_bytes"].toInteger(), qint64(170034987008));  // twice the H100, as the sample asked
    QCOMPARE(oom[0]["source"].toString(), QString("driver"));
    QVERIFY(oom[0]["shortfall_bytes"].toInteger() > 0);
    QVERIFY(oom[0]["larger_than_device"].toBool());
    // A trace without failures has an empty array.
    QVERIFY(QJsonDocument::fromJson(runCli({"summary", trace("clean40"), "--json"}).out).object()["oom"].toArray().isEmpty());
}

// A real PyTorch OOM (a snapshot dumped after torch.cuda.OutOfMemoryError on an
// H100): the program's request, where it asked, and that freeing what it
// held could not have helped (the device total is not in a snapshot).
void TestCli::outOfMemoryOfAnImportedSnapshotIsExplained() {
    const QString pickle = QStringLiteral(VRAMSCOPE_TEST_DATA "/snapshots/real-h100-torch2.11-python-oom.pickle");
    const Run text = runCli({"summary", pickle});
    QCOMPARE(text.exitCode, 0);
    QVERIFY(text.out.split('\n').value(1).contains("OUT OF MEMORY"));
    QVERIFY(text.out.contains("the program asked for"));
    QVERIFY(text.out.contains("freeing its memory would not make it fit"));
    QVERIFY(text.out.contains("record_snapshot.py:41"));
    const QJsonArray oom = QJsonDocument::fromJson(runCli({"summary", pickle, "--json"}).out).object()["oom"].toArray();
    QCOMPARE(oom.size(), 1);
    QCOMPARE(oom[0]["source"].toString(), QString("framework"));
    QCOMPARE(oom[0]["requested_bytes"].toInteger(), qint64(1) << 50);
    QVERIFY(oom[0]["more_than_program_can_free"].toBool());
    QVERIFY(!oom[0]["larger_than_device"].toBool());
    QVERIFY(oom[0]["device_total_bytes"].isNull());
    QCOMPARE(oom[0]["live_by_category"]["weights"].toInteger() > 0, true);
}

void TestCli::summaryJsonHasTheDocumentedKeys() {
    const Run r = runCli({"summary", trace("clean40"), "--json"});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(r.out).object();
    const QSet<QString> top{"file", "capture", "device", "duration_ns", "events", "tensor_events", "driver_events",
                            "allocation_level", "iterations", "iteration_source", "phases_inferred",
                            "training_phases", "phase_labels", "phase_evidence",
                            "kernels_per_iteration", "steady_iterations", "mean_iteration_ns", "median_iteration_ns",
                            "median_step_period_ns", "median_between_steps_ns", "median_step_gpu_busy_ns",
                            "median_step_gpu_idle_ns", "per_iteration", "phases",
                            "peak_allocated_bytes", "peak_allocated_time_ns", "peak_reserved_bytes",
                            "peak_reserved_time_ns", "top_blocks_at_peak", "categories", "leak", "checkpointing",
                            "estimator", "boundness", "top_kernels", "problems", "oom"};
    QCOMPARE(keys(o), top);
    QCOMPARE(keys(o["capture"].toObject()), (QSet<QString>{"start"}));
    QCOMPARE(o["capture"]["start"].toString(), QString("launch"));
    QCOMPARE(keys(o["leak"].toObject()), (QSet<QString>{"detected", "bytes_per_iteration", "first_iteration",
                                                        "total_leaked_bytes", "growth_bytes_per_iteration",
                                                        "warmup_iterations", "counted_iterations",
                                                        "left_out_blocks", "left_out_bytes", "left_out_from_iteration",
                                                        "left_out_reason", "blocks"}));
    QCOMPARE(keys(o["phases"].toObject()), (QSet<QString>{"forward", "backward", "optimizer"}));
    QCOMPARE(keys(o["phases"]["forward"].toObject()),
             (QSet<QString>{"iterations", "steady_iterations", "mean_duration_ns", "median_duration_ns", "total_duration_ns",
                            "peak_allocated_bytes", "mean_peak_allocated_bytes"}));
    QCOMPARE(keys(o["categories"].toObject()),
             (QSet<QString>{"weights", "optimizer_state", "gradients", "activations", "temporaries", "leaked", "other",
                            "persistent"}));
    QCOMPARE(keys(o["per_iteration"][0].toObject()),
             (QSet<QString>{"index", "step", "start_ns", "duration_ns", "allocated_at_start_bytes",
                            "peak_allocated_bytes", "peak_reserved_bytes", "period_ns", "gpu_busy_ns", "recompute_ns",
                            "phases", "bound", "steady"}));
    QCOMPARE(keys(o["per_iteration"][0]["phases"]["forward"].toObject()),
             (QSet<QString>{"duration_ns", "peak_allocated_bytes", "bound", "busy_fraction", "sm_throughput_pct",
                            "dram_throughput_pct"}));
    QCOMPARE(keys(o["top_blocks_at_peak"][0].toObject()),
             (QSet<QString>{"bytes", "address", "alloc_ns", "free_ns", "category", "kind", "iteration", "phase",
                            "callsite"}));
    QCOMPARE(o["top_blocks_at_peak"][0]["kind"].toString(), QString("device"));
    QCOMPARE(keys(o["phase_labels"].toObject()), (QSet<QString>{"forward", "backward", "optimizer"}));
    QCOMPARE(o["phase_labels"]["backward"].toString(), QString("backward"));
    QVERIFY(o["training_phases"].toBool());
    QCOMPARE(keys(o["checkpointing"].toObject()),
             (QSet<QString>{"detected", "source", "iterations_with_recompute", "recompute_kernels", "recompute_ns",
                            "recompute_ns_per_iteration", "fraction_of_iteration_time", "fraction_of_backward",
                            "recompute_region_ns_per_iteration", "region_fraction_of_backward"}));
    QCOMPARE(keys(o["estimator"].toObject()),
             (QSet<QString>{"valid", "measured_batch", "batch_source", "measured_sequence", "sequence_source",
                            "measured_peak_bytes", "weights_bytes", "gradients_bytes", "optimizer_state_bytes",
                            "activations_bytes", "activations_per_sample_bytes", "activations_per_token_bytes",
                            "fixed_bytes_at_peak", "target_batch", "target_sequence", "predicted_peak_bytes",
                            "device_total_bytes", "headroom", "reserved_per_allocated", "context_bytes",
                            "max_batch_that_fits", "note"}));
    QCOMPARE(keys(o["boundness"].toObject()),
             (QSet<QString>{"source", "phases", "overall", "median_iteration_ns", "left_out_iterations",
                            "attribution", "roofline"}));
    QCOMPARE(keys(o["boundness"]["roofline"].toObject()),
             (QSet<QString>{"peak_flops_per_s", "peak_fp32_flops_per_s", "peak_dram_bytes_per_s",
                            "ridge_flops_per_byte", "kernels"}));
    QCOMPARE(keys(o["top_kernels"][0].toObject()),
             (QSet<QString>{"name", "count", "total_ns", "bound", "bound_source", "sm_pct", "dram_pct", "tensor_pct"}));
    QCOMPARE(keys(o["boundness"]["phases"]["forward"].toObject()),
             (QSet<QString>{"bound", "sm_throughput_pct", "dram_throughput_pct", "tensor_pipe_pct", "busy_fraction",
                            "kernel_time_by_class", "samples", "duration_ns"}));
    QCOMPARE(keys(o["boundness"]["phases"]["forward"]["kernel_time_by_class"].toObject()),
             (QSet<QString>{"compute", "bandwidth", "latency"}));
}

void TestCli::summaryJsonCountsFortyIterationsAndTheLeak() {
    const QJsonObject clean = QJsonDocument::fromJson(runCli({"summary", trace("clean40"), "--json"}).out).object();
    QCOMPARE(clean["iterations"].toInt(), 40);
    QCOMPARE(clean["per_iteration"].toArray().size(), 40);
    QCOMPARE(clean["leak"]["bytes_per_iteration"].toInteger(), 0);
    QCOMPARE(clean["boundness"]["source"].toString(), QString("synthetic"));
    QCOMPARE(clean["boundness"]["phases"]["forward"]["bound"].toString(), QString("compute"));
    QCOMPARE(clean["boundness"]["left_out_iterations"].toArray().size(), 0);  // every synth step alike
    QCOMPARE(clean["per_iteration"][7]["phases"]["optimizer"]["bound"].toString(), QString("bandwidth"));
    QCOMPARE(clean["top_kernels"][0]["bound_source"].toString(), QString("counters"));
    // The text names the kernels that take the GPU's time, with their class.
    const Run text = runCli({"summary", trace("clean40")});
    QVERIFY2(text.out.contains("top kernels") && text.out.contains("compute"), text.out.constData());
    QVERIFY(text.out.contains("boundness     from synthetic counters"));
    QCOMPARE(clean["boundness"]["phases"]["optimizer"]["bound"].toString(), QString("bandwidth"));
    const QJsonObject leak =
        QJsonDocument::fromJson(runCli({"summary", trace("leak40", 8388608), "--json"}).out).object();
    QVERIFY(qAbs(leak["leak"]["bytes_per_iteration"].toDouble() - 8388608.0) <= 0.05 * 8388608.0);
    QCOMPARE(leak["leak"]["first_iteration"].toInt(), 0);
    QCOMPARE(leak["leak"]["blocks"][0]["count"].toInt(), 40);
}

void TestCli::diffOfCleanAndLeakFailsOnFivePercent() {
    const Run r = runCli({"diff", trace("clean40"), trace("leak40", 8388608), "--fail-on-regression", "5"});
    QCOMPARE(r.exitCode, 3);
    QVERIFY(r.out.contains("REGRESSION"));
    const Run j = runCli({"diff", trace("clean40"), trace("leak40", 8388608), "--fail-on-regression", "5", "--json"});
    QCOMPARE(j.exitCode, 3);
    const QJsonObject o = QJsonDocument::fromJson(j.out).object();
    QVERIFY(o["regression"]["regressed"].toBool());
    QCOMPARE(o["aligned_iterations"].toInt(), 40);
    QVERIFY(o["peak_allocated_bytes"]["percent"].toDouble() > 5);
    // The same workload: the classes stay, and say so.
    QCOMPARE(o["phases"]["forward"]["bound"]["a"].toString(), QString("compute"));
    QCOMPARE(o["phases"]["forward"]["bound"]["changed"].toBool(), false);
    QCOMPARE(o["boundness_source"]["b"].toString(), QString("synthetic"));
    QVERIFY(r.out.contains("forward bound"));
    // Each run's step period, as its own summary has it.
    const QJsonObject clean = QJsonDocument::fromJson(runCli({"summary", trace("clean40"), "--json"}).out).object();
    QVERIFY(clean["median_step_period_ns"].toInteger() > 0);
    QCOMPARE(o["median_step_period_ns"]["a"].toInteger(), clean["median_step_period_ns"].toInteger());
    QVERIFY(r.out.contains("step period (median)"));
}

void TestCli::diffOfTheSameRunPasses() {
    const Run r = runCli({"diff", trace("clean40"), trace("clean40"), "--fail-on-regression", "0"});
    QCOMPARE(r.exitCode, 0);
    // Reversed, the leak run is the baseline: memory went down, not a regression.
    QCOMPARE(runCli({"diff", trace("leak40", 8388608), trace("clean40"), "--fail-on-regression", "5"}).exitCode, 0);
}

void TestCli::diffJsonHasTheDocumentedKeys() {
    const Run r = runCli({"diff", trace("clean40"), trace("leak40", 8388608), "--json"});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(keys(o), (QSet<QString>{"a", "b", "iterations", "aligned_iterations", "steady_iterations",
                                     "left_out_iterations", "peak_allocated_bytes", "peak_reserved_bytes",
                                     "mean_iteration_ns", "median_iteration_ns", "median_step_period_ns",
                                     "gpu_busy_per_step_ns", "gpu_idle_per_step_ns", "leak_bytes_per_iteration",
                                     "phases", "boundness_source", "categories", "kernels", "per_iteration",
                                     "checkpointing", "problems", "regression"}));
    QCOMPARE(keys(o["regression"].toObject()),
             (QSet<QString>{"threshold_percent", "regressed", "allow_damaged", "verdict"}));
    const QSet<QString> delta{"a", "b", "delta", "percent"};
    QCOMPARE(keys(o["median_iteration_ns"].toObject()), delta);
    QCOMPARE(keys(o["steady_iterations"].toObject()), (QSet<QString>{"a", "b"}));
    QCOMPARE(keys(o["left_out_iterations"].toObject()), (QSet<QString>{"a", "b"}));
    QCOMPARE(keys(o["phases"]["backward"].toObject()),
             (QSet<QString>{"mean_duration_ns", "median_duration_ns", "peak_allocated_bytes", "bound", "busy_fraction",
                            "sm_throughput_pct", "dram_throughput_pct"}));
    QCOMPARE(keys(o["checkpointing"].toObject()),
             (QSet<QString>{"checkpointed_run", "peak_saved_bytes", "iteration_time_added_ns", "step_time_added_ns",
                            "gpu_idle_added_ns", "other_kernel_added_ns", "recompute_ns_per_iteration"}));
    QCOMPARE(keys(o["kernels"][0].toObject()), (QSet<QString>{"name", "ns_per_iteration", "count_per_iteration"}));
    QCOMPARE(keys(o["per_iteration"][0].toObject()), (QSet<QString>{"index", "peak_allocated_bytes", "duration_ns"}));
}

// The H200 GPT job of the issue, without and with checkpointing (step_trace.h):
// steps 18.1 → 40.0 ms, but first iterations of 2.1 s and 0.62 s. Means over
// every iteration said the checkpointed run was 55 % faster; the steady steps
// say it is 121 % slower, and the warm-up is shown apart.
void TestCli::diffOfWarmUpHeavyRunsComparesSteadySteps() {
    const QString a = testing::fixtureDir().filePath("h200_gpt_plain.vtrace");
    const QString b = testing::fixtureDir().filePath("h200_gpt_ckpt.vtrace");
    QVERIFY(testing::writeRun(a.toStdString(), testing::h200GptPlain()));
    QVERIFY(testing::writeRun(b.toStdString(), testing::h200GptCheckpointed()));
    const Run j = runCli({"diff", a, b, "--json"});
    QCOMPARE(j.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(j.out).object();
    constexpr qint64 us = 1000;
    // Iterations run from the first forward to the end of the optimizer step
    // (the StepEnd nanosecond included).
    QCOMPARE(o["mean_iteration_ns"]["a"].toDouble(), double(17500 * us + 1));
    QCOMPARE(o["mean_iteration_ns"]["b"].toDouble(), double(33200 * us + 1));
    QVERIFY(o["mean_iteration_ns"]["percent"].toDouble() > 80);
    QCOMPARE(o["median_step_period_ns"]["a"].toDouble(), double(18100 * us));
    QCOMPARE(o["median_step_period_ns"]["b"].toDouble(), double(40000 * us));
    QCOMPARE(o["phases"]["forward"]["mean_duration_ns"]["a"].toDouble(), double(5400 * us));
    QCOMPARE(o["phases"]["forward"]["mean_duration_ns"]["b"].toDouble(), double(10000 * us));
    QCOMPARE(o["checkpointing"]["iteration_time_added_ns"].toInteger(), 15700 * us);
    // Kernel time per step, not per iteration of a run whose first one autotunes.
    QCOMPARE(o["kernels"][0]["ns_per_iteration"]["b"].toDouble() - o["kernels"][0]["ns_per_iteration"]["a"].toDouble(),
             3600.0 * us);
    QCOMPARE(o["steady_iterations"]["a"].toInt(), 13);
    QCOMPARE(o["left_out_iterations"]["a"][0]["index"].toInt(), 0);
    QCOMPARE(o["left_out_iterations"]["a"][0]["duration_ns"].toInteger(), 2096000 * us + 1);
    QCOMPARE(o["left_out_iterations"]["b"][0]["duration_ns"].toInteger(), 621000 * us + 1);
    const Run text = runCli({"diff", a, b});
    QVERIFY2(text.out.contains("not counted: A first iteration 2.10 s (warm-up); B first iteration 621 ms (warm-up)"),
             text.out.constData());
    QVERIFY2(text.out.contains("iteration (mean)            17.500 ms -> 33.200 ms"), text.out.constData());
    QVERIFY2(text.out.contains("forward time (median)        5.400 ms -> 10.000 ms"), text.out.constData());
}

// Checkpointing's cost as the user sees it: the step, not the recompute
// kernels alone; most of it is the GPU waiting while the CPU re-runs forward.
void TestCli::diffSplitsCheckpointingCostIntoRecomputeAndIdle() {
    const QString a = testing::fixtureDir().filePath("h200_gpt_plain.vtrace");
    const QString b = testing::fixtureDir().filePath("h200_gpt_ckpt.vtrace");
    QVERIFY(testing::writeRun(a.toStdString(), testing::h200GptPlain()));
    QVERIFY(testing::writeRun(b.toStdString(), testing::h200GptCheckpointed()));
    const QJsonObject o = QJsonDocument::fromJson(runCli({"diff", a, b, "--json"}).out).object();
    const QJsonObject c = o["checkpointing"].toObject();
    constexpr qint64 us = 1000;
    QCOMPARE(c["checkpointed_run"].toString(), QString("b"));
    QCOMPARE(c["peak_saved_bytes"].toInteger(), (2ll << 30) - (400ll << 20));
    QCOMPARE(c["step_time_added_ns"].toInteger(), 21900 * us);
    QCOMPARE(c["recompute_ns_per_iteration"]["b"].toDouble(), double(3600 * us));
    QCOMPARE(c["gpu_idle_added_ns"].toInteger(), 18300 * us);
    QCOMPARE(c["other_kernel_added_ns"].toInteger(), 0);
    QCOMPARE(o["gpu_busy_per_step_ns"]["a"].toDouble(), double(16500 * us));
    QCOMPARE(o["gpu_idle_per_step_ns"]["b"].toDouble(), double(19900 * us));
    const Run text = runCli({"diff", a, b});
    QVERIFY2(text.out.contains("checkpointing (B): saves 1.61 GiB of peak allocated (53.6%) and costs +21.900 ms per "
                               "step (+121.0%"),
             text.out.constData());
    QVERIFY2(text.out.contains("per step: recompute kernels +3.600 ms, GPU idle +18.300 ms, other kernels +0.000 ms "
                               "(medians); backward GPU busy 96% -> 64%"),
             text.out.constData());
    // Reversed, A is the run that checkpoints: the same trade-off, said of A.
    const Run reversed = runCli({"diff", b, a});
    QVERIFY2(reversed.out.contains("checkpointing (A): saves 1.61 GiB of peak allocated (53.6%) and costs +21.900 ms"),
             reversed.out.constData());
}

// The checkpointing pair recorded on an H100 (tests/data/README.md): figures
// from the five steady iterations of each (iteration 0 is 468 ms and 1.58 s).
void TestCli::diffOfTheCheckpointingFixturesPinsTheTradeOff() {
    const QString a = QStringLiteral(VRAMSCOPE_TEST_DATA) + "/torch_gpt_plain.vtrace";
    const QString b = QStringLiteral(VRAMSCOPE_TEST_DATA) + "/torch_gpt_ckpt.vtrace";
    const Run j = runCli({"diff", a, b, "--json"});
    QCOMPARE(j.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(j.out).object();
    QCOMPARE(o["mean_iteration_ns"]["a"].toDouble(), double(7747249));
    QCOMPARE(o["mean_iteration_ns"]["b"].toDouble(), double(8820575));
    QCOMPARE(o["median_iteration_ns"]["b"].toDouble(), double(8449736));
    QCOMPARE(o["phases"]["backward"]["median_duration_ns"]["b"].toDouble(), double(4613908));
    QCOMPARE(o["median_step_period_ns"]["a"].toDouble(), double(8940144));
    QCOMPARE(o["median_step_period_ns"]["b"].toDouble(), double(9562429));
    const QJsonObject c = o["checkpointing"].toObject();
    QCOMPARE(c["checkpointed_run"].toString(), QString("b"));
    QCOMPARE(c["peak_saved_bytes"].toInteger(), 157545632 - 147027072);
    QCOMPARE(c["iteration_time_added_ns"].toInteger(), 8449736 - 6782729);
    QCOMPARE(c["step_time_added_ns"].toInteger(), 622285);
    QCOMPARE(c["recompute_ns_per_iteration"]["b"].toDouble(), double(87966));
    QCOMPARE(c["gpu_idle_added_ns"].toInteger(), 543460);
    const Run text = runCli({"diff", a, b});
    QVERIFY2(text.out.contains("checkpointing (B): saves 10.0 MiB of peak allocated (6.7%) and costs +0.622 ms per step"),
             text.out.constData());
}

// A launch-bound checkpointed run: the recompute kernels are 2 % of backward,
// but the CPU spends 31 % of it re-running forward while the GPU idles.
void TestCli::summaryOfTheCheckpointedFixtureSaysWhatBackwardSpends() {
    const QString path = QStringLiteral(VRAMSCOPE_TEST_DATA) + "/torch_gpt_ckpt.vtrace";
    const QJsonObject o = QJsonDocument::fromJson(runCli({"summary", path, "--json"}).out).object();
    QCOMPARE(o["mean_iteration_ns"].toInteger(), 8820575);
    QCOMPARE(o["median_iteration_ns"].toInteger(), 8449736);
    QCOMPARE(o["phases"]["forward"]["mean_duration_ns"].toInteger(), 3541723);
    QCOMPARE(o["phases"]["backward"]["iterations"].toInt(), 6);
    QCOMPARE(o["phases"]["backward"]["steady_iterations"].toInt(), 5);
    QCOMPARE(o["steady_iterations"].toInt(), 5);
    const QJsonObject c = o["checkpointing"].toObject();
    QCOMPARE(c["recompute_ns_per_iteration"].toInteger(), 87966);
    QCOMPARE(c["recompute_region_ns_per_iteration"].toInteger(), 1432245);
    QVERIFY(std::abs(c["fraction_of_iteration_time"].toDouble() - 0.00996) < 0.0001);
    QVERIFY(std::abs(c["fraction_of_backward"].toDouble() - 0.0178) < 0.0001);
    QVERIFY(std::abs(c["region_fraction_of_backward"].toDouble() - 0.307) < 0.001);
    const Run text = runCli({"summary", path});
    QVERIFY2(text.out.contains("median 8.450 ms, mean 8.821 ms over the 5 steady"), text.out.constData());
    QVERIFY2(text.out.contains("first iteration 1.58 s (warm-up), not counted"), text.out.constData());
    QVERIFY2(text.out.contains("recompute kernels 0.088 ms per iteration (1.0% of the time, 1.8% of backward"),
             text.out.constData());
    QVERIFY2(text.out.contains("backward median 4.614 ms, GPU busy 8%; the CPU spends 1.432 ms of it (31%) in the "
                               "recomputed forwards"),
             text.out.constData());
}

void TestCli::chromeExportIsValidTraceJson() {
    const QString out = testing::fixtureDir().filePath("clean40.json");
    const Run r = runCli({"export", trace("clean40"), "--format", "chrome", "-o", out});
    QCOMPARE(r.exitCode, 0);
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    QVERIFY(doc.object()["traceEvents"].toArray().size() > 1000);
}

void TestCli::csvExportWritesAllocations() {
    const QString out = testing::fixtureDir().filePath("clean40.csv");
    QCOMPARE(runCli({"export", trace("clean40"), "--format", "csv", "-o", out}).exitCode, 0);
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY(f.readLine().startsWith("level,alloc_ns,free_ns,bytes"));
}

// export --format kernels on a real trace: one row per kernel name, most GPU
// time first, with the class and the fitted percentages summary --json gives.
void TestCli::kernelsExportListsEveryNameWithItsClass() {
    const QString path = QStringLiteral(VRAMSCOPE_TEST_DATA) + "/torch_gpt2_counters_h200.vtrace";
    const Run r = runCli({"export", path, "--format", "kernels", "-o", "-"});
    QCOMPARE(r.exitCode, 0);
    QStringList lines = QString(r.out).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.takeFirst(), QString("name,count,total_ns,mean_ns,bound,bound_source,sm_pct,dram_pct,tensor_pct"));
    QVERIFY(lines.size() >= 50);
    const Run summary = runCli({"summary", path, "--json"});
    QCOMPARE(summary.exitCode, 0);
    const QJsonArray top = QJsonDocument::fromJson(summary.out).object()["top_kernels"].toArray();
    QVERIFY(top.size() == 10);
    qint64 previous = std::numeric_limits<qint64>::max();
    for (int i = 0; i < lines.size(); ++i) {
        // Names hold commas and so come quoted; the eight numbers and words follow the last quote.
        const QString& line = lines[i];
        const int cut = line.startsWith('"') ? line.lastIndexOf('"') + 1 : line.indexOf(',');
        const QStringList f = line.mid(cut + 1).split(',');
        QCOMPARE(f.size(), 8);
        const qint64 total = f[1].toLongLong();
        QVERIFY(total <= previous);
        previous = total;
        QVERIFY(f[2].toLongLong() * f[0].toLongLong() <= total);  // mean_ns × count
        QVERIFY(QSet<QString>({"compute", "bandwidth", "latency"}).contains(f[3]));
        QVERIFY(f[4] == "counters" || f[4] == "name");
        for (int p = 5; p < 8; ++p) QVERIFY(f[p].isEmpty() || (f[p].toDouble() >= 0 && f[p].toDouble() <= 100));
        if (i < top.size()) {
            const QJsonObject k = top[i].toObject();
            QCOMPARE(f[1].toLongLong(), qint64(k["total_ns"].toDouble()));
            QCOMPARE(f[3], k["bound"].toString());
            QVERIFY(std::abs(f[5].toDouble() - k["sm_pct"].toDouble()) < 0.01);
        }
    }
}

// A trace with kernels but no iterations (5 SGEMMs) and one without kernels:
// both printed "boundness     from none counters".
void TestCli::boundnessWithoutIterationsIsEstimatedFromKernelNames() {
    const Run gemm = runCli({"summary", QStringLiteral(VRAMSCOPE_TEST_DATA "/injector_gemm.vtrace")});
    QCOMPARE(gemm.exitCode, 0);
    QVERIFY2(!gemm.out.contains("none counters"), gemm.out.constData());
    QVERIFY2(gemm.out.contains("boundness     estimated from kernel names"), gemm.out.constData());
    const Run empty = runCli({"summary", QStringLiteral(VRAMSCOPE_TEST_DATA "/injector_no_cuda_context.vtrace")});
    QCOMPARE(empty.exitCode, 0);
    QVERIFY2(!empty.out.contains("none counters"), empty.out.constData());
    QVERIFY2(empty.out.contains("boundness     none: no kernels in this trace"), empty.out.constData());
}

void TestCli::garbageInputExitsWithOne() {
    const QString path = testing::fixtureDir().filePath("garbage.vtrace");
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    std::mt19937 rng(1);
    QByteArray bytes(100000, 0);
    for (auto& b : bytes) b = char(rng());
    f.write(bytes);
    f.close();
    for (const QStringList& args : {QStringList{"summary", path}, QStringList{"diff", path, path},
                                    QStringList{"export", path, "--format", "chrome", "-o", path + ".json"}}) {
        const Run r = runCli(args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.err.isEmpty());
    }
}

void TestCli::missingArgumentsExitWithTwo() {
    QCOMPARE(runCli({"summary"}).exitCode, 2);
    QCOMPARE(runCli({"diff", trace("clean40")}).exitCode, 2);
    QCOMPARE(runCli({"diff", trace("clean40"), trace("clean40"), "--fail-on-regression", "x"}).exitCode, 2);
    QCOMPARE(runCli({"export", trace("clean40"), "--format", "xml", "-o", "x"}).exitCode, 2);
    QCOMPARE(runCli({"export", trace("clean40"), "--format", "chrome"}).exitCode, 2);
    // record's counter options are checked before anything runs, with a line that says what is wrong.
    for (const QStringList& bad : {QStringList{"--counters", "nsight"}, QStringList{"--counter-interval-us", "5"},
                                   QStringList{"--counter-duty", "200"}, QStringList{"--counter-duty", "5:800"},
                                   QStringList{"--counter-duty", "200:x"}}) {
        const Run r = runCli(QStringList{"record"} + bad + QStringList{"--", "/bin/true"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(bad[0].toUtf8()), r.err.constData());
    }
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
