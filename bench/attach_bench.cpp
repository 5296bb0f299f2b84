// Attach benchmark: how long `vramscope attach` holds a thread of a running
// program while it loads a library into it. Prints `name value unit` lines.
//
//   build/bench/attach_bench [--count N] [--single] [--each] [--target PATH] [--probe PATH]
//
// It starts tests/attach's attach_target ("lines" mode: a main thread printing
// every 5 ms, one thread waiting on a condition variable, one blocked in
// read() on a pipe), injects the probe library N times (default 20) with 20 ms
// between injections, and reports the time the borrowed thread was held
// (PTRACE_INTERRUPT → PTRACE_DETACH), the whole injectLibrary() call, and how
// often the main thread had to be held. The first injection pays for loading
// the probe; the others find it loaded (dlopen only counts a reference).
// --single uses the single-threaded "spin" mode instead, where the main thread
// must be borrowed at its next system call. --each lists every injection on stderr.
#include "attach/process_inspect.h"
#include "attach/ptrace_inject.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace vramscope::attach;

namespace {

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t rank = size_t(std::max(0.0, p / 100.0 * double(v.size()) - 1e-9));  // nearest rank, 0-based
    return v[std::min(rank, v.size() - 1)];
}

pid_t startTarget(const std::string& path, bool single) {
    pid_t pid = fork();
    if (pid == 0) {
        int devNull = open("/dev/null", O_WRONLY);
        dup2(devNull, STDOUT_FILENO);
        if (single) execl(path.c_str(), path.c_str(), "spin", "600", "0", nullptr);
        else execl(path.c_str(), path.c_str(), "lines", "120000", "5", "0", nullptr);
        _exit(127);
    }
    return pid;
}

// Waits until the target runs all its threads (three in "lines" mode).
bool waitUntilSettled(pid_t pid, bool single) {
    for (int i = 0; i < 400; ++i) {
        if (single ? threadIds(pid).size() == 1 : threadIds(pid).size() == 3) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    int count = 20;
    bool single = false, each = false;
    std::string target = VRAMSCOPE_ATTACH_TARGET, probe = VRAMSCOPE_ATTACH_PROBE;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--count") && i + 1 < argc) count = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--single")) single = true;
        else if (!std::strcmp(argv[i], "--each")) each = true;
        else if (!std::strcmp(argv[i], "--target") && i + 1 < argc) target = argv[++i];
        else if (!std::strcmp(argv[i], "--probe") && i + 1 < argc) probe = argv[++i];
    }
    char dir[] = "/tmp/vramscope-attach-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    const std::string record = std::string(dir) + "/probe.txt";

    const pid_t pid = startTarget(target, single);
    if (pid <= 0 || !waitUntilSettled(pid, single)) {
        std::fprintf(stderr, "attach_bench: %s did not start\n", target.c_str());
        return 1;
    }
    std::vector<double> stopped, total;
    int onMain = 0, failures = 0;
    for (int i = 0; i < count; ++i) {
        InjectRequest req;
        req.pid = pid;
        req.libraryPath = probe;
        req.entrySymbol = "vramscope_probe_entry";
        req.argument = record;
        InjectReport r;
        if (!injectLibrary(req, &r) || r.entryResult != 4242) {
            std::fprintf(stderr, "attach_bench: injection %d: %s\n", i, r.error.c_str());
            ++failures;
        } else {
            stopped.push_back(r.stoppedMs);
            total.push_back(r.totalMs);
            onMain += r.mainThread ? 1 : 0;
            if (each) std::fprintf(stderr, "%2d held %7.3f ms of %7.3f ms: %s\n", i, r.stoppedMs, r.totalMs, r.how.c_str());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    unlink(record.c_str());
    rmdir(dir);

    std::printf("inject_count %d injections\n", count);
    std::printf("inject_failures %d injections\n", failures);
    std::printf("inject_stopped_ms_p50 %.3f ms\n", percentile(stopped, 50));
    std::printf("inject_stopped_ms_p95 %.3f ms\n", percentile(stopped, 95));
    std::printf("inject_stopped_ms_max %.3f ms\n", stopped.empty() ? 0.0 : *std::max_element(stopped.begin(), stopped.end()));
    std::printf("inject_total_ms_p50 %.3f ms\n", percentile(total, 50));
    std::printf("main_thread_stopped_fraction %.3f fraction\n", stopped.empty() ? 0.0 : double(onMain) / double(stopped.size()));
    return failures == 0 ? 0 : 1;
}
