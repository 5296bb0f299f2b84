// The model: curves and their pyramids, live-set queries, loading paths,
// driver-only traces, memory per event.
#include "synth_fixture.h"

#include "format/reader.h"
#include "format/writer.h"
#include "model/memory_curve.h"
#include "model/model_builder.h"

#include <QtTest>

#include <algorithm>
#include <random>

using namespace vramscope;

class TestModel : public QObject {
    Q_OBJECT
private slots:
    void curveQueryMatchesBruteForce();
    void peakInFindsFirstMaximumOfWindow();
    void allocatedCurvePeakMatchesSynthGenerator();
    void liveSetAtMatchesBruteForce();
    void topLiveBlocksAreTheLargestLive();
    void kernelsInCoversEveryOverlappingKernel();
    void laneQueryCountsEveryKernelOnce();
    void parallelLoadEqualsBuildFromContents();
    void driverOnlyTraceUsesDriverAllocations();
    void truncatedTraceLoadsWithProblems();
    void modelStaysUnder32BytesPerEvent();
    void callsiteTextNamesTheUserFrame();
};

void TestModel::curveQueryMatchesBruteForce() {
    std::mt19937_64 rng(7);
    model::MemoryCurve curve;
    std::vector<uint64_t> t, v;
    uint64_t now = 1000, value = 0;
    for (int i = 0; i < 20000; ++i) {
        now += rng() % 50;  // repeated times included
        value = rng() % 1000000;
        t.push_back(now);
        v.push_back(value);
        curve.append(now, value);
    }
    curve.finish();
    auto brute = [&](uint64_t t0, uint64_t t1) {
        // Carried-in value at t0, then every point in [t0, t1).
        size_t first = size_t(std::lower_bound(t.begin(), t.end(), t0) - t.begin());
        const bool carries = first == t.size() || t[first] > t0;
        uint64_t lo = UINT64_MAX, hi = 0;
        if (carries) lo = hi = first ? v[first - 1] : 0;
        for (size_t i = first; i < t.size() && t[i] < t1; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
        return std::make_pair(lo, hi);
    };
    for (int q = 0; q < 300; ++q) {
        uint64_t a = rng() % (now + 100), b = a + 1 + rng() % (now / 3);
        const auto buckets = curve.query(a, b, 1 + rng() % 64);
        for (const auto& bucket : buckets) {
            const auto [lo, hi] = brute(bucket.startNs, bucket.endNs);
            QCOMPARE(bucket.minBytes, lo);
            QCOMPARE(bucket.maxBytes, hi);
        }
    }
    QCOMPARE(curve.valueAt(t[500]), v[std::upper_bound(t.begin(), t.end(), t[500]) - t.begin() - 1]);
}

void TestModel::peakInFindsFirstMaximumOfWindow() {
    model::MemoryCurve curve;
    for (uint64_t i = 0; i < 1000; ++i) curve.append(100 + i * 10, (i % 100) * 7 + (i == 640 ? 5000 : 0));
    curve.finish();
    const auto p = curve.peakIn(0, 100000);
    QCOMPARE(p.bytes, uint64_t(40 * 7 + 5000));
    QCOMPARE(p.timeNs, uint64_t(100 + 6400));
    const auto q = curve.peakIn(100 + 10 * 200, 100 + 10 * 300);  // i in [200, 300): max at i = 299
    QCOMPARE(q.bytes, uint64_t(99 * 7));
    QCOMPARE(q.timeNs, uint64_t(100 + 2990));
    const auto r = curve.peakIn(100 + 10 * 200 + 5, 100 + 10 * 250);  // carried in: i = 200 (0), then up to 249
    QCOMPARE(r.bytes, uint64_t(49 * 7));
    const auto carried = curve.peakIn(100 + 10 * 199 + 5, 100 + 10 * 199 + 8);  // no point inside: i = 199 carries
    QCOMPARE(carried.bytes, uint64_t(99 * 7));
    QCOMPARE(carried.timeNs, uint64_t(100 + 10 * 199 + 5));
}

void TestModel::allocatedCurvePeakMatchesSynthGenerator() {
    synth::SynthResult result;
    std::string error;
    const std::string path = testing::fixtureDir().filePath("peak.vtrace").toStdString();
    QVERIFY(synth::writeSynthTrace(path, testing::synthOptions(5), &result, &error));
    model::TraceModel m;
    QVERIFY(model::loadModel(path, m, {}, &error));
    QCOMPARE(m.allocationLevel, model::AllocationLevel::Tensor);
    QCOMPARE(m.allocated.peak().bytes, result.peakAllocatedBytes);
    QCOMPARE(m.events, result.events);
}

void TestModel::liveSetAtMatchesBruteForce() {
    const auto& m = testing::synthModel("leak10", [] {
        auto o = testing::synthOptions(10);
        o.leakBytesPerIteration = 1 << 20;
        return o;
    }());
    std::mt19937_64 rng(3);
    for (int q = 0; q < 200; ++q) {
        const uint64_t t = m.firstNs + rng() % (m.lastNs - m.firstNs + 1);
        std::vector<uint32_t> expected;
        for (uint32_t i = 0; i < m.blocks.size(); ++i)
            if (m.blocks.liveAt(i, t)) expected.push_back(i);
        QCOMPARE(m.liveBlocksAt(t), expected);
        uint64_t sum = 0;
        for (uint32_t i : expected) sum += m.blocks.bytes[i];
        QCOMPARE(sum, m.allocated.valueAt(t));
    }
}

void TestModel::topLiveBlocksAreTheLargestLive() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    const uint64_t t = m.allocated.peak().timeNs;
    const auto top = m.topLiveBlocksAt(t, 5);
    QCOMPARE(top.size(), size_t(5));
    auto live = m.liveBlocksAt(t);
    std::vector<uint64_t> sizes;
    for (uint32_t i : live) sizes.push_back(m.blocks.bytes[i]);
    std::sort(sizes.rbegin(), sizes.rend());
    for (size_t k = 0; k < top.size(); ++k) QCOMPARE(m.blocks.bytes[top[k]], sizes[k]);
}

