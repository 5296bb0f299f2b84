// Crafted traces a reader must survive and name: footers that claim 2^64 − 1
// records or disagree with their chunks, files cut inside their 32-byte
// header. Each file is made here, from a small trace this test writes
// (hostile_trace.h), through the reader, the model and the `vramscope` CLI.
#include "hostile_trace.h"

#include "format/reader.h"
#include "model/model_builder.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>

#include <sys/resource.h>
#include <unistd.h>

using namespace vramscope;
using namespace vramscope::format;

namespace {

struct Run {
    int exitCode = -1;  // -1: crashed
    QString out, err;
};

Run runCli(const QStringList& arguments) {
    QProcess p;
    p.start(VRAMSCOPE_CLI, arguments);
    if (!p.waitForFinished(60000)) qFatal("vramscope %s did not finish", qPrintable(arguments.join(' ')));
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

bool mentionsFooter(const std::vector<TraceProblem>& problems) {
    for (const auto& p : problems)
        if (p.message.find("footer") != std::string::npos) return true;
    return false;
}

// Records writeSmallTrace() writes: 4 strings, 1 process, 1 device, 5 tensor, 4 kernel.
constexpr uint64_t kEvents = 15, kTensorRecords = 5;

}  // namespace

class TestHostileTraces : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

    // The small trace with its footer replaced: its chunk index kept (so the
    // footer still points at the real chunks), its counts set by `counts`.
    std::string lyingFooter(const char* name, std::vector<std::pair<uint64_t, uint64_t>> counts, uint64_t totalEvents) {
        const std::string good = path("good.vtrace");
        if (!testing::writeSmallTrace(good)) qFatal("cannot write %s", good.c_str());
        const std::vector<uint8_t> bytes = testing::readBytes(good);
        TraceReader reader;
        std::string error;
        if (!reader.openMemory(bytes, &error)) qFatal("%s", error.c_str());
        testing::FooterFields f;
        f.chunks = reader.chunks();
        f.counts = std::move(counts);
        f.totalEvents = totalEvents;
        const std::string out = path(name);
        testing::writeBytes(out, testing::withFooter(bytes, f));
        return out;
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void footerClaimingHugeCountsLoadsWhatTheChunksHold_data() {
        QTest::addColumn<quint64>("claimed");
        QTest::newRow("2^64-1 records") << quint64(UINT64_MAX);
        QTest::newRow("10^9 records") << quint64(1000000000ull);
        QTest::newRow("2^32 records") << quint64(1ull << 32);
    }
    // A 400-byte file whose footer says it holds 2^64 − 1 tensor records:
    // loading sized the columns from that and aborted (std::length_error).
    void footerClaimingHugeCountsLoadsWhatTheChunksHold() {
        QFETCH(quint64, claimed);
        const std::string file = lyingFooter("huge-count.vtrace", {{uint64_t(RecordType::TensorMemory), claimed}}, claimed);
        QVERIFY(testing::readBytes(file).size() < 1024);
        TraceReader reader;
        std::string error;
        QVERIFY2(reader.open(file, &error), error.c_str());
        QVERIFY2(mentionsFooter(reader.problems()), "the reader names the footer that does not match");
        model::TraceModel m;
        QVERIFY2(model::loadModel(reader, m, {}, &error), error.c_str());
        QCOMPARE(m.tensorEvents, kTensorRecords);
        QCOMPARE(m.events, kEvents);
        QVERIFY(mentionsFooter(m.problems));
    }

    // The totals agree with the chunk headers, but the split by record type
    // is made up: only decoding can tell, and then it is said.
    void footerWithRightTotalsButWrongTypesIsReported() {
        const std::string file = lyingFooter("wrong-types.vtrace", {{uint64_t(RecordType::TensorMemory), kEvents}}, kEvents);
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(file, m, {}, &error), error.c_str());
        QCOMPARE(m.tensorEvents, kTensorRecords);
        QVERIFY2(mentionsFooter(m.problems), "a footer whose counts per type are wrong is reported");
        TraceReader reader;
        QVERIFY(reader.open(file, &error));
        TraceContents contents;
        QVERIFY(loadTrace(reader, contents, {}, &error));
        QVERIFY(mentionsFooter(contents.problems));
    }

