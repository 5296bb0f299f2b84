// The .vtrace format: round trips, crash tolerance, hostile input.
#include "format/codec.h"
#include "format/reader.h"
#include "format/writer.h"
#include "synth/synth.h"

#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <fstream>
#include <sys/resource.h>
#include <random>

using namespace vramscope::format;

namespace {

std::vector<uint8_t> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeFile(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// One record of every type with fields at awkward values (0, max, huge
// deltas backwards in time) so that every varint and zigzag path is used.
struct Sample : RecordLists {
    void make(TraceWriter& w) {
        ProcessInfo p{123, 4242, w.intern("host-a"), w.intern("python train.py --x"), 3, -1, 1700000000000000000ull,
                      CaptureStart::Attach, 2, 1699999990000000000ull};
        DeviceInfo d{124, 1, w.intern("NVIDIA H100 80GB HBM3"), {}, 85899345920ull, 132, 90, 3350000000000ull, 989000000000000ull};
        for (int i = 0; i < 16; ++i) d.uuid[i] = uint8_t(i * 17);
        DriverMemory dm{UINT64_MAX - 5, DriverMemoryOp::VmmMap, MemoryKind::Vmm, 1, 0xFFFFFFFFFFFF0000ull, 1ull << 40, 0};
        DriverMemory dm2{0, DriverMemoryOp::Existing, MemoryKind::PinnedHost, 0, 0x1000, 4096, UINT64_MAX};
        PoolReserved pr{50, 0, 0x7f0000000000ull, 1ull << 33};
        TensorMemory tm{60, TensorAction::SegmentUnmap, 0, 0x7f0000000000ull, 512, 7, 99};
        AllocFailure af{70, FailureSource::Framework, 0, 90ull << 30, 1ull << 30, 7};
        Kernel k{1000, 900, 0, 7, w.intern("gemm"), 132, 2, 3, 384, 1, 1, 255, 49152, 200000, UINT32_MAX, 5};
        Memcpy mc{2000, 3000, 0, 13, 1ull << 30, CopyKind::PeerToPeer, MemoryKind::Device, MemoryKind::Managed};
        Memset ms{3000, 3100, 0, 7, 77, 0xFFFFFFFFu};
        Range r{10, 20000000000ull, RangeKind::StartEnd, w.intern("domain"), w.intern("forward"), 4242, 3};
        Mark m{15, 0, w.intern("mark"), 1};
        Phase ph{16, PhaseKind::RecomputeEnd, 1ull << 50, w.intern("region")};
        CounterInfo ci{17, 1, 0, CounterMetric::DramThroughputPct, CounterSource::PmSampling, w.intern("dram__throughput"), 1000000};
        CounterSample cs{18, 1, 100000};
        MemInfo mi{19, 0, 1ull << 36, 1ull << 34};
        Note n{20, Severity::Error, w.intern("CUPTI failed: reasons")};
        Dropped dr{21, DropReason::CuptiDropped, 1234567};
        CallsiteDef cd{5, 4, w.intern("train.py"), w.intern("forward"), 88};
        auto put = [&](const auto& rec) {
            w.write(rec);
            get<std::decay_t<decltype(rec)>>().push_back(rec);
        };
        put(p); put(d); put(dm); put(dm2); put(pr); put(tm); put(af); put(k); put(mc); put(ms);
        put(r); put(m); put(ph); put(ci); put(cs); put(mi); put(n); put(dr); put(cd);
    }
};

}  // namespace

class TestFormat : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

