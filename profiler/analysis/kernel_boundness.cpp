#include "kernel_boundness.h"

#include "dense_ids.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace vramscope::analysis {

namespace {

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

// A sample overlapping more distinct names than this says little about any
// one of them, and its pairs would cost its size squared: it is left out of
// the fit (real training steps put 5-30 names in a 1 ms sample; a hostile or
// odd trace could put thousands).
constexpr size_t kMaxNamesPerSample = 64;

// Kernel × sample overlaps one fit may visit: far above any real trace
// (GPT-2: ~10 per kernel), a bound for a hostile one, which then keeps the
// name-based classes.
constexpr uint64_t kMaxOverlaps = uint64_t(1) << 28;

// Names of work that never runs on tensor cores: their tensor-pipe value is
// held at 0 in the fit (kernelBoundness says why).
bool namedMemoryBound(std::string_view name) {
    std::string lower(name.substr(0, 200));
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (boundFromKernelName(lower) != Bound::Bandwidth) return false;  // a GEMM or attention name wins
    for (const char* word : {"elementwise", "copy", "reduce", "softmax", "norm", "adam", "sgd", "fill", "catarray",
                             "index", "gather", "scatter", "embedding", "dropout", "transpose", "triton_poi_",
                             "triton_red_", "triton_per_", "multi_tensor_apply"})
        if (lower.find(word) != std::string::npos) return true;
    return false;
}

using SampleShares = std::vector<std::vector<std::pair<uint32_t, double>>>;

// Share of each sample each name ran: rows[j] = {(name, share)}, by one
// merge walk over kernels and samples (both sorted by time).
SampleShares sampleShares(const model::TraceModel& m, const model::CounterSeries& s,
                          const std::vector<uint32_t>& nameOfKernel) {
    const auto& k = m.kernels;
    const uint64_t interval = s.info.intervalNs ? s.info.intervalNs : 1'000'000;
    const size_t samples = s.timesNs.size();
    SampleShares rows(samples);
    size_t first = 0;
    uint64_t overlaps = 0;
    for (size_t i = 0; i < k.size(); ++i) {
        const uint64_t a = k.startNs[i], b = k.endNs(i);
        while (first < samples && s.timesNs[first] <= a) ++first;
        for (size_t j = first; j < samples; ++j) {
            const uint64_t end = s.timesNs[j], start = end > interval ? end - interval : 0;
            if (start >= b) break;
            const uint64_t lo = std::max(a, start), hi = std::min(b, end);
            if (hi <= lo) continue;
            if (++overlaps > kMaxOverlaps) return SampleShares(samples);
            const uint32_t n = nameOfKernel[i];
            auto& row = rows[j];
            if (row.size() > kMaxNamesPerSample) continue;  // left out of the fit anyway
            auto it = std::find_if(row.begin(), row.end(), [n](const auto& e) { return e.first == n; });
            const double share = double(hi - lo) / double(interval);
            if (it == row.end()) row.emplace_back(n, share);
            else it->second += share;
        }
    }
    return rows;
}

bool sameGrid(const model::CounterSeries& a, const model::CounterSeries& b) {
    return a.info.intervalNs == b.info.intervalNs && a.timesNs == b.timesNs;
}

// The normal equations' matrix Σ shares·sharesᵀ over the samples: the same
// for every counter sampled on the same grid (only the right side differs).
struct Gram {
    std::vector<double> diag, weight;  // per name: Σ share², Σ share
    std::vector<std::vector<std::pair<uint32_t, double>>> coupled;  // off-diagonal, per row
};

Gram gramOf(const SampleShares& rows, size_t names) {
    Gram g;
    g.diag.assign(names, 0);
    g.weight.assign(names, 0);
    g.coupled.resize(names);
    // Dense while small (a training step has tens to hundreds of kernel
    // names), hashed beyond.
    constexpr size_t kDenseNames = 1024;
    const bool dense = names <= kDenseNames;
    std::vector<double> full(dense ? names * names : 0, 0);
    std::unordered_map<uint64_t, double> sparse;  // (i << 32 | j), i != j
    for (const auto& row : rows) {
        if (row.size() > kMaxNamesPerSample) continue;
        for (const auto& [a, fa] : row) {
            g.weight[a] += fa;
            g.diag[a] += fa * fa;
            for (const auto& [b, fb] : row) {
                if (a == b) continue;
                if (dense) full[size_t(a) * names + b] += fa * fb;
                else sparse[uint64_t(a) << 32 | b] += fa * fb;
            }
        }
    }
    if (dense) {
        for (size_t a = 0; a < names; ++a)
            for (size_t b = 0; b < names; ++b)
                if (full[a * names + b] != 0) g.coupled[a].emplace_back(uint32_t(b), full[a * names + b]);
    } else {
        for (const auto& [ij, v] : sparse) g.coupled[ij >> 32].emplace_back(uint32_t(ij), v);
    }
    return g;
}

// held: names whose value is known to be 0 (not fitted), or null.
NameFit fitPerName(const SampleShares& rows, const Gram& g, const model::CounterSeries& s,
                   const std::vector<bool>* held = nullptr) {
    const size_t names = g.diag.size();
    NameFit fit;
    fit.value.assign(names, 0);
    fit.overlap.assign(names, 0);
    fit.weight = g.weight;
    std::vector<double> rhs(names, 0);
    for (size_t j = 0; j < rows.size() && j < s.valuesMilli.size(); ++j) {
        if (rows[j].size() > kMaxNamesPerSample) continue;
        const double y = s.valuesMilli[j] / 1000.0;
        for (const auto& [a, fa] : rows[j]) rhs[a] += fa * y;
    }
    for (size_t n = 0; n < names; ++n)
        if (fit.weight[n] > 0) fit.value[n] = fit.overlap[n] = rhs[n] / fit.weight[n];
    if (held)
        for (size_t n = 0; n < names; ++n)
            if ((*held)[n]) fit.value[n] = fit.overlap[n] = 0;
    // Towards the overlap mean, relative to the name's own evidence. Against
    // ncu on four H200 training jobs at 1 ms samples (docs/boundness.md,
    // "Checked against ncu"), the share of kernel time classed alike was
    // 79/75/88/81 % at 0.01 and 73/59/88/80 % at 0.05 (0: 79/87/88/84 %, but
    // more names pinned at 0 or 100 %).
    constexpr double kPull = 0.01;
    for (int sweep = 0; sweep < 500; ++sweep) {
        double change = 0;
        for (size_t n = 0; n < names; ++n) {
            if (g.diag[n] <= 0 || (held && (*held)[n])) continue;
            double r = rhs[n] + kPull * g.diag[n] * fit.overlap[n];
            for (const auto& [o, v] : g.coupled[n]) r -= v * fit.value[o];
            const double x = std::clamp(r / ((1 + kPull) * g.diag[n]), 0.0, 100.0);
            change = std::max(change, std::abs(x - fit.value[n]));
            fit.value[n] = x;
        }
        if (change < 1e-3) break;
    }
    return fit;
}

}  // namespace

