// Hand-written training runs shaped like a real one a test reproduces: a
// long first iteration (warm-up), then identical steady steps with phase
// markers, kernels on one stream at a chosen busy time per phase, the
// activations of each step allocated in forward and freed at the end of
// backward, and optionally activation checkpointing (recompute markers at
// the start of backward with forward kernels inside).
#pragma once

#include "format/writer.h"

#include <cstdint>
#include <string>

namespace vramscope::testing {

struct RunShape {
    uint32_t iterations = 14;
    uint64_t warmupNs = 0;  // the first iteration's length (its forward takes what the others' phases leave)
    uint64_t forwardNs = 0, backwardNs = 0, optimizerNs = 0, betweenNs = 0;  // one steady step
    uint64_t forwardKernelNs = 0, backwardKernelNs = 0, optimizerKernelNs = 0;  // GPU time per phase
    uint64_t recomputeRegionNs = 0;  // host time re-running forward at backward's start (0: no checkpointing)
    uint64_t recomputeKernelNs = 0;  // GPU time inside it
    uint64_t weightsBytes = 1ull << 30;
    uint64_t activationBytes = 0;    // live from forward to the end of backward

    uint64_t stepNs() const { return forwardNs + backwardNs + optimizerNs + betweenNs; }
};

namespace detail {

// n equal kernels spread over [startNs, startNs + spanNs), together totalNs long.
inline void writeKernels(format::TraceWriter& w, uint32_t nameId, uint64_t startNs, uint64_t spanNs, uint64_t totalNs) {
    constexpr uint64_t n = 10;
    for (uint64_t i = 0; i < n && totalNs; ++i) {
        format::Kernel k;
        k.startNs = startNs + i * (spanNs / n);
        k.endNs = k.startNs + totalNs / n;
        k.nameId = nameId;
        k.streamId = 7;
        w.write(k);
    }
}

}  // namespace detail

// Writes the run to path; false when it cannot be written.
inline bool writeRun(const std::string& path, const RunShape& s) {
    using namespace format;
    TraceWriter w;
    if (!w.open(path)) return false;
    const uint32_t fwd = w.intern("ampere_bf16_gemm_fwd"), bwd = w.intern("ampere_bf16_gemm_bwd");
    const uint32_t adam = w.intern("multi_tensor_apply_kernel<FusedAdam>");
    auto phase = [&](PhaseKind kind, uint64_t at, uint64_t step) {
        Phase p;
        p.timestampNs = at;
        p.kind = kind;
        p.step = step;
        w.write(p);
    };
    auto tensor = [&](TensorAction action, uint64_t at, uint64_t address, uint64_t bytes) {
        TensorMemory t;
        t.timestampNs = at;
        t.action = action;
        t.address = address;
        t.bytes = bytes;
        w.write(t);
    };
    constexpr uint64_t t0 = 1'000'000'000;
    tensor(TensorAction::Alloc, t0 - 1'000'000, 0x7f0000000000, s.weightsBytes);
    uint64_t base = t0;
    for (uint64_t step = 0; step < s.iterations; ++step) {
        const uint64_t rest = s.backwardNs + s.optimizerNs;
        const uint64_t forwardNs = step == 0 && s.warmupNs > rest ? s.warmupNs - rest : s.forwardNs;
        const uint64_t backwardAt = base + forwardNs, optimizerAt = backwardAt + s.backwardNs;
        const uint64_t endAt = optimizerAt + s.optimizerNs, activations = 0x7e0000000000 + step * (1ull << 36);
        phase(PhaseKind::StepBegin, base, step);
        phase(PhaseKind::ForwardBegin, base, step);
        if (s.activationBytes) tensor(TensorAction::Alloc, base + 1000, activations, s.activationBytes);
        detail::writeKernels(w, fwd, base, forwardNs, s.forwardKernelNs);
        phase(PhaseKind::BackwardBegin, backwardAt, step);
        if (s.recomputeRegionNs) {
            phase(PhaseKind::RecomputeBegin, backwardAt, step);
            detail::writeKernels(w, fwd, backwardAt, s.recomputeRegionNs, s.recomputeKernelNs);
            phase(PhaseKind::RecomputeEnd, backwardAt + s.recomputeRegionNs, step);
        }
        detail::writeKernels(w, bwd, backwardAt + s.recomputeRegionNs, s.backwardNs - s.recomputeRegionNs,
                             s.backwardKernelNs);
        if (s.activationBytes) {
            tensor(TensorAction::FreeRequested, optimizerAt - 1000, activations, s.activationBytes);
            tensor(TensorAction::FreeCompleted, optimizerAt - 1000, activations, s.activationBytes);
        }
        phase(PhaseKind::OptimizerBegin, optimizerAt, step);
        detail::writeKernels(w, adam, optimizerAt, s.optimizerNs, s.optimizerKernelNs);
        phase(PhaseKind::StepEnd, endAt, step);
        base = endAt + s.betweenNs;
    }
    return w.close();
}

// The GPT job of the issue on an H200 (8 blocks), without and with
// non-reentrant torch.utils.checkpoint: steps of 18.1 and 40.0 ms, GPU busy
// 96 % and 64 % in backward (the checkpointed run waits on the CPU while it
// re-runs forward), 3.6 ms of recompute kernels; first iterations of 2.1 s
// and 0.62 s, which made the means over all 14 iterations 166 and 81 ms.
inline RunShape h200GptPlain() {
    RunShape s;
    constexpr uint64_t us = 1000;
    s.warmupNs = 2'096'000 * us;
    s.forwardNs = 5400 * us, s.backwardNs = 10900 * us, s.optimizerNs = 1200 * us, s.betweenNs = 600 * us;
    s.forwardKernelNs = 4900 * us, s.backwardKernelNs = 10500 * us, s.optimizerKernelNs = 1100 * us;
    s.activationBytes = 2ull << 30;
    return s;
}

inline RunShape h200GptCheckpointed() {
    RunShape s = h200GptPlain();
    constexpr uint64_t us = 1000;
    s.warmupNs = 621'000 * us;
    s.forwardNs = 10000 * us, s.backwardNs = 22000 * us, s.betweenNs = 6800 * us;
    s.recomputeRegionNs = 11000 * us, s.recomputeKernelNs = 3600 * us;
    s.activationBytes = 400ull << 20;
    return s;
}

}  // namespace vramscope::testing
