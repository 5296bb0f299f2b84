// What the model benchmarks share: a timer, and the 10M-event synth trace
// they run on, written once when the path given does not exist yet.
#pragma once

#include "synth/synth.h"

#include <chrono>
#include <filesystem>
#include <string>

namespace vramscope::bench {

inline double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Writes the synth trace of `iterations` steps to path unless it exists
// (≈ 930 events per iteration). False with *error.
inline bool ensureSynthTrace(const std::string& path, uint32_t iterations, std::string* error) {
    if (std::filesystem::exists(path)) return true;
    synth::SynthOptions o;
    o.iterations = iterations;
    return synth::writeSynthTrace(path, o, nullptr, error);
}

}  // namespace vramscope::bench
