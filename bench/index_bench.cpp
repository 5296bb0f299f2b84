// Trace index benchmark (model/trace_index.h). Prints `name value unit` lines:
//   events                     events in the trace
//   index_build_seconds        one streaming pass over the chunks (all cores)
//   index_build_rss_mb         the process's peak RSS once the index is built
//   index_bytes                the index in memory
//   index_cache_bytes          its cache file beside the trace
//   index_open_ms              reading the cache back (best of five)
//   load_seconds               the baseline: file → full TraceModel, same run
//   load_rss_mb                peak RSS once the full model is loaded
//   load_over_index_open       how many times faster the cached index opens
// Usage: index_bench [TRACE] [--write-synth ITERATIONS] [--no-baseline]
//   TRACE                    default: the 10M-event synth trace of model_bench
//   --write-synth ITERATIONS writes TRACE first as a synth trace of that many
//                            steps (≈ 930 events each), past the CLI's 100M-event
//                            bound: 1,076,000 gives the billion-event file (3.5 GB)
//   --no-baseline            skips the full load (a billion events do not fit)
// The index is built before the full load so that the peak RSS it reports is
// its own. A cache already beside TRACE is removed first.
#include "model/model_builder.h"
#include "model/trace_index.h"
#include "bench_support.h"
#include "synth/synth.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace vramscope;
using bench::secondsSince;

namespace {
double peakRssMb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}
}  // namespace

int main(int argc, char** argv) {
    std::string path = "/tmp/vramscope_model_bench.vtrace";
    uint32_t writeIterations = 0;
    bool baseline = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--no-baseline") baseline = false;
        else if (a == "--write-synth" && i + 1 < argc) writeIterations = uint32_t(std::strtoul(argv[++i], nullptr, 10));
        else if (!a.empty() && a[0] != '-') path = a;
        else {
            std::fprintf(stderr, "usage: index_bench [TRACE] [--write-synth ITERATIONS] [--no-baseline]\n");
            return 2;
        }
    }
    std::string error;
    if (writeIterations) {
        synth::SynthOptions o;
        o.iterations = writeIterations;
        o.maxEvents = UINT64_MAX;
        auto t0 = std::chrono::steady_clock::now();
        synth::SynthResult written;
        if (!synth::writeSynthTrace(path, o, &written, &error)) {
            std::fprintf(stderr, "index_bench: %s\n", error.c_str());
            return 1;
        }
        std::printf("synth_write_seconds %.1f s\n", secondsSince(t0));
        std::printf("trace_bytes %llu bytes\n", (unsigned long long)written.bytes);
    } else if (!bench::ensureSynthTrace(path, 10800, &error)) {
        std::fprintf(stderr, "index_bench: %s\n", error.c_str());
        return 1;
    }
    for (const std::string& cache : model::indexCachePaths(path)) ::unlink(cache.c_str());

    auto t0 = std::chrono::steady_clock::now();
    model::TraceIndex index;
    model::IndexOpen how;
    if (!model::openTraceIndex(path, index, {}, &how, &error)) {
        std::fprintf(stderr, "index_bench: %s\n", error.c_str());
        return 1;
    }
    const double build = secondsSince(t0);
    const double buildRss = peakRssMb();
    if (how.cachePath.empty()) std::fprintf(stderr, "index_bench: no cache written: %s\n", how.cacheIssue.c_str());

    double open = 1e9;
    for (int run = 0; run < 5; ++run) {
        t0 = std::chrono::steady_clock::now();
        model::TraceIndex again;
        if (!model::openTraceIndex(path, again, {}, &how, &error) || how.source != model::IndexSource::Cache) {
            std::fprintf(stderr, "index_bench: the cache was not used: %s\n", how.cacheIssue.c_str());
            return 1;
        }
        open = std::min(open, secondsSince(t0));
    }
    struct stat st {};
    const long long cacheBytes = ::stat(how.cachePath.c_str(), &st) == 0 ? (long long)st.st_size : -1;

    std::printf("events %llu events\n", (unsigned long long)index.events);
    std::printf("index_build_seconds %.3f s\n", build);
    std::printf("index_build_rss_mb %.1f MB\n", buildRss);
    std::printf("index_bytes %zu bytes\n", index.memoryBytes());
    std::printf("index_cache_bytes %lld bytes\n", cacheBytes);
    std::printf("index_open_ms %.2f ms\n", open * 1e3);
    std::fflush(stdout);
    if (!baseline) return 0;
    t0 = std::chrono::steady_clock::now();
    model::TraceModel m;
    if (!model::loadModel(path, m, {}, &error)) {
        std::fprintf(stderr, "index_bench: %s\n", error.c_str());
        return 1;
    }
    const double load = secondsSince(t0);
    std::printf("load_seconds %.3f s\n", load);
    std::printf("load_rss_mb %.1f MB\n", peakRssMb());
    std::printf("load_over_index_open %.0f x\n", load / open);
    return 0;
}
