// A small program the injector tests run under LD_PRELOAD. It finds the
// injector's C entry points with dlsym (absent when not preloaded).
//   injector_test_helper print              prints "hello", exits 0
//   injector_test_helper phases N           N Phase markers, exits 0
//   injector_test_helper exit-thread N      N markers, then exit(5) from another thread
//   injector_test_helper sigterm N          N markers, then raise(SIGTERM)
//   injector_test_helper kill-self N        N markers, then SIG_DFL + kill(getpid(), SIGINT)
//   injector_test_helper hang N             N markers, "ready", then sleeps (the test SIGKILLs it)
//   injector_test_helper fork N             N children forked while a thread writes markers
//   injector_test_helper cuda-stub LIB MS   dlopens LIB (the CUDA toolkit's stub libcuda.so), "ready",
//                                           sleeps MS ms: a process that has the CUDA driver loaded
//   injector_test_helper work MS            "tick I" every 20 ms for MS ms, a training step's phase
//                                           markers each tick once the injector is there (attach),
//                                           a thread waiting on a condition all along; "done I", exit 7
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using PhaseFn = void (*)(int, unsigned long long, const char*);

static void markers(int n) {
    auto phase = reinterpret_cast<PhaseFn>(dlsym(RTLD_DEFAULT, "vramscope_phase"));
    for (int i = 0; i < n; ++i)
        if (phase) phase(1 + i % 5, static_cast<unsigned long long>(i / 5), nullptr);
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    std::string mode = argv[1];
    int n = argc > 2 ? std::atoi(argv[2]) : 10;
    if (mode == "print") {
        std::printf("hello\n");
        return 0;
    }
    if (mode == "cuda-stub") {
        void* lib = argc > 2 ? dlopen(argv[2], RTLD_NOW | RTLD_LOCAL) : nullptr;
        std::printf(lib ? "ready\n" : "no-stub\n");
        std::fflush(stdout);
        usleep(useconds_t(argc > 3 ? std::atoi(argv[3]) : 5000) * 1000);
        return lib ? 0 : 3;
    }
    if (mode == "work") {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        std::thread waiter([&] {
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return done; });
        });
        const auto start = std::chrono::steady_clock::now();
        int tick = 0;
        while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(n)) {
            // Looked up each time: `vramscope attach` loads the injector while this runs.
            if (auto phase = reinterpret_cast<PhaseFn>(dlsym(RTLD_DEFAULT, "vramscope_phase")))
                for (int kind = 1; kind <= 5; ++kind) phase(kind, static_cast<unsigned long long>(tick), nullptr);
            std::printf("tick %d\n", tick++);
            std::fflush(stdout);
            usleep(20000);
        }
        {
            std::lock_guard<std::mutex> lock(m);
            done = true;
        }
        cv.notify_all();
        waiter.join();
        std::printf("done %d\n", tick);
        return 7;
    }
    markers(n);
    if (mode == "phases") return 0;
    if (mode == "exit-thread") {
        std::thread([] {
            usleep(50000);
            std::exit(5);
        }).detach();
        for (;;) pause();
    }
    if (mode == "sigterm") {
        usleep(20000);
        raise(SIGTERM);
        return 0;  // not reached with the default action
    }
    if (mode == "kill-self") {  // what CPython does after a KeyboardInterrupt
        usleep(20000);
        signal(SIGINT, SIG_DFL);
        kill(getpid(), SIGINT);
        return 0;
    }
    if (mode == "hang") {
        usleep(400000);  // several flush periods (100 ms)
        std::printf("ready\n");
        std::fflush(stdout);
        for (;;) pause();
    }
    if (mode == "fork") {
        std::atomic<bool> stop{false};
        std::thread writer([&] { while (!stop) markers(10); });
        std::vector<pid_t> children;
        for (int i = 0; i < n; ++i) {
            pid_t pid = fork();
            if (pid == 0) {
                markers(5);  // must be ignored, not crash or block
                if (i % 2) _exit(0);
                std::exit(0);  // runs the atexit handlers copied from the parent
            }
            children.push_back(pid);
        }
        int failures = 0;
        for (pid_t pid : children) {
            int status = 0;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
        }
        stop = true;
        writer.join();
        std::printf("children %d failures %d\n", n, failures);
        return failures ? 1 : 0;
    }
    return 2;
}
