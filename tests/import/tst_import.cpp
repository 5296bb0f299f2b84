// PyTorch memory snapshot import: the pickle reader (plain data only, hostile
// input) and the snapshot → .vtrace conversion, through the library and the CLI.
#include "format/reader.h"
#include "import/pickle_reader.h"
#include "import/snapshot_import.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <map>
#include <utility>

using namespace vramscope;
using namespace vramscope::import;

namespace {

const QString kSnapshots = QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/snapshots/");

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return f.readAll();
}

void writeAll(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
    f.write(bytes);
}

// Bytes of a string literal, embedded NULs included.
#define B(literal) QByteArray(literal, sizeof(literal) - 1)

QByteArray fromHex(const char* hex) { return QByteArray::fromHex(hex); }

const uint8_t* bytesOf(const QByteArray& b) { return reinterpret_cast<const uint8_t*>(b.constData()); }

bool parse(const QByteArray& bytes, PickleDocument& doc, std::string* error, const PickleLimits& limits = {}) {
    return parsePickle(bytesOf(bytes), size_t(bytes.size()), doc, error, limits);
}

bool loadVtrace(const QString& path, format::TraceContents& trace) {
    format::TraceReader reader;
    std::string error;
    if (!reader.open(path.toStdString(), &error)) return false;
    return format::loadTrace(reader, trace, {}, &error);
}

// Allocated and reserved bytes after replaying every TensorMemory record.
std::pair<uint64_t, uint64_t> finalLevels(const format::TraceContents& t) {
    int64_t allocated = 0, reserved = 0;
    std::map<uint64_t, uint64_t> open;
    for (const auto& r : t.get<format::TensorMemory>()) {
        switch (r.action) {
        case format::TensorAction::Alloc:
        case format::TensorAction::Snapshot: open[r.address] = r.bytes; allocated += int64_t(r.bytes); break;
        case format::TensorAction::FreeCompleted:
            if (open.count(r.address)) { allocated -= int64_t(open[r.address]); open.erase(r.address); }
            break;
        case format::TensorAction::SegmentAlloc:
        case format::TensorAction::SegmentMap: reserved += int64_t(r.bytes); break;
        case format::TensorAction::SegmentFree:
        case format::TensorAction::SegmentUnmap: reserved -= int64_t(r.bytes); break;
        default: break;
        }
    }
    return {uint64_t(allocated), uint64_t(reserved)};
}

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run runCli(const QStringList& arguments) {
    QProcess p;
    p.start(VRAMSCOPE_CLI, arguments);
    if (!p.waitForFinished(60000)) qFatal("vramscope %s did not finish", qPrintable(arguments.join(' ')));
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

// The counts make_snapshot.py prints for the synthetic snapshot.
constexpr uint64_t kEntries = 55, kAllocs = 25, kFreesRequested = 11, kFreesCompleted = 10, kSegmentAllocs = 3,
                   kSegmentFrees = 1, kSegmentMaps = 1, kSegmentUnmaps = 1, kOoms = 1, kSnapshotMarkers = 1;
constexpr uint64_t kSegments = 4, kBlocks = 21, kActiveBlocks = 19, kReservedAtEnd = 48234496,
                   kAllocatedAtEnd = 33555968, kRequestedAtEnd = 33554188;
constexpr uint64_t kMiB = 1ull << 20;

}  // namespace

