// Synthetic but realistic training traces, deterministic for a seed.
//
// Shape of one iteration (a GPT-like model, one GPU, PyTorch caching
// allocator): weights and (from the first optimizer step) Adam state live for
// the whole run; activations rise layer by layer through forward and fall
// through backward; gradients appear in backward and are freed after the
// optimizer step (zero_grad(set_to_none=True)); temporaries live inside one
// layer. GEMMs are compute-bound, elementwise/norm/optimizer kernels
// bandwidth-bound, and the counter samples follow whichever kernel runs.
// Tests and benchmarks use it, and it lets the app be tried without a GPU.
#pragma once

#include <cstdint>
#include <string>

namespace vramscope::synth {

// The most events a synthetic trace holds: ten times the largest trace the
// benchmarks use (10 million events, docs/benchmarks.md), about 350 MB on
// disk. Beyond it a typing slip (an extra zero in --iterations) would fill a
// disk for nothing; the counter samples alone grow with the batch and the
// sequence length, so the bound is on the whole, not on one option.
inline constexpr uint64_t kMaxSynthEvents = 100'000'000;

struct SynthOptions {
    uint32_t iterations = 20;
    uint64_t seed = 1;
    uint64_t leakBytesPerIteration = 0;  // kept alive every iteration, never freed
    bool checkpointing = false;          // per-layer activation checkpointing
    uint32_t batch = 8;                  // activations scale linearly with it
    uint32_t layers = 12;
    uint32_t sequenceLength = 1024;
    uint32_t hidden = 768;
    bool phaseMarkers = true;            // false: a plain CUDA program, no markers
    // The most events the trace may hold (kMaxSynthEvents by default); the
    // long-trace benchmarks raise it to write their billion-event file.
    uint64_t maxEvents = kMaxSynthEvents;
};

struct SynthResult {
    uint64_t events = 0;
    uint64_t bytes = 0;
    uint64_t tensorAllocations = 0;
    uint64_t kernels = 0;
    uint64_t peakAllocatedBytes = 0;  // tensor level, as the generator tracked it
    uint64_t durationNs = 0;
};

// What a trace of these options holds, worked out without writing it: the
// events within 10% of the written file's (tests/cli/tst_cli_hostile.cpp).
struct SynthSize {
    double events = 0;
    double bytes = 0;
    double durationNs = 0;  // of trace time
};
SynthSize synthSize(const SynthOptions& options);


// Writes the trace to path. False with *error set if the file cannot be
// written, or when it would hold more than options.maxEvents (nothing is written).
bool writeSynthTrace(const std::string& path, const SynthOptions& options, SynthResult* result, std::string* error);

}  // namespace vramscope::synth
