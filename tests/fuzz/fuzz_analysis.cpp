// libFuzzer target: any records a trace file can hold must load into the
// model and go through every analysis (iterations, categories, leaks,
// checkpointing, estimator, boundness, roofline, comparison) and the Chrome
// export without crashing, reading out of bounds or hanging.
//
// Structure-aware: the bytes are read as a list of records (a type byte,
// then its fields), so that mutations reach the analysis instead of dying
// in zstd. Field values are whatever the reader can hand over: enums of any
// byte, spans whose end wrapped around, ids that name nothing.
#include "analysis/compare.h"
#include "analysis/summary.h"
#include "export/chrome_trace.h"
#include "format/reader.h"
#include "format/record_fields.h"
#include "model/live_model.h"
#include "model/model_builder.h"

#include "../analysis/model_compare.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <streambuf>

namespace {

using namespace vramscope;
using namespace vramscope::format;

struct Input {
    const uint8_t* data;
    size_t size;
    size_t pos = 0;
    bool empty() const { return pos >= size; }
    template <class T> T take() {
        T v{};
        const size_t n = std::min(sizeof v, size - std::min(pos, size));
        std::memcpy(&v, data + pos, n);
        pos += sizeof v;
        return v;
    }
    // Small numbers are likelier to collide into meaningful structure (the
    // same address freed, the same counter id sampled).
    uint64_t address() { return uint64_t(take<uint8_t>()) << 12; }
    uint64_t bytes() { return uint64_t(take<uint16_t>()) << (take<uint8_t>() % 24); }
    uint64_t time() { return take<uint32_t>(); }
    template <class E> E enumeration() { return static_cast<E>(take<uint8_t>() % 12); }
};

// Names the analysis reads meaning into: phases, kernels of each class, regions.
const char* const kNames[] = {"step",      "forward", "backward", "optimizer.step", "recompute", "checkpoint",
                              "nvjet_sm90_tst_192x128_h_bz", "at::native::vectorized_elementwise_kernel",
                              "ncclDevKernel_AllReduce", "triton_tem_fused_mm", "cunn_SoftMaxForward",
                              "data", "train.py", "torch/nn/modules/linear.py", "GPT.forward", ""};
constexpr uint32_t kNameCount = sizeof kNames / sizeof *kNames;

struct NullBuffer : std::streambuf {
    int overflow(int c) override { return c; }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    TraceContents c;
    for (uint32_t i = 0; i < kNameCount; ++i) {
        c.get<StringDef>().push_back({i + 1, kNames[i]});
        c.strings[i + 1] = kNames[i];
    }
    auto name = [&] { return uint32_t(in.take<uint8_t>() % (kNameCount + 2)); };  // 0 and one past: undefined
    for (int records = 0; records < 4096 && !in.empty(); ++records) {
        switch (in.take<uint8_t>() % 14) {
        case 0: {
            DeviceInfo d;
            d.deviceId = in.take<uint8_t>() % 3;
            d.nameId = name();
            d.totalMemoryBytes = in.bytes() << 8;
            d.smCount = in.take<uint8_t>();
            d.computeCapability = in.take<uint8_t>();
            d.peakDramBytesPerSec = in.bytes() << 16;
            d.peakFlopsPerSec = in.bytes() << 24;
            c.get<DeviceInfo>().push_back(d);
            break;
        }
        case 1: {
            DriverMemory d;
            d.timestampNs = in.time();
            d.op = in.enumeration<DriverMemoryOp>();
            d.kind = in.enumeration<MemoryKind>();
            d.deviceId = in.take<uint8_t>() % 3;
            d.address = in.address();
            d.bytes = in.bytes();
            c.get<DriverMemory>().push_back(d);
            break;
        }
        case 2: {
            TensorMemory t;
            t.timestampNs = in.time();
            t.action = in.enumeration<TensorAction>();
            t.address = in.address();
            t.bytes = in.bytes();
            t.streamId = in.take<uint8_t>() % 3;
            t.callsiteId = in.take<uint8_t>() % 5;
            c.get<TensorMemory>().push_back(t);
            break;
        }
        case 3: {
            Kernel k;
            k.startNs = in.time();
            const bool wrapped = in.take<uint8_t>() % 16 == 0;  // a span whose end wrapped around
            k.endNs = wrapped ? k.startNs - 1 : k.startNs + in.take<uint16_t>();
            k.streamId = in.take<uint8_t>() % 4;
            k.nameId = name();
            k.queuedLeadNs = in.take<uint16_t>();
            c.get<Kernel>().push_back(k);
            break;
        }
        case 4: {
            Phase p;
            p.timestampNs = in.time();
            p.kind = static_cast<PhaseKind>(in.take<uint8_t>() % 11);
            p.step = in.take<uint8_t>();
            p.nameId = name();
            c.get<Phase>().push_back(p);
            break;
        }
        case 5: {
            Range r;
            r.startNs = in.time();
            r.endNs = r.startNs + in.take<uint32_t>();
            r.nameId = name();
            r.threadId = in.take<uint8_t>() % 3;
            r.depth = in.take<uint8_t>();
            c.get<Range>().push_back(r);
            break;
        }
        case 6: {
            CounterInfo i;
            i.counterId = in.take<uint8_t>() % 5;
            i.metric = static_cast<CounterMetric>(in.take<uint8_t>() % 5);
            i.source = static_cast<CounterSource>(in.take<uint8_t>() % 6);
            i.nameId = name();
            i.intervalNs = in.take<uint32_t>();
            c.get<CounterInfo>().push_back(i);
            break;
        }
        case 7: {
            CounterSample s;
            s.timestampNs = in.time();
            s.counterId = in.take<uint8_t>() % 5;
            s.valueMilli = in.take<uint32_t>() % 200000;
            c.get<CounterSample>().push_back(s);
            break;
        }
        case 8: {
            MemInfo m;
            m.timestampNs = in.time();
            m.usedBytes = in.bytes();
            m.freeBytes = in.bytes();
            c.get<MemInfo>().push_back(m);
            break;
        }
        case 9: {
            PoolReserved p;
            p.timestampNs = in.time();
            p.poolAddress = in.address();
            p.reservedBytes = in.bytes();
            c.get<PoolReserved>().push_back(p);
            break;
        }
        case 10: {
            Memcpy m;
            m.startNs = in.time();
            m.endNs = m.startNs + in.take<uint16_t>();
            m.bytes = in.bytes();
            m.streamId = in.take<uint8_t>() % 4;
            m.copyKind = in.enumeration<CopyKind>();
            c.get<Memcpy>().push_back(m);
            break;
        }
        case 11: {
            AllocFailure f;
            f.timestampNs = in.time();
            f.source = in.enumeration<FailureSource>();
            f.requestedBytes = in.bytes();
            f.freeBytes = in.bytes();
            f.callsiteId = in.take<uint8_t>() % 5;
            c.get<AllocFailure>().push_back(f);
            break;
        }
        case 12: {
            CallsiteDef d;
            d.id = in.take<uint8_t>() % 5;
            d.parentId = in.take<uint8_t>() % 5;  // cycles too
            d.fileId = name();
            d.functionId = name();
            d.line = in.take<uint16_t>();
            c.get<CallsiteDef>().push_back(d);
            break;
        }
        default: {
            ProcessInfo p;
            p.pid = in.take<uint16_t>();
            p.commandLineId = name();  // the estimator reads the batch size from it
            c.get<ProcessInfo>().push_back(p);
            break;
        }
        }
    }
    model::TraceModel m;
    model::buildModel(c, m);
    const analysis::TraceSummary s = analysis::summarize(m);
    (void)analysis::compareRuns(s, s);
    for (uint64_t t : {m.firstNs, (m.firstNs + m.lastNs) / 2, m.lastNs}) {
        (void)m.liveBlocksAt(t);
        (void)m.topLiveBlocksAt(t, 5);
    }
    for (const auto& b : s.topBlocksAtPeak) (void)m.callsiteStack(b.block < m.blocks.size() ? m.blocks.callsiteId[b.block] : 0);
    NullBuffer sink;
    std::ostream out(&sink);
    exporting::writeChromeTrace(m, s.iterations, out, {});

