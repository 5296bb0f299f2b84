// Model and analysis benchmark. Prints `name value unit` lines:
//   events                 events in the trace
//   load_seconds           file → ready TraceModel (parallel decode + build)
//   model_bytes_per_event  TraceModel::memoryBytes() / events
//   summary_seconds        analysis::summarize() on the loaded model
//   iterations             iterations the summary found (a sanity check)
// Usage: model_bench [TRACE]   (default: a 10,800-iteration synth trace,
// ~10M events, written to /tmp/vramscope_model_bench.vtrace on first use)
// Goals (docs/analysis.md): load <= 1 s, <= 32 B/event, summary <= 2 s on 2 cores.
#include "analysis/summary.h"
#include "model/model_builder.h"
#include "bench_support.h"
#include "synth/synth.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

using namespace vramscope;

using bench::secondsSince;

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "/tmp/vramscope_model_bench.vtrace";
    std::string error;
    if (!bench::ensureSynthTrace(path, 10800, &error)) {
        std::fprintf(stderr, "model_bench: %s\n", error.c_str());
        return 1;
    }
    // Best of three: the first run also pays for reading the file into the page cache.
    double load = 1e9, summary = 1e9;
    size_t bytes = 0, events = 0, iterations = 0;
    for (int run = 0; run < 3; ++run) {
        auto t0 = std::chrono::steady_clock::now();
        model::TraceModel m;
        if (!model::loadModel(path, m, {}, &error)) {
            std::fprintf(stderr, "model_bench: %s\n", error.c_str());
            return 1;
        }
        load = std::min(load, secondsSince(t0));
        bytes = m.memoryBytes();
        events = m.events;
        t0 = std::chrono::steady_clock::now();
        const analysis::TraceSummary s = analysis::summarize(m);
        summary = std::min(summary, secondsSince(t0));
        iterations = s.perIteration.size();
    }
    std::printf("events %zu events\n", events);
    std::printf("load_seconds %.3f s\n", load);
    std::printf("model_bytes_per_event %.2f B\n", events ? double(bytes) / double(events) : 0.0);
    std::printf("summary_seconds %.3f s\n", summary);
    std::printf("iterations %zu iterations\n", iterations);
    return 0;
}
