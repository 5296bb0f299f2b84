// Sizes a trace or a PyTorch snapshot can hold but no device can: blocks of
// 2^63 bytes, a device of 16 EiB, tens of thousands of 256 TiB blocks live at
// once, an estimate scaled 2^64 times. What the user sees must never wrap
// around (a peak of 0 B, activations of 8388608 TiB, a negative peak_bytes in
// JSON): impossible sizes are left out and named, sums saturate.
#include "analysis/compare.h"
#include "analysis/summary.h"
#include "format/saturating.h"
#include "format/writer.h"
#include "import/snapshot_import.h"
#include "model/model_builder.h"

#include "synth_fixture.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <functional>

using namespace vramscope;
using namespace vramscope::format;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kH100Bytes = 80ull << 30;

// A trace with one device (deviceBytes of memory, 0: unknown), four blocks
// of 1 to 4 MiB, then whatever `more` writes, all never freed.
bool writeTrace(const std::string& path, uint64_t deviceBytes, const std::function<void(TraceWriter&)>& more) {
    TraceWriter w;
    if (!w.open(path)) return false;
    w.write(ProcessInfo{1000, 42, w.intern("host"), w.intern("python train.py"), -1, -1, 0});
    DeviceInfo d;
    d.timestampNs = 1000;
    d.nameId = w.intern("NVIDIA H100 80GB HBM3");
    d.totalMemoryBytes = deviceBytes;
    w.write(d);
    for (uint64_t i = 0; i < 4; ++i)
        w.write(TensorMemory{2000 + i * 1000, TensorAction::Alloc, 0, 0x7f0000000000ull + (i << 24), (i + 1) * kMiB, 7, 0});
    if (more) more(w);
    return w.close();
}

bool mentions(const std::vector<TraceProblem>& problems, const char* text) {
    for (const auto& p : problems)
        if (p.message.find(text) != std::string::npos) return true;
    return false;
}

QJsonObject summaryJson(const std::string& path) {
    QProcess p;
    p.start(VRAMSCOPE_CLI, {"summary", "--json", QString::fromStdString(path)});
    if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        qFatal("vramscope summary --json %s failed: %s", path.c_str(), p.readAllStandardError().constData());
    return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
}

// Every number under a key that names bytes, anywhere in the document.
void bytesFigures(const QJsonValue& v, const QString& key, std::vector<std::pair<QString, double>>& out) {
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it) bytesFigures(it.value(), it.key(), out);
    } else if (v.isArray()) {
        for (const QJsonValue& x : v.toArray()) bytesFigures(x, key, out);
    } else if (v.isDouble() && key.contains("bytes")) {
        out.emplace_back(key, v.toDouble());
    }
}

// A pickle (protocol 2) of plain data, enough to write snapshots by hand.
struct Pickle {
    QByteArray b = QByteArray("\x80\x02", 2);
    void text(const char* s) {
        const uint32_t n = uint32_t(std::strlen(s));
        b += 'X';
        b += QByteArray(reinterpret_cast<const char*>(&n), 4);
        b += s;
    }
    void integer(uint64_t v) {
        QByteArray bytes;
        for (uint64_t x = v; x; x >>= 8) bytes += char(x & 0xff);
        if (bytes.isEmpty() || (uint8_t(bytes.back()) & 0x80)) bytes += char(0);  // stays positive
        b += char(0x8a);  // LONG1
        b += char(bytes.size());
        b += bytes;
    }
    void beginDict() { b += "}("; }
    void endDict() { b += 'u'; }
    void beginList() { b += "]("; }
    void endList() { b += 'e'; }
    void entry(const char* action, uint64_t addr, uint64_t size, uint64_t timeUs) {
        beginDict();
        text("action"), text(action);
        text("addr"), integer(addr);
        text("size"), integer(size);
        text("stream"), integer(0);
        text("time_us"), integer(timeUs);
        endDict();
    }
};

}  // namespace

