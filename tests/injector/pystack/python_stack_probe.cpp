// Test probe for injector/torch_bridge/python_stacks.h: the frame reader and
// callsite interner the PyTorch bridge uses, exposed to ctypes so that
// test_python_stacks.py can call it from known Python lines — with the GIL
// released (ctypes.CDLL, as inside an ATen op) or held (ctypes.PyDLL).
#include "python_stacks.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

struct Def {
    uint32_t parent;
    std::string file, function;
    uint32_t line;
};

std::mutex defsMutex;
std::map<uint32_t, Def> defs;

void remember(uint32_t id, uint32_t parent, const char* file, const char* function, uint32_t line, void*) {
    std::lock_guard<std::mutex> lock(defsMutex);
    if (defs.count(id)) std::fprintf(stderr, "probe: callsite %u defined twice\n", id);
    if (parent && !defs.count(parent)) std::fprintf(stderr, "probe: callsite %u defined before its parent\n", id);
    defs[id] = Def{parent, file, function, line};
}

vramscope::pystack::CallsiteInterner interner(remember, nullptr);

}  // namespace

extern "C" {

int probe_supported() { return vramscope::pystack::supported() ? 1 : 0; }

// The calling thread's callsite id, depth frames at most.
unsigned probe_callsite_id(int depth) {
    vramscope::pystack::RawFrame frames[vramscope::pystack::kMaxDepth];
    const int n = vramscope::pystack::captureFrames(frames, depth);
    return interner.intern(frames, n);
}

// The chain of a callsite id, innermost first, one "file:line function" per
// line. Returns the number of frames.
int probe_chain(unsigned id, char* out, int capacity) {
    std::string text;
    int n = 0;
    std::lock_guard<std::mutex> lock(defsMutex);
    for (auto it = defs.find(id); id && it != defs.end(); it = defs.find(id), ++n) {
        text += it->second.file + ":" + std::to_string(it->second.line) + " " + it->second.function + "\n";
        id = it->second.parent;
    }
    std::snprintf(out, static_cast<size_t>(capacity), "%s", text.c_str());
    return n;
}

// Frames seen from a thread Python never ran on (as the autograd engine's).
int probe_native_thread_frames() {
    int n = -1;
    std::thread t([&] {
        vramscope::pystack::RawFrame frames[8];
        n = vramscope::pystack::captureFrames(frames, 8);
    });
    t.join();
    return n;
}

unsigned probe_defined() {
    std::lock_guard<std::mutex> lock(defsMutex);
    return static_cast<unsigned>(defs.size());
}

}  // extern "C"
