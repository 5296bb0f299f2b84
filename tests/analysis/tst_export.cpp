// Export: Chrome trace JSON and allocation CSV.
#include "synth_fixture.h"

#include "analysis/categories.h"
#include "analysis/iterations.h"
#include "export/chrome_trace.h"
#include "export/csv_export.h"
#include "format/writer.h"
#include "model/model_builder.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <map>
#include <set>
#include <tuple>
#include <sstream>

using namespace vramscope;

class TestExport : public QObject {
    Q_OBJECT
private slots:
    void chromeTraceIsValidJsonWithAllTracks();
    void downsampledCountersKeepThePeak();
    void csvHasOneRowPerAllocation();
    void jsonStringsAreEscaped();
    void longNamesAreCutBetweenCharacters();
    void userRegionsAreRangesBelowNvtx();
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

// A 48 MiB kernel name launched 1000 times asked the Chrome export for
// 48 GB (it ran past two minutes); each text is cut at 4 KiB, between
// characters, and ends in "…", in JSON and in the CSVs alike.
void TestExport::longNamesAreCutBetweenCharacters() {
    std::string name = "k";  // then é (two bytes) from an odd offset: 4096 falls inside one
    while (name.size() < (1u << 20)) name += "\xC3\xA9";
    std::ostringstream json;
    exporting::writeJsonString(json, name);
    const std::string written = json.str();
    QVERIFY(written.size() <= exporting::kMaxExportedTextBytes + 2 + 3);
    QVERIFY(written.size() > exporting::kMaxExportedTextBytes - 4);
    QVERIFY(QString::fromStdString(written).endsWith(QString::fromUtf8("\xC3\xA9\xE2\x80\xA6\"")));  // é…"
    QVERIFY(!QString::fromStdString(written).contains(QChar(0xFFFD)));
    const std::string shortName = "ampere_sgemm_128x64_nn";
    std::ostringstream whole;
    exporting::writeJsonString(whole, shortName);
    QCOMPARE(whole.str(), '"' + shortName + '"');

    analysis::KernelStats k;
    k.nameId = 1;
    k.name = name;
    k.count = 1000;
    k.totalNs = 1000000;
    std::ostringstream csv;
    QVERIFY(exporting::writeKernelsCsv({k}, analysis::KernelBoundness{}, csv));
    const QStringList lines = QString::fromStdString(csv.str()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2);
    QVERIFY(lines[1].toUtf8().size() < qsizetype(exporting::kMaxExportedTextBytes + 200));
    QVERIFY(lines[1].contains(QString::fromUtf8("\xC3\xA9\xE2\x80\xA6,")));

    // A name a spreadsheet would run as a formula is written as text.
    std::vector<analysis::KernelStats> formulas(3, k);
    formulas[0].name = "=HYPERLINK(\"http://x\",\"k\")";
    formulas[1].name = "@SUM(A1)";
    formulas[2].name = "void gemm<-1>";
    std::ostringstream guarded;
    QVERIFY(exporting::writeKernelsCsv(formulas, analysis::KernelBoundness{}, guarded));
    const QStringList rows = QString::fromStdString(guarded.str()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(rows.size(), 4);
    QVERIFY2(rows[1].startsWith("\"'=HYPERLINK(\"\"http://x\"\",\"\"k\"\")\","), qPrintable(rows[1]));
    QVERIFY2(rows[2].startsWith("'@SUM(A1),"), qPrintable(rows[2]));
    QVERIFY2(rows[3].startsWith("void gemm<-1>,"), qPrintable(rows[3]));
}

void TestExport::userRegionsAreRangesBelowNvtx() {
    // vramscope.region() writes RegionBegin/RegionEnd markers: the model
    // pairs them by name into ranges below the NVTX rows, and the Chrome
    // export shows them on the Training process's "regions" track.
    const std::string path = testing::fixtureDir().filePath("regions.vtrace").toStdString();
    {
        format::TraceWriter w;
        std::string error;
        QVERIFY(w.open(path, &error));
        format::Range nvtx;
        nvtx.startNs = 100;
        nvtx.endNs = 900;
        nvtx.nameId = w.intern("epoch");
        nvtx.depth = 1;  // two NVTX rows: depths 0 and 1
        w.write(nvtx);
        auto region = [&](format::PhaseKind kind, uint64_t at, const char* name) {
            format::Phase p;
            p.timestampNs = at;
            p.kind = kind;
            p.nameId = w.intern(name);
            w.write(p);
        };
        using K = format::PhaseKind;
        region(K::RegionBegin, 200, "data");
        region(K::RegionBegin, 250, "decode");  // nested in "data"
        region(K::RegionEnd, 300, "decode");
        region(K::RegionEnd, 400, "data");
        region(K::RegionEnd, 450, "never opened");  // dropped
        region(K::RegionBegin, 500, "eval");         // still open at the end
        format::DriverMemory last;
        last.timestampNs = 1000;
        last.bytes = 1;
        w.write(last);
        QVERIFY(w.close());
    }
    model::TraceModel m;
    std::string error;
    QVERIFY(model::loadModel(path, m, {}, &error));
    std::map<std::string, std::tuple<uint64_t, uint64_t, uint16_t>> regions;
    size_t nvtxRanges = 0;
    for (size_t i = 0; i < m.ranges.size(); ++i) {
        if (m.ranges.domainId[i] != model::TraceModel::kRegionDomain) {
            ++nvtxRanges;
            continue;
        }
        regions[m.text(m.ranges.nameId[i])] = {m.ranges.startNs[i], m.ranges.endNs[i], m.ranges.depth[i]};
    }
    QCOMPARE(nvtxRanges, size_t(1));
    QCOMPARE(regions.size(), size_t(3));
    QCOMPARE(regions["data"], std::make_tuple(uint64_t(200), uint64_t(400), uint16_t(2)));
    QCOMPARE(regions["decode"], std::make_tuple(uint64_t(250), uint64_t(300), uint16_t(3)));
    QCOMPARE(regions["eval"], std::make_tuple(uint64_t(500), uint64_t(1000), uint16_t(2)));

    std::map<QString, int> tracks;  // name -> tid of the "region" slices
    for (const auto& v : chromeEvents(m, {})) {
        const QJsonObject e = v.toObject();
        if (e["cat"].toString() == "region") tracks[e["name"].toString()] = e["tid"].toInt();
        if (e["cat"].toString() == "nvtx") QCOMPARE(e["name"].toString(), QString("epoch"));
    }
    QCOMPARE(tracks.size(), size_t(3));
    QCOMPARE(tracks["decode"], 4);
}

QTEST_GUILESS_MAIN(TestExport)
#include "tst_export.moc"
