#include "live_benchmark.h"

#include "main_window.h"
#include "timeline_canvas.h"

#include "format/writer.h"
#include "model/model_builder.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <memory>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace vramscope::app {

namespace {

uint64_t realtimeNs() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

// A training job in miniature: kernels back to back on one stream, tensor
// blocks allocated and freed (a few live for good), a step every 200 ms with
// its phases, stamped with the wall clock as it runs.
void playJob(const std::string& path, const LiveBenchmarkOptions& o, std::atomic<uint64_t>* written) {
    using namespace vramscope::format;
    TraceWriter w;
    std::string error;
    if (!w.open(path, &error)) {
        std::fprintf(stderr, "live benchmark: %s\n", error.c_str());
        return;
    }
    const uint64_t start = realtimeNs();
    w.write(ProcessInfo{start, uint32_t(getpid()), w.intern("benchmark"), w.intern("vramscope-gui --live-latency-benchmark"),
                        -1, -1, start});
    DeviceInfo device;
    device.timestampNs = start;
    device.nameId = w.intern("benchmark GPU");
    device.totalMemoryBytes = 80ull << 30;
    w.write(device);
    uint32_t names[6];
    for (int i = 0; i < 6; ++i) names[i] = w.intern("kernel_" + std::to_string(i));
    std::deque<uint64_t> live;  // addresses of the blocks alive
    uint64_t nextAddress = 1ull << 40;
    uint64_t lastFlush = start, lastTick = start, lastStep = 0, step = 0, kernels = 0;
    double owed = 0;
    for (uint64_t now = start; now - start < uint64_t(o.seconds * 1e9); now = realtimeNs()) {
        if (now / 200'000'000 != lastStep) {  // a step every 200 ms: markers
            lastStep = now / 200'000'000;
            if (step) w.write(Phase{now, PhaseKind::StepEnd, step, 0});
            ++step;
            w.write(Phase{now, PhaseKind::StepBegin, step, 0});
            w.write(Phase{now, PhaseKind::ForwardBegin, step, 0});
        }
        owed += double(now - lastTick) * o.eventsPerSecond / 1e9;
        lastTick = now;
        for (; owed >= 1; owed -= 1) {
            const uint64_t r = kernels++;
            if (r % 5 < 3) {  // 60 % kernels, 20 µs each, ending now
                Kernel k;
                k.startNs = now - 20'000;
                k.endNs = now;
                k.nameId = names[r % 6];
                k.streamId = 7;
                w.write(k);
            } else if (r % 5 == 3 || live.size() < 64) {  // allocations
                const uint64_t address = nextAddress;
                nextAddress += 1 << 20;
                live.push_back(address);
                w.write(TensorMemory{now, TensorAction::Alloc, 0, address, 1ull << 20, 7, 0});
            } else {  // frees of the oldest, keeping 64 alive
                w.write(TensorMemory{now, TensorAction::FreeCompleted, 0, live.front(), 1ull << 20, 7, 0});
                live.pop_front();
            }
        }
        if (now - lastFlush >= uint64_t(o.flushMs) * 1'000'000) {
            w.flush();
            lastFlush = now;
            written->store(w.eventsWritten());
        }
        usleep(1000);
    }
    w.write(Phase{realtimeNs(), PhaseKind::StepEnd, step, 0});
    w.close();
    written->store(w.eventsWritten());
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

}  // namespace

void startLiveLatencyBenchmark(MainWindow& window, const LiveBenchmarkOptions& options) {
    struct Run {
        QTemporaryDir dir;
        std::string path;
        std::thread writer;
        std::atomic<uint64_t> written{0};
        std::atomic<bool> writerDone{false};
        std::vector<double> latencyMs, memoryLatencyMs, frameMs;
        QTimer frames;
        bool ended = false;
        ~Run() {
            if (writer.joinable()) writer.join();
        }
    };
    auto run = std::make_shared<Run>();
    run->path = run->dir.filePath("live.vtrace").toStdString();
    run->writer = std::thread([run, options] {
        playJob(run->path, options, &run->written);
        run->writerDone = true;
    });
    // The writer creates the file with its header at once; follow it then.
    while (access(run->path.c_str(), F_OK) != 0) usleep(1000);
    window.followTrace(QString::fromStdString(run->path));
    QObject::connect(&window, &MainWindow::liveEnded, &window, [run](bool) { run->ended = true; });
    TimelineCanvas* canvas = window.canvas();
    QObject::connect(&run->frames, &QTimer::timeout, &window, [run, canvas, &window] {
        QElapsedTimer t;
        t.start();
        canvas->renderFrameNow();
        const double frame = double(t.nsecsElapsed()) / 1e6;
        const uint64_t drawnNs = realtimeNs();
        const auto& stats = canvas->lastLaneStats();
        const uint64_t newest = std::max(stats.newestKernelNs, stats.newestMemoryNs);
        if (!run->ended && newest && drawnNs > newest) {
            run->frameMs.push_back(frame);
            run->latencyMs.push_back(double(drawnNs - newest) / 1e6);
            if (stats.newestMemoryNs) run->memoryLatencyMs.push_back(double(drawnNs - stats.newestMemoryNs) / 1e6);
        }
        if (!run->writerDone || !run->ended) return;
        run->frames.stop();
        run->writer.join();
        // What the GUI thread spent appending, against loading the finished file at once.
        const LiveSession* session = window.liveSession();
        const auto& m = session->document()->model;
        QElapsedTimer load;
        load.start();
        model::TraceModel loaded;
        std::string error;
        model::loadModel(run->path, loaded, {}, &error);
        const double loadSeconds = double(load.nsecsElapsed()) / 1e9;
        std::printf("events %llu events\n", static_cast<unsigned long long>(m.events));
        std::printf("frames %zu frames\n", run->latencyMs.size());
        std::printf("live_latency_p50_ms %.1f ms\n", percentile(run->latencyMs, 0.50));
        std::printf("live_latency_p95_ms %.1f ms\n", percentile(run->latencyMs, 0.95));
        std::printf("live_latency_max_ms %.1f ms\n", percentile(run->latencyMs, 1.0));
        std::printf("live_memory_latency_p50_ms %.1f ms\n", percentile(run->memoryLatencyMs, 0.50));
        std::printf("live_memory_latency_p95_ms %.1f ms\n", percentile(run->memoryLatencyMs, 0.95));
        std::printf("live_frame_p95_ms %.2f ms\n", percentile(run->frameMs, 0.95));
        std::printf("live_events_per_s %.0f events/s\n", double(m.events) / 1.0 / std::max(1e-9, double(m.lastNs - m.firstNs) / 1e9));
        std::printf("live_append_events_per_s %.0f events/s\n", double(m.events) / std::max(1e-9, session->appendSeconds()));
        std::printf("append_vs_load %.2f x\n", session->appendSeconds() / std::max(1e-9, loadSeconds));
        std::printf("live_analysis_runs %d runs\n", session->analysisRuns());
        QApplication::exit(0);
    });
    run->frames.start(options.frameMs);
}

}  // namespace vramscope::app