void TestModel::kernelsInCoversEveryOverlappingKernel() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    const uint64_t t0 = m.firstNs + (m.lastNs - m.firstNs) / 3, t1 = t0 + 2'000'000;
    const auto [first, last] = m.kernelsIn(t0, t1);
    for (size_t i = 0; i < m.kernels.size(); ++i) {
        const bool overlaps = m.kernels.startNs[i] < t1 && m.kernels.endNs(i) > t0;
        if (overlaps) QVERIFY(i >= first && i < last);
    }
}

void TestModel::laneQueryCountsEveryKernelOnce() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    QCOMPARE(m.kernelLanes().size(), size_t(1));  // synth: one stream
    const auto buckets = m.laneQuery(0, m.firstNs, m.lastNs + 1, 777);
    QCOMPARE(buckets.size(), size_t(777));
    uint64_t kernels = 0, busy = 0, expectedBusy = 0;
    for (const auto& b : buckets) {
        kernels += b.kernels;
        busy += b.busyNs;
        if (b.kernels) QVERIFY(m.kernels.startNs[b.firstKernel] >= b.startNs && m.kernels.startNs[b.firstKernel] < b.endNs);
    }
    for (auto d : m.kernels.durationNs) expectedBusy += d;
    QCOMPARE(kernels, uint64_t(m.kernels.size()));
    QCOMPARE(busy, expectedBusy);
}

void TestModel::parallelLoadEqualsBuildFromContents() {
    const std::string path = testing::synthTrace("clean5", testing::synthOptions(5));
    format::TraceReader reader;
    std::string error;
    QVERIFY(reader.open(path, &error));
    format::TraceContents contents;
    QVERIFY(format::loadTrace(reader, contents, {}, &error));
    model::TraceModel a, b;
    model::buildModel(contents, a);
    format::LoadOptions options;
    options.threads = 3;
    size_t progressCalls = 0;
    options.progress = [&](size_t, size_t) { return ++progressCalls > 0; };
    QVERIFY(model::loadModel(reader, b, options, &error));
    QVERIFY(progressCalls > 0);
    QCOMPARE(a.allocated.timesNs(), b.allocated.timesNs());
    QCOMPARE(a.allocated.values(), b.allocated.values());
    QCOMPARE(a.reserved.values(), b.reserved.values());
    QCOMPARE(a.blocks.freeNs, b.blocks.freeNs);
    QCOMPARE(a.kernels.startNs, b.kernels.startNs);
    QCOMPARE(a.events, b.events);
}