class TestOverflow : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::string path(const QString& name) { return (dir_.path() + "/" + name).toStdString(); }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void blockLargerThanItsDeviceIsLeftOutAndNamed_data() {
        QTest::addColumn<quint64>("deviceBytes");
        QTest::addColumn<quint64>("blockBytes");
        QTest::newRow("2^63 on an H100") << quint64(kH100Bytes) << quint64(1ull << 63);
        QTest::newRow("2^63 + 1 TiB on an H100") << quint64(kH100Bytes) << quint64((1ull << 63) + (1ull << 40));
        QTest::newRow("2^64 - 1 on an H100") << quint64(kH100Bytes) << quint64(UINT64_MAX);
        QTest::newRow("1 TiB on an H100") << quint64(kH100Bytes) << quint64(1ull << 40);
        QTest::newRow("2^63, device unknown") << quint64(0) << quint64(1ull << 63);
        QTest::newRow("512 TiB, device unknown") << quint64(0) << quint64(1ull << 49);
    }
    // It gave "peak allocated 0 B", "weights 8388608 TiB" and a negative
    // peak_bytes in JSON, and said nothing of the block.
    void blockLargerThanItsDeviceIsLeftOutAndNamed() {
        QFETCH(quint64, deviceBytes);
        QFETCH(quint64, blockBytes);
        const std::string file = path("huge-block.vtrace");
        QVERIFY(writeTrace(file, deviceBytes, [&](TraceWriter& w) {
            w.write(TensorMemory{9000, TensorAction::Alloc, 0, 0x7f8000000000ull, blockBytes, 7, 0});
        }));
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(file, m, {}, &error), error.c_str());
        QVERIFY2(mentions(m.problems, "left out"), "the block is named as a problem");
        for (uint64_t bytes : m.blocks.bytes) QVERIFY(bytes <= 4 * kMiB);
        const analysis::TraceSummary s = analysis::summarize(m);
        QCOMPARE(s.peakAllocated.bytes, 10 * kMiB);
        QVERIFY(s.estimate.weightsBytes <= 10 * kMiB);
        QVERIFY(s.estimate.predictedPeakBytes <= 10 * kMiB);

        const QJsonObject json = summaryJson(file);
        std::vector<std::pair<QString, double>> figures;
        bytesFigures(json, {}, figures);
        QVERIFY(!figures.empty());
        for (const auto& [key, value] : figures) QVERIFY2(value >= 0 && value <= 10.0 * kMiB + kH100Bytes, qPrintable(key));
        QVERIFY2(!json["problems"].toArray().isEmpty(), "JSON problems name the block");
    }

    // Sizes within reason (256 TiB each, no device memory known), but so many
    // live at once that the sum passes 2^63: it saturated nowhere and wrapped
    // to 0 B (a signed overflow, undefined behaviour).
    void manyLiveBlocksSaturateInsteadOfWrapping() {
        const std::string file = path("many-huge.vtrace");
        QVERIFY(writeTrace(file, 0, [](TraceWriter& w) {
            for (uint64_t i = 0; i < 40000; ++i)
                w.write(TensorMemory{10000 + i, TensorAction::Alloc, 0, 0x100000000000ull + (i << 20), 1ull << 48, 7, 0});
        }));
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(file, m, {}, &error), error.c_str());
        QCOMPARE(m.blocks.size(), size_t(40004));
        const uint64_t peak = m.allocated.peak().bytes;
        QCOMPARE(peak, kSaturatedCount);
        QCOMPARE(m.allocated.valueAt(m.lastNs), peak);  // nothing was freed: the end is the peak
        const analysis::TraceSummary s = analysis::summarize(m);
        QCOMPARE(s.peakAllocated.bytes, kSaturatedCount);
        for (uint64_t bytes : s.categories.peakBytes) QVERIFY(bytes <= kSaturatedCount);
        std::vector<std::pair<QString, double>> figures;
        bytesFigures(summaryJson(file), {}, figures);
        for (const auto& [key, value] : figures) QVERIFY2(value >= 0, qPrintable(key));
    }

    // String ids are the file's to choose: a kernel named by id 2^32 − 1 (or
    // any id far past the strings the file defines) made the per-name tables
    // 4 G entries long: out of memory, or gigabytes zeroed first.
    void kernelsNamedByHugeIdsAreSummarisedInLittleMemory() {
        const std::string file = path("huge-name-ids.vtrace");
        QVERIFY(writeTrace(file, kH100Bytes, [](TraceWriter& w) {
            const uint32_t gemm = w.intern("gemm");
            for (uint32_t i = 0; i < 100; ++i) {
                const uint32_t name = i % 3 == 0 ? UINT32_MAX : i % 3 == 1 ? (1u << 30) + i : gemm;
                w.write(Kernel{10000 + i * 1000, 10500 + i * 1000, 0, 7, name});
            }
        }));
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(file, m, {}, &error), error.c_str());
        const analysis::TraceSummary s = analysis::summarize(m);
        QCOMPARE(s.kernels.size(), size_t(2 + 33));  // gemm, UINT32_MAX, and 33 ids from 2^30
        uint64_t launches = 0;
        for (const auto& k : s.kernels) launches += k.count;
        QCOMPARE(launches, uint64_t(100));
        QCOMPARE(s.kernels.front().nameId, UINT32_MAX);  // 34 launches of 500 ns: the most time
        const analysis::Comparison c = analysis::compareRuns(s, s, 5);
        QCOMPARE(c.kernels.size(), size_t(0));  // the same run: no kernel changed
        const QJsonObject json = summaryJson(file);
        QVERIFY(!json["top_kernels"].toArray().isEmpty());
    }

    // A device claiming 16 EiB is taken as unknown, and said to be wrong.
    void deviceClaimingAbsurdMemoryIsTakenAsUnknown() {
        const std::string file = path("huge-device.vtrace");
        QVERIFY(writeTrace(file, UINT64_MAX, nullptr));
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(file, m, {}, &error));
        QCOMPARE(m.deviceTotalBytes(), uint64_t(0));
        QVERIFY(mentions(m.problems, "memory is taken as unknown"));
        const QJsonObject json = summaryJson(file);
        QVERIFY(json["device"].toObject()["total_memory_bytes"].toDouble() >= 0);
    }

    // Dropped counts of 2^63 twice wrapped to 0.
    void droppedCountsSaturate() {
        const std::string file = path("dropped.vtrace");
        QVERIFY(writeTrace(file, kH100Bytes, [](TraceWriter& w) {
            w.write(Dropped{9000, DropReason::BufferFull, 1ull << 63});
            w.write(Dropped{9001, DropReason::BufferFull, 1ull << 63});
        }));
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(file, m, {}, &error));
        QCOMPARE(m.droppedEvents, kSaturatedCount);
        TraceReader reader;
        QVERIFY(reader.open(file, &error));
        TraceContents contents;
        QVERIFY(loadTrace(reader, contents, {}, &error));
        QCOMPARE(contents.droppedEvents, kSaturatedCount);
    }

    // A prediction 2^64 times the traced batch and sequence: converting the
    // double back to bytes was undefined and gave 2^63 (negative in JSON).
    void estimateFarBeyondTheTraceSaturates() {
        const model::TraceModel& m = testing::synthModel("estimate", testing::synthOptions(6));
        analysis::SummaryOptions options;
        options.estimator.measuredBatch = 1;
        options.estimator.measuredSequence = 1;
        options.estimator.targetBatch = UINT32_MAX;
        options.estimator.targetSequence = UINT32_MAX;
        const analysis::TraceSummary s = analysis::summarize(m, options);
        QVERIFY(s.estimate.valid);
        QCOMPARE(s.estimate.predictedPeakBytes, kSaturatedCount);
        QVERIFY(s.estimate.predictDeviceBytes(1e30) <= kSaturatedCount);
    }

    // A PyTorch snapshot whose history allocates 2^63 bytes: it gave
    // "activations 8388608 TiB". The entries are left out with a warning.
    void snapshotWithImpossibleSizesImportsWithoutThem() {
        Pickle p;
        p.beginDict();
        p.text("segments"), p.beginList(), p.endList();
        p.text("device_traces");
        p.beginList();
        p.beginList();
        p.entry("segment_alloc", 0x7f0000000000ull, 1ull << 63, 1);
        p.entry("alloc", 0x7f0000000000ull, 1ull << 63, 2);
        p.entry("alloc", 0x7f0000100000ull, kMiB, 3);
        p.entry("alloc", 0x7f0000200000ull, UINT64_MAX, 4);
        p.endList();
        p.endList();
        p.endDict();
        p.b += '.';
        const std::string vtrace = path("snapshot.vtrace");
        import::ImportStats stats;
        std::string error;
        QVERIFY2(import::importSnapshotBytes(reinterpret_cast<const uint8_t*>(p.b.constData()), size_t(p.b.size()),
                                             "crafted.pickle", vtrace, &stats, &error),
                 error.c_str());
        bool warned = false;
        for (const std::string& w : stats.warnings) warned |= w.find("256 TiB") != std::string::npos;
        QVERIFY2(warned, "the import says what it left out");
        model::TraceModel m;
        QVERIFY2(model::loadModel(vtrace, m, {}, &error), error.c_str());
        for (uint64_t bytes : m.blocks.bytes) QVERIFY(bytes <= kMiB);
        const analysis::TraceSummary s = analysis::summarize(m);
        QCOMPARE(s.peakAllocated.bytes, kMiB);
        QVERIFY(s.estimate.activationsBytes <= kMiB);
        QVERIFY(s.estimate.weightsBytes <= kMiB);
    }
};

QTEST_GUILESS_MAIN(TestOverflow)
#include "tst_overflow.moc"