    // Counts per type that wrap around to the true total (2^64 − 1 + 16 = 15).
    void footerCountsThatWrapToTheTotalAreReported() {
        const std::string file = lyingFooter(
            "wrapping.vtrace", {{uint64_t(RecordType::TensorMemory), UINT64_MAX}, {uint64_t(RecordType::Kernel), kEvents + 1}},
            kEvents);
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(file, m, {}, &error), error.c_str());
        QCOMPARE(m.tensorEvents, kTensorRecords);
        QVERIFY(mentionsFooter(m.problems));
    }

    void intactTraceHasNoFooterProblem() {
        const std::string good = path("intact.vtrace");
        QVERIFY(testing::writeSmallTrace(good));
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(good, m, {}, &error));
        QVERIFY(m.problems.empty());
        const Run info = runCli({"info", QString::fromStdString(good)});
        QCOMPARE(info.exitCode, 0);
        QVERIFY2(info.out.contains("status       complete"), qPrintable(info.out));
    }

    // `info` called such a file "complete"; every other command aborted.
    void everyCommandNamesALyingFooterAndNoneCrashes() {
        const QString file = QString::fromStdString(lyingFooter("cli.vtrace", {{uint64_t(RecordType::TensorMemory), UINT64_MAX}}, UINT64_MAX));
        const Run info = runCli({"info", file});
        QCOMPARE(info.exitCode, 0);
        QVERIFY2(!info.out.contains("complete"), qPrintable(info.out));
        QVERIFY2(info.out.contains("CORRUPT") && info.out.contains("footer"), qPrintable(info.out));
        const Run json = runCli({"info", "--json", file});
        QCOMPARE(json.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(json.out.toUtf8()).object()["corrupt"].toBool(), true);

        const QString out = dir_.path() + "/out";
        const QList<QStringList> commands = {
            {"summary", file},
            {"summary", "--json", file},
            {"export", file, "--format", "chrome", "-o", out + ".json"},
            {"export", file, "--format", "csv", "-o", out + ".csv"},
            {"export", file, "--format", "kernels", "-o", out + "-kernels.csv"},
        };
        for (const QStringList& c : commands) {
            const Run r = runCli(c);
            QVERIFY2(r.exitCode == 0, qPrintable(c.join(' ') + ": exit " + QString::number(r.exitCode) + "\n" + r.err));
            QVERIFY2(!r.err.contains("terminate called"), qPrintable(r.err));
        }
        const Run summary = runCli({"summary", file});
        QVERIFY2(summary.out.contains("problem") && summary.out.contains("footer"), qPrintable(summary.out));
    }

    // 64 MiB of 2-byte records (type, empty payload) compress into a few KB;
    // decoded they take 80 bytes each: 2.7 GB for `info` from a 6 KB file,
    // and `summary` of four such chunks ran out of memory after 50 s.
    void decompressionBombIsSkippedWithinBoundedMemory_data() {
        QTest::addColumn<int>("chunks");
        QTest::addColumn<bool>("headerTellsTheTruth");
        QTest::newRow("one chunk") << 1 << true;
        QTest::newRow("four chunks") << 4 << true;
        QTest::newRow("header says 1 event") << 2 << false;
    }
    void decompressionBombIsSkippedWithinBoundedMemory() {
        QFETCH(int, chunks);
        QFETCH(bool, headerTellsTheTruth);
        const std::string good = path("bomb-base.vtrace");
        QVERIFY(testing::writeSmallTrace(good));
        std::vector<uint8_t> bytes = testing::readBytes(good);
        bytes.resize(32);  // the file header
        std::vector<uint8_t> raw(64u << 20);
        for (size_t i = 0; i < raw.size(); i += 2) raw[i] = uint8_t(RecordType::Kernel);
        const uint32_t records = uint32_t(raw.size() / 2);
        const std::vector<uint8_t> chunk = testing::chunkBytes(ChunkKind::Events, raw, headerTellsTheTruth ? records : 1);
        for (int c = 0; c < chunks; ++c) bytes.insert(bytes.end(), chunk.begin(), chunk.end());
        QVERIFY(bytes.size() < 32 * 1024);
        const std::string bomb = path("bomb.vtrace");
        QVERIFY(testing::writeBytes(bomb, bytes));

        // The CLI in 2 GiB of address space: enough for any trace this size.
        for (const char* command : {"info", "summary"}) {
            QProcess p;
            p.setChildProcessModifier([] {
                const rlimit limit{2ull << 30, 2ull << 30};
                setrlimit(RLIMIT_AS, &limit);
            });
            p.start(VRAMSCOPE_CLI, {command, QString::fromStdString(bomb)});
            QVERIFY(p.waitForFinished(60000));
            const QString out = QString::fromUtf8(p.readAllStandardOutput());
            const QString err = QString::fromUtf8(p.readAllStandardError());
            QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, qPrintable(QString(command) + ": " + err));
            QVERIFY2(out.contains("corrupt") || out.contains("CORRUPT"), qPrintable(out));
        }
    }

    // A footer whose chunk index decompresses to 64 MiB of zeros: 11 million
    // entries of nothing, from a few KB.
    void footerIndexBombIsRefused() {
        const std::string good = path("footer-bomb-base.vtrace");
        QVERIFY(testing::writeSmallTrace(good));
        std::vector<uint8_t> bytes = testing::readBytes(good);
        const uint64_t footerOffset = loadLe64(bytes.data() + bytes.size() - kTrailerBytes);
        bytes.resize(footerOffset);
        std::vector<uint8_t> raw(64u << 20);
        raw[0] = 0x80, raw[1] = 0x80, raw[2] = 0x80, raw[3] = 0x05;  // varint 11 million: the entry count
        const std::vector<uint8_t> footer = testing::chunkBytes(ChunkKind::Footer, raw);
        bytes.insert(bytes.end(), footer.begin(), footer.end());
        TraceReader reader;
        std::string error;
        QVERIFY(reader.openMemory(bytes, &error));
        QVERIFY(!reader.footer().present);
        QVERIFY(reader.footer().chunks.empty());
        QVERIFY(mentionsFooter(reader.problems()));
    }

    // A footer that is there but damaged (bytes flipped in its zstd frame):
    // named as a damaged footer, never as a recording that did not finish.
    void damagedFooterIsNotCalledAKilledRecording() {
        const std::string good = path("damaged-footer-base.vtrace");
        QVERIFY(testing::writeSmallTrace(good));
        std::vector<uint8_t> bytes = testing::readBytes(good);
        const uint64_t footerOffset = loadLe64(bytes.data() + bytes.size() - kTrailerBytes);
        for (size_t i = footerOffset + kChunkHeaderBytes + 4; i < bytes.size() - kTrailerBytes; ++i) bytes[i] ^= 0x5A;
        TraceReader reader;
        std::string error;
        QVERIFY(reader.openMemory(bytes, &error));
        QVERIFY(!reader.footer().present);
        QVERIFY(reader.truncated());  // not complete: the footer's figures are gone
        bool damagedFooter = false;
        for (const auto& p : reader.problems()) {
            QVERIFY2(p.message.find("did not finish") == std::string::npos, p.message.c_str());
            QVERIFY2(p.message.find("cut off") == std::string::npos, p.message.c_str());  // the trailer is whole
            damagedFooter |= p.message.find("footer") != std::string::npos && p.message.find("damaged") != std::string::npos;
        }
        QVERIFY(damagedFooter);
        TraceContents contents;
        QVERIFY(loadTrace(reader, contents, {}, &error));
        QCOMPARE(contents.events, kEvents);  // every chunk is intact
    }

    void fileCutInsideItsHeaderSaysItIsTooShort_data() {
        QTest::addColumn<int>("size");
        for (int size : {1, 5, 8, 20, 31}) QTest::newRow(qPrintable(QString("%1 bytes").arg(size))) << size;
    }
    // It said "not a vramscope trace (no VRAMSCOP header)".
    void fileCutInsideItsHeaderSaysItIsTooShort() {
        QFETCH(int, size);
        const std::string good = path("whole.vtrace");
        QVERIFY(testing::writeSmallTrace(good));
        std::vector<uint8_t> bytes = testing::readBytes(good);
        bytes.resize(size_t(size));
        const std::string cut = path("cut.vtrace");
        QVERIFY(testing::writeBytes(cut, bytes));

        TraceReader reader;
        std::string error;
        QVERIFY(!reader.open(cut, &error));
        QVERIFY2(error.find("too short") != std::string::npos, error.c_str());
        QVERIFY2(error.find(std::to_string(size) + " bytes") != std::string::npos, error.c_str());
        QVERIFY2(error.find("32-byte header") != std::string::npos, error.c_str());

        const Run info = runCli({"info", QString::fromStdString(cut)});
        QVERIFY(info.exitCode > 0);
        QVERIFY2(info.err.contains("too short") && !info.err.contains("no VRAMSCOP header"), qPrintable(info.err));
    }

    // Not the start of a trace at all: still "not a vramscope trace".
    void shortFileOfOtherBytesIsNotATrace() {
        const std::string other = path("other.vtrace");
        QVERIFY(testing::writeBytes(other, {'h', 'e', 'l', 'l', 'o'}));
        TraceReader reader;
        std::string error;
        QVERIFY(!reader.open(other, &error));
        QVERIFY2(error.find("not a vramscope trace") != std::string::npos, error.c_str());
    }

    // The reader reads chunks from the file when they are decoded (it never
    // holds the file): a trace cut shorter after it was opened — a recording
    // overwritten under the viewer — gives damaged chunks, never a crash.
    void fileCutAfterItWasOpenedGivesDamagedChunks() {
        const std::string p = path("shrinks.vtrace");
        {
            TraceWriter w;
            QVERIFY(w.open(p));
            for (uint32_t i = 0; i < 400; ++i) {
                Kernel k;
                k.startNs = 1000 + i * 100ull;
                k.endNs = k.startNs + 50;
                k.nameId = w.intern("kernel_" + std::to_string(i % 7));
                w.write(k);
                if (i % 20 == 19) QVERIFY(w.flush());  // many small chunks
            }
            QVERIFY(w.close());
        }
        TraceReader reader;
        std::string error;
        QVERIFY2(reader.open(p, &error), error.c_str());
        const size_t chunks = reader.chunks().size();
        QVERIFY(chunks > 10);
        const uint64_t cut = reader.chunks()[chunks / 2].offset + 10;
        QCOMPARE(::truncate(p.c_str(), static_cast<off_t>(cut)), 0);
        size_t good = 0, bad = 0;
        for (size_t i = 0; i < chunks; ++i) {
            DecodedChunk d;
            std::string why;
            if (reader.decodeChunk(i, d, &why)) {
                ++good;
                QVERIFY(d.events > 0);
            } else {
                ++bad;
                QVERIFY2(why.find("could not be read") != std::string::npos, why.c_str());
                QCOMPARE(d.events, uint64_t(0));
            }
        }
        QCOMPARE(good, chunks / 2);
        QCOMPARE(bad, chunks - chunks / 2);
        // Opened again, the file is what is left: cut inside a chunk.
        TraceReader again;
        QVERIFY2(again.open(p, &error), error.c_str());
        QVERIFY(again.truncated());
        QCOMPARE(again.chunks().size(), chunks / 2);
    }

    // After a damaged chunk header the reader looks for the next intact one a
    // window (1 MiB) at a time; a header lying across two windows is found.
    void resynchronisesOnAHeaderAcrossTheReadWindow() {
        const std::string good = path("resync-good.vtrace");
        QVERIFY(testing::writeSmallTrace(good));
        const std::vector<uint8_t> bytes = testing::readBytes(good);
        TraceReader whole;
        std::string error;
        QVERIFY(whole.openMemory(bytes, &error));
        // A damaged 40-byte header right after the file header, then filler
        // so that the real first chunk starts 20 bytes before the end of the
        // first window the search reads (which starts one byte after it).
        constexpr size_t kWindow = 1u << 20;
        std::vector<uint8_t> crafted(bytes.begin(), bytes.begin() + kFileHeaderBytes);
        std::vector<uint8_t> damaged(kChunkHeaderBytes, 0x5A);
        std::memcpy(damaged.data(), "VCHK", 4);
        crafted.insert(crafted.end(), damaged.begin(), damaged.end());
        const size_t from = kFileHeaderBytes + 1;
        crafted.resize(from + kWindow - 20, 0);
        const size_t skipped = crafted.size() - kFileHeaderBytes;
        crafted.insert(crafted.end(), bytes.begin() + kFileHeaderBytes, bytes.end());
        const std::string p = path("resync.vtrace");
        QVERIFY(testing::writeBytes(p, crafted));
        TraceReader reader;
        QVERIFY2(reader.open(p, &error), error.c_str());
        QCOMPARE(reader.chunks().size(), whole.chunks().size());
        bool named = false;
        for (const auto& problem : reader.problems())
            if (problem.kind == TraceProblem::Kind::CorruptHeader) {
                named = true;
                QCOMPARE(problem.offset, uint64_t(kFileHeaderBytes));
                QVERIFY2(problem.message.find("skipped " + std::to_string(skipped) + " bytes") != std::string::npos,
                         problem.message.c_str());
            }
        QVERIFY(named);
        uint64_t events = 0;
        for (size_t i = 0; i < reader.chunks().size(); ++i) {
            DecodedChunk d;
            QVERIFY2(reader.decodeChunk(i, d, &error), error.c_str());
            events += d.events;
        }
        QCOMPARE(events, kEvents);
    }
};

QTEST_GUILESS_MAIN(TestHostileTraces)
#include "tst_hostile_traces.moc"