void TestModel::driverOnlyTraceUsesDriverAllocations() {
    // A plain CUDA program: cudaMalloc/cudaFree only, plus one pinned host buffer.
    const std::string path = testing::fixtureDir().filePath("driver.vtrace").toStdString();
    {
        format::TraceWriter w;
        std::string error;
        QVERIFY(w.open(path, &error));
        auto driver = [&](uint64_t t, format::DriverMemoryOp op, uint64_t address, uint64_t bytes,
                          format::MemoryKind kind = format::MemoryKind::Device) {
            format::DriverMemory d;
            d.timestampNs = t;
            d.op = op;
            d.kind = kind;
            d.address = address;
            d.bytes = bytes;
            w.write(d);
        };
        using Op = format::DriverMemoryOp;
        driver(100, Op::Alloc, 0x1000, 1000);
        driver(200, Op::Alloc, 0x9000, 500);
        driver(250, Op::Alloc, 0x20000, 4096, format::MemoryKind::PinnedHost);
        driver(300, Op::Free, 0x1000, 1000);
        driver(400, Op::Alloc, 0x1000, 300);
        QVERIFY(w.close());
    }
    model::TraceModel m;
    std::string error;
    QVERIFY(model::loadModel(path, m, {}, &error));
    QCOMPARE(m.allocationLevel, model::AllocationLevel::Driver);
    QCOMPARE(m.blocks.size(), size_t(4));
    QCOMPARE(m.allocated.peak().bytes, uint64_t(1500));  // pinned host memory is not device memory
    QCOMPARE(m.allocated.valueAt(350), uint64_t(500));
    QCOMPARE(m.allocated.valueAt(1000), uint64_t(800));
    QCOMPARE(m.reserved.valueAt(1000), uint64_t(800));
    QCOMPARE(m.liveBlocksAt(350).size(), size_t(2));  // device 500 + pinned host
}

void TestModel::truncatedTraceLoadsWithProblems() {
    // Several 1 MiB chunks, so that 60% of the file keeps some of them.
    const std::string path = testing::synthTrace("clean400", testing::synthOptions(400));
    QFile full(QString::fromStdString(path));
    QVERIFY(full.open(QIODevice::ReadOnly));
    const QByteArray bytes = full.readAll();
    const QString cut = testing::fixtureDir().filePath("cut.vtrace");
    QFile out(cut);
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(bytes.left(bytes.size() * 6 / 10));
    out.close();
    model::TraceModel whole, part;
    std::string error;
    QVERIFY(model::loadModel(path, whole, {}, &error));
    QVERIFY(model::loadModel(cut.toStdString(), part, {}, &error));
    QVERIFY(part.events < whole.events);
    QVERIFY(!part.problems.empty());
    QVERIFY(part.allocated.size() > 0);
}

void TestModel::modelStaysUnder32BytesPerEvent() {
    const auto& m = testing::synthModel("clean200", testing::synthOptions(200));
    const double perEvent = double(m.memoryBytes()) / double(m.events);
    qInfo("model bytes per event: %.2f", perEvent);
    QVERIFY(perEvent <= 32.0);
}

// Python callsites: the text a user sees names their own line (model.py),
// with the library frame that allocated after the arrow; the stack lists
// every frame innermost first; a parent cycle in a damaged trace ends.
void TestModel::callsiteTextNamesTheUserFrame() {
    model::TraceModel m;
    auto str = [&](uint32_t id, const char* text) {
        m.strings[id] = text;
        return id;
    };
    const uint32_t train = str(1, "/home/u/train.py"), modelPy = str(2, "/home/u/model.py"),
                   linear = str(3, "/opt/venv/lib/python3.12/site-packages/torch/nn/modules/linear.py"),
                   module = str(4, "<module>"), forward = str(5, "GPT.forward"), lin = str(6, "Linear.forward");
    m.callsites[1] = format::CallsiteDef{1, 0, train, module, 120};
    m.callsites[2] = format::CallsiteDef{2, 1, modelPy, forward, 57};
    m.callsites[3] = format::CallsiteDef{3, 2, linear, lin, 125};
    QCOMPARE(m.callsiteText(2), std::string("/home/u/model.py:57 GPT.forward"));
    QCOMPARE(m.callsiteText(3), std::string("/home/u/model.py:57 GPT.forward \u2192 linear.py:125 Linear.forward"));
    QCOMPARE(m.callsiteText(0), std::string());
    QCOMPARE(m.callsiteText(99), std::string());
    const std::vector<std::string> stack = m.callsiteStack(3);
    QCOMPARE(stack.size(), size_t(3));
    QCOMPARE(stack[2], std::string("/home/u/train.py:120 <module>"));
    // Only library frames: the innermost is shown as is.
    m.callsites[4] = format::CallsiteDef{4, 0, linear, lin, 9};
    QCOMPARE(m.callsiteText(4), std::string("/opt/venv/lib/python3.12/site-packages/torch/nn/modules/linear.py:9 Linear.forward"));
    // A cycle (hostile trace): bounded.
    m.callsites[5] = format::CallsiteDef{5, 6, linear, lin, 1};
    m.callsites[6] = format::CallsiteDef{6, 5, linear, lin, 2};
    QVERIFY(!m.callsiteText(5).empty());
    QVERIFY(m.callsiteStack(5).size() <= 256);
}

QTEST_GUILESS_MAIN(TestModel)
#include "tst_model.moc"
