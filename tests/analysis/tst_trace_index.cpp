// The trace index (model/trace_index.h): built in one streaming pass, it
// must say exactly what a full decode says at its resolution — the memory
// curves' min and max in every bucket, the peak, kernel density, step
// starts, totals — on every real fixture and on synth traces, cut-off
// traces included; its cache must be used when valid, rebuilt when the trace
// changed, and refused when damaged.
#include "synth_fixture.h"
#include "../format/hostile_trace.h"

#include "model/model_builder.h"
#include "model/trace_index.h"
#include "format/codec.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <zstd.h>

#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

using namespace vramscope;
using namespace vramscope::model;

namespace {

using testing::readBytes;
using testing::writeBytes;

TraceIndex indexOf(const std::string& path, uint32_t buckets, unsigned threads = 2) {
    format::TraceReader reader;
    std::string error;
    if (!reader.open(path, &error)) qFatal("%s", error.c_str());
    IndexOptions options;
    options.buckets = buckets;
    options.threads = threads;
    TraceIndex index;
    if (!buildTraceIndex(reader, index, options, &error)) qFatal("%s", error.c_str());
    return index;
}

// Every figure of the index against the model of a full decode; the first
// difference, or "".
QString compare(const TraceIndex& x, const TraceModel& m) {
    auto differs = [](const char* what, auto a, auto b) {
        return QStringLiteral("%1: index %2, full decode %3").arg(what).arg(a).arg(b);
    };
    if (x.firstNs != m.firstNs) return differs("firstNs", x.firstNs, m.firstNs);
    if (x.lastNs != m.lastNs) return differs("lastNs", x.lastNs, m.lastNs);
    if (x.events != m.events) return differs("events", x.events, m.events);
    if (x.tensorEvents != m.tensorEvents) return differs("tensor events", x.tensorEvents, m.tensorEvents);
    if (x.driverEvents != m.driverEvents) return differs("driver events", x.driverEvents, m.driverEvents);
    if (x.droppedEvents != m.droppedEvents) return differs("dropped", x.droppedEvents, m.droppedEvents);
    if (x.allocationLevel != m.allocationLevel) return differs("level", int(x.allocationLevel), int(m.allocationLevel));
    if (x.kernels != m.kernels.size()) return differs("kernels", x.kernels, m.kernels.size());
    if (x.reorderOverflows != 0) return differs("reorder overflows", x.reorderOverflows, 0);

    const std::pair<const IndexCurve*, const MemoryCurve*> curves[] = {
        {&x.allocated, &m.allocated}, {&x.reserved, &m.reserved}, {&x.deviceUsed, &m.deviceUsed}};
    const char* names[] = {"allocated", "reserved", "device used"};
    for (int c = 0; c < 3; ++c) {
        const IndexCurve& ic = *curves[c].first;
        const MemoryCurve& mc = *curves[c].second;
        if (ic.minBytes.size() != x.buckets || ic.maxBytes.size() != x.buckets) return QString(names[c]) + ": size";
        for (uint32_t b = 0; b < x.buckets; ++b) {
            const uint64_t t0 = x.bucketStartNs(b), t1 = x.bucketStartNs(b + 1);
            const MemoryCurve::Bucket want = mc.minMaxIn(t0, t1);
            if (ic.minBytes[b] != want.minBytes || ic.maxBytes[b] != want.maxBytes)
                return QStringLiteral("%1 bucket %2 [%3, %4): index %5..%6, full decode %7..%8")
                    .arg(names[c]).arg(b).arg(t0).arg(t1).arg(ic.minBytes[b]).arg(ic.maxBytes[b])
                    .arg(want.minBytes).arg(want.maxBytes);
        }
        const MemoryCurve::Point peak = mc.peak();
        if (!mc.empty() && (ic.peak.bytes != peak.bytes || ic.peak.timeNs != peak.timeNs))
            return QStringLiteral("%1 peak: index %2 at %3, full decode %4 at %5")
                .arg(names[c]).arg(ic.peak.bytes).arg(ic.peak.timeNs).arg(peak.bytes).arg(peak.timeNs);
    }

    std::vector<uint32_t> count(x.buckets, 0);
    std::vector<uint64_t> busy(x.buckets, 0);
    for (size_t i = 0; i < m.kernels.size(); ++i) {
        const uint32_t b = x.bucketOf(m.kernels.startNs[i]);
        ++count[b];
        busy[b] += m.kernels.durationNs[i];
    }
    if (count != x.kernelCount) return "kernels per bucket";
    if (busy != x.kernelBusyNs) return "kernel busy time per bucket";

    std::vector<uint64_t> steps;
    for (const format::Phase& p : m.phases)
        if (p.kind == format::PhaseKind::StepBegin) steps.push_back(p.timestampNs);
    if (steps != x.stepStartsNs) return differs("step starts", x.stepStartsNs.size(), steps.size());
    return {};
}

TraceModel modelOf(const std::string& path) {
    TraceModel m;
    std::string error;
    if (!loadModel(path, m, {}, &error)) qFatal("%s", error.c_str());
    return m;
}

}  // namespace