    // The same records as a live trace: cut into chunks (each type's records
    // keep their order, as in a file), appended to a LiveModel that rewinds on
    // every late memory record, then summarized mid-way. It must keep the
    // model's promises and end equal to the model loadModel() builds from the
    // same chunks (counter series come in order of first appearance, chunk by
    // chunk: the chunking is part of the file).
    model::ModelBuilder builder;
    model::LiveModel::Options options;
    options.reorderLagNs = in.take<uint8_t>() % 2 ? 0 : 1000;
    options.checkpointRecords = 1 + in.take<uint8_t>() % 8;
    model::LiveModel live(options);
    const size_t pieces = 1 + size % 7;
    for (size_t piece = 0; piece < pieces; ++piece) {
        RecordLists chunk;
        forEachRecordType([&](auto tag) {
            using R = typename decltype(tag)::type;
            const auto& all = c.get<R>();
            const size_t a = all.size() * piece / pieces, b = all.size() * (piece + 1) / pieces;
            chunk.get<R>().assign(all.begin() + std::ptrdiff_t(a), all.begin() + std::ptrdiff_t(b));
        });
        live.append(chunk, piece == 0 ? c.events : 0);
        builder.add(chunk, piece == 0 ? c.events : 0);
        if (const std::string broken = testing::checkModelInvariants(live.model(), 3); !broken.empty()) {
            std::fprintf(stderr, "live model breaks an invariant after piece %zu of %zu: %s\n", piece + 1, pieces,
                         broken.c_str());
            abort();
        }
        if (piece == pieces / 2) (void)analysis::summarize(live.model());
    }
    live.addProblems(c.problems);
    live.finish();
    model::TraceModel reference;
    builder.finish(reference);
    const std::string diff = testing::compareModels(live.model(), reference);
    if (!diff.empty()) {
        std::fprintf(stderr, "live model differs from buildModel: %s\n", diff.c_str());
        abort();
    }
    return 0;
}
