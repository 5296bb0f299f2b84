// Reading a trace as it arrives (format/chunk_stream.h): any split of the
// bytes gives the same chunks as the file reader; hostile or cut-off input
// ends in a sentence, never a crash, a hang or unbounded memory.
#include "format/chunk_stream.h"
#include "format/codec.h"
#include "format/reader.h"
#include "format/writer.h"
#include "synth/synth.h"

#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <random>

using namespace vramscope::format;

namespace {

std::vector<uint8_t> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Fed {
    std::vector<ChunkIndexEntry> chunks;
    uint64_t events = 0;
    ChunkStream::Next last = ChunkStream::Next::NeedMore;
    std::string error;
    size_t maxBuffered = 0;
};

// Feeds bytes in pieces of `split` (0: random 1..8192), decoding every chunk.
Fed feed(ChunkStream& stream, const std::vector<uint8_t>& bytes, size_t split, uint64_t seed = 1) {
    Fed out;
    std::mt19937_64 rng(seed);
    DecodedChunk chunk;
    for (size_t at = 0; at < bytes.size();) {
        const size_t n = std::min(bytes.size() - at, split ? split : size_t(1 + rng() % 8192));
        stream.feed(bytes.data() + at, n);
        at += n;
        out.maxBuffered = std::max(out.maxBuffered, stream.bufferedBytes());
        for (;;) {
            out.last = stream.next();
            if (out.last != ChunkStream::Next::Events) break;
            out.chunks.push_back(stream.chunk());
            if (stream.decodeChunk(chunk, &out.error)) out.events += chunk.events;
        }
        if (out.last == ChunkStream::Next::Failed) {
            out.error = stream.error();
            break;
        }
    }
    return out;
}

bool sameChunks(const std::vector<ChunkIndexEntry>& a, const std::vector<ChunkIndexEntry>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].offset != b[i].offset || a[i].eventCount != b[i].eventCount || a[i].firstNs != b[i].firstNs ||
            a[i].lastNs != b[i].lastNs || a[i].compressedBytes != b[i].compressedBytes)
            return false;
    return true;
}

}  // namespace

