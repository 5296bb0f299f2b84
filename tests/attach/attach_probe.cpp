// The library the attach tests inject. Its entry appends one line to the
// file named by its argument and returns kProbeResult, so a test can see that
// it ran, how often, on which thread, and whether the stack was aligned.
// An argument ending in "#slow" makes the entry sleep 400 ms first, so a test
// can send signals to the target while the injected call runs.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace {
int loads = 0;  // constructor runs: once per process however often it is dlopen'ed
__attribute__((constructor)) void onLoad() { ++loads; }
}  // namespace

extern "C" __attribute__((visibility("default"))) int vramscope_probe_entry(const char* argument) {
    std::string path = argument;
    if (path.size() > 5 && path.compare(path.size() - 5, 5, "#slow") == 0) {
        path.resize(path.size() - 5);
        // A relative sleep, resumed after each interruption with what is
        // left: a signal handled meanwhile makes the kernel set this thread's
        // restart_block (hrtimer_nanosleep_restart), which the injector must
        // not let the borrowed thread's own interrupted call inherit.
        timespec left{0, 400'000'000};
        while (nanosleep(&left, &left) != 0) {
        }
    }
    alignas(16) volatile char slot[16] = {};
    const int aligned = (reinterpret_cast<uintptr_t>(slot) % 16) == 0;
    char line[160];
    const long tid = syscall(SYS_gettid);
    int n = std::snprintf(line, sizeof line, "entry tid=%ld main=%d loads=%d aligned=%d\n", tid, int(tid == getpid()), loads,
                          aligned);
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    bool ok = write(fd, line, size_t(n)) == n;
    close(fd);
    return ok ? 4242 : -2;
}
