// CUPTI activity records → .vtrace records, with hand-made CUPTI records
// (the layouts of CUDA 13's cupti_activity.h), so no GPU is needed.
#include "activity_decoder.h"

#include <format/reader.h>
#include <format/writer.h>

#include <cupti_activity.h>

#include <QTemporaryDir>
#include <QTest>

#include <cstring>

using namespace vramscope::format;
using namespace vramscope::inject;

namespace {

struct Harness {
    QTemporaryDir dir;
    std::string path = (dir.path() + "/t.vtrace").toStdString();
    TraceWriter writer;
    ActivityDecoder decoder{writer};
    Harness() { writer.open(path); }
    TraceContents load() {
        writer.close();
        TraceReader reader;
        std::string error;
        TraceContents t;
        if (!reader.open(path, &error) || !loadTrace(reader, t, LoadOptions{}, &error)) qFatal("%s", error.c_str());
        return t;
    }
};

CUpti_ActivityMemory4 memoryRecord(CUpti_ActivityMemoryOperationType op, uint64_t address, uint64_t bytes, uint64_t ns) {
    CUpti_ActivityMemory4 m;
    std::memset(&m, 0, sizeof m);
    m.kind = CUPTI_ACTIVITY_KIND_MEMORY2;
    m.memoryOperationType = op;
    m.memoryKind = CUPTI_ACTIVITY_MEMORY_KIND_DEVICE;
    m.address = address;
    m.bytes = bytes;
    m.timestamp = ns;
    m.deviceId = 0;
    m.streamId = CUPTI_INVALID_STREAM_ID;
    return m;
}

CUpti_ActivityMarker2 marker(CUpti_ActivityFlag flags, uint32_t id, uint64_t ns, const char* name, uint32_t thread) {
    CUpti_ActivityMarker2 m;
    std::memset(&m, 0, sizeof m);
    m.kind = CUPTI_ACTIVITY_KIND_MARKER;
    m.flags = flags;
    m.id = id;
    m.timestamp = ns;
    m.name = name;
    m.objectKind = CUPTI_ACTIVITY_OBJECT_THREAD;
    m.objectId.pt.threadId = thread;
    return m;
}

}  // namespace

