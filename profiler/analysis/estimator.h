// The estimator: the napkin math people do by hand, from a measured run.
//
// Measured memory is split into what does not depend on the batch (weights,
// gradients, optimizer state, leaked, other) and what scales with the tokens
// in a step (activations and temporaries). The profile of the run, (fixed,
// scaling) bytes at every local peak, predicts the peak for another batch
// size or sequence length as max(fixed + scaling × ratio); the largest batch
// that fits adds the allocator cache (reserved / allocated) and the CUDA
// context (device used - reserved) and keeps a headroom.
#pragma once

#include "categories.h"
#include "iterations.h"

#include "model/trace_model.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vramscope::analysis {

struct EstimatorOptions {
    uint32_t measuredBatch = 0;     // 0: read from the traced command line, else assume 1
    uint32_t measuredSequence = 0;  // 0: read from the traced command line, else unknown
    uint32_t targetBatch = 0;       // 0: twice the measured batch
    uint32_t targetSequence = 0;    // 0: the measured sequence length
    double headroom = 0.10;         // fraction of device memory kept free
};

struct Estimate {
    bool valid = false;  // false when the trace has no allocations
    uint32_t measuredBatch = 1;
    std::string batchSource = "assumed";  // "option", "command_line" or "assumed"
    uint32_t measuredSequence = 0;        // 0 = unknown
    std::string sequenceSource = "unknown";

    uint64_t measuredPeakBytes = 0;
    uint64_t weightsBytes = 0;          // each category's own peak
    uint64_t gradientsBytes = 0;
    uint64_t optimizerStateBytes = 0;
    uint64_t activationsBytes = 0;      // activations + temporaries at the measured peak
    uint64_t activationsPerSampleBytes = 0;
    uint64_t activationsPerTokenBytes = 0;  // 0 when the sequence length is unknown
    uint64_t fixedBytesAtPeak = 0;      // batch-independent part of the measured peak

    uint32_t targetBatch = 0;
    uint32_t targetSequence = 0;
    uint64_t predictedPeakBytes = 0;    // allocated, at targetBatch × targetSequence

    uint64_t deviceTotalBytes = 0;      // 0 = unknown
    double headroom = 0.10;
    double reservedPerAllocated = 1.0;  // caching allocator overhead at the peak
    uint64_t contextBytes = 0;          // device used beyond reserved (CUDA context, other processes)
    uint32_t maxBatchThatFits = 0;      // 0 when unknown, nothing scales, or even 1 does not fit
    // Why a figure is missing or to be taken with care, "" when all is well.
    std::string note;

    // (fixed, scaling) bytes at the run's local peaks, Pareto-pruned.
    std::vector<std::pair<uint64_t, uint64_t>> profile;
    // Allocated peak when the tokens per step are scaled by tokenRatio.
    uint64_t predictPeakBytes(double tokenRatio) const;
    // Device memory needed (allocated × cache overhead + context).
    uint64_t predictDeviceBytes(double tokenRatio) const;
};

Estimate estimateMemory(const model::TraceModel& model, const Categorization& categories,
                        const EstimatorOptions& options = {});

// Batch size and sequence length from a command line such as
// "train.py --batch-size 8 --seq-len 1024" (0 when absent).
uint32_t batchFromCommandLine(const std::string& commandLine);
uint32_t sequenceFromCommandLine(const std::string& commandLine);

}  // namespace vramscope::analysis