class TestChunkStream : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string synth_;
    std::vector<uint8_t> bytes_;
    TraceReader reader_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        synth_ = dir_.filePath("s.vtrace").toStdString();
        vramscope::synth::SynthOptions o;
        o.iterations = 30;
        std::string error;
        QVERIFY(vramscope::synth::writeSynthTrace(synth_, o, nullptr, &error));
        // Small chunks: many boundaries to split across.
        WriterOptions wo;
        wo.chunkRawBytes = 16 << 10;
        TraceReader source;
        QVERIFY(source.open(synth_, &error));
        TraceContents all;
        QVERIFY(loadTrace(source, all, {}, &error));
        TraceWriter w(wo);
        synth_ = dir_.filePath("small-chunks.vtrace").toStdString();
        QVERIFY(w.open(synth_, &error));
        for (const auto& s : all.get<StringDef>()) QCOMPARE(w.intern(s.text), s.id);
        for (const auto& k : all.get<Kernel>()) w.write(k);
        for (const auto& t : all.get<TensorMemory>()) w.write(t);
        for (const auto& p : all.get<Phase>()) w.write(p);
        QVERIFY(w.close());
        bytes_ = readFile(synth_);
        QVERIFY(reader_.open(synth_, &error));
        QVERIFY(reader_.chunks().size() > 20);
    }

    // Whole, in random pieces, one byte at a time: the chunks the file reader finds.
    void everySplitGivesTheReadersChunks() {
        for (size_t split : {size_t(0), size_t(1), size_t(7), size_t(40), size_t(1) << 20}) {
            ChunkStream stream("s.vtrace");
            const Fed fed = feed(stream, bytes_, split, split + 3);
            QCOMPARE(int(fed.last), int(ChunkStream::Next::Ended));
            QVERIFY2(sameChunks(fed.chunks, reader_.chunks()), qPrintable(QString("split %1").arg(split)));
            QCOMPARE(fed.events, reader_.footer().totalEvents);
            QVERIFY(stream.headerRead());
            QCOMPARE(stream.header().major, kFormatVersionMajor);
            QCOMPARE(stream.header().minor, reader_.versionMinor());
            QVERIFY(stream.footer().present);
            QCOMPARE(stream.footer().totalEvents, reader_.footer().totalEvents);
            QVERIFY(stream.endOfInput().empty());  // it ended cleanly: nothing lost
        }
    }

    // The buffer holds about one chunk, whatever was fed before.
    void memoryStaysAboutOneChunk() {
        ChunkStream stream;
        const Fed fed = feed(stream, bytes_, 4096);
        uint32_t largest = 0;
        for (const auto& c : reader_.chunks()) largest = std::max(largest, c.compressedBytes);
        QVERIFY2(fed.maxBuffered <= largest + 40 + 4096, qPrintable(QString::number(fed.maxBuffered)));
    }

    // Cut anywhere: complete chunks arrive, and the end says what was lost
    // with the reader's kinds of problem.
    void cutOffStreamKeepsCompleteChunksAndSaysWhatWasLost() {
        std::mt19937_64 rng(5);
        for (int trial = 0; trial < 40; ++trial) {
            const size_t cut = 32 + size_t(rng() % (bytes_.size() - 32));
            const std::vector<uint8_t> part(bytes_.begin(), bytes_.begin() + std::ptrdiff_t(cut));
            ChunkStream stream;
            const Fed fed = feed(stream, part, 0, uint64_t(trial));
            const std::vector<TraceProblem> problems = stream.endOfInput();
            TraceReader cutReader;
            std::string error;
            QVERIFY(cutReader.openMemory(part, &error));
            QVERIFY(sameChunks(fed.chunks, cutReader.chunks()));
            std::vector<TraceProblem::Kind> a, b;
            for (const auto& p : problems) a.push_back(p.kind);
            for (const auto& p : cutReader.problems()) b.push_back(p.kind);
            QVERIFY2(a == b, qPrintable(QString("cut at %1").arg(cut)));
            for (const auto& p : problems) QVERIFY(!p.message.empty());
            QCOMPARE(int(stream.next()), int(ChunkStream::Next::Ended));
        }
    }

    void garbageFailsAtOnceWithASentence() {
        ChunkStream stream("noise");
        const uint8_t junk[] = {'G', 'E', 'T', ' ', '/'};
        stream.feed(junk, 1);
        QCOMPARE(int(stream.next()), int(ChunkStream::Next::Failed));  // one byte was enough
        QVERIFY(QString::fromStdString(stream.error()).contains("not a vramscope trace"));
        stream.feed(junk, sizeof junk);  // ignored from now on
        QCOMPARE(int(stream.next()), int(ChunkStream::Next::Failed));
        QCOMPARE(stream.bufferedBytes(), size_t(0));
    }

    void otherMajorVersionIsRefused() {
        std::vector<uint8_t> b = bytes_;
        storeLe32(&b[8], kFormatVersionMajor + 1);
        storeLe32(&b[28], fnv1a32(b.data(), 28));
        ChunkStream stream;
        const Fed fed = feed(stream, b, 0);
        QCOMPARE(int(fed.last), int(ChunkStream::Next::Failed));
        QVERIFY(QString::fromStdString(fed.error).contains("not supported"));
        QVERIFY(fed.chunks.empty());
    }

    void damagedFileHeaderIsRefused() {
        std::vector<uint8_t> b = bytes_;
        b[20] ^= 0x40;
        ChunkStream stream;
        QCOMPARE(int(feed(stream, b, 3).last), int(ChunkStream::Next::Failed));
        QVERIFY(QString::fromStdString(stream.error()).contains("damaged"));
    }

    // A damaged chunk header stops the stream (it cannot resynchronise
    // without looking ahead); the chunks before it were delivered.
    void damagedChunkHeaderStopsAfterTheChunksBeforeIt() {
        const ChunkIndexEntry& c = reader_.chunks()[5];
        std::vector<uint8_t> b = bytes_;
        b[c.offset + 10] ^= 0x01;  // inside compressedBytes: the check fails
        ChunkStream stream;
        const Fed fed = feed(stream, b, 0);
        QCOMPARE(int(fed.last), int(ChunkStream::Next::Failed));
        QCOMPARE(fed.chunks.size(), size_t(5));
        QVERIFY2(QString::fromStdString(fed.error).contains("damaged chunk header at offset"), fed.error.c_str());
    }

    // A damaged payload loses that chunk only, with the reader's sentence.
    void damagedPayloadSkipsOnlyThatChunk() {
        const ChunkIndexEntry& c = reader_.chunks()[3];
        std::vector<uint8_t> b = bytes_;
        b[c.offset + 40 + c.compressedBytes / 2] ^= 0x5A;
        ChunkStream stream("x.vtrace");
        const Fed fed = feed(stream, b, 0);
        QCOMPARE(int(fed.last), int(ChunkStream::Next::Ended));
        QCOMPARE(fed.chunks.size(), reader_.chunks().size());
        QCOMPARE(fed.events, reader_.footer().totalEvents - c.eventCount);
        QVERIFY2(QString::fromStdString(fed.error).contains("chunk 3 at offset"), fed.error.c_str());
    }

    // A header that claims more than the format allows is refused before a
    // byte of its payload is kept.
    void oversizedChunkIsRefusedBeforeAllocating() {
        std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + 32);
        ChunkHeader h;
        h.compressedBytes = kMaxChunkCompressedBytes + 1;
        h.rawBytes = 100;
        uint8_t raw[40];
        h.store(raw);
        b.insert(b.end(), raw, raw + 40);
        ChunkStream stream;
        const Fed fed = feed(stream, b, 0);
        QCOMPARE(int(fed.last), int(ChunkStream::Next::Failed));
        QVERIFY(stream.bufferedBytes() == 0);
    }

    void bytesAfterTheEndAreCountedNotKept() {
        std::vector<uint8_t> b = bytes_;
        b.insert(b.end(), 1000, 0xAB);
        ChunkStream stream;
        const Fed fed = feed(stream, b, 333);
        QCOMPARE(int(fed.last), int(ChunkStream::Next::Ended));
        QCOMPARE(stream.bytesAfterEnd(), uint64_t(1000));
        QCOMPARE(stream.bufferedBytes(), size_t(0));
    }

    void randomMutationsNeverCrash() {
        std::mt19937_64 rng(99);
        for (int trial = 0; trial < 200; ++trial) {
            std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + std::ptrdiff_t(std::min<size_t>(bytes_.size(), 60000)));
            for (int k = 0; k < 8; ++k) b[rng() % b.size()] = uint8_t(rng());
            ChunkStream stream;
            feed(stream, b, 0, uint64_t(trial));
            stream.endOfInput();
        }
    }
};

QTEST_APPLESS_MAIN(TestChunkStream)
#include "tst_chunk_stream.moc"
