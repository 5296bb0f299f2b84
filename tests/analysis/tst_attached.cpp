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

model::TraceModel fixture(const char* name) {
    model::TraceModel m;
    std::string error;
    if (!model::loadModel(std::string(VRAMSCOPE_TEST_DATA) + "/" + name, m, {}, &error)) qFatal("%s", error.c_str());
    return m;
}

// The number after `key` in the trace's notes (the Python side's account of
// what torch.cuda said at the attach), or 0.
uint64_t noteNumber(const model::TraceModel& m, const std::string& key) {
    for (const Note& n : m.notes) {
        const std::string& text = m.text(n.textId);
        const size_t at = text.find(key);
        if (at != std::string::npos) return std::stoull(text.substr(at + key.size()));
    }
    return 0;
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

    // GPT-2 small training on an H200, attached a second time while it ran
    // (tests/data/README.md): the live set at the attach is what PyTorch
    // itself reported then, and the steps after it are whole steps.
    void gpt2AttachedMatchesWhatPyTorchReported() {
        const model::TraceModel m = fixture("torch_gpt2_attached_h200.vtrace");
        const analysis::TraceSummary s = analysis::summarize(m);
        QVERIFY(s.capture.attached);
        QCOMPARE(s.capture.attachIndex, 2u);
        const uint64_t torchAllocated = noteNumber(m, "torch.cuda.memory_allocated() = ");
        const uint64_t torchReserved = noteNumber(m, "memory_reserved() = ");
        QVERIFY(torchAllocated > (1ull << 30));
        // Requested sizes (what the allocator's events carry) against its
        // 512-byte rounded blocks: within 1 %.
        const double off = std::abs(double(s.capture.allocatedAtAttachBytes) - double(torchAllocated)) / double(torchAllocated);
        QVERIFY2(off < 0.01, qPrintable(QString("live set %1 vs torch %2").arg(s.capture.allocatedAtAttachBytes).arg(torchAllocated)));
        QCOMPARE(s.capture.reservedAtAttachBytes, torchReserved);  // every segment, exactly
        QCOMPARE(s.iterations.source, analysis::IterationSource::Markers);
        QVERIFY(s.perIteration.size() >= 90);
        for (int p = 0; p < analysis::kPhaseCount; ++p) QVERIFY(s.phases[size_t(p)].medianNs > 0);
        QVERIFY(!s.leak.detected);
        // What PyTorch named at the attach: AdamW keeps two moments per parameter.
        const double weights = double(s.categories.bytesAtPeak[size_t(Category::Weights)]);
        const double state = double(s.categories.bytesAtPeak[size_t(Category::OptimizerState)]);
        QVERIFY(weights > 500e6);
        QVERIFY(std::abs(state / weights - 2.0) < 0.05);
    }

    // A GPT that starts keeping a graph every step after the attach, having
    // already kept ~27 GiB before it: the leak is found at the rate the job's
    // own log shows (118.3 MiB a step of torch.cuda.memory_allocated(), block
    // sizes; the trace counts requested sizes), and what it had leaked before
    // the attach is not taken for weights.
    void leakAfterTheAttachIsFound() {
        const model::TraceModel m = fixture("torch_gpt_leak_attached_h200.vtrace");
        const analysis::TraceSummary s = analysis::summarize(m);
        QVERIFY(s.capture.attached);
        QVERIFY(s.leak.detected);
        const double jobGrowth = 124033536.0;  // median of the job's --log-steps growth per step
        QVERIFY2(std::abs(double(s.leak.bytesPerIteration) / jobGrowth - 1.0) < 0.05,
                 qPrintable(QString::number(s.leak.bytesPerIteration)));
        QVERIFY(s.categories.bytesAtPeak[size_t(Category::Weights)] < 100 * MiB);
        QVERIFY(s.categories.bytesAtPeak[size_t(Category::Other)] > 20 * 1024 * MiB);
        QVERIFY(s.categories.bytesAtPeak[size_t(Category::Leaked)] > 5 * 1024 * MiB);
    }

    // A plain CUDA program: no tensor level, the device's memory at the attach.
    void cudaProgramAttachedAtDriverLevel() {
        const model::TraceModel m = fixture("injector_train_attached_h200.vtrace");
        const analysis::TraceSummary s = analysis::summarize(m);
        QVERIFY(s.capture.attached);
        QCOMPARE(m.allocationLevel, model::AllocationLevel::Driver);
        QCOMPARE(s.capture.allocatedAtAttachBytes, uint64_t(0));
        QVERIFY(s.capture.deviceUsedAtAttachBytes > 100 * MiB);
        QVERIFY(m.kernels.size() > 20000);
        QVERIFY(s.perIteration.size() > 1000);
    }
};

QTEST_GUILESS_MAIN(TestAttached)
#include "tst_attached.moc"
