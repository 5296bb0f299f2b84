// The CLI end to end: `vramscope summary/diff/export` exit codes and the
// summary JSON key set (docs/summary-schema.md: change both together).
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
    void summaryJsonCountsFortyIterationsAndTheLeak();
    void diffOfCleanAndLeakFailsOnFivePercent();
    void diffOfTheSameRunPasses();
    void chromeExportIsValidTraceJson();
    void csvExportWritesAllocations();
    void kernelsExportListsEveryNameWithItsClass();
    void garbageInputExitsWithOne();
    void missingArgumentsExitWithTwo();
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

void TestCli::summaryJsonHasTheDocumentedKeys() {
    const Run r = runCli({"summary", trace("clean40"), "--json"});
    QCOMPARE(r.exitCode, 0);
    const QJsonObject o = QJsonDocument::fromJson(r.out).object();
    const QSet<QString> top{"file", "capture", "device", "duration_ns", "events", "tensor_events", "driver_events",
                            "allocation_level", "iterations", "iteration_source", "phases_inferred",
                            "kernels_per_iteration", "mean_iteration_ns", "median_iteration_ns", "median_step_period_ns",
                            "median_between_steps_ns", "per_iteration", "phases",
                            "peak_allocated_bytes", "peak_allocated_time_ns", "peak_reserved_bytes",
                            "peak_reserved_time_ns", "top_blocks_at_peak", "categories", "leak", "checkpointing",
                            "estimator", "boundness", "top_kernels", "problems"};
    QCOMPARE(keys(o), top);
    QCOMPARE(keys(o["capture"].toObject()), (QSet<QString>{"start"}));
    QCOMPARE(o["capture"]["start"].toString(), QString("launch"));
    QCOMPARE(keys(o["leak"].toObject()), (QSet<QString>{"detected", "bytes_per_iteration", "first_iteration",
                                                        "total_leaked_bytes", "growth_bytes_per_iteration",
                                                        "warmup_iterations", "blocks"}));
    QCOMPARE(keys(o["phases"].toObject()), (QSet<QString>{"forward", "backward", "optimizer"}));
    QCOMPARE(keys(o["phases"]["forward"].toObject()),
             (QSet<QString>{"iterations", "mean_duration_ns", "median_duration_ns", "total_duration_ns",
                            "peak_allocated_bytes", "mean_peak_allocated_bytes"}));
    QCOMPARE(keys(o["categories"].toObject()),
             (QSet<QString>{"weights", "optimizer_state", "gradients", "activations", "temporaries", "leaked", "other",
                            "persistent"}));
    QCOMPARE(keys(o["per_iteration"][0].toObject()),
             (QSet<QString>{"index", "step", "start_ns", "duration_ns", "allocated_at_start_bytes",
                            "peak_allocated_bytes", "peak_reserved_bytes", "phases", "bound", "steady"}));
    QCOMPARE(keys(o["per_iteration"][0]["phases"]["forward"].toObject()),
             (QSet<QString>{"duration_ns", "peak_allocated_bytes", "bound", "busy_fraction", "sm_throughput_pct",
                            "dram_throughput_pct"}));
    QCOMPARE(keys(o["top_blocks_at_peak"][0].toObject()),
             (QSet<QString>{"bytes", "address", "alloc_ns", "free_ns", "category", "iteration", "phase", "callsite"}));
    QCOMPARE(keys(o["checkpointing"].toObject()),
             (QSet<QString>{"detected", "source", "iterations_with_recompute", "recompute_kernels", "recompute_ns",
                            "recompute_ns_per_iteration", "fraction_of_iteration_time"}));
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
