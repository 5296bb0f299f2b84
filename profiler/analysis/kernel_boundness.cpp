#include "kernel_boundness.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <vector>

namespace vramscope::analysis {

namespace {

const model::CounterSeries* findSeries(const model::TraceModel& m, format::CounterMetric metric) {
    for (const auto& s : m.counters)
        if (s.info.metric == metric && !s.timesNs.empty()) return &s;
    return nullptr;
}

// A sample covers ~1 ms, and a training step's kernels last 2-200 µs, so
// one sample mixes a dozen kernels: a GEMM's tensor-pipe activity is spread
// over the elementwise kernels around it and theirs over it. What each
// kernel name contributes is the unknown x of
//
//     sample value ≈ Σ over names (share of the sample that name ran) · x[name]
//
// (idle time contributes 0), one equation per sample. Kernels of one name
// behave alike, so with thousands of samples and tens of names the system is
// over-determined; it is solved by projected coordinate descent on the normal
// equations (x in [0, 100]), with a light pull towards each name's
// overlap-weighted mean for names that never run apart from others (those
// keep about that mean).
struct NameFit {
    std::vector<double> value;    // per dense name index, percent
    std::vector<double> overlap;  // overlap-weighted mean, percent (the prior)
    std::vector<double> weight;   // summed overlap, in samples
};

NameFit fitPerName(const model::TraceModel& m, const model::CounterSeries& s, const std::vector<uint32_t>& nameOfKernel,
                   size_t names) {
    const auto& k = m.kernels;
    const uint64_t interval = s.info.intervalNs ? s.info.intervalNs : 1'000'000;
    const size_t samples = s.timesNs.size();
    // Share of each sample each name ran: rows[j] = {(name, share)}, by one
    // merge walk over kernels and samples (both sorted by time).
    std::vector<std::vector<std::pair<uint32_t, double>>> rows(samples);
    size_t first = 0;
    for (size_t i = 0; i < k.size(); ++i) {
        const uint64_t a = k.startNs[i], b = k.endNs(i);
        while (first < samples && s.timesNs[first] <= a) ++first;
        for (size_t j = first; j < samples; ++j) {
            const uint64_t end = s.timesNs[j], start = end > interval ? end - interval : 0;
            if (start >= b) break;
            const uint64_t lo = std::max(a, start), hi = std::min(b, end);
            if (hi <= lo) continue;
            const uint32_t n = nameOfKernel[i];
            auto& row = rows[j];
            auto it = std::find_if(row.begin(), row.end(), [n](const auto& e) { return e.first == n; });
            const double share = double(hi - lo) / double(interval);
            if (it == row.end()) row.emplace_back(n, share);
            else it->second += share;
        }
    }
    NameFit fit;
    fit.value.assign(names, 0);
    fit.overlap.assign(names, 0);
    fit.weight.assign(names, 0);
    std::vector<double> diag(names, 0), rhs(names, 0);
    std::map<std::pair<uint32_t, uint32_t>, double> offDiagonal;  // (i, j), i != j
    for (size_t j = 0; j < samples; ++j) {
        const double y = s.valuesMilli[j] / 1000.0;
        for (const auto& [a, fa] : rows[j]) {
            rhs[a] += fa * y;
            fit.overlap[a] += fa * y;
            fit.weight[a] += fa;
            diag[a] += fa * fa;
            for (const auto& [b, fb] : rows[j])
                if (a != b) offDiagonal[{a, b}] += fa * fb;
        }
    }
    std::vector<std::vector<std::pair<uint32_t, double>>> coupled(names);
    for (const auto& [ij, g] : offDiagonal) coupled[ij.first].emplace_back(ij.second, g);
    for (size_t n = 0; n < names; ++n)
        if (fit.weight[n] > 0) fit.value[n] = fit.overlap[n] /= fit.weight[n];
    constexpr double kPull = 0.05;  // towards the overlap mean, relative to the name's own evidence
    for (int sweep = 0; sweep < 500; ++sweep) {
        double change = 0;
        for (size_t n = 0; n < names; ++n) {
            if (diag[n] <= 0) continue;
            double r = rhs[n] + kPull * diag[n] * fit.overlap[n];
            for (const auto& [o, g] : coupled[n]) r -= g * fit.value[o];
            const double v = std::clamp(r / ((1 + kPull) * diag[n]), 0.0, 100.0);
            change = std::max(change, std::abs(v - fit.value[n]));
            fit.value[n] = v;
        }
        if (change < 1e-3) break;
    }
    return fit;
}

// As in boundness.cpp: an SM instruction-issue rate (what PM sampling gives
// on GH100) reads lower than sm__throughput, so it counts from 30 %.
double computeThresholdPct(const model::TraceModel& m, const model::CounterSeries& sm) {
    return m.text(sm.info.nameId).find("inst_executed") != std::string::npos ? 30 : 50;
}

}  // namespace

KernelBoundness kernelBoundness(const model::TraceModel& m) {
    KernelBoundness out;
    const auto* sm = findSeries(m, format::CounterMetric::SmThroughputPct);
    const auto* dram = findSeries(m, format::CounterMetric::DramThroughputPct);
    const auto* tensor = findSeries(m, format::CounterMetric::TensorPipePct);
    if (sm && dram) {
        // Dense indices of the names that ran, per kernel.
        std::unordered_map<uint32_t, uint32_t> dense;
        std::vector<uint32_t> nameOf, nameOfKernel(m.kernels.size());
        for (size_t i = 0; i < m.kernels.size(); ++i) {
            auto [it, added] = dense.try_emplace(m.kernels.nameId[i], uint32_t(nameOf.size()));
            if (added) nameOf.push_back(m.kernels.nameId[i]);
            nameOfKernel[i] = it->second;
        }
        const size_t names = nameOf.size();
        const NameFit smFit = fitPerName(m, *sm, nameOfKernel, names);
        const NameFit dramFit = fitPerName(m, *dram, nameOfKernel, names);
        const NameFit tensorFit = tensor ? fitPerName(m, *tensor, nameOfKernel, names) : NameFit{};
        out.fromCounters = true;
        const double smThreshold = computeThresholdPct(m, *sm);
        for (size_t n = 0; n < names; ++n) {
            if (smFit.weight[n] <= 0) continue;  // no sample covered it
            const double smPct = smFit.value[n];
            const double dramPct = dramFit.weight[n] > 0 ? dramFit.value[n] : -1;
            const double tensorPct = tensor && tensorFit.weight[n] > 0 ? tensorFit.value[n] : -1;
            out.smAndDramPct[nameOf[n]] = {smPct, dramPct};
            if (tensorPct >= 0) out.tensorPct[nameOf[n]] = tensorPct;
            // A name that ran for less than one sample in all leaves its
            // values to its neighbours: its name says more (filled below).
            if (smFit.weight[n] >= 1) out.byName[nameOf[n]] = classifyCounters(smPct, dramPct, tensorPct, smThreshold);
        }
    }
    // Names no sample covered (or no counters at all): estimate from the name.
    for (size_t i = 0; i < m.kernels.size(); ++i) {
        uint32_t name = m.kernels.nameId[i];
        if (!out.byName.count(name)) out.byName[name] = boundFromKernelName(m.text(name));
    }
    return out;
}

}  // namespace vramscope::analysis