KernelBoundness::Percentages KernelBoundness::fitted(uint32_t nameId) const {
    Percentages p;
    if (auto it = smAndDramPct.find(nameId); it != smAndDramPct.end()) std::tie(p.sm, p.dram) = it->second;
    if (auto it = tensorPct.find(nameId); it != tensorPct.end()) p.tensor = it->second;
    return p;
}

std::vector<KernelStats> kernelStats(const model::TraceModel& m) {
    // A vector by dense name index beats a hash map on 10M kernels.
    const DenseIds names(m.kernels.nameId);
    std::vector<KernelStats> out(names.size());
    for (size_t i = 0; i < m.kernels.size(); ++i) {
        KernelStats& s = out[names.of(m.kernels.nameId[i])];
        ++s.count;
        s.totalNs += m.kernels.durationNs[i];
    }
    for (uint32_t d = 0; d < out.size(); ++d) {
        out[d].nameId = names.idAt(d);
        out[d].name = m.text(out[d].nameId);
    }
    std::sort(out.begin(), out.end(), [](const KernelStats& a, const KernelStats& b) {
        return a.totalNs != b.totalNs ? a.totalNs > b.totalNs : a.nameId < b.nameId;
    });
    return out;
}

KernelBoundness kernelBoundness(const model::TraceModel& m) {
    KernelBoundness out;
    // The names that ran, densely numbered in order of first launch.
    const DenseIds dense(m.kernels.nameId);
    std::vector<uint32_t> nameOf(dense.size()), nameOfKernel(m.kernels.size());
    for (uint32_t d = 0; d < nameOf.size(); ++d) nameOf[d] = dense.idAt(d);
    for (size_t i = 0; i < m.kernels.size(); ++i) nameOfKernel[i] = dense.of(m.kernels.nameId[i]);
    const size_t names = nameOf.size();
    const auto* sm = counterSeries(m, format::CounterMetric::SmThroughputPct);
    const auto* dram = counterSeries(m, format::CounterMetric::DramThroughputPct);
    const auto* tensor = counterSeries(m, format::CounterMetric::TensorPipePct);
    if (sm && dram) {
        // The series of one sampler share their sample times: one walk serves all.
        const SampleShares smRows = sampleShares(m, *sm, nameOfKernel);
        const Gram smGram = gramOf(smRows, names);
        auto fit = [&](const model::CounterSeries& c, const std::vector<bool>* held = nullptr) {
            if (sameGrid(c, *sm)) return fitPerName(smRows, smGram, c, held);
            const SampleShares rows = sampleShares(m, c, nameOfKernel);
            return fitPerName(rows, gramOf(rows, names), c, held);
        };
        // Kernels run in the same order every step, so a GEMM and the
        // elementwise kernel after it share nearly every sample and the fit
        // cannot tell their values apart: it used to give the GELU after the
        // MLP's GEMM tensor pipes 45 % and that GEMM too little. Work that
        // never issues tensor-core instructions is held at 0 on the tensor
        // pipes, so their activity goes to the kernels that can have it (on
        // five H200 workloads against ncu: docs/boundness.md, "Checked
        // against ncu").
        std::vector<bool> noTensorPipes(names);
        for (size_t n = 0; n < names; ++n) noTensorPipes[n] = namedMemoryBound(m.text(nameOf[n]));
        const NameFit smFit = fitPerName(smRows, smGram, *sm);
        const NameFit dramFit = fit(*dram);
        const NameFit tensorFit = tensor ? fit(*tensor, &noTensorPipes) : NameFit{};
        out.fromCounters = true;
        const double smThreshold = smThresholdPct(m, sm);
        for (size_t n = 0; n < names; ++n) {
            if (smFit.weight[n] <= 0) continue;  // no sample covered it
            const double smPct = smFit.value[n];
            const double dramPct = dramFit.weight[n] > 0 ? dramFit.value[n] : -1;
            const double tensorPct = tensor && tensorFit.weight[n] > 0 ? tensorFit.value[n] : -1;
            out.smAndDramPct[nameOf[n]] = {smPct, dramPct};
            if (tensorPct >= 0) out.tensorPct[nameOf[n]] = tensorPct;
            // A name that ran for less than one sample in all leaves its
            // values to its neighbours: its name says more (filled below).
            if (smFit.weight[n] >= 1) {
                out.byName[nameOf[n]] = classifyCounters(smPct, dramPct, tensorPct, smThreshold);
                out.classedByCounters.insert(nameOf[n]);
            }
        }
    }
    // Names no sample covered (or no counters at all): estimate from the name.
    for (uint32_t name : nameOf)
        if (!out.byName.count(name)) out.byName[name] = boundFromKernelName(m.text(name));
    return out;
}

}  // namespace vramscope::analysis
