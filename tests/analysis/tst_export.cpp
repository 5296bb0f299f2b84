// Export: Chrome trace JSON and allocation CSV.
#include "synth_fixture.h"

#include "analysis/categories.h"
#include "analysis/iterations.h"
#include "export/chrome_trace.h"
#include "export/csv_export.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <set>
#include <sstream>

using namespace vramscope;

class TestExport : public QObject {
    Q_OBJECT
private slots:
    void chromeTraceIsValidJsonWithAllTracks();
    void downsampledCountersKeepThePeak();
    void csvHasOneRowPerAllocation();
    void jsonStringsAreEscaped();
};

static QJsonArray chromeEvents(const model::TraceModel& m, const exporting::ChromeTraceOptions& options) {
    std::ostringstream out;
    if (!exporting::writeChromeTrace(m, analysis::detectIterations(m), out, options)) return {};
    QJsonParseError error;
    const auto doc = QJsonDocument::fromJson(QByteArray::fromStdString(out.str()), &error);
    if (error.error != QJsonParseError::NoError) qWarning("%s", qPrintable(error.errorString()));
    return doc.object().value("traceEvents").toArray();
}

void TestExport::chromeTraceIsValidJsonWithAllTracks() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    const QJsonArray events = chromeEvents(m, {});
    QVERIFY(!events.isEmpty());
    std::set<QString> counters, categories;
    size_t kernels = 0, phases = 0, iterations = 0, smSamples = 0;
    double smMax = 0;
    for (const auto& v : events) {
        const QJsonObject e = v.toObject();
        QVERIFY(e.contains("ph") && e.contains("pid"));
        const QString ph = e["ph"].toString();
        if (ph == "C") counters.insert(e["name"].toString());
        if (ph == "C" && e["name"].toString() == "SM throughput %") {
            ++smSamples;
            smMax = std::max(smMax, e["args"].toObject()["percent"].toDouble());
        }
        if (ph == "X") {
            QVERIFY(e["dur"].toDouble() >= 0);
            categories.insert(e["cat"].toString());
            kernels += e["cat"].toString() == "kernel";
            phases += e["cat"].toString() == "phase";
            iterations += e["cat"].toString() == "iteration";
        }
    }
    QVERIFY(counters.count("allocated") && counters.count("reserved") && counters.count("device total"));
    // Hardware counters: one track each, every sample, in percent.
    QVERIFY(counters.count("DRAM throughput %") && counters.count("tensor pipe %"));
    const model::CounterSeries* sm = nullptr;
    for (const auto& c : m.counters)
        if (c.info.metric == format::CounterMetric::SmThroughputPct) sm = &c;
    QVERIFY(sm);
    QCOMPARE(smSamples, sm->timesNs.size());
    QCOMPARE(smMax, *std::max_element(sm->valuesMilli.begin(), sm->valuesMilli.end()) / 1000.0);
    QCOMPARE(kernels, m.kernels.size());
    QCOMPARE(iterations, size_t(5));
    QCOMPARE(phases, size_t(15));
    QVERIFY(categories.count("nvtx") && categories.count("memcpy"));
}

void TestExport::downsampledCountersKeepThePeak() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    exporting::ChromeTraceOptions options;
    options.maxCounterPoints = 200;
    options.kernels = false;
    const QJsonArray events = chromeEvents(m, options);
    size_t allocatedPoints = 0;
    double peak = 0;
    for (const auto& v : events) {
        const QJsonObject e = v.toObject();
        if (e["ph"].toString() != "C" || e["name"].toString() != "allocated") continue;
        ++allocatedPoints;
        peak = std::max(peak, e["args"].toObject()["bytes"].toDouble());
    }
    QVERIFY(allocatedPoints <= 200);
    QCOMPARE(uint64_t(peak), m.allocated.peak().bytes);
}

void TestExport::csvHasOneRowPerAllocation() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    const auto categories = analysis::categorize(m, analysis::detectIterations(m));
    std::ostringstream out;
    QVERIFY(exporting::writeAllocationsCsv(m, &categories, out));
    const QStringList lines = QString::fromStdString(out.str()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(size_t(lines.size()), 1 + m.blocks.size() + m.driverBlocks.size());
    QCOMPARE(lines[0], QString("level,alloc_ns,free_ns,bytes,address,memory_kind,callsite,category,iteration,phase"));
    for (const QString& line : lines) QCOMPARE(line.count(','), 9);
    QVERIFY(lines[1].startsWith("tensor,") && lines[1].contains(",weights,"));
}

void TestExport::jsonStringsAreEscaped() {
    std::ostringstream out;
    exporting::writeJsonString(out, std::string("a\"b\\c\n\x01 d", 9));
    QCOMPARE(QString::fromStdString(out.str()), QString("\"a\\\"b\\\\c\\n\\u0001 d\""));
}

QTEST_GUILESS_MAIN(TestExport)
#include "tst_export.moc"
