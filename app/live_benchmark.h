// vramscope-gui --live-latency-benchmark: event-to-screen latency of the live
// view. A writer thread plays a training job: events stamped with the current
// time (CLOCK_REALTIME ns, the injector's clock domain) through a
// format::TraceWriter that flushes every 50 ms, as the injector does. The
// window follows the file (--follow) and renders a frame every 16 ms; for
// each frame, the newest event it shows against the time it was drawn.
// Prints `name value unit` lines (docs/benchmarks.md).
#pragma once

namespace vramscope::app {

class MainWindow;

struct LiveBenchmarkOptions {
    double seconds = 10;              // how long the job runs
    double eventsPerSecond = 50'000;  // a busy single-GPU job (DESIGN.md: ~50k events/s)
    int flushMs = 50;                 // the injector flushes every 50–100 ms
    int frameMs = 16;
};

// Starts the benchmark in the shown window; it prints its lines and exits
// the application's event loop when the job has ended and the view caught up.
void startLiveLatencyBenchmark(MainWindow& window, const LiveBenchmarkOptions& options);

}  // namespace vramscope::app
