// Growing a model chunk by chunk (model/live_model.h) against loading it at
// once (loadModel). Prints `name value unit` lines:
//   events                     events in the trace
//   load_seconds               loadModel(): parallel decode + one build (best of 3)
//   decode_seconds_1core       decoding every chunk on one thread (best of 3)
//   append_seconds             LiveModel::append of every decoded chunk + finish() (best of 3)
//   append_events_per_sec      events / append_seconds
//   append_vs_load             append_seconds / load_seconds
//   live_model_bytes_per_event TraceModel::memoryBytes() of the grown model / events
//   replay_bytes_per_event     what the live model keeps to place late records / events
// Usage: live_bench [TRACE]   (default: `vramscope synth --iterations 10760`,
// ~10M events, written to /tmp/vramscope_live_bench.vtrace on first use)
#include "model/live_model.h"
#include "model/model_builder.h"
#include "bench_support.h"
#include "synth/synth.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace vramscope;

using bench::secondsSince;

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "/tmp/vramscope_live_bench.vtrace";
    std::string error;
    if (!bench::ensureSynthTrace(path, 10760, &error)) {
        std::fprintf(stderr, "live_bench: %s\n", error.c_str());
        return 1;
    }
    format::TraceReader reader;
    if (!reader.open(path, &error)) {
        std::fprintf(stderr, "live_bench: %s\n", error.c_str());
        return 1;
    }
    double load = 1e9, decode = 1e9, append = 1e9;
    uint64_t events = 0;
    size_t bytes = 0, replay = 0;
    for (int run = 0; run < 3; ++run) {
        auto t0 = std::chrono::steady_clock::now();
        {
            model::TraceModel m;
            if (!model::loadModel(reader, m, {}, &error)) {
                std::fprintf(stderr, "live_bench: %s\n", error.c_str());
                return 1;
            }
            load = std::min(load, secondsSince(t0));
            events = m.events;
        }
        // Decode first (the app decodes on its reader thread), then time the appends alone.
        t0 = std::chrono::steady_clock::now();
        std::vector<std::unique_ptr<format::DecodedChunk>> chunks;
        for (size_t i = 0; i < reader.chunks().size(); ++i) {
            chunks.push_back(std::make_unique<format::DecodedChunk>());
            if (!reader.decodeChunk(i, *chunks.back(), &error)) std::fprintf(stderr, "live_bench: %s\n", error.c_str());
        }
        decode = std::min(decode, secondsSince(t0));
        model::LiveModel live;
        t0 = std::chrono::steady_clock::now();
        for (auto& chunk : chunks) live.append(*chunk, chunk->events);
        live.finish();
        append = std::min(append, secondsSince(t0));
        bytes = live.model().memoryBytes();
        replay = live.replayBytes();
    }
    std::printf("events %llu events\n", static_cast<unsigned long long>(events));
    std::printf("chunks %zu chunks\n", reader.chunks().size());
    std::printf("load_seconds %.3f s\n", load);
    std::printf("decode_seconds_1core %.3f s\n", decode);
    std::printf("append_seconds %.3f s\n", append);
    std::printf("append_events_per_sec %.1f M/s\n", double(events) / append / 1e6);
    std::printf("append_vs_load %.2f x\n", append / load);
    std::printf("live_model_bytes_per_event %.2f B\n", events ? double(bytes) / double(events) : 0.0);
    std::printf("replay_bytes_per_event %.2f B\n", events ? double(replay) / double(events) : 0.0);
    return 0;
}
