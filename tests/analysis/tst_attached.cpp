// Traces of `vramscope attach`: what was live at the attach is in the model
// from the instant PyTorch's snapshot entered it, and the blocks PyTorch
// named (parameters, gradients, optimizer state) are categorised as it named
// them, the others it did not name as other, never as weights.
#include "analysis/summary.h"
#include "format/writer.h"
#include "model/model_builder.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace vramscope;
using namespace vramscope::format;
using analysis::Category;

namespace {

constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t kAttachNs = 1'000'000, kSeedNs = 2'000'000;
constexpr uint32_t kTag = 0xFFFFFF00u;  // the bridge's callsite ids for its tags

struct Seeded {
    uint64_t address, bytes;
    uint32_t callsite;  // 0: not named
};

// An attached GPT-like job: a segment made between the attach and the
// snapshot, three segments and four live blocks entered at the snapshot,
// then six steps that each allocate an activation in forward and free it in
// backward.
std::string writeAttachedTrace(const QString& dir, bool tagged) {
    const std::string path = (dir + (tagged ? "/tagged.vtrace" : "/untagged.vtrace")).toStdString();
    TraceWriter w;
    std::string error;
    if (!w.open(path, &error)) qFatal("%s", error.c_str());
    ProcessInfo p;
    p.timestampNs = kAttachNs;
    p.pid = 42;
    p.captureStart = CaptureStart::Attach;
    p.attachIndex = 1;
    p.wallClockNs = 1'800'000'000'000'000'000ull;
    p.processStartUnixNs = p.wallClockNs - 7'200'000'000'000ull;  // two hours before
    w.write(p);
    auto driver = [&](uint64_t t, DriverMemoryOp op, uint64_t address, uint64_t bytes) {
        DriverMemory d;
        d.timestampNs = t;
        d.op = op;
        d.address = address;
        d.bytes = bytes;
        w.write(d);
    };
    driver(1'500'000, DriverMemoryOp::Alloc, 0x30000000, 2 * MiB);  // also in the snapshot below
    driver(kSeedNs, DriverMemoryOp::Existing, 0x10000000, 100 * MiB);
    driver(kSeedNs, DriverMemoryOp::Existing, 0x20000000, 50 * MiB);
    driver(kSeedNs, DriverMemoryOp::Existing, 0x30000000, 2 * MiB);
    if (tagged) {
        const char* files[] = {"(parameter)", "(gradient)", "(optimizer state)"};
        for (uint32_t t = 1; t <= 3; ++t) {
            CallsiteDef c;
            c.id = kTag + t;
            c.fileId = w.intern(files[t - 1]);
            w.write(c);
        }
    }
    const Seeded seeded[] = {{0x10000000, 40 * MiB, tagged ? kTag + 1 : 0},
                             {0x12800000, 40 * MiB, tagged ? kTag + 2 : 0},
                             {0x15000000, 10 * MiB, tagged ? kTag + 3 : 0},
                             {0x20000000, 30 * MiB, 0}};  // memory the job leaked before the attach
    for (const Seeded& s : seeded) {
        TensorMemory t;
        t.timestampNs = kSeedNs;
        t.action = TensorAction::Snapshot;
        t.address = s.address;
        t.bytes = s.bytes;
        t.callsiteId = s.callsite;
        w.write(t);
    }
    uint64_t t = 3'000'000;
    for (uint64_t step = 0; step < 6; ++step) {
        auto phase = [&](PhaseKind kind) {
            Phase ph;
            ph.timestampNs = t;
            ph.kind = kind;
            ph.step = step;
            w.write(ph);
        };
        auto tensor = [&](TensorAction action, uint64_t address, uint64_t bytes) {
            TensorMemory m;
            m.timestampNs = t;
            m.action = action;
            m.address = address;
            m.bytes = bytes;
            w.write(m);
        };
        phase(PhaseKind::StepBegin);
        t += 1000;
        phase(PhaseKind::ForwardBegin);
        t += 1000;
        tensor(TensorAction::Alloc, 0x16000000, 8 * MiB);
        t += 100'000;
        phase(PhaseKind::BackwardBegin);
        t += 100'000;
        tensor(TensorAction::FreeCompleted, 0x16000000, 8 * MiB);
        t += 1000;
        phase(PhaseKind::OptimizerBegin);
        t += 10'000;
        phase(PhaseKind::StepEnd);
        t += 10'000;
    }
    if (!w.close()) qFatal("close failed");
    return path;
}

Category categoryOfBlockAt(const model::TraceModel& m, const analysis::Categorization& c, uint64_t address) {
    for (size_t i = 0; i < m.blocks.size(); ++i)
        if (m.blocks.address[i] == address && m.blocks.allocNs[i] == kSeedNs) return c.category[i];
    return Category::Other;
}

}  // namespace

class TestAttached : public QObject {
    Q_OBJECT
private slots:
    void liveSetAtTheAttachIsTheSnapshot() {
        QTemporaryDir dir;
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(writeAttachedTrace(dir.path(), true), m, {}, &error));
        const analysis::TraceSummary s = analysis::summarize(m);
        QVERIFY(s.capture.attached);
        QCOMPARE(s.capture.attachIndex, 1u);
        QCOMPARE(s.capture.attachedNs, kAttachNs);
        QCOMPARE(s.capture.seededNs, kSeedNs);
        QCOMPARE(s.capture.allocatedAtAttachBytes, 120 * MiB);
        // The segment made between the attach and the snapshot is counted once.
        QCOMPARE(s.capture.reservedAtAttachBytes, 152 * MiB);
        QCOMPARE(s.perIteration.size(), size_t(6));
        QCOMPARE(s.peakAllocated.bytes, 128 * MiB);
    }

    void blocksPyTorchNamedKeepTheirNames() {
        QTemporaryDir dir;
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(writeAttachedTrace(dir.path(), true), m, {}, &error));
        const analysis::TraceSummary s = analysis::summarize(m);
        const auto& c = s.categories;
        QCOMPARE(categoryOfBlockAt(m, c, 0x10000000), Category::Weights);
        QCOMPARE(categoryOfBlockAt(m, c, 0x12800000), Category::Gradients);
        QCOMPARE(categoryOfBlockAt(m, c, 0x15000000), Category::OptimizerState);
        // Live at the attach but none of the model's: not weights.
        QCOMPARE(categoryOfBlockAt(m, c, 0x20000000), Category::Other);
        QCOMPARE(c.bytesAtPeak[size_t(Category::Weights)], 40 * MiB);
        QCOMPARE(c.bytesAtPeak[size_t(Category::Other)], 30 * MiB);
    }

    void withoutNamesKeptBlocksAreWeightsAsBefore() {
        QTemporaryDir dir;
        model::TraceModel m;
        std::string error;
        QVERIFY(model::loadModel(writeAttachedTrace(dir.path(), false), m, {}, &error));
        const analysis::TraceSummary s = analysis::summarize(m);
        for (uint64_t address : {0x10000000ull, 0x12800000ull, 0x15000000ull, 0x20000000ull})
            QCOMPARE(categoryOfBlockAt(m, s.categories, address), Category::Weights);
    }
};

QTEST_GUILESS_MAIN(TestAttached)
#include "tst_attached.moc"
