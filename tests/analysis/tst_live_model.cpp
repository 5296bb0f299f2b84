// A model that grows while a recording arrives (model/live_model.h): fed
// chunk by chunk, or byte by byte through the chunk stream, it keeps the
// model's promises after every append and ends equal to loadModel() of the
// same file — on every fixture, with records arriving late, and cut off.
#include "model_compare.h"
#include "synth_fixture.h"
#include "trace_rewriter.h"

#include "analysis/summary.h"
#include "format/chunk_stream.h"
#include "model/live_model.h"

#include <QDir>
#include <QFile>
#include <QtTest>

#include <fstream>
#include <iterator>
#include <random>

using namespace vramscope;
using vramscope::testing::checkModelInvariants;
using vramscope::testing::compareModels;

namespace {

QStringList fixtures() {
    QStringList out;
    const QDir dir(QStringLiteral(VRAMSCOPE_TEST_DATA));
    for (const QString& name : dir.entryList({"*.vtrace"}, QDir::Files, QDir::Name)) out << dir.filePath(name);
    return out;
}

std::vector<uint8_t> fileBytes(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

model::TraceModel loaded(const QString& path) {
    model::TraceModel m;
    std::string error;
    if (!model::loadModel(path.toStdString(), m, {}, &error)) qFatal("%s", error.c_str());
    return m;
}

// Appends every chunk of path in file order; checks the model's promises
// after every append (every `checkEvery`-th on long files).
std::string growChunkByChunk(const QString& path, model::LiveModel& live, size_t checkEvery = 1) {
    format::TraceReader reader;
    std::string error;
    if (!reader.open(path.toStdString(), &error)) return error;
    format::DecodedChunk chunk;
    for (size_t i = 0; i < reader.chunks().size(); ++i) {
        if (!reader.decodeChunk(i, chunk, &error)) return error;
        live.append(chunk, chunk.events);
        if (i % checkEvery == 0 || i + 1 == reader.chunks().size()) {
            const std::string broken = checkModelInvariants(live.model(), 8);
            if (!broken.empty()) return "after chunk " + std::to_string(i) + ": " + broken;
        }
    }
    live.addProblems(reader.problems());
    live.finish();
    return checkModelInvariants(live.model());
}

// Feeds the file's bytes through a ChunkStream in pieces of `split` bytes
// (0: random sizes from 1 to 4096), appending each chunk.
std::string growThroughStream(const std::vector<uint8_t>& bytes, model::LiveModel& live, size_t split, uint64_t seed) {
    format::ChunkStream stream("test");
    std::mt19937_64 rng(seed);
    format::DecodedChunk chunk;
    std::string error;
    for (size_t at = 0; at < bytes.size();) {
        const size_t n = std::min(bytes.size() - at, split ? split : size_t(1 + rng() % 4096));
        stream.feed(bytes.data() + at, n);
        at += n;
        for (;;) {
            const auto next = stream.next();
            if (next == format::ChunkStream::Next::Failed) return stream.error();
            if (next != format::ChunkStream::Next::Events) break;
            if (!stream.decodeChunk(chunk, &error)) return error;
            live.append(chunk, chunk.events);
        }
    }
    live.addProblems(stream.endOfInput());
    live.finish();
    return {};
}

}  // namespace

class TestLiveModel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    QString path(const QString& name) const { return dir_.filePath(name); }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    // The invariant: on every fixture, chunk by chunk, the model keeps its
    // promises after each append and ends equal to loadModel().
    // A curve grown a few points at a time, its pyramid refreshed in
    // between (as the live model does after every append), answers every
    // window as the same curve built at once. A level the curve had just
    // grown into was filled only from the stale group on: its first groups
    // read 0/0, and the first 16 points vanished from a zoomed-out view.
    void aCurveGrownInStepsAnswersAsOneBuiltAtOnce() {
        model::MemoryCurve grown, whole;
        std::vector<uint64_t> times, values;
        uint64_t seed = 7;
        // Refreshed at exactly 16 and 256 points (where a level is complete
        // and the next one starts), then at random sizes.
        const size_t firstSteps[] = {16, 1, 239, 1};
        size_t stepIndex = 0;
        for (size_t n = 0; n < 5000;) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const size_t step = stepIndex < 4 ? firstSteps[stepIndex++] : 1 + seed % 23;
            for (size_t i = 0; i < step; ++i, ++n) {
                const uint64_t v = 1000 + (seed >> 40) % 100000 + (n < 16 ? 1000000 : 0);  // the first 16 are the peak
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                grown.append(n * 10, v);
                times.push_back(n * 10);
                values.push_back(v);
            }
            grown.refreshLevels();
            if (n > 300 && n % 7 == 0) {  // a rewind, as a late record makes
                const size_t keep = n - 40;
                grown.truncate(keep);
                times.resize(keep);
                values.resize(keep);
                n = keep;
                grown.refreshLevels();
            }
        }
        whole.assign(std::vector<uint64_t>(times), std::vector<uint64_t>(values));
        QCOMPARE(grown.values(), whole.values());
        const uint64_t end = times.back() + 10;
        for (uint64_t t0 : {uint64_t(0), uint64_t(55), uint64_t(160), end / 3})
            for (uint64_t t1 : {end / 2, end - 5, end}) {
                const auto a = grown.minMaxIn(t0, t1), b = whole.minMaxIn(t0, t1);
                QCOMPARE(a.minBytes, b.minBytes);
                QCOMPARE(a.maxBytes, b.maxBytes);
            }
        QCOMPARE(grown.peak().bytes, whole.peak().bytes);
        QVERIFY(grown.peak().bytes > 1000000);
    }

    void everyFixtureGrownChunkByChunkEqualsLoadModel() {
        const QStringList files = fixtures();
        QVERIFY(files.size() >= 20);
        for (const QString& file : files) {
            model::LiveModel live;
            const std::string broken = growChunkByChunk(file, live, 4);
            QVERIFY2(broken.empty(), qPrintable(file + ": " + QString::fromStdString(broken)));
            const model::TraceModel expected = loaded(file);
            const std::string diff = compareModels(live.model(), expected);
            QVERIFY2(diff.empty(), qPrintable(file + ": " + QString::fromStdString(diff)));
            QCOMPARE(live.model().problems.size(), expected.problems.size());
        }
    }

    // The same through the chunk stream: one byte at a time and in random
    // pieces, on every fixture (all are under 1 MiB).
    void byteByByteThroughTheChunkStreamEqualsLoadModel() {
        int byteByByte = 0;
        for (const QString& file : fixtures()) {
            const std::vector<uint8_t> bytes = fileBytes(file);
            const model::TraceModel expected = loaded(file);
            for (size_t split : {size_t(0), size_t(1)}) {
                if (split == 1 && bytes.size() > (1u << 20)) continue;
                byteByByte += split == 1;
                model::LiveModel live;
                const std::string error = growThroughStream(bytes, live, split, 7);
                QVERIFY2(error.empty(), qPrintable(file + ": " + QString::fromStdString(error)));
                const std::string diff = compareModels(live.model(), expected);
                QVERIFY2(diff.empty(), qPrintable(file + QString(" split %1: ").arg(split) + QString::fromStdString(diff)));
                // The truncated fixture says so, as the reader does.
                std::vector<format::TraceProblem::Kind> a, b;
                for (const auto& p : live.model().problems) a.push_back(p.kind);
                for (const auto& p : expected.problems) b.push_back(p.kind);
                QVERIFY2(a == b, qPrintable(file));
            }
        }
        QVERIFY(byteByByte >= 10);
    }

    // A synth trace in 50 ms chunks (many appends, phases, NVTX ranges,
    // counters, tensor memory), fed chunk by chunk.
    void synthTraceInManyChunksEqualsLoadModel() {
        synth::SynthOptions o = testing::synthOptions(30);
        o.checkpointing = true;
        o.leakBytesPerIteration = 1 << 20;
        const std::string source = testing::synthTrace("live-synth", o);
        testing::RewriteOptions rewrite;
        rewrite.chunkSpanNs = 20'000'000;
        std::string error;
        QVERIFY2(testing::rewriteTrace(source, path("synth-chunks.vtrace").toStdString(), rewrite, &error), error.c_str());
        model::LiveModel live;
        const std::string broken = growChunkByChunk(path("synth-chunks.vtrace"), live, 3);
        QVERIFY2(broken.empty(), broken.c_str());
        QVERIFY2(live.stats().appends > 20, qPrintable(QString::number(live.stats().appends)));
        const model::TraceModel expected = loaded(path("synth-chunks.vtrace"));
        const std::string diff = compareModels(live.model(), expected);
        QVERIFY2(diff.empty(), diff.c_str());
        // The analysis reads it as it reads a loaded model.
        const auto a = analysis::summarize(live.model()), b = analysis::summarize(expected);
        QCOMPARE(a.perIteration.size(), b.perIteration.size());
        QCOMPARE(a.peakAllocated.bytes, b.peakAllocated.bytes);
        QCOMPARE(a.peakAllocated.timeNs, b.peakAllocated.timeNs);
        QCOMPARE(a.leak.bytesPerIteration, b.leak.bytesPerIteration);
    }

    // Records that come later than the reorder window (5 % of them up to
    // 2 s late, against a 10 ms window) make the replays rewind to a
    // checkpoint, and the model still ends equal to loadModel(): tensor
    // level (synth), driver level with pools (injector_killed, cut off) and
    // a counters trace.
    void lateRecordsRewindTheReplayAndStillEqualLoadModel() {
        const std::string synthSource = testing::synthTrace("live-late", testing::synthOptions(12));
        const std::pair<std::string, bool> sources[] = {
            {synthSource, true},
            {VRAMSCOPE_TEST_DATA "/injector_killed.vtrace", false},
            {VRAMSCOPE_TEST_DATA "/injector_async.vtrace", true},
            {VRAMSCOPE_TEST_DATA "/torch_gpt2_counters_h200.vtrace", true},
            {VRAMSCOPE_TEST_DATA "/torch_gpt_leak_stacks.vtrace", true},
        };
        int n = 0;
        uint64_t rewinds = 0;
        for (const auto& [source, close] : sources) {
            testing::RewriteOptions rewrite;
            rewrite.chunkSpanNs = 30'000'000;
            rewrite.delayNs = testing::someLate(0.05, 2'000'000'000, 11 + uint64_t(n));
            rewrite.close = close;
            const QString file = path(QString("late-%1.vtrace").arg(n++));
            std::string error;
            QVERIFY2(testing::rewriteTrace(source, file.toStdString(), rewrite, &error), error.c_str());
            model::LiveModel::Options options;
            options.reorderLagNs = 10'000'000;
            options.checkpointRecords = 256;
            model::LiveModel live(options);
            const std::string broken = growChunkByChunk(file, live, 5);
            QVERIFY2(broken.empty(), qPrintable(QString::fromStdString(source) + ": " + QString::fromStdString(broken)));
            rewinds += live.stats().rewinds;
            if (source == synthSource) {
                QVERIFY2(live.stats().rewinds > 10, qPrintable(QString::number(live.stats().rewinds)));
                QVERIFY(live.stats().lateRows > 0);
            }
            const std::string diff = compareModels(live.model(), loaded(file));
            QVERIFY2(diff.empty(), qPrintable(QString::fromStdString(source) + ": " + QString::fromStdString(diff)));
        }
        qInfo("%llu rewinds in all", static_cast<unsigned long long>(rewinds));
    }

    // No window at all (lag 0, a checkpoint every record) is slow but exact.
    void zeroLagAndTinyCheckpointsStayExact() {
        const QString file = QStringLiteral(VRAMSCOPE_TEST_DATA "/torch_gpt_counters.vtrace");
        model::LiveModel::Options options;
        options.reorderLagNs = 0;
        options.checkpointRecords = 1;
        model::LiveModel live(options);
        const std::string broken = growChunkByChunk(file, live, 16);
        QVERIFY2(broken.empty(), broken.c_str());
        const std::string diff = compareModels(live.model(), loaded(file));
        QVERIFY2(diff.empty(), diff.c_str());
    }

    // Memory records wait for the window; the rest of the model does not.
    void memoryWaitsForTheReorderWindowOnly() {
        const std::string source = testing::synthTrace("live-window", testing::synthOptions(4));
        testing::RewriteOptions rewrite;
        rewrite.chunkSpanNs = 10'000'000;
        std::string error;
        QVERIFY2(testing::rewriteTrace(source, path("window.vtrace").toStdString(), rewrite, &error), error.c_str());
        format::TraceReader reader;
        QVERIFY(reader.open(path("window.vtrace").toStdString(), &error));
        model::LiveModel::Options options;
        options.reorderLagNs = 1'000'000'000'000ull;  // nothing is old enough until finish()
        model::LiveModel live(options);
        format::DecodedChunk chunk;
        for (size_t i = 0; i < reader.chunks().size() / 2; ++i) {
            QVERIFY(reader.decodeChunk(i, chunk, &error));
            live.append(chunk, chunk.events);
        }
        QVERIFY(live.model().kernels.size() > 0);
        QVERIFY(live.pendingMemoryRecords() > 0);
        QCOMPARE(live.model().blocks.size(), size_t(0));
        QVERIFY(checkModelInvariants(live.model()).empty());
        live.finish();
        QCOMPARE(live.pendingMemoryRecords(), size_t(0));
        QVERIFY(live.model().blocks.size() > 0);
        QVERIFY(checkModelInvariants(live.model()).empty());
    }

    // What changed is reported, so that a view's own indexes can follow.
    void changesNameTheFirstRowThatMoved() {
        const std::string source = testing::synthTrace("live-changes", testing::synthOptions(3));
        testing::RewriteOptions rewrite;
        rewrite.chunkSpanNs = 10'000'000;
        std::string error;
        QVERIFY2(testing::rewriteTrace(source, path("changes.vtrace").toStdString(), rewrite, &error), error.c_str());
        format::TraceReader reader;
        QVERIFY(reader.open(path("changes.vtrace").toStdString(), &error));
        model::LiveModel live;
        format::DecodedChunk chunk;
        size_t kernelsBefore = 0;
        for (size_t i = 0; i < reader.chunks().size(); ++i) {
            QVERIFY(reader.decodeChunk(i, chunk, &error));
            live.append(chunk, chunk.events);
            const auto changes = live.takeChanges();
            QVERIFY(changes.any);
            if (live.model().kernels.size() > kernelsBefore) QVERIFY(changes.firstKernel <= kernelsBefore);
            kernelsBefore = live.model().kernels.size();
            QVERIFY(!live.takeChanges().any);
        }
    }
};

QTEST_APPLESS_MAIN(TestLiveModel)
#include "tst_live_model.moc"
