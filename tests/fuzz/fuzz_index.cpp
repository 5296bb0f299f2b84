// libFuzzer target: the trace index (model/trace_index.h).
//   - First byte odd: the rest is an index cache file (FILE.vidx), read as
//     loadTraceIndex does: refused, or decoded into an index whose every
//     column has one entry per bucket.
//   - First byte even: the rest is a trace. The index built in one streaming
//     pass must equal the full decode's model at its resolution (curves'
//     min/max per bucket, peaks, kernels per bucket, step starts, totals)
//     whenever the chunk headers tell the truth about their first timestamp
//     (what the streaming replay relies on; a file that lies there gets an
//     index that may differ, but never a crash or unbounded memory).
// Built by the `fuzz` preset (clang); CI runs it for a bounded time.
#include "format/reader.h"
#include "model/model_builder.h"
#include "model/record_collector.h"
#include "model/trace_index.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace vramscope;

namespace {

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_index: %s\n", what);
    std::abort();
}

// Whether every chunk's records start at or after its header's firstNs.
bool headersTellTheTruth(const format::TraceReader& reader) {
    for (size_t i = 0; i < reader.chunks().size(); ++i) {
        format::DecodedChunk d;
        if (!reader.decodeChunk(i, d, nullptr)) continue;
        model::RecordCollector c;
        c.add(d);
        if (c.firstNs != UINT64_MAX && c.firstNs < reader.chunks()[i].firstNs) return false;
    }
    return true;
}

void compareCurve(const model::TraceIndex& x, const model::IndexCurve& ic, const model::MemoryCurve& mc) {
    check(ic.minBytes.size() == x.buckets && ic.maxBytes.size() == x.buckets, "curve size");
    for (uint32_t b = 0; b < x.buckets; ++b) {
        const auto want = mc.minMaxIn(x.bucketStartNs(b), x.bucketStartNs(b + 1));
        check(ic.minBytes[b] == want.minBytes && ic.maxBytes[b] == want.maxBytes, "curve bucket differs");
    }
    if (!mc.empty()) {
        const auto peak = mc.peak();
        check(ic.peak.bytes == peak.bytes && ic.peak.timeNs == peak.timeNs, "peak differs");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1) {
        model::TraceIndex x;
        if (!model::decodeTraceIndex(data + 1, size - 1, x, nullptr, nullptr)) return 0;
        for (const model::IndexCurve* c : {&x.allocated, &x.reserved, &x.deviceUsed})
            check(c->minBytes.size() == x.buckets && c->maxBytes.size() == x.buckets, "decoded curve size");
        check(x.kernelCount.size() == x.buckets && x.kernelBusyNs.size() == x.buckets, "decoded kernel size");
        check(x.buckets > 0 && x.bucketNs > 0, "decoded grid");
        return 0;
    }
    format::TraceReader reader;
    if (!reader.openMemory(std::vector<uint8_t>(data + 1, data + size), nullptr)) return 0;
    model::IndexOptions options;
    options.threads = 1;
    options.buckets = 1 + data[0] % 97;
    model::TraceIndex x;
    check(model::buildTraceIndex(reader, x, options, nullptr), "build failed");
    model::TraceModel m;
    format::LoadOptions load;
    load.threads = 1;
    check(model::loadModel(reader, m, load, nullptr), "load failed");
    if (x.reorderOverflows || !headersTellTheTruth(reader)) return 0;
    check(x.events == m.events && x.firstNs == m.firstNs && x.lastNs == m.lastNs, "totals differ");
    check(x.allocationLevel == m.allocationLevel && x.kernels == m.kernels.size(), "level or kernels differ");
    compareCurve(x, x.allocated, m.allocated);
    compareCurve(x, x.reserved, m.reserved);
    compareCurve(x, x.deviceUsed, m.deviceUsed);
    std::vector<uint32_t> count(x.buckets, 0);
    for (size_t i = 0; i < m.kernels.size(); ++i) ++count[x.bucketOf(m.kernels.startNs[i])];
    check(count == x.kernelCount, "kernels per bucket differ");
    std::vector<uint64_t> steps;
    for (const auto& p : m.phases)
        if (p.kind == format::PhaseKind::StepBegin) steps.push_back(p.timestampNs);
    check(steps == x.stepStartsNs, "step starts differ");
    return 0;
}