class TestTraceIndex : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        // The fallback cache folder goes to this test's folder, not the user's.
        qputenv("XDG_CACHE_HOME", (dir_.path() + "/xdg").toUtf8());
        qunsetenv("VRAMSCOPE_INDEX_CACHE");
    }

    void indexMatchesAFullDecode_data() {
        QTest::addColumn<QString>("trace");
        QTest::addColumn<uint>("buckets");
        const QDir data(VRAMSCOPE_TEST_DATA);
        for (const QString& name : data.entryList({"*.vtrace"}, QDir::Files, QDir::Name)) {
            QTest::newRow(qPrintable(name + " 4096")) << data.filePath(name) << 4096u;
            QTest::newRow(qPrintable(name + " 37")) << data.filePath(name) << 37u;
        }
        synth::SynthOptions leak = testing::synthOptions(30);
        leak.leakBytesPerIteration = 3 << 20;
        synth::SynthOptions plain = testing::synthOptions(12);
        plain.phaseMarkers = false;
        synth::SynthOptions ckpt = testing::synthOptions(10);
        ckpt.checkpointing = true;
        const std::pair<const char*, synth::SynthOptions> synths[] = {
            {"synth-300", testing::synthOptions(300)}, {"synth-leak", leak}, {"synth-plain", plain}, {"synth-ckpt", ckpt}};
        for (const auto& [name, options] : synths) {
            const QString trace = QString::fromStdString(testing::synthTrace(name, options));
            QTest::newRow(qPrintable(QString(name) + " 16384")) << trace << 16384u;
            QTest::newRow(qPrintable(QString(name) + " 1000")) << trace << 1000u;
        }
    }
    // Random windows are the bucket grid at two resolutions, on every fixture.
    void indexMatchesAFullDecode() {
        QFETCH(QString, trace);
        QFETCH(uint, buckets);
        const std::string p = trace.toStdString();
        const TraceModel m = modelOf(p);
        const TraceIndex one = indexOf(p, buckets, 1), two = indexOf(p, buckets, 2);
        const QString a = compare(one, m), b = compare(two, m);
        QVERIFY2(a.isEmpty(), qPrintable(a));
        QVERIFY2(b.isEmpty(), qPrintable(b));
        QVERIFY(one.memoryBytes() < 64u * buckets + (1u << 20) + one.stepStartsNs.size() * 8);
    }

    // A recording cut off anywhere (killed, disk full) indexes what is left,
    // as the full decode of the same bytes does.
    void cutOffTraceIndexesWhatIsLeft_data() {
        QTest::addColumn<double>("fraction");
        for (double f : {0.13, 0.5, 0.91}) QTest::newRow(qPrintable(QString::number(f))) << f;
    }
    void cutOffTraceIndexesWhatIsLeft() {
        QFETCH(double, fraction);
        const std::vector<uint8_t> whole = readBytes(testing::synthTrace("synth-300", testing::synthOptions(300)));
        std::vector<uint8_t> part(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(double(whole.size()) * fraction));
        const std::string p = path("cut.vtrace");
        writeBytes(p, part);
        const TraceIndex x = indexOf(p, 2048);
        const QString d = compare(x, modelOf(p));
        QVERIFY2(d.isEmpty(), qPrintable(d));
    }

    // A chunk that does not decode is left out of both alike and counted.
    void damagedChunkIsLeftOutAndCounted() {
        std::vector<uint8_t> bytes = readBytes(testing::synthTrace("synth-300", testing::synthOptions(300)));
        format::TraceReader reader;
        std::string error;
        QVERIFY(reader.openMemory(bytes, &error));
        QVERIFY(reader.chunks().size() > 3);
        const auto& victim = reader.chunks()[reader.chunks().size() / 2];
        bytes[victim.offset + format::kChunkHeaderBytes + victim.compressedBytes / 2] ^= 0x55;
        const std::string p = path("damaged.vtrace");
        writeBytes(p, bytes);
        const TraceIndex x = indexOf(p, 4096);
        QCOMPARE(x.chunksDropped, uint64_t(1));
        const QString d = compare(x, modelOf(p));
        QVERIFY2(d.isEmpty(), qPrintable(d));
    }

    // First open builds and saves FILE.vidx; the next reads it; a trace
    // rewritten since gets a new index, never the old one's figures.
    void cacheIsUsedWhileValidAndRebuiltWhenTheTraceChanges() {
        const std::string p = path("cached.vtrace");
        writeBytes(p, readBytes(testing::synthTrace("synth-leak", [] {
                       auto o = testing::synthOptions(30);
                       o.leakBytesPerIteration = 3 << 20;
                       return o;
                   }())));
        TraceIndex first, second, third;
        IndexOpen how;
        std::string error;
        QVERIFY2(openTraceIndex(p, first, {}, &how, &error), error.c_str());
        QCOMPARE(int(how.source), int(IndexSource::Built));
        QCOMPARE(how.cachePath, p + ".vidx");
        QVERIFY(QFile::exists(QString::fromStdString(p + ".vidx")));
        QVERIFY2(openTraceIndex(p, second, {}, &how, &error), error.c_str());
        QCOMPARE(int(how.source), int(IndexSource::Cache));
        QVERIFY(how.cacheIssue.empty());
        const QString d = compare(second, modelOf(p));
        QVERIFY2(d.isEmpty(), qPrintable(d));

        // Another trace written under the same name.
        writeBytes(p, readBytes(testing::synthTrace("synth-300", testing::synthOptions(300))));
        QVERIFY2(openTraceIndex(p, third, {}, &how, &error), error.c_str());
        QCOMPARE(int(how.source), int(IndexSource::Built));
        QVERIFY2(how.cacheIssue.find("earlier state") != std::string::npos, how.cacheIssue.c_str());
        QCOMPARE(third.events, modelOf(p).events);
        QVERIFY(third.events != first.events);
    }

    // Where FILE.vidx cannot be written (the name is taken by a folder), the
    // index goes to the cache folder and is found there next time.
    void cacheFallsBackToTheCacheFolder() {
        const std::string p = path("fallback.vtrace");
        writeBytes(p, readBytes(testing::synthTrace("synth-300", testing::synthOptions(300))));
        QVERIFY(QDir().mkpath(QString::fromStdString(p + ".vidx")));
        TraceIndex x;
        IndexOpen how;
        std::string error;
        QVERIFY2(openTraceIndex(p, x, {}, &how, &error), error.c_str());
        QCOMPARE(int(how.source), int(IndexSource::Built));
        QVERIFY2(how.cachePath.find("/xdg/vramscope/") != std::string::npos, how.cachePath.c_str());
        QVERIFY2(openTraceIndex(p, x, {}, &how, &error), error.c_str());
        QCOMPARE(int(how.source), int(IndexSource::Cache));
        QVERIFY2(how.cachePath.find("/xdg/vramscope/") != std::string::npos, how.cachePath.c_str());
    }

    // VRAMSCOPE_INDEX_CACHE: "off" keeps none; a folder holds them all.
    void cacheSettingIsObeyed() {
        const std::string p = path("setting.vtrace");
        writeBytes(p, readBytes(testing::synthTrace("synth-300", testing::synthOptions(300))));
        TraceIndex x;
        IndexOpen how;
        std::string error;
        qputenv("VRAMSCOPE_INDEX_CACHE", "off");
        QVERIFY(indexCachePaths(p).empty());
        QVERIFY2(openTraceIndex(p, x, {}, &how, &error), error.c_str());
        QVERIFY(how.cachePath.empty());
        QVERIFY(!QFile::exists(QString::fromStdString(p + ".vidx")));
        const QString folder = dir_.path() + "/own-cache";
        QVERIFY(QDir().mkpath(folder));
        qputenv("VRAMSCOPE_INDEX_CACHE", folder.toUtf8());
        QVERIFY2(openTraceIndex(p, x, {}, &how, &error), error.c_str());
        QVERIFY2(QString::fromStdString(how.cachePath).startsWith(folder + "/"), how.cachePath.c_str());
        QVERIFY(!QFile::exists(QString::fromStdString(p + ".vidx")));
        QVERIFY2(openTraceIndex(p, x, {}, &how, &error), error.c_str());
        QCOMPARE(int(how.source), int(IndexSource::Cache));
        qunsetenv("VRAMSCOPE_INDEX_CACHE");
    }

    // The cache is outside data too: every cut and every flipped byte of a
    // real one is refused (zstd's checksum covers the payload), and a crafted
    // one claiming a million buckets in a few bytes allocates nothing.
    void damagedCacheIsRefused() {
        const std::string p = path("hostile.vtrace");
        writeBytes(p, readBytes(testing::synthTrace("synth-plain", [] {
                       auto o = testing::synthOptions(12);
                       o.phaseMarkers = false;
                       return o;
                   }())));
        TraceIndex x;
        std::string error;
        QVERIFY(openTraceIndex(p, x, {}, nullptr, &error));
        const std::vector<uint8_t> good = readBytes(p + ".vidx");
        QVERIFY(good.size() > 64);
        TraceIndex y;
        uint64_t identity = 0;
        std::string why;
        QVERIFY2(decodeTraceIndex(good.data(), good.size(), y, &identity, &why), why.c_str());
        for (size_t n = 0; n < good.size(); n += 1 + n / 16)
            QVERIFY2(!decodeTraceIndex(good.data(), n, y, &identity, &why), qPrintable(QString::number(n)));
        // A flip is refused, or (in bits zstd does not use) decodes to the same figures.
        for (size_t i = 0; i < good.size(); i += 3) {
            std::vector<uint8_t> flipped = good;
            flipped[i] ^= 0x21;
            if (i >= 8 && i < 16) continue;  // the identity: decodes, then does not match the trace
            TraceIndex z;
            if (!decodeTraceIndex(flipped.data(), flipped.size(), z, &identity, &why)) continue;
            QVERIFY2(z.allocated.maxBytes == y.allocated.maxBytes && z.reserved.minBytes == y.reserved.minBytes &&
                         z.kernelCount == y.kernelCount && z.events == y.events && z.stepStartsNs == y.stepStartsNs,
                     qPrintable(QString::number(i)));
        }
        // Loaded through the cache path, a damaged file is named and rebuilt.
        std::vector<uint8_t> damaged = good;
        damaged[damaged.size() - 5] ^= 0xFF;
        writeBytes(p + ".vidx", damaged);
        IndexOpen how;
        QVERIFY(openTraceIndex(p, x, {}, &how, &error));
        QCOMPARE(int(how.source), int(IndexSource::Built));
        QVERIFY2(how.cacheIssue.find("damaged") != std::string::npos, how.cacheIssue.c_str());
        QCOMPARE(readBytes(p + ".vidx"), good);
    }

    void craftedCacheClaimingHugeCountsIsRefused() {
        // A valid frame whose payload says 2^20 buckets but holds 20 bytes.
        std::vector<uint8_t> raw;
        uint8_t tmp[10];
        for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(TraceIndex::kMaxBuckets)})
            raw.insert(raw.end(), tmp, format::putVarint(tmp, v));
        raw.resize(raw.size() + 17, 0);
        std::vector<uint8_t> file(32 + ZSTD_compressBound(raw.size()));
        const size_t n = ZSTD_compress(file.data() + 32, file.size() - 32, raw.data(), raw.size(), 1);
        file.resize(32 + n);
        std::memcpy(file.data(), "VIDX", 4);
        format::storeLe32(file.data() + 4, 1);
        format::storeLe64(file.data() + 16, n);
        format::storeLe64(file.data() + 24, raw.size());
        TraceIndex y;
        std::string why;
        QVERIFY(!decodeTraceIndex(file.data(), file.size(), y, nullptr, &why));
        QCOMPARE(why, std::string("damaged"));
        // A header claiming a 2^40-byte payload is refused before anything is read.
        format::storeLe64(file.data() + 24, uint64_t(1) << 40);
        QVERIFY(!decodeTraceIndex(file.data(), file.size(), y, nullptr, &why));
        QVERIFY2(why.find("claims more") != std::string::npos, why.c_str());
    }
};

QTEST_GUILESS_MAIN(TestTraceIndex)
#include "tst_trace_index.moc"