class TestActivityDecoder : public QObject {
    Q_OBJECT
private slots:
    void memoryRecordsBecomeDriverMemory() {
        Harness h;
        auto a = memoryRecord(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION, 0x7f0000000000, 1 << 20, 1000);
        auto f = memoryRecord(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE, 0x7f0000000000, 1 << 20, 2000);
        h.decoder.decodeRecord(&a);
        h.decoder.decodeRecord(&f);
        TraceContents t = h.load();
        const auto& m = t.get<DriverMemory>();
        QCOMPARE(m.size(), size_t(2));
        QCOMPARE(m[0].op, DriverMemoryOp::Alloc);
        QCOMPARE(m[0].kind, MemoryKind::Device);
        QCOMPARE(m[0].bytes, uint64_t(1 << 20));
        QCOMPARE(m[0].streamId, uint64_t(0));  // CUPTI's "no stream" becomes 0
        QCOMPARE(m[1].op, DriverMemoryOp::Free);
        QCOMPARE(m[1].timestampNs, uint64_t(2000));
    }
    void poolAllocationsAreTaggedAndPoolSizeReportedOnChange() {
        Harness h;
        for (int i = 0; i < 3; ++i) {
            auto a = memoryRecord(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION, 0x1000 + i * 0x100, 256, 100 + i);
            a.memoryPoolConfig.memoryPoolType = CUPTI_ACTIVITY_MEMORY_POOL_TYPE_LOCAL;
            a.memoryPoolConfig.address = 0xabc;
            a.memoryPoolConfig.pool.size = i < 2 ? (32u << 20) : (64u << 20);
            h.decoder.decodeRecord(&a);
        }
        TraceContents t = h.load();
        QCOMPARE(t.get<DriverMemory>().size(), size_t(3));
        QCOMPARE(t.get<DriverMemory>()[0].kind, MemoryKind::Pool);
        const auto& p = t.get<PoolReserved>();
        QCOMPARE(p.size(), size_t(2));  // 32 MiB, then 64 MiB; the repeat is skipped
        QCOMPARE(p[1].reservedBytes, uint64_t(64u << 20));
        QCOMPARE(p[1].poolAddress, uint64_t(0xabc));
    }
    void kernelsKeepLaunchShapeAndInternNames() {
        Harness h;
        static const char* name = "_Z6gemmPfS_";
        for (int i = 0; i < 3; ++i) {
            CUpti_ActivityKernel10 k;
            std::memset(&k, 0, sizeof k);
            k.kind = CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
            k.start = 1000 + i * 100;
            k.end = 1050 + i * 100;
            k.gridX = 132; k.gridY = 2; k.gridZ = 1;
            k.blockX = 256; k.blockY = 1; k.blockZ = 1;
            k.registersPerThread = 64;
            k.staticSharedMemory = 1024;
            k.dynamicSharedMemory = 4096;
            k.streamId = 7;
            k.correlationId = 40 + i;
            k.name = name;
            // Latency timestamps: unknown, 300 ns before the start, and (clock skew) after it.
            k.queued = i == 0 ? CUPTI_TIMESTAMP_UNKNOWN : (i == 1 ? k.start - 300 : k.start + 5);
            h.decoder.decodeRecord(&k);
        }
        TraceContents t = h.load();
        const auto& k = t.get<Kernel>();
        QCOMPARE(k.size(), size_t(3));
        QCOMPARE(k[2].endNs - k[2].startNs, uint64_t(50));
        QCOMPARE(k[0].gridX, 132u);
        QCOMPARE(k[0].blockX, 256u);
        QCOMPARE(k[0].dynamicSharedBytes, 4096u);
        QCOMPARE(k[1].nameId, k[0].nameId);
        QCOMPARE(t.text(k[0].nameId), std::string(name));
        QCOMPARE(t.get<StringDef>().size(), size_t(1));  // defined once
        QCOMPARE(k[0].queuedLeadNs, uint64_t(0));
        QCOMPARE(k[1].queuedLeadNs, uint64_t(300));
        QCOMPARE(k[2].queuedLeadNs, uint64_t(1));
    }
    void nestedNvtxRangesBecomePushPopWithDepth() {
        Harness h;
        auto s1 = marker(CUPTI_ACTIVITY_FLAG_MARKER_START, 1, 100, "step", 9);
        auto s2 = marker(CUPTI_ACTIVITY_FLAG_MARKER_START, 2, 110, "forward", 9);
        auto e2 = marker(CUPTI_ACTIVITY_FLAG_MARKER_END, 2, 150, nullptr, 9);
        auto e1 = marker(CUPTI_ACTIVITY_FLAG_MARKER_END, 1, 200, nullptr, 9);
        auto inst = marker(CUPTI_ACTIVITY_FLAG_MARKER_INSTANTANEOUS, 3, 120, "tick", 9);
        for (auto* m : {&s1, &s2, &inst, &e2, &e1}) h.decoder.decodeRecord(m);
        TraceContents t = h.load();
        const auto& r = t.get<Range>();
        QCOMPARE(r.size(), size_t(2));
        QCOMPARE(t.text(r[0].nameId), std::string("forward"));
        QCOMPARE(r[0].depth, 1u);
        QCOMPARE(r[0].kind, RangeKind::PushPop);
        QCOMPARE(t.text(r[1].nameId), std::string("step"));
        QCOMPARE(r[1].depth, 0u);
        QCOMPARE(r[1].endNs, uint64_t(200));
        QCOMPARE(t.get<Mark>().size(), size_t(1));
    }
    void rangesClosedOutOfOrderAreStartEnd() {
        Harness h;
        auto s1 = marker(CUPTI_ACTIVITY_FLAG_MARKER_START, 1, 100, "load", 9);
        auto s2 = marker(CUPTI_ACTIVITY_FLAG_MARKER_START, 2, 110, "inner", 9);
        auto e1 = marker(CUPTI_ACTIVITY_FLAG_MARKER_END, 1, 150, nullptr, 9);
        auto e2 = marker(CUPTI_ACTIVITY_FLAG_MARKER_END, 2, 200, nullptr, 9);
        for (auto* m : {&s1, &s2, &e1, &e2}) h.decoder.decodeRecord(m);
        TraceContents t = h.load();
        const auto& r = t.get<Range>();
        QCOMPARE(r.size(), size_t(2));
        QCOMPARE(r[0].kind, RangeKind::StartEnd);
    }
    void endBeforeStartAcrossBuffersStillPairs() {
        Harness h;
        auto e = marker(CUPTI_ACTIVITY_FLAG_MARKER_END, 5, 300, nullptr, 1);
        auto s = marker(CUPTI_ACTIVITY_FLAG_MARKER_START, 5, 100, "late", 1);
        h.decoder.decodeRecord(&e);
        h.decoder.decodeRecord(&s);
        TraceContents t = h.load();
        QCOMPARE(t.get<Range>().size(), size_t(1));
        QCOMPARE(t.get<Range>()[0].endNs, uint64_t(300));
    }
    void openRangesAreClosedAtTheEnd() {
        Harness h;
        auto s = marker(CUPTI_ACTIVITY_FLAG_MARKER_START, 1, 100, "never-ends", 1);
        h.decoder.decodeRecord(&s);
        h.decoder.finish(999);
        TraceContents t = h.load();
        QCOMPARE(t.get<Range>().size(), size_t(1));
        QCOMPARE(t.get<Range>()[0].endNs, uint64_t(999));
    }
    void vmmCallbacksWinOverMemory2Duplicates() {
        Harness h;
        SideEvent create;
        create.kind = SideEvent::Kind::VmmCreate;
        create.correlationId = 77;
        create.address = 0x55;  // the handle
        create.bytes = 2 << 20;
        create.timestampNs = 10;
        h.decoder.handleSide(create);
        auto dup = memoryRecord(CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION, 0x302000000, 2 << 20, 11);
        dup.correlationId = 77;
        h.decoder.decodeRecord(&dup);
        SideEvent release;
        release.kind = SideEvent::Kind::VmmRelease;
        release.address = 0x55;
        release.timestampNs = 20;
        h.decoder.handleSide(release);
        QCOMPARE(h.decoder.stats().vmmDuplicatesSkipped, uint64_t(1));
        TraceContents t = h.load();
        const auto& m = t.get<DriverMemory>();
        QCOMPARE(m.size(), size_t(2));
        QCOMPARE(m[0].op, DriverMemoryOp::VmmCreate);
        QCOMPARE(m[0].kind, MemoryKind::Vmm);
        QCOMPARE(m[1].op, DriverMemoryOp::VmmRelease);
        QCOMPARE(m[1].bytes, uint64_t(2 << 20));  // size remembered from the create
    }
    void sideEventsBecomeRecords() {
        Harness h;
        SideEvent ctx;
        ctx.kind = SideEvent::Kind::ContextCreated;
        ctx.deviceId = 0;
        std::strcpy(ctx.deviceName, "NVIDIA H100 80GB HBM3");
        ctx.smCount = 132;
        ctx.computeCapability = 90;
        ctx.totalMemoryBytes = 85017493504ull;
        h.decoder.handleSide(ctx);
        h.decoder.handleSide(ctx);  // a second context: one DeviceInfo per device
        SideEvent oom;
        oom.kind = SideEvent::Kind::AllocFailure;
        oom.bytes = 1ull << 40;
        oom.freeBytes = 123;
        h.decoder.handleSide(oom);
        SideEvent mi;
        mi.kind = SideEvent::Kind::MemInfo;
        mi.usedBytes = 5;
        mi.freeBytes = 6;
        h.decoder.handleSide(mi);
        SideEvent ph;
        ph.kind = SideEvent::Kind::Phase;
        ph.phaseKind = uint8_t(PhaseKind::BackwardBegin);
        ph.bytes = 12;
        h.decoder.handleSide(ph);
        TraceContents t = h.load();
        QCOMPARE(t.get<DeviceInfo>().size(), size_t(1));
        QCOMPARE(t.text(t.get<DeviceInfo>()[0].nameId), std::string("NVIDIA H100 80GB HBM3"));
        QCOMPARE(t.get<AllocFailure>().size(), size_t(1));
        QCOMPARE(t.get<AllocFailure>()[0].requestedBytes, uint64_t(1) << 40);
        QCOMPARE(t.get<MemInfo>().size(), size_t(1));
        QCOMPARE(t.get<Phase>().size(), size_t(1));
        QCOMPARE(t.get<Phase>()[0].step, uint64_t(12));
        QCOMPARE(t.get<Phase>()[0].kind, PhaseKind::BackwardBegin);
    }
    void realCapturesFromTheGpuAreReadable() {
        // tests/data holds captures made on an H100 (see its README).
        struct Expect { const char* file; size_t kernels, allocs, ranges; };
        const Expect expect[] = {{"injector_train.vtrace", 56, 27, 17},
                                 {"injector_leak.vtrace", 70, 38, 21},
                                 {"injector_async.vtrace", 56, 27, 17}};
        for (const auto& e : expect) {
            std::string path = std::string(VRAMSCOPE_SOURCE_DIR) + "/tests/data/" + e.file;
            TraceReader reader;
            std::string error;
            TraceContents t;
            QVERIFY2(reader.open(path, &error), error.c_str());
            QVERIFY(loadTrace(reader, t, LoadOptions{}, &error));
            QVERIFY(reader.footer().present);
            QCOMPARE(t.get<Kernel>().size(), e.kernels);
            size_t allocs = 0;
            for (const auto& m : t.get<DriverMemory>()) allocs += m.op == DriverMemoryOp::Alloc;
            QCOMPARE(allocs, e.allocs);
            QCOMPARE(t.get<Range>().size(), e.ranges);
            QCOMPARE(t.get<DeviceInfo>().size(), size_t(1));
        }
    }
};

QTEST_GUILESS_MAIN(TestActivityDecoder)
#include "tst_activity_decoder.moc"
