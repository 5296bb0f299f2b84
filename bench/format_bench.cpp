// Format benchmark: writer throughput, bytes per event and decode throughput
// on a 10M-event synth trace (best of three passes each). Prints `name value unit` lines.
//
//   build/bench/format_bench [--events N] [--dir DIR]
//
// The write test re-writes the records of a synth trace in timestamp order
// (the order a capture produces them) through one TraceWriter on one thread,
// so it times encoding + compression + write(2), not the generator.
#include "format/reader.h"
#include "format/record_fields.h"
#include "format/writer.h"
#include "synth/synth.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

using namespace vramscope::format;
using Clock = std::chrono::steady_clock;

static double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
    uint64_t targetEvents = 10'000'000;
    std::string dir = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--events")) targetEvents = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    const std::string synthPath = dir + "/vramscope-bench-synth.vtrace";
    const std::string rewritePath = dir + "/vramscope-bench-rewrite.vtrace";

    // ~930 events per synth iteration (12 layers, batch 8).
    vramscope::synth::SynthOptions so;
    so.iterations = static_cast<uint32_t>(std::max<uint64_t>(1, targetEvents / 930));
    vramscope::synth::SynthResult sr;
    std::string error;
    auto t0 = Clock::now();
    if (!vramscope::synth::writeSynthTrace(synthPath, so, &sr, &error)) {
        std::fprintf(stderr, "format_bench: %s\n", error.c_str());
        return 1;
    }
    const double synthSeconds = secondsSince(t0);
    std::printf("synth_events %llu events\n", static_cast<unsigned long long>(sr.events));
    std::printf("synth_seconds %.3f s\n", synthSeconds);
    std::printf("bytes_per_event %.3f bytes\n", double(sr.bytes) / double(sr.events));

    // Decode on one core: every chunk, one thread.
    TraceReader reader;
    if (!reader.open(synthPath, &error)) {
        std::fprintf(stderr, "format_bench: %s\n", error.c_str());
        return 1;
    }
    // Best of three passes: the first also pays for growing the decode buffers.
    DecodedChunk chunk;
    uint64_t decoded = 0;
    double decodeSeconds = 1e30;
    for (int pass = 0; pass < 3; ++pass) {
        decoded = 0;
        t0 = Clock::now();
        for (size_t i = 0; i < reader.chunks().size(); ++i) {
            if (!reader.decodeChunk(i, chunk, &error)) {
                std::fprintf(stderr, "format_bench: %s\n", error.c_str());
                return 1;
            }
            decoded += chunk.events;
        }
        decodeSeconds = std::min(decodeSeconds, secondsSince(t0));
    }
    std::printf("decode_events_per_sec_1core %.1f Mevents/s\n", double(decoded) / decodeSeconds / 1e6);

    // Load on all cores (decode + concatenate), as the model does.
    TraceContents contents;
    t0 = Clock::now();
    loadTrace(reader, contents, {}, &error);
    const double loadSeconds = secondsSince(t0);
    std::printf("load_events_per_sec_all_cores %.1f Mevents/s\n", double(contents.events) / loadSeconds / 1e6);

    // Write: merge the per-type lists into timestamp order first (untimed).
    struct Ref { uint64_t t; uint8_t type; uint32_t index; };
    std::vector<Ref> order;
    order.reserve(contents.events);
    auto add = [&](auto& list, auto timeOf) {
        using R = typename std::decay_t<decltype(list)>::value_type;
        for (uint32_t i = 0; i < list.size(); ++i)
            order.push_back({timeOf(list[i]), uint8_t(RecordTypeOf<R>::value), i});
    };
    add(contents.get<Kernel>(), [](const Kernel& k) { return k.startNs; });
    add(contents.get<TensorMemory>(), [](const TensorMemory& r) { return r.timestampNs; });
    add(contents.get<DriverMemory>(), [](const DriverMemory& r) { return r.timestampNs; });
    add(contents.get<CounterSample>(), [](const CounterSample& r) { return r.timestampNs; });
    add(contents.get<Memcpy>(), [](const Memcpy& r) { return r.startNs; });
    add(contents.get<Phase>(), [](const Phase& r) { return r.timestampNs; });
    add(contents.get<Range>(), [](const Range& r) { return r.endNs; });
    add(contents.get<MemInfo>(), [](const MemInfo& r) { return r.timestampNs; });
    std::stable_sort(order.begin(), order.end(), [](const Ref& a, const Ref& b) { return a.t < b.t; });

    double writeSeconds = 1e30;
    uint64_t rewriteBytes = 0;
    for (int pass = 0; pass < 3; ++pass) {
        TraceWriter writer;
        if (!writer.open(rewritePath, &error)) {
            std::fprintf(stderr, "format_bench: %s\n", error.c_str());
            return 1;
        }
        for (const auto& s : contents.get<StringDef>()) writer.intern(s.text);
        t0 = Clock::now();
        for (const Ref& r : order) {
            switch (static_cast<RecordType>(r.type)) {
            case RecordType::Kernel: writer.write(contents.get<Kernel>()[r.index]); break;
            case RecordType::TensorMemory: writer.write(contents.get<TensorMemory>()[r.index]); break;
            case RecordType::DriverMemory: writer.write(contents.get<DriverMemory>()[r.index]); break;
            case RecordType::CounterSample: writer.write(contents.get<CounterSample>()[r.index]); break;
            case RecordType::Memcpy: writer.write(contents.get<Memcpy>()[r.index]); break;
            case RecordType::Phase: writer.write(contents.get<Phase>()[r.index]); break;
            case RecordType::Range: writer.write(contents.get<Range>()[r.index]); break;
            case RecordType::MemInfo: writer.write(contents.get<MemInfo>()[r.index]); break;
            default: break;
            }
        }
        writer.close();
        writeSeconds = std::min(writeSeconds, secondsSince(t0));
        rewriteBytes = writer.bytesWritten();
    }
    std::printf("write_events_per_sec_1core %.1f Mevents/s\n", double(order.size()) / writeSeconds / 1e6);
    std::printf("rewrite_bytes_per_event %.3f bytes\n", double(rewriteBytes) / double(order.size()));
    unlink(synthPath.c_str());
    unlink(rewritePath.c_str());
    return 0;
}