class TestImport : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.path() + "/" + name; }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    // -- the snapshot conversion ------------------------------------------------

    void syntheticSnapshotImportsWithTheRightCounts() {
        ImportStats s;
        std::string error;
        QVERIFY2(importSnapshot((kSnapshots + "synthetic-snapshot.pickle").toStdString(),
                                path("s.vtrace").toStdString(), &s, &error),
                 error.c_str());
        QCOMPARE(s.pickleProtocol, 4u);
        QCOMPARE(s.devices, 1u);  // device 1's trace is empty and it has no segments
        QCOMPARE(s.traceEntries, kEntries);
        QCOMPARE(s.allocs, kAllocs);
        QCOMPARE(s.freesRequested, kFreesRequested);
        QCOMPARE(s.freesCompleted, kFreesCompleted);
        QCOMPARE(s.segmentAllocs, kSegmentAllocs);
        QCOMPARE(s.segmentFrees, kSegmentFrees);
        QCOMPARE(s.segmentMaps, kSegmentMaps);
        QCOMPARE(s.segmentUnmaps, kSegmentUnmaps);
        QCOMPARE(s.ooms, kOoms);
        QCOMPARE(s.snapshotMarkers, kSnapshotMarkers);
        QCOMPARE(s.annotations, uint64_t(5));  // 3 optimizer-step ranges, a START never ended, an annotate entry
        QCOMPARE(s.skippedEntries, uint64_t(0));
        QCOMPARE(s.segments, kSegments);
        QCOMPARE(s.blocks, kBlocks);
        QCOMPARE(s.activeBlocks, kActiveBlocks);
        QCOMPARE(s.reservedBytesAtEnd, kReservedAtEnd);
        QCOMPARE(s.allocatedBytesAtEnd, kAllocatedAtEnd);
        // Before the history: the 4 weight blocks, in segment A and the cached segment E.
        QCOMPARE(s.initialBlocks, uint64_t(4));
        QCOMPARE(s.initialSegments, uint64_t(2));
        QCOMPARE(s.callsites, uint64_t(9));
        // Each step: model.py forward, then an Optimizer.step annotation (gradients only in step 0).
        QCOMPARE(s.stepsFromFrames, uint64_t(3));
        QCOMPARE(s.syntheticTimes, false);
        QCOMPARE(s.firstNs, uint64_t(1763880000000037) * 1000);
        QVERIFY(s.warnings.empty());

        format::TraceContents t;
        QVERIFY(loadVtrace(path("s.vtrace"), t));
        QVERIFY(t.problems.empty());
        uint64_t byAction[9] = {};
        for (const auto& r : t.get<format::TensorMemory>()) byAction[int(r.action)]++;
        QCOMPARE(byAction[int(format::TensorAction::Alloc)], kAllocs);
        QCOMPARE(byAction[int(format::TensorAction::FreeRequested)], kFreesRequested);
        QCOMPARE(byAction[int(format::TensorAction::FreeCompleted)], kFreesCompleted);
        QCOMPARE(byAction[int(format::TensorAction::SegmentAlloc)], kSegmentAllocs + 2);
        QCOMPARE(byAction[int(format::TensorAction::SegmentFree)], kSegmentFrees);
        QCOMPARE(byAction[int(format::TensorAction::SegmentMap)], kSegmentMaps);
        QCOMPARE(byAction[int(format::TensorAction::SegmentUnmap)], kSegmentUnmaps);
        QCOMPARE(byAction[int(format::TensorAction::Snapshot)], uint64_t(4));
        QCOMPARE(t.get<format::CallsiteDef>().size(), size_t(9));
        QCOMPARE(t.get<format::AllocFailure>().size(), size_t(1));
        const auto& oom = t.get<format::AllocFailure>().front();
        QCOMPARE(oom.source, format::FailureSource::Framework);
        QCOMPARE(oom.requestedBytes, 80 * 1024 * kMiB);
        QCOMPARE(oom.freeBytes, 70 * 1024 * kMiB);
        QVERIFY(oom.callsiteId != 0);
        QCOMPARE(t.get<format::DeviceInfo>().size(), size_t(1));
        QCOMPARE(QString::fromStdString(t.text(t.get<format::DeviceInfo>().front().nameId)),
                 QString("CUDA device 0 (from a PyTorch snapshot)"));
        QCOMPARE(t.get<format::ProcessInfo>().size(), size_t(1));
        QCOMPARE(t.get<format::ProcessInfo>().front().wallClockNs, s.firstNs);
        QVERIFY(!t.get<format::Note>().empty());
        QVERIFY(QString::fromStdString(t.text(t.get<format::Note>().front().textId)).contains("imported", Qt::CaseInsensitive));
        QCOMPARE(t.get<format::Mark>().size(), size_t(3));  // the snapshot entry, the unended annotation, annotate
        bool sawAnnotate = false;
        for (const auto& m : t.get<format::Mark>())
            sawAnnotate = sawAnnotate || t.text(m.nameId) == "annotate: kept for logging";
        QVERIFY(sawAnnotate);
        QCOMPARE(t.get<format::Range>().size(), size_t(3));
        for (const auto& r : t.get<format::Range>()) {
            QCOMPARE(QString::fromStdString(t.text(r.nameId)), QString("Optimizer.step#AdamW.step"));
            QCOMPARE(QString::fromStdString(t.text(r.domainId)), QString("torch.cuda.memory"));
            QVERIFY(r.endNs > r.startNs);
        }
        // Time order, and the seeded state at the first entry's time.
        uint64_t last = 0;
        for (const auto& r : t.get<format::TensorMemory>()) {
            QVERIFY(r.timestampNs >= last);
            last = r.timestampNs;
            if (r.action == format::TensorAction::Snapshot) QCOMPARE(r.timestampNs, s.firstNs);
        }
    }

    // A 6-step GPT run (gpt_train.py, torch 2.11, stacks="python") that dumped
    // its own snapshot: no phase markers, no kernels. It gave no iterations
    // (a larger run of the issue: 2, from the memory pattern, and memory split
    // into weights and temporaries only); the frames say where each block came from.
    void trainingSnapshotGivesStepsFromItsFrames() {
        ImportStats s;
        std::string error;
        QVERIFY2(importSnapshot((kSnapshots + "torch_gpt.pickle").toStdString(), path("gpt.vtrace").toStdString(), &s, &error),
                 error.c_str());
        QCOMPARE(s.stepsFromFrames, uint64_t(6));
        format::TraceContents t;
        QVERIFY(loadVtrace(path("gpt.vtrace"), t));
        std::map<format::PhaseKind, int> kinds;
        for (const auto& p : t.get<format::Phase>()) {
            ++kinds[p.kind];
            QCOMPARE(QString::fromStdString(t.text(p.nameId)), QString::fromUtf8(format::kPhasesFromStackFrames.data()));
        }
        QCOMPARE(kinds[format::PhaseKind::StepBegin], 6);
        QCOMPARE(kinds[format::PhaseKind::ForwardBegin], 6);
        QCOMPARE(kinds[format::PhaseKind::BackwardBegin], 6);
        QCOMPARE(kinds[format::PhaseKind::OptimizerBegin], 6);  // Optimizer.step annotations: fused AdamW allocates once
        QCOMPARE(kinds[format::PhaseKind::StepEnd], 6);

        // The analysis takes them, says where they came from, and the categories follow.
        const Run r = runCli({"summary", "--json", path("gpt.vtrace")});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["iterations"].toInt(), 6);  // as the hooks found in torch_gpt_plain.vtrace, the same run
        QCOMPARE(o["iteration_source"].toString(), QString("stack_frames"));
        QVERIFY(o["phases_inferred"].toBool());
        QVERIFY(o["training_phases"].toBool());
        const QJsonObject categories = o["categories"].toObject();
        for (const char* c : {"weights", "optimizer_state", "gradients", "activations"})
            QVERIFY2(categories[c]["peak_bytes"].toInteger() > 0, c);
        for (const QJsonValue it : o["per_iteration"].toArray())
            for (const char* phase : {"forward", "backward", "optimizer"}) QVERIFY2(it["phases"].toObject().contains(phase), phase);
        const Run text = runCli({"summary", path("gpt.vtrace")});
        QVERIFY2(text.out.contains("iterations    6 (stack_frames, phases inferred)"), text.out.constData());
        QVERIFY2(text.out.contains("phases        from the allocations' stack frames"), text.out.constData());

        // Frames without a training step write no markers: the segments-only file has none.
        ImportStats none;
        QVERIFY(importSnapshot((kSnapshots + "synthetic-segments-only.pickle").toStdString(), path("seg.vtrace").toStdString(),
                               &none, &error));
        QCOMPARE(none.stepsFromFrames, uint64_t(0));
    }

    void replayEndsAtTheSnapshotsFinalState() {
        format::TraceContents t;
        QVERIFY(loadVtrace(path("s.vtrace"), t));
        int64_t allocated = 0, reserved = 0, peakReserved = 0;
        std::map<uint64_t, uint64_t> open;
        for (const auto& r : t.get<format::TensorMemory>()) {
            switch (r.action) {
            case format::TensorAction::Alloc:
            case format::TensorAction::Snapshot:
                QVERIFY2(!open.count(r.address), "a block allocated twice");
                open[r.address] = r.bytes;
                allocated += int64_t(r.bytes);
                break;
            case format::TensorAction::FreeCompleted:
                QVERIFY2(open.count(r.address), "a free of a block never allocated");
                allocated -= int64_t(open[r.address]);
                open.erase(r.address);
                break;
            case format::TensorAction::SegmentAlloc:
            case format::TensorAction::SegmentMap: reserved += int64_t(r.bytes); break;
            case format::TensorAction::SegmentFree:
            case format::TensorAction::SegmentUnmap: reserved -= int64_t(r.bytes); break;
            default: break;
            }
            QVERIFY(allocated >= 0 && reserved >= 0);
            QVERIFY(allocated <= reserved);
            peakReserved = std::max(peakReserved, reserved);
        }
        // Trace entries carry requested sizes, so the curve ends at the blocks' requested_size sum.
        QCOMPARE(uint64_t(allocated), kRequestedAtEnd);
        QCOMPARE(uint64_t(reserved), kReservedAtEnd);
        QCOMPARE(uint64_t(peakReserved), 50 * kMiB);  // before the OOM released segment E
    }

    void allPickleProtocolsGiveTheSameRecords() {
        format::TraceContents reference;
        QVERIFY(loadVtrace(path("s.vtrace"), reference));
        for (const char* name : {"synthetic-snapshot-p2.pickle", "synthetic-snapshot-p5.pickle"}) {
            ImportStats s;
            std::string error;
            QVERIFY2(importSnapshot((kSnapshots + name).toStdString(), path("p.vtrace").toStdString(), &s, &error),
                     error.c_str());
            format::TraceContents t;
            QVERIFY(loadVtrace(path("p.vtrace"), t));
            QCOMPARE(t.get<format::TensorMemory>(), reference.get<format::TensorMemory>());
            QCOMPARE(t.get<format::CallsiteDef>().size(), reference.get<format::CallsiteDef>().size());
            QCOMPARE(t.get<format::AllocFailure>(), reference.get<format::AllocFailure>());
        }
    }

    void realTorch211SnapshotsFromAnH100Import_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<qulonglong>("entries");
        QTest::addColumn<qulonglong>("allocs");
        QTest::addColumn<qulonglong>("segmentAllocs");
        QTest::addColumn<qulonglong>("segmentFrees");
        QTest::addColumn<qulonglong>("segmentMaps");
        QTest::addColumn<qulonglong>("ooms");
        QTest::addColumn<qulonglong>("segments");
        QTest::addColumn<qulonglong>("reservedAtEnd");
        QTest::addColumn<qulonglong>("steps");
        // record_snapshot.py on an H100, torch 2.11.0+cu130, Python 3.12 (pickle protocol 4);
        // the numbers are Python's own reading of each file (pickle.load).
        QTest::newRow("stacks=python, OOM") << "real-h100-torch2.11-python-oom.pickle" << 206ull << 74ull << 7ull << 2ull
                                            << 0ull << 1ull << 7ull << 77594624ull << 3ull;
        QTest::newRow("stacks=all") << "real-h100-torch2.11-all.pickle" << 140ull << 53ull << 7ull << 0ull << 0ull << 0ull
                                    << 9ull << 81788928ull << 2ull;
        QTest::newRow("expandable segments") << "real-h100-torch2.11-expandable.pickle" << 203ull << 74ull << 0ull << 0ull
                                             << 7ull << 0ull << 2ull << 98566144ull << 3ull;
    }

    void realTorch211SnapshotsFromAnH100Import() {
        QFETCH(QString, file);
        QFETCH(qulonglong, entries);
        QFETCH(qulonglong, allocs);
        QFETCH(qulonglong, segmentAllocs);
        QFETCH(qulonglong, segmentFrees);
        QFETCH(qulonglong, segmentMaps);
        QFETCH(qulonglong, ooms);
        QFETCH(qulonglong, segments);
        QFETCH(qulonglong, reservedAtEnd);
        QFETCH(qulonglong, steps);
        ImportStats s;
        std::string error;
        QVERIFY2(importSnapshot((kSnapshots + file).toStdString(), path("real.vtrace").toStdString(), &s, &error),
                 error.c_str());
        QCOMPARE(s.pickleProtocol, 4u);
        QCOMPARE(s.devices, 1u);
        QCOMPARE(s.traceEntries, entries);
        QCOMPARE(s.allocs, allocs);
        QCOMPARE(s.segmentAllocs, segmentAllocs);
        QCOMPARE(s.segmentFrees, segmentFrees);
        QCOMPARE(s.segmentMaps, segmentMaps);
        QCOMPARE(s.ooms, ooms);
        QCOMPARE(s.skippedEntries, 0ull);
        QCOMPARE(s.segments, segments);
        QCOMPARE(s.activeBlocks, 17ull);
        QCOMPARE(s.allocatedBytesAtEnd, 74530304ull);  // torch.cuda.memory_allocated() at the dump
        QCOMPARE(s.reservedBytesAtEnd, reservedAtEnd);  // torch.cuda.memory_reserved()
        QCOMPARE(s.initialBlocks, 4ull);               // the MLP's weights and biases, made before recording
        QVERIFY(s.callsites > 0);
        QVERIFY(s.warnings.empty());
        QCOMPARE(s.annotations, 2 * steps);            // Optimizer.step and Optimizer.zero_grad ranges per step
        format::TraceContents t;
        QVERIFY(loadVtrace(path("real.vtrace"), t));
        QCOMPARE(finalLevels(t), std::make_pair(s.requestedBytesAtEnd, uint64_t(reservedAtEnd)));
        QCOMPARE(s.requestedBytesAtEnd, 74530304ull - 508);  // a 4-byte loss scalar in a 512-byte block
        QCOMPARE(t.get<format::Range>().size(), size_t(2 * steps));
        if (ooms) {
            QCOMPARE(t.get<format::AllocFailure>().front().requestedBytes, uint64_t(1) << 50);
            QCOMPARE(t.get<format::AllocFailure>().front().freeBytes, 84152614912ull);
        }
        // Python callsites point at the script that allocated.
        bool sawScript = false;
        for (const auto& c : t.get<format::CallsiteDef>())
            sawScript = sawScript || QString::fromStdString(t.text(c.fileId)).endsWith("record_snapshot.py");
        QVERIFY(sawScript);
    }

    void olderAndPartialSnapshotShapesImport() {
        std::string error;
        format::TraceContents t;
        {   // torch 2.0: no time_us → synthetic times, a warning, same events
            ImportStats s;
            QVERIFY2(importSnapshot((kSnapshots + "synthetic-snapshot-no-time.pickle").toStdString(),
                                    path("old.vtrace").toStdString(), &s, &error), error.c_str());
            QVERIFY(s.syntheticTimes);
            QCOMPARE(s.allocs, kAllocs);
            QCOMPARE(s.initialBlocks, uint64_t(4));
            QVERIFY(!s.warnings.empty());
            QVERIFY(loadVtrace(path("old.vtrace"), t));
            QCOMPARE(finalLevels(t), std::make_pair(kRequestedAtEnd, kReservedAtEnd));
            uint64_t notes = 0;
            for (const auto& n : t.get<format::Note>()) notes += n.severity == format::Severity::Warning;
            QVERIFY(notes >= 1);
        }
        {   // torch.cuda.memory_snapshot(): the segments list alone → the state only
            ImportStats s;
            QVERIFY2(importSnapshot((kSnapshots + "synthetic-segments-only.pickle").toStdString(),
                                    path("segs.vtrace").toStdString(), &s, &error), error.c_str());
            QCOMPARE(s.traceEntries, uint64_t(0));
            QCOMPARE(s.initialBlocks, kActiveBlocks);
            QCOMPARE(s.initialSegments, kSegments);
            QVERIFY(!s.warnings.empty());
            format::TraceContents u;
            QVERIFY(loadVtrace(path("segs.vtrace"), u));
            QCOMPARE(finalLevels(u), std::make_pair(kRequestedAtEnd, kReservedAtEnd));
        }
        {   // skip_actions=["free_completed"]: frees complete at the request
            ImportStats s;
            QVERIFY2(importSnapshot((kSnapshots + "synthetic-snapshot-skip-free-completed.pickle").toStdString(),
                                    path("skip.vtrace").toStdString(), &s, &error), error.c_str());
            QCOMPARE(s.freesCompleted, uint64_t(0));
            QCOMPARE(s.freesRequested, kFreesRequested);
            format::TraceContents u;
            QVERIFY(loadVtrace(path("skip.vtrace"), u));
            // the pending free of the last loss tensor now counts as done
            QCOMPARE(finalLevels(u), std::make_pair(kRequestedAtEnd - 4, kReservedAtEnd));
        }
    }

    void callsitesKeepPythonFramesInnermostFirst() {
        format::TraceContents t;
        QVERIFY(loadVtrace(path("s.vtrace"), t));
        std::map<uint32_t, format::CallsiteDef> sites;
        for (const auto& c : t.get<format::CallsiteDef>()) sites[c.id] = c;
        auto chain = [&](uint32_t id) {
            QStringList frames;
            for (int guard = 0; id && guard < 64; ++guard) {
                const auto& c = sites.at(id);
                frames << QString("%1:%2 %3").arg(QString::fromStdString(t.text(c.fileId))).arg(c.line)
                              .arg(QString::fromStdString(t.text(c.functionId)));
                id = c.parentId;
            }
            return frames;
        };
        // The first alloc of the history: an activation from model.py:42 (C++ allocator frames dropped).
        const format::TensorMemory* first = nullptr;
        for (const auto& r : t.get<format::TensorMemory>())
            if (r.action == format::TensorAction::Alloc) { first = &r; break; }
        QVERIFY(first);
        QCOMPARE(chain(first->callsiteId), QStringList({"/home/user/model.py:42 forward", "/home/user/train.py:88 train_step",
                                                        "/home/user/train.py:120 main"}));
        // Blocks from before the history were allocated without a stack.
        for (const auto& r : t.get<format::TensorMemory>())
            if (r.action == format::TensorAction::Snapshot) QCOMPARE(r.callsiteId, 0u);
        // A stack with no Python frame keeps its C++ frames, minus the allocator's own.
        bool sawCppOnly = false;
        for (const auto& r : t.get<format::TensorMemory>())
            if (r.action == format::TensorAction::Alloc && r.address == 0x7F3B00000000ull) {
                QCOMPARE(chain(r.callsiteId), QStringList({"??:0 at::native::empty_cuda(c10::ArrayRef<long>, ...)"}));
                sawCppOnly = true;
            }
        QVERIFY(sawCppOnly);

        ImportOptions withCpp;
        withCpp.keepCppFrames = true;
        ImportStats s;
        std::string error;
        QVERIFY(importSnapshot((kSnapshots + "synthetic-snapshot.pickle").toStdString(), path("cpp.vtrace").toStdString(),
                               &s, &error, withCpp));
        QVERIFY(s.callsites > 9);
    }

    void looksLikePickleRecognisesSnapshots() {
        QVERIFY(looksLikePickle((kSnapshots + "synthetic-snapshot.pickle").toStdString()));
        QVERIFY(looksLikePickle((kSnapshots + "synthetic-snapshot-p2.pickle").toStdString()));
        QVERIFY(!looksLikePickle(path("s.vtrace").toStdString()));
        QVERIFY(!looksLikePickle(path("does-not-exist").toStdString()));
    }

    void importToATemporaryTraceForFrontEnds() {
        std::string vtrace, error;
        ImportStats s;
        QVERIFY2(importSnapshotToTemporary((kSnapshots + "synthetic-snapshot.pickle").toStdString(), &vtrace, &s, &error),
                 error.c_str());
        format::TraceContents t;
        QVERIFY(loadVtrace(QString::fromStdString(vtrace), t));
        QCOMPARE(uint64_t(t.get<format::AllocFailure>().size()), kOoms);
        QVERIFY(QFile::remove(QString::fromStdString(vtrace)));
        // A failed import leaves no file behind and no path.
        vtrace.clear();
        QVERIFY(!importSnapshotToTemporary(path("missing.pickle").toStdString(), &vtrace, &s, &error));
        QVERIFY(vtrace.empty());
    }

    // -- hostile and broken input ----------------------------------------------

    void truncatedAtEveryOffsetFailsCleanly() {
        const QByteArray bytes = readAll(kSnapshots + "synthetic-snapshot.pickle");
        const std::string out = path("trunc.vtrace").toStdString();
        for (int n = 0; n < bytes.size(); ++n) {
            std::string error;
            ImportStats s;
            QVERIFY2(!importSnapshotBytes(bytesOf(bytes), size_t(n), "cut.pickle", out, &s, &error),
                     qPrintable(QString("a cut at %1 bytes was accepted").arg(n)));
            if (n == 0) QVERIFY(QString::fromStdString(error).contains("empty"));
            else QVERIFY2(QString::fromStdString(error).contains("truncated"), error.c_str());
        }
    }

    void randomByteFlipsNeverCrash() {
        const QByteArray original = readAll(kSnapshots + "synthetic-snapshot.pickle");
        QRandomGenerator rng(1234);
        const std::string out = path("flip.vtrace").toStdString();
        int accepted = 0;
        for (int i = 0; i < 3000; ++i) {
            QByteArray bytes = original;
            const int flips = 1 + int(rng.bounded(4));
            for (int f = 0; f < flips; ++f) {
                const int at = int(rng.bounded(bytes.size()));
                bytes[at] = char(rng.bounded(256));
            }
            if (i % 5 == 0) bytes.truncate(int(rng.bounded(bytes.size())) + 1);
            std::string error;
            ImportStats s;
            if (importSnapshotBytes(bytesOf(bytes), size_t(bytes.size()), "flip.pickle", out, &s, &error)) ++accepted;
            else QVERIFY(!error.empty());
        }
        QVERIFY(accepted > 0);  // flips inside strings and numbers still import
    }

    void globalAndReduceAreRefusedByName() {
        struct Case {
            QByteArray bytes;
            const char* mustMention;
        };
        const Case cases[] = {
            // pickle.dumps(os.system, protocol=2)
            {B("\x80\x02" "cposix\nsystem\nq\x00."), "GLOBAL (0x63) would import the Python object 'posix.system'"},
            // pickle.dumps(os.system, protocol=4)
            {B("\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."), "STACK_GLOBAL"},
            // a __reduce__ to os.system("echo hi"), protocol 2: refused at its GLOBAL, before any call
            {B("\x80\x02" "cposix\nsystem\nq\x00X\x07\x00\x00\x00" "echo hiq\x01\x85q\x02Rq\x03."), "offset 2: GLOBAL"},
            // REDUCE alone
            {B("\x80\x02N)R."), "REDUCE"},
            // BUILD, NEWOBJ, a persistent id as torch.save uses
            {B("\x80\x02}}b."), "BUILD"},
            {B("\x80\x02N)\x81."), "NEWOBJ"},
            {B("\x80\x02N" "Q."), "BINPERSID"},
        };
        for (const auto& c : cases) {
            PickleDocument doc;
            std::string error;
            QVERIFY(!parse(c.bytes, doc, &error));
            QVERIFY2(QString::fromStdString(error).contains(c.mustMention), error.c_str());
            QVERIFY2(QString::fromStdString(error).contains("executes nothing"), error.c_str());
            // and through the importer, with the file name
            ImportStats s;
            QVERIFY(!importSnapshotBytes(bytesOf(c.bytes), size_t(c.bytes.size()), "evil.pickle",
                                         path("evil.vtrace").toStdString(), &s, &error));
            QVERIFY2(QString::fromStdString(error).startsWith("evil.pickle: offset "), error.c_str());
        }
    }

    void deepNestingIsLimited() {
        // [[[[...]]]] 500 deep, as Python writes it: EMPTY_LIST x 500, APPEND x 499.
        QByteArray deep("\x80\x04", 2);
        deep += QByteArray(500, ']');
        deep += QByteArray(499, 'a');
        deep += '.';
        PickleDocument doc;
        std::string error;
        QVERIFY(!parse(deep, doc, &error));
        QVERIFY2(QString::fromStdString(error).contains("nested more than 100 levels"), error.c_str());
        // 90 deep is fine.
        QByteArray ok("\x80\x04", 2);
        ok += QByteArray(90, ']');
        ok += QByteArray(89, 'a');
        ok += '.';
        QVERIFY2(parse(ok, doc, &error), error.c_str());
        // Unclosed MARKs are capped too.
        QByteArray marks("\x80\x04", 2);
        marks += QByteArray(100000, '(');
        QVERIFY(!parse(marks, doc, &error));
        QVERIFY2(QString::fromStdString(error).contains("MARKs open"), error.c_str());
        // A list appended to itself (a cycle) hits the same limit instead of looping.
        QByteArray cycle = B("\x80\x04]\x94");
        for (int i = 0; i < 150; ++i) cycle += B("h\x00" "a");
        cycle += '.';
        QVERIFY(!parse(cycle, doc, &error));
        QVERIFY2(QString::fromStdString(error).contains("nested more than 100 levels"), error.c_str());
    }

    void stackAndMemoLimitsHold() {
        PickleLimits limits;
        limits.maxStackItems = 1000;
        limits.maxMemoEntries = 10;
        PickleDocument doc;
        std::string error;
        QByteArray wide("\x80\x04](", 3);
        wide += QByteArray(2000, 'N');
        wide += "e.";
        QVERIFY(!parse(wide, doc, &error, limits));
        QVERIFY2(QString::fromStdString(error).contains("stack"), error.c_str());
        QVERIFY(!parse(B("\x80\x04Nr\xff\xff\xff\x7f."), doc, &error, limits));
        QVERIFY2(QString::fromStdString(error).contains("memo index"), error.c_str());
        QVERIFY(!parse(B("\x80\x04h\x05."), doc, &error));
        QVERIFY2(QString::fromStdString(error).contains("never stored"), error.c_str());
        // A huge announced length is a truncation, not an allocation.
        QVERIFY(!parse(B("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f"), doc, &error));
        QVERIFY2(QString::fromStdString(error).contains("truncated"), error.c_str());
    }

    void sharedReferencesCannotMultiplyTheWork() {
        // {'device_traces': [T, T, ... 3000 times]} where T = [E] * 1000: 3 million
        // entries from 10 kB. Refused quickly instead of converting for minutes.
        QByteArray b("\x80\x04}", 3);
        b += B("\x8c\x0d" "device_traces");
        b += "]";      // outer list
        b += "(";
        b += "]";      // T
        b += B("q\x00");
        b += "(";
        b += B("}\x8c\x06" "action\x8c\x05" "alloc" "s");  // E = {'action': 'alloc'}
        b += B("q\x01");
        for (int i = 1; i < 1000; ++i) b += B("h\x01");
        b += "e";      // T filled
        for (int i = 1; i < 3000; ++i) b += B("h\x00");
        b += "e";      // outer filled: T plus 2999 references
        b += "s.";
        ImportStats s;
        std::string error;
        QElapsedTimer timer;
        timer.start();
        QVERIFY(!importSnapshotBytes(bytesOf(b), size_t(b.size()), "amp.pickle", path("amp.vtrace").toStdString(), &s, &error));
        QVERIFY2(QString::fromStdString(error).contains("over and over"), error.c_str());
        QVERIFY(timer.elapsed() < 5000);
    }

    void notASnapshotIsRefusedClearly() {
        struct Case {
            QByteArray bytes;
            const char* mustMention;
        };
        const Case cases[] = {
            {QByteArray(), "empty"},
            {B("\x80\x04}\x8c\x01" "a\x4b\x01s."), "not a PyTorch memory snapshot: the pickle holds a dict without 'segments' or 'device_traces' (its keys: 'a')"},
            {B("\x80\x04K\x05."), "holds a int"},
            {B("PK\x03\x04rest"), "zip archive"},
            {B("zzzz"), "not a pickle opcode"},
            {B("\x80\x07."), "protocol 7"},
            {B("\x80\x04NN."), "2 values on the stack"},
            {B("\x80\x04}K\x01s."), "SETITEM needs a value"},
        };
        for (const auto& c : cases) {
            ImportStats s;
            std::string error;
            QVERIFY(!importSnapshotBytes(bytesOf(c.bytes), size_t(c.bytes.size()), "x.pickle", path("x.vtrace").toStdString(), &s, &error));
            QVERIFY2(QString::fromStdString(error).contains(c.mustMention), error.c_str());
        }
    }

    // -- the value tree --------------------------------------------------------

    void pickleReaderReadsEveryPlainKind() {
        // pickle.dumps({'big': 2**63+5, 'neg': -5, 'int32': -70000, 'u16': 65535, 'f': 1.5, 't': True,
        //   'fa': False, 'n': None, 'tup': (1,2,3,4), 'b': b'xy', 'huge': 2**70, 'negbig': -2**40,
        //   'uni': 'héllo', 'k0': 0, ..., 'k19': 19}, protocol=4)
        const QByteArray bytes = fromHex(
            "80049536010000000000007d94288c03626967948a090500000000000080008c036e6567944afbffffff8c05696e7433"
            "32944a90eefeff8c03753136944dffff8c016694473ff80000000000008c017494888c02666194898c016e944e8c0374"
            "757094284b014b024b034b0474948c01629443027879948c0468756765948a090000000000000000408c066e65676269"
            "67948a060000000000ff8c03756e69948c0668c3a96c6c6f948c026b30944b008c026b31944b018c026b32944b028c02"
            "6b33944b038c026b34944b048c026b35944b058c026b36944b068c026b37944b078c026b38944b088c026b39944b098c"
            "036b3130944b0a8c036b3131944b0b8c036b3132944b0c8c036b3133944b0d8c036b3134944b0e8c036b3135944b0f8c"
            "036b3136944b108c036b3137944b118c036b3138944b128c036b3139944b13752e");
        PickleDocument doc;
        std::string error;
        QVERIFY2(parse(bytes, doc, &error), error.c_str());
        const PickleValue r = doc.root();
        QVERIFY(r.isDict());
        QCOMPARE(r.size(), size_t(33));
        uint64_t u = 0;
        int64_t i = 0;
        double d = 0;
        QVERIFY(r.get("big").toUInt64(&u));
        QCOMPARE(u, (uint64_t(1) << 63) + 5);
        QVERIFY(!r.get("big").toInt64(&i));
        QCOMPARE(r.get("neg").intOr(0), int64_t(-5));
        QVERIFY(!r.get("neg").toUInt64(&u));
        QCOMPARE(r.get("int32").intOr(0), int64_t(-70000));
        QCOMPARE(r.get("u16").intOr(0), int64_t(65535));
        QVERIFY(r.get("f").toDouble(&d));
        QCOMPARE(d, 1.5);
        QCOMPARE(r.get("t").kind(), PickleKind::Bool);
        QCOMPARE(r.get("t").intOr(0), int64_t(1));
        QCOMPARE(r.get("fa").intOr(7), int64_t(0));
        QVERIFY(r.get("n").isNone());
        QVERIFY(r.get("tup").isTuple());
        QCOMPARE(r.get("tup").size(), size_t(4));
        QCOMPARE(r.get("tup").at(3).intOr(0), int64_t(4));
        QVERIFY(!r.get("tup").at(4).valid());
        QCOMPARE(r.get("b").kind(), PickleKind::Bytes);
        QCOMPARE(r.get("b").text(), std::string_view("xy"));
        QVERIFY(r.get("huge").isInt());
        QVERIFY(!r.get("huge").toUInt64(&u));  // 2**70 does not fit
        QCOMPARE(r.get("negbig").intOr(0), -(int64_t(1) << 40));
        QCOMPARE(r.get("uni").text(), std::string_view("h\xc3\xa9llo"));
        for (int k = 0; k < 20; ++k) QCOMPARE(r.get("k" + std::to_string(k)).intOr(-1), int64_t(k));
        QVERIFY(!r.get("missing").valid());
        QVERIFY(!r.get("k20").valid());
        QCOMPARE(doc.stats().protocol, 4u);

        // Duplicate keys: the last one wins, as in Python (small and indexed dicts).
        QByteArray dup("\x80\x02}(\x8c\x01" "aK\x01\x8c\x01" "aK\x02u.", 16);
        QVERIFY2(parse(dup, doc, &error), error.c_str());
        QCOMPARE(doc.root().get("a").intOr(0), int64_t(2));
        // Memo references share one value.
        QVERIFY2(parse(B("\x80\x04](]\x94h\x00" "e."), doc, &error), error.c_str());
        QCOMPARE(doc.root().size(), size_t(2));
        QCOMPARE(doc.root().at(0).index(), doc.root().at(1).index());
    }

    // -- the CLI ---------------------------------------------------------------

    void cliImportPrintsCountsAndExitCodes() {
        Run r = runCli({"import", kSnapshots + "synthetic-snapshot.pickle", "-o", path("cli.vtrace")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.out.contains("25 allocs"), r.out.constData());
        QVERIFY(r.out.contains("1 OOMs"));

        r = runCli({"import", "--json", kSnapshots + "synthetic-snapshot.pickle", "-o", path("cli.vtrace")});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["allocs"].toInteger(), qint64(kAllocs));
        QCOMPARE(o["ooms"].toInteger(), qint64(kOoms));
        QCOMPARE(o["callsites"].toInteger(), qint64(9));

        r = runCli({"info", "--json", path("cli.vtrace")});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(r.out).object()["counts"].toObject()["alloc_failure"].toInteger(), qint64(1));

        // Truncated: exit 1 with a message naming the problem.
        const QByteArray bytes = readAll(kSnapshots + "synthetic-snapshot.pickle");
        writeAll(path("cut.pickle"), bytes.left(bytes.size() / 2));
        r = runCli({"import", path("cut.pickle"), "-o", path("cut.vtrace")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("cut.pickle") && r.err.contains("truncated"), r.err.constData());

        writeAll(path("evil.pickle"), B("\x80\x02" "cposix\nsystem\nq\x00."));
        r = runCli({"import", path("evil.pickle"), "-o", path("evil.vtrace")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("GLOBAL"), r.err.constData());

        r = runCli({"import", path("no-such.pickle"), "-o", path("x.vtrace")});
        QCOMPARE(r.exitCode, 1);
        r = runCli({"import"});
        QCOMPARE(r.exitCode, 2);
        r = runCli({"import", "--no-such-option", path("cut.pickle")});
        QCOMPARE(r.exitCode, 2);

        // Without -o the trace goes next to the snapshot.
        QFile::copy(kSnapshots + "synthetic-snapshot.pickle", path("plain.pickle"));
        r = runCli({"import", path("plain.pickle")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(QFile::exists(path("plain.vtrace")));
    }
};

QTEST_GUILESS_MAIN(TestImport)
#include "tst_import.moc"