    // A synth trace with small chunks, so there are many chunk boundaries.
    std::string manyChunks() {
        std::string p = path("many.vtrace");
        if (!QFile::exists(QString::fromStdString(p))) {
            WriterOptions o;
            o.chunkRawBytes = 4096;
            // Re-encode a synth trace with small chunks.
            std::string src = path("src.vtrace");
            vramscope::synth::SynthOptions so;
            so.iterations = 6;
            std::string error;
            if (!vramscope::synth::writeSynthTrace(src, so, nullptr, &error)) qFatal("%s", error.c_str());
            TraceReader r;
            TraceContents c;
            if (!r.open(src, &error) || !loadTrace(r, c, {}, &error)) qFatal("%s", error.c_str());
            TraceWriter w(o);
            w.open(p);
            for (const auto& s : c.get<StringDef>()) w.intern(s.text);
            for (const auto& k : c.get<Kernel>()) w.write(k);
            for (const auto& t : c.get<TensorMemory>()) w.write(t);
            for (const auto& s : c.get<CounterSample>()) w.write(s);
            w.close();
        }
        return p;
    }

    static TraceContents load(const std::string& p, bool* opened = nullptr, std::string* error = nullptr) {
        TraceReader r;
        TraceContents c;
        std::string e;
        bool ok = r.open(p, &e) && loadTrace(r, c, {}, &e);
        if (opened) *opened = ok;
        if (error) *error = e;
        return c;
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void roundTripOfEveryRecordType() {
        TraceWriter w;
        QVERIFY(w.open(path("all.vtrace")));
        Sample expected;
        expected.make(w);
        QVERIFY(w.close());
        TraceReader r;
        std::string error;
        QVERIFY2(r.open(path("all.vtrace"), &error), error.c_str());
        QVERIFY(!r.truncated());
        QVERIFY(r.problems().empty());
        TraceContents c;
        QVERIFY(loadTrace(r, c, {}, &error));
        int typesChecked = 0;
        forEachRecordType([&](auto tag) {
            using R = typename decltype(tag)::type;
            if constexpr (!std::is_same_v<R, StringDef>) {
                QCOMPARE(c.get<R>().size(), expected.get<R>().size());
                QVERIFY2(c.get<R>() == expected.get<R>(), recordTypeName(RecordTypeOf<R>::value));
                ++typesChecked;
            }
        });
        QCOMPARE(typesChecked, kRecordTypeCount - 2);  // all but StringDef (checked below) and the unused 0
        QCOMPARE(c.text(c.get<Kernel>()[0].nameId), std::string("gemm"));
        QCOMPARE(c.text(c.get<Note>()[0].textId), std::string("CUPTI failed: reasons"));
        QCOMPARE(c.text(c.get<ProcessInfo>()[0].commandLineId), std::string("python train.py --x"));
        QCOMPARE(r.footer().present, true);
        QCOMPARE(r.footer().totalEvents, c.events);
        QCOMPARE(r.footer().droppedEvents, uint64_t(1234567));
        QCOMPARE(c.droppedEvents, uint64_t(1234567));
    }

    void stringsAreDefinedOnce() {
        TraceWriter w;
        QVERIFY(w.open(path("strings.vtrace")));
        uint32_t a = w.intern("kernel_a"), b = w.intern("kernel_b");
        QCOMPARE(w.intern("kernel_a"), a);
        QVERIFY(a != b);
        QCOMPARE(w.intern(""), 0u);
        w.close();
        auto c = load(path("strings.vtrace"));
        QCOMPARE(c.get<StringDef>().size(), size_t(2));
    }

    void chunksDecodeIndependentlyInAnyOrder() {
        TraceReader r;
        std::string error;
        QVERIFY(r.open(manyChunks(), &error));
        QVERIFY(r.chunks().size() > 10);
        uint64_t total = 0;
        for (size_t i = r.chunks().size(); i-- > 0;) {
            DecodedChunk d;
            QVERIFY2(r.decodeChunk(i, d, &error), error.c_str());
            QCOMPARE(d.events, uint64_t(r.chunks()[i].eventCount));
            total += d.events;
        }
        QCOMPARE(total, r.footer().totalEvents);
    }

    void truncatedFileKeepsCompleteChunksAtEveryBoundary() {
        auto bytes = readFile(manyChunks());
        TraceReader full;
        std::string error;
        QVERIFY(full.openMemory(bytes, &error));
        uint64_t eventsBefore = 0;
        for (const auto& chunk : full.chunks()) {
            // Cut exactly at the start of this chunk, and one byte into it.
            for (uint64_t cut : {chunk.offset, chunk.offset + 1, chunk.offset + 41}) {
                std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
                TraceReader r;
                QVERIFY2(r.openMemory(part, &error), error.c_str());
                QVERIFY(r.truncated());
                TraceContents c;
                QVERIFY(loadTrace(r, c, {}, &error));
                QCOMPARE(c.events, eventsBefore);
                if (cut > chunk.offset) QVERIFY(r.bytesLost() > 0);
                if (cut == chunk.offset + 41) QCOMPARE(r.eventsLost(), uint64_t(chunk.eventCount));
            }
            eventsBefore += chunk.eventCount;
        }
    }

    void truncatedAtRandomOffsetsOpensWithFewerEvents() {
        auto bytes = readFile(manyChunks());
        std::mt19937 rng(7);
        uint64_t lastEvents = 0;
        std::vector<size_t> cuts;
        for (int i = 0; i < 300; ++i) cuts.push_back(rng() % bytes.size());
        std::sort(cuts.begin(), cuts.end());
        for (size_t cut : cuts) {
            std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
            TraceReader r;
            std::string error;
            bool opened = r.openMemory(part, &error);
            if (cut < kFileHeaderBytes) {
                QVERIFY(!opened);
                QVERIFY(!error.empty());
                continue;
            }
            QVERIFY2(opened, error.c_str());
            TraceContents c;
            QVERIFY(loadTrace(r, c, {}, &error));
            QVERIFY(c.events >= lastEvents);  // more file, never fewer events
            lastEvents = c.events;
            QVERIFY(r.truncated());
            QVERIFY(!r.problems().empty());
        }
    }

    void flippedPayloadByteDropsOnlyThatChunk() {
        auto bytes = readFile(manyChunks());
        TraceReader full;
        std::string error;
        QVERIFY(full.openMemory(bytes, &error));
        const auto victim = full.chunks()[3];
        bytes[victim.offset + kChunkHeaderBytes + victim.compressedBytes / 2] ^= 0x5A;
        TraceReader r;
        QVERIFY(r.openMemory(bytes, &error));
        TraceContents c;
        QVERIFY(loadTrace(r, c, {}, &error));
        QCOMPARE(c.chunksDropped, uint64_t(1));
        QCOMPARE(c.events, full.footer().totalEvents - victim.eventCount);
        bool named = false;
        for (const auto& p : c.problems)
            named |= p.kind == TraceProblem::Kind::CorruptChunk && p.offset == victim.offset &&
                     p.message.find(std::to_string(victim.offset)) != std::string::npos;
        QVERIFY2(named, "the problem names the corrupt chunk's offset");
    }

    void flippedHeaderByteResyncsToTheNextChunk() {
        auto bytes = readFile(manyChunks());
        TraceReader full;
        std::string error;
        QVERIFY(full.openMemory(bytes, &error));
        const auto victim = full.chunks()[5];
        bytes[victim.offset + 9] ^= 0xFF;  // compressedBytes field
        TraceReader r;
        QVERIFY(r.openMemory(bytes, &error));
        QCOMPARE(r.chunks().size(), full.chunks().size() - 1);
        QVERIFY(!r.problems().empty());
        QCOMPARE(int(r.problems()[0].kind), int(TraceProblem::Kind::CorruptHeader));
        QCOMPARE(r.problems()[0].offset, victim.offset);
        TraceContents c;
        QVERIFY(loadTrace(r, c, {}, &error));
        QCOMPARE(c.events, full.footer().totalEvents - victim.eventCount);
    }

    void unknownRecordTypesAreSkipped() {
        TraceWriter w;
        QVERIFY(w.open(path("unknown.vtrace")));
        Kernel k{100, 200, 0, 7, w.intern("k")};
        w.write(k);
        const uint8_t payload[] = {1, 2, 3, 4, 5, 0xFF, 0xFF};
        w.writeRaw(200, payload, sizeof payload, 150);
        w.writeRaw(201, nullptr, 0, 160);
        k.startNs = 300;
        k.endNs = 400;
        w.write(k);
        w.close();
        auto c = load(path("unknown.vtrace"));
        QCOMPARE(c.unknownRecords, uint64_t(2));
        QCOMPARE(c.get<Kernel>().size(), size_t(2));
        QCOMPARE(c.get<Kernel>()[1].startNs, uint64_t(300));  // deltas survive the skipped records
        QCOMPARE(c.countsByType[200], uint64_t(1));
    }

    void appendedFieldsAreIgnoredAndMissingOnesDefault() {
        // A newer writer's kernel with two more fields, and an older one's memset with fewer.
        uint8_t payload[256];
        DeltaState st;
        Kernel k{5000, 6000, 1, 7, 0, 10, 1, 1, 256};
        FieldEncoder enc(payload, st);
        visitFields(enc, k);
        uint8_t* end = putVarint(putVarint(enc.end(), 123456), 7);
        TraceWriter w;
        QVERIFY(w.open(path("fields.vtrace")));
        w.writeRaw(uint8_t(RecordType::Kernel), payload, uint32_t(end - payload), 5000);
        const uint8_t shortMemset[] = {0x80, 0x01};  // only a timestamp (delta 64 after the kernel)
        w.writeRaw(uint8_t(RecordType::Memset), shortMemset, sizeof shortMemset, 5064);
        w.close();
        auto c = load(path("fields.vtrace"));
        QCOMPARE(c.get<Kernel>().size(), size_t(1));
        QVERIFY(c.get<Kernel>()[0] == k);
        QCOMPARE(c.get<Memset>().size(), size_t(1));
        QCOMPARE(c.get<Memset>()[0].startNs, uint64_t(5064));
        QCOMPARE(c.get<Memset>()[0].bytes, uint64_t(0));
    }

    void otherMajorVersionIsRefusedWithAClearMessage() {
        auto bytes = readFile(manyChunks());
        storeLe32(&bytes[8], 2);
        storeLe32(&bytes[28], fnv1a32(bytes.data(), 28));
        TraceReader r;
        std::string error;
        QVERIFY(!r.openMemory(bytes, &error));
        const std::string expected = "version 2." + std::to_string(kFormatVersionMinor);
        QVERIFY2(error.find(expected) != std::string::npos, error.c_str());
    }

    void garbageGivesAClearError() {
        std::mt19937 rng(3);
        std::vector<uint8_t> bytes(100 * 1024);
        for (auto& b : bytes) b = uint8_t(rng());
        TraceReader r;
        std::string error;
        QVERIFY(!r.openMemory(bytes, &error));
        QVERIFY2(error.find("not a vramscope trace") != std::string::npos, error.c_str());
        // Garbage after a valid header: opens, finds nothing, says so.
        auto header = readFile(manyChunks());
        std::copy(header.begin(), header.begin() + kFileHeaderBytes, bytes.begin());
        QVERIFY(r.openMemory(bytes, &error));
        QVERIFY(r.chunks().empty());
        QVERIFY(r.truncated());
        QVERIFY(!r.problems().empty());
    }

    // Deterministic mutation fuzzing (the libFuzzer target explores further,
    // see tests/fuzz): every mutant opens or fails cleanly, within bounds.
    void randomMutationsNeverCrash() {
        auto original = readFile(manyChunks());
        std::mt19937 rng(11);
        for (int round = 0; round < 400; ++round) {
            auto bytes = original;
            int edits = 1 + int(rng() % 8);
            for (int e = 0; e < edits; ++e) {
                size_t at = rng() % bytes.size();
                switch (rng() % 4) {
                case 0: bytes[at] ^= uint8_t(1u << (rng() % 8)); break;
                case 1: bytes[at] = uint8_t(rng()); break;
                case 2: bytes.resize(at + 1); break;
                case 3: bytes.insert(bytes.begin() + long(at), uint8_t(rng())); break;
                }
            }
            TraceReader r;
            std::string error;
            if (!r.openMemory(bytes, &error)) {
                QVERIFY(!error.empty());
                continue;
            }
            TraceContents c;
            QVERIFY(loadTrace(r, c, {}, &error));
            QVERIFY(c.events <= original.size());  // bounded by the input, never invented
        }
    }

    void writerReportsAFullDiskAndStops() {
        // A file size limit makes write(2) fail with EFBIG, as a full disk fails it with ENOSPC.
        struct rlimit old {};
        getrlimit(RLIMIT_FSIZE, &old);
        auto oldHandler = signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = old;
        small.rlim_cur = 64 * 1024;
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &small), 0);
        WriterOptions o;
        o.chunkRawBytes = 8192;
        TraceWriter w(o);
        std::string error;
        QVERIFY(w.open(path("full.vtrace"), &error));
        std::mt19937_64 rng(5);  // random fields: incompressible
        for (int i = 0; i < 200000; ++i) w.write(Kernel{rng(), rng(), uint32_t(rng())});
        bool closed = w.close();
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, oldHandler);
        QVERIFY(!closed);
        QVERIFY2(w.error().find("writing the trace failed") != std::string::npos, w.error().c_str());
        // What was written before the failure still opens.
        TraceReader r;
        QVERIFY2(r.open(path("full.vtrace"), &error), error.c_str());
        QVERIFY(r.truncated());
        TraceContents c;
        QVERIFY(loadTrace(r, c, {}, &error));
        QVERIFY(c.events > 0);
    }

    void synthIsDeterministicForASeed() {
        vramscope::synth::SynthOptions o;
        o.iterations = 5;
        o.seed = 42;
        std::string error;
        QVERIFY(vramscope::synth::writeSynthTrace(path("a.vtrace"), o, nullptr, &error));
        QVERIFY(vramscope::synth::writeSynthTrace(path("b.vtrace"), o, nullptr, &error));
        o.seed = 43;
        QVERIFY(vramscope::synth::writeSynthTrace(path("c.vtrace"), o, nullptr, &error));
        QVERIFY(readFile(path("a.vtrace")) == readFile(path("b.vtrace")));
        QVERIFY(readFile(path("a.vtrace")) != readFile(path("c.vtrace")));
    }

    void synthTraceHasTheShapeOfTraining() {
        vramscope::synth::SynthOptions o;
        o.iterations = 10;
        vramscope::synth::SynthResult result;
        std::string error;
        QVERIFY(vramscope::synth::writeSynthTrace(path("shape.vtrace"), o, &result, &error));
        auto c = load(path("shape.vtrace"));
        int steps = 0, forwards = 0, backwards = 0, optimizers = 0;
        for (const auto& p : c.get<Phase>()) {
            steps += p.kind == PhaseKind::StepBegin;
            forwards += p.kind == PhaseKind::ForwardBegin;
            backwards += p.kind == PhaseKind::BackwardBegin;
            optimizers += p.kind == PhaseKind::OptimizerBegin;
        }
        QCOMPARE(steps, 10);
        QCOMPARE(forwards, 10);
        QCOMPARE(backwards, 10);
        QCOMPARE(optimizers, 10);
        QCOMPARE(uint64_t(c.get<Kernel>().size()), result.kernels);
        // Every freed block was allocated; allocated bytes end at weights + optimizer state.
        int64_t live = 0, peak = 0;
        for (const auto& t : c.get<TensorMemory>()) {
            if (t.action == TensorAction::Alloc) live += int64_t(t.bytes);
            if (t.action == TensorAction::FreeCompleted) live -= int64_t(t.bytes);
            peak = std::max(peak, live);
            QVERIFY(live >= 0);
        }
        QCOMPARE(uint64_t(peak), result.peakAllocatedBytes);
        QVERIFY(c.get<CounterSample>().size() > 100);
    }
};

QTEST_GUILESS_MAIN(TestFormat)
#include "tst_format.moc"
