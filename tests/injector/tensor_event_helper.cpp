// Drives the injector's tensor-event entry point the way the PyTorch bridge
// does (tests/injector/tst_tensor_events.cpp runs it under LD_PRELOAD):
//   tensor_event_helper actions N        N events of each action 1..8 + one OOM
//   tensor_event_helper threads T N      T threads, N allocations each
//   tensor_event_helper burst N          N allocations as fast as possible
//   tensor_event_helper paced N MS       N allocations, MS ms apart
//   tensor_event_helper inert            prints vramscope_active() and one event's result
//   tensor_event_helper callsites N      a 3-frame callsite chain, N allocations at each frame
//                                        (interface 2), plus one without and an OOM with one
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <thread>
#include <vector>

using TensorEventFn = int (*)(int, int, unsigned long long, unsigned long long, unsigned long long, unsigned long long,
                              unsigned long long);
using TensorEventAtFn = int (*)(int, int, unsigned long long, unsigned long long, unsigned long long,
                                unsigned long long, unsigned long long, unsigned int);
using CallsiteFn = int (*)(unsigned int, unsigned int, const char*, const char*, unsigned int);
using ActiveFn = int (*)();

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    auto event = reinterpret_cast<TensorEventFn>(dlsym(RTLD_DEFAULT, "vramscope_tensor_event"));
    auto active = reinterpret_cast<ActiveFn>(dlsym(RTLD_DEFAULT, "vramscope_active"));
    if (!event || !active) {
        std::printf("no injector\n");
        return 3;
    }
    const char* mode = argv[1];
    if (!std::strcmp(mode, "actions") && argc > 2) {
        int n = std::atoi(argv[2]);
        for (int i = 0; i < n; ++i)
            for (int action = 1; action <= 8; ++action)
                event(action, 1, 0x7f0000000000ull + uint64_t(i) * 512, 512u * (action + 1), 0x5555, 0, 0);
        event(9, 0, 1ull << 20, 1ull << 40, 0, 0, 0);  // OOM: 1 TiB asked, 1 MiB free
        return 0;
    }
    if (!std::strcmp(mode, "threads") && argc > 3) {
        int threads = std::atoi(argv[2]), n = std::atoi(argv[3]);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([=] {
                for (int i = 0; i < n; ++i) {
                    event(1, t, (uint64_t(t) << 40) + uint64_t(i) * 256, 256, uint64_t(t), 0, 0);
                    if (i % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            });
        for (auto& th : pool) th.join();
        return 0;
    }
    if (!std::strcmp(mode, "burst") && argc > 2) {
        long n = std::atol(argv[2]), queued = 0;
        for (long i = 0; i < n; ++i) queued += event(1, 0, uint64_t(i) * 64, 64, 0, 0, 0);
        std::printf("queued %ld\n", queued);
        return 0;
    }
    if (!std::strcmp(mode, "callsites") && argc > 2) {
        auto eventAt = reinterpret_cast<TensorEventAtFn>(dlsym(RTLD_DEFAULT, "vramscope_tensor_event_at"));
        auto callsite = reinterpret_cast<CallsiteFn>(dlsym(RTLD_DEFAULT, "vramscope_callsite"));
        if (!eventAt || !callsite) return 4;
        int n = std::atoi(argv[2]);
        callsite(1, 0, "train.py", "<module>", 120);
        callsite(2, 1, "model.py", "GPT.forward", 57);
        callsite(3, 2, "/usr/lib/python3/dist-packages/torch/nn/modules/linear.py", "Linear.forward", 125);
        for (unsigned id = 1; id <= 3; ++id)
            for (int i = 0; i < n; ++i) eventAt(1, 0, (uint64_t(id) << 32) + uint64_t(i) * 512, 512 * id, 7, 0, 0, id);
        event(1, 0, 1ull << 44, 4096, 7, 0, 0);                  // interface 1: no callsite
        eventAt(9, 0, 1ull << 20, 1ull << 40, 7, 0, 0, 2);       // OOM at model.py:57
        return 0;
    }
    if (!std::strcmp(mode, "paced") && argc > 3) {
        int n = std::atoi(argv[2]), ms = std::atoi(argv[3]);
        for (int i = 0; i < n; ++i) {
            event(1, 0, uint64_t(i) * 64, 64, 0, 0, 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        }
        return 0;
    }
    if (!std::strcmp(mode, "inert")) {
        std::printf("active %d event %d\n", active(), event(1, 0, 4096, 512, 0, 0, 0));
        return 0;
    }
    return 2;
}
