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
};

struct SynthResult {
    uint64_t events = 0;
    uint64_t bytes = 0;
    uint64_t tensorAllocations = 0;
    uint64_t kernels = 0;
    uint64_t peakAllocatedBytes = 0;  // tensor level, as the generator tracked it
    uint64_t durationNs = 0;
};

// Writes the trace to path. False with *error set if the file cannot be written.
bool writeSynthTrace(const std::string& path, const SynthOptions& options, SynthResult* result, std::string* error);

}  // namespace vramscope::synth
