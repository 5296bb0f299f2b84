#include "boundness.h"

#include "dense_ids.h"
#include "kernel_boundness.h"
#include "step_times.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <unordered_map>

namespace vramscope::analysis {

using model::TraceModel;
using format::CounterMetric;
using format::CounterSource;

const char* boundText(Bound bound) {
    switch (bound) {
    case Bound::Unknown: return "unknown";
    case Bound::Compute: return "compute";
    case Bound::Bandwidth: return "bandwidth";
    case Bound::Latency: return "latency";
    }
    return "?";
}

Bound boundFromKernelName(std::string_view name) {
    std::string lower(name.substr(0, 160));
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto has = [&](const char* word) { return lower.find(word) != std::string::npos; };
    if (has("nccl")) return Bound::Latency;
    // Not "mma" alone (LayerNorm's GammaBetaBackward) nor "conv" alone (dtype
    // conversions): the tensor-core instruction names and "convolve"/"conv2d"-like forms.
    for (const char* word : {"gemm", "xmma", "cutlass", "flash", "hmma", "wmma", "imma", "wgmma", "cublas", "nvjet",
                             "wgrad", "dgrad", "fprop", "fmha", "attention", "matmul", "sdpa", "triton_tem_"})
        if (has(word)) return Bound::Compute;
    for (size_t at = lower.find("conv"); at != std::string::npos; at = lower.find("conv", at + 4))
        if (lower.compare(at, 6, "conver") != 0) return Bound::Compute;  // not convert, conversion
    return Bound::Bandwidth;
}

const model::CounterSeries* counterSeries(const TraceModel& m, CounterMetric metric) {
    for (const auto& s : m.counters)
        if (s.info.metric == metric && !s.timesNs.empty()) return &s;
    return nullptr;
}

// The SM side counts as the limit above this percentage. 50 % of peak for
// throughput metrics (sm__throughput, GPM pipe utilisations) and for the
// injector's PM-sampling SM side on GH100, the larger of instruction issue
// and the L1's LSU wavefronts ("... max ...": sm__throughput itself needs 19
// passes there). Traces that sampled the instruction issue rate alone
// (sm__inst_executed_realtime, recorded before the LSU side was added) read
// lower: a tiled FP32 GEMM that ncu puts at 89.9 % sm__throughput issues at
// 36 %, a DRAM-bound triad at 11.6 %, a launch storm at 0 % (H100). Hence 30 %
// for issue rates alone.
double smThresholdPct(const TraceModel& m, const model::CounterSeries* sm) {
    if (!sm) return 50;
    const std::string& name = m.text(sm->info.nameId);
    if (name.find("inst_executed") != std::string::npos && name.find(" max ") == std::string::npos) return 30;
    return 50;
}

Bound classifyCounters(double sm, double dram, double tensor, double smThreshold) {
    if ((sm >= smThreshold && sm >= dram) || (tensor >= 50 && tensor >= dram)) return Bound::Compute;
    if (dram >= 50) return Bound::Bandwidth;
    return Bound::Latency;
}

namespace {

Bound classify(double sm, double dram, double tensor, double busy, double smThreshold) {
    if (busy < 0.5) return Bound::Latency;
    return classifyCounters(sm, dram, tensor, smThreshold);
}

const char* sourceText(CounterSource s) {
    switch (s) {
    case CounterSource::PmSampling: return "pm_sampling";
    case CounterSource::Gpm: return "gpm";
    case CounterSource::Synthetic: return "synthetic";
    case CounterSource::Estimated: return "estimated";
    default: return "estimated";
    }
}

struct Accumulator {
    double sm = 0, dram = 0, tensor = 0;
    double smCount = 0, dramCount = 0, tensorCount = 0;  // weights
    uint64_t samples = 0;
    uint64_t busyNs = 0, durationNs = 0;
    uint64_t computeNs = 0, bandwidthNs = 0, latencyNs = 0;  // kernel time by the kernels' classes
};

// A sample's timestamp is the end of its interval; each sample counts by how
// much of its interval lies inside the span (phases can be shorter than one
// sampling interval: the optimizer step of a small model takes < 1 ms).
void addSamples(const model::CounterSeries& s, const TimeSpan& span, double& sum, double& weight, uint64_t* samples) {
    const uint64_t interval = s.info.intervalNs ? s.info.intervalNs : 1'000'000;
    auto first = std::upper_bound(s.timesNs.begin(), s.timesNs.end(), span.startNs);
    auto last = std::upper_bound(first, s.timesNs.end(), span.endNs + interval);
    for (auto it = first; it != last; ++it) {
        const uint64_t end = *it, start = end > interval ? end - interval : 0;
        const uint64_t a = std::max(start, span.startNs), b = std::min(end, span.endNs);
        if (a >= b) continue;
        const double w = static_cast<double>(b - a) / static_cast<double>(interval);
        sum += w * s.valuesMilli[static_cast<size_t>(it - s.timesNs.begin())] / 1000.0;
        weight += w;
        if (samples) ++*samples;
    }
}

PhaseBoundness finish(const Accumulator& a, bool counters, double smThreshold) {
    PhaseBoundness p;
    p.durationNs = a.durationNs;
    p.busyFraction = a.durationNs ? static_cast<double>(a.busyNs) / static_cast<double>(a.durationNs) : 0;
    if (a.durationNs == 0) return p;
    if (const uint64_t kernelNs = a.computeNs + a.bandwidthNs + a.latencyNs) {
        p.computeKernelShare = double(a.computeNs) / double(kernelNs);
        p.bandwidthKernelShare = double(a.bandwidthNs) / double(kernelNs);
        p.latencyKernelShare = double(a.latencyNs) / double(kernelNs);
    }
    if (counters) {
        p.samples = a.samples;
        if (a.smCount > 0) p.smThroughputPct = a.sm / a.smCount;
        if (a.dramCount > 0) p.dramThroughputPct = a.dram / a.dramCount;
        if (a.tensorCount > 0) p.tensorPipePct = a.tensor / a.tensorCount;
        if (a.smCount > 0 || a.dramCount > 0)
            p.bound = classify(std::max(0.0, p.smThroughputPct), std::max(0.0, p.dramThroughputPct), p.tensorPipePct,
                               p.busyFraction, smThreshold);
        return p;
    }
    if (p.busyFraction < 0.5) p.bound = Bound::Latency;
    else if (a.latencyNs > a.computeNs + a.bandwidthNs) p.bound = Bound::Latency;  // mostly collectives
    else if (a.computeNs + a.bandwidthNs) p.bound = a.computeNs >= a.bandwidthNs ? Bound::Compute : Bound::Bandwidth;
    return p;
}

}  // namespace

BoundnessReport analyzeBoundness(const TraceModel& m, const IterationSet& set, const KernelBoundness* kernels) {
    BoundnessReport r;
    if (set.iterations.empty()) return r;
    const model::CounterSeries* sm = counterSeries(m, CounterMetric::SmThroughputPct);
    const model::CounterSeries* dram = counterSeries(m, CounterMetric::DramThroughputPct);
    const model::CounterSeries* tensor = counterSeries(m, CounterMetric::TensorPipePct);
    const bool counters = sm || dram;
    r.source = counters ? sourceText((sm ? sm : dram)->info.source) : "estimated";

    const double smThreshold = smThresholdPct(m, sm);
    std::array<Accumulator, kPhaseCount> acc{};
    Accumulator all;
    const auto& k = m.kernels;
    // With launch times, a phase's GPU work is the kernels launched inside
    // its CPU window, over the GPU span they ran in; kernels sorted by launch.
    const bool byLaunch = k.hasLaunchTimes();
    std::vector<uint32_t> byLaunchOrder;
    std::vector<uint64_t> launchTimes;
    if (byLaunch) {
        r.attribution = "launch_time";
        byLaunchOrder.resize(k.size());
        for (uint32_t i = 0; i < k.size(); ++i) byLaunchOrder[i] = i;
        std::stable_sort(byLaunchOrder.begin(), byLaunchOrder.end(),
                         [&](uint32_t a, uint32_t b) { return k.launchNs(a) < k.launchNs(b); });
        launchTimes.reserve(k.size());
        for (uint32_t i : byLaunchOrder) launchTimes.push_back(k.launchNs(i));
    }
    // Each kernel name's class (kernelBoundness: fitted to the counter
    // samples, else from the name), by dense name index: it is looked up
    // once per kernel and phase.
    const KernelBoundness computed = kernels ? KernelBoundness{} : kernelBoundness(m);
    const KernelBoundness& classes = kernels ? *kernels : computed;
    const DenseIds names(k.nameId);
    std::vector<Bound> classOfName(names.size(), Bound::Unknown);
    for (const auto& [id, bound] : classes.byName)
        if (const uint32_t d = names.of(id); d != DenseIds::kNone) classOfName[d] = bound;
    auto addKernel = [&](Accumulator& a, size_t i, uint64_t s, uint64_t e) {
        a.busyNs += e - s;
        const uint32_t d = names.of(k.nameId[i]);
        const Bound b = d != DenseIds::kNone ? classOfName[d] : Bound::Unknown;
        (b == Bound::Compute ? a.computeNs : b == Bound::Latency ? a.latencyNs : a.bandwidthNs) += e - s;
    };
    auto addCounters = [&](Accumulator& a, const TimeSpan& span) {
        if (!counters) return;
        if (sm) addSamples(*sm, span, a.sm, a.smCount, &a.samples);
        if (dram) addSamples(*dram, span, a.dram, a.dramCount, sm ? nullptr : &a.samples);
        if (tensor) addSamples(*tensor, span, a.tensor, a.tensorCount, nullptr);
    };
    auto add = [](Accumulator& to, const Accumulator& a) {
        to.sm += a.sm, to.dram += a.dram, to.tensor += a.tensor;
        to.smCount += a.smCount, to.dramCount += a.dramCount, to.tensorCount += a.tensorCount;
        to.samples += a.samples, to.busyNs += a.busyNs, to.durationNs += a.durationNs;
        to.computeNs += a.computeNs, to.bandwidthNs += a.bandwidthNs, to.latencyNs += a.latencyNs;
    };
    auto accumulate = [&](Accumulator& a, const TimeSpan& span) {
        if (byLaunch) {
            const auto first = std::lower_bound(launchTimes.begin(), launchTimes.end(), span.startNs);
            const auto last = std::lower_bound(first, launchTimes.end(), span.endNs);
            if (first != last) {
                TimeSpan gpu{UINT64_MAX, 0};
                Accumulator own;
                for (auto it = first; it != last; ++it) {
                    const size_t i = byLaunchOrder[size_t(it - launchTimes.begin())];
                    gpu.startNs = std::min(gpu.startNs, k.startNs[i]);
                    gpu.endNs = std::max(gpu.endNs, k.endNs(i));
                    addKernel(own, i, k.startNs[i], k.endNs(i));
                }
                gpu.endNs = std::max(gpu.endNs, gpu.startNs + 1);
                own.durationNs = gpu.durationNs();
                own.busyNs = std::min(own.busyNs, own.durationNs);  // concurrent streams overlap
                add(a, own);
                addCounters(a, gpu);
                return;
            }
            // Nothing launched in the phase: what the GPU did meanwhile.
        }
        a.durationNs += span.durationNs();
        auto [first, last] = m.kernelsIn(span.startNs, span.endNs);
        for (size_t i = first; i < last; ++i) {
            const uint64_t s = std::max(span.startNs, k.startNs[i]), e = std::min(span.endNs, k.endNs(i));
            if (s < e) addKernel(a, i, s, e);
        }
        addCounters(a, span);
    };

    // The same steady iterations as every time figure (step_times.h).
    const std::vector<bool> steady = steadyIterations(set, &r.medianIterationNs);
    r.iterations.resize(set.iterations.size());
    for (size_t i = 0; i < set.iterations.size(); ++i) {
        const auto& it = set.iterations[i];
        IterationBoundness& ib = r.iterations[i];
        ib.steady = steady[i];
        if (!ib.steady) r.leftOut.push_back(i);
        for (size_t p = 0; p < kPhaseCount; ++p) {
            if (!it.phases[p].valid()) continue;
            Accumulator a;
            accumulate(a, it.phases[p]);
            ib.phases[p] = finish(a, counters, smThreshold);
            if (ib.steady) add(acc[p], a);
        }
        Accumulator a;
        accumulate(a, it.span);
        ib.overall = finish(a, counters, smThreshold);
        if (ib.steady) add(all, a);
    }
    for (size_t p = 0; p < kPhaseCount; ++p) r.phases[p] = finish(acc[p], counters, smThreshold);
    r.overall = finish(all, counters, smThreshold);
    return r;
}

Bound kernelBound(const TraceModel& m, size_t kernel) {
    if (kernel >= m.kernels.size()) return Bound::Unknown;
    const model::CounterSeries* sm = counterSeries(m, CounterMetric::SmThroughputPct);
    const model::CounterSeries* dram = counterSeries(m, CounterMetric::DramThroughputPct);
    if (!sm && !dram) return boundFromKernelName(m.text(m.kernels.nameId[kernel]));
    const Bound byName = boundFromKernelName(m.text(m.kernels.nameId[kernel]));
    const TimeSpan span{m.kernels.startNs[kernel], std::max(m.kernels.endNs(kernel), m.kernels.startNs[kernel] + 1)};
    double smSum = 0, smWeight = 0, dramSum = 0, dramWeight = 0;
    if (sm) addSamples(*sm, span, smSum, smWeight, nullptr);
    if (dram) addSamples(*dram, span, dramSum, dramWeight, nullptr);
    if (smWeight <= 0 && dramWeight <= 0) return byName;
    const double smPct = smWeight > 0 ? smSum / smWeight : 0, dramPct = dramWeight > 0 ? dramSum / dramWeight : 0;
    const Bound fromCounters = classifyCounters(smPct, dramPct, -1, smThresholdPct(m, sm));
    // A kernel much shorter than a sampling interval would only inherit its
    // neighbours' bound (measured on synth: most elementwise kernels read as
    // compute next to GEMMs); its name says more. Unless the samples around
    // it show both units all but idle (< 5 %): then it is limited by neither
    // (a launch storm of tiny kernels on an H100 read SM 0 %, DRAM 0 %).
    const uint64_t interval = (sm ? sm : dram)->info.intervalNs;
    if (interval && uint64_t(m.kernels.durationNs[kernel]) * 2 < interval)
        return smPct < 5 && dramPct < 5 ? Bound::Latency : byName;
    return fromCounters;
}

}  // namespace vramscope::analysis
