#include "iterations.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <map>
#include <unordered_set>

namespace vramscope::analysis {

using model::TraceModel;
using format::PhaseKind;

const char* phaseNameText(PhaseName phase) {
    switch (phase) {
    case PhaseName::Forward: return "forward";
    case PhaseName::Backward: return "backward";
    case PhaseName::Optimizer: return "optimizer";
    }
    return "?";
}

const char* iterationSourceText(IterationSource source) {
    switch (source) {
    case IterationSource::None: return "none";
    case IterationSource::Markers: return "markers";
    case IterationSource::Ranges: return "nvtx_ranges";
    case IterationSource::KernelPattern: return "kernel_pattern";
    case IterationSource::MemoryPattern: return "memory_pattern";
    case IterationSource::StackFrames: return "stack_frames";
    }
    return "?";
}

const char* phaseLabel(const IterationSet& set, PhaseName phase) {
    if (set.trainingPhases) return phaseNameText(phase);
    switch (phase) {
    case PhaseName::Forward: return "phase 1";
    case PhaseName::Backward: return "phase 2";
    case PhaseName::Optimizer: return "phase 3";
    }
    return "?";
}

int IterationSet::iterationStartingBefore(uint64_t timeNs) const {
    auto it = std::upper_bound(iterations.begin(), iterations.end(), timeNs,
                               [](uint64_t t, const Iteration& i) { return t < i.span.startNs; });
    return static_cast<int>(it - iterations.begin()) - 1;
}

int IterationSet::iterationAt(uint64_t timeNs) const {
    const int i = iterationStartingBefore(timeNs);
    return i >= 0 && iterations[static_cast<size_t>(i)].span.contains(timeNs) ? i : -1;
}

int IterationSet::phaseAt(size_t index, uint64_t timeNs) const {
    if (index >= iterations.size()) return -1;
    const auto& phases = iterations[index].phases;
    for (int p = 0; p < kPhaseCount; ++p)
        if (phases[static_cast<size_t>(p)].contains(timeNs)) return p;
    return -1;
}

namespace {

void assignKernels(const TraceModel& m, IterationSet& set) {
    const auto& starts = m.kernels.startNs;
    for (auto& it : set.iterations) {
        it.firstKernel = static_cast<size_t>(std::lower_bound(starts.begin(), starts.end(), it.span.startNs) - starts.begin());
        it.lastKernel = static_cast<size_t>(std::lower_bound(starts.begin(), starts.end(), it.span.endNs) - starts.begin());
    }
}

// ---- markers ------------------------------------------------------------------

IterationSet fromMarkers(const TraceModel& m, const std::vector<format::Phase>& markers, IterationSource source) {
    IterationSet set;
    set.source = source;
    bool hasStepMarkers = false;
    for (const auto& p : markers) hasStepMarkers |= p.kind == PhaseKind::StepBegin;

    bool open = false;
    int currentPhase = -1;
    uint64_t recomputeBeginNs = 0;
    bool inRecompute = false;
    auto endPhase = [&](uint64_t t) {
        if (open && currentPhase >= 0) set.iterations.back().phases[static_cast<size_t>(currentPhase)].endNs = t;
        currentPhase = -1;
    };
    auto close = [&](uint64_t t) {
        if (!open) return;
        endPhase(t);
        set.iterations.back().span.endNs = t;
        open = false;
    };
    auto begin = [&](uint64_t t, uint64_t step) {
        close(t);
        set.iterations.emplace_back();
        set.iterations.back().span.startNs = t;
        set.iterations.back().step = step;
        open = true;
    };
    auto beginPhase = [&](PhaseName phase, uint64_t t) {
        endPhase(t);
        auto& span = set.iterations.back().phases[static_cast<size_t>(phase)];
        if (!span.valid() && span.startNs == 0) span.startNs = t;  // gradient accumulation: keep the first
        currentPhase = static_cast<int>(phase);
    };
    for (const auto& p : markers) {
        const uint64_t t = p.timestampNs;
        switch (p.kind) {
        case PhaseKind::StepBegin: begin(t, p.step); break;
        case PhaseKind::ForwardBegin:
            if (!open) begin(t, p.step);
            else if (!hasStepMarkers && (set.iterations.back().phases[1].startNs || set.iterations.back().phases[2].startNs))
                begin(t, p.step);  // no step markers: a forward after a backward starts the next step
            beginPhase(PhaseName::Forward, t);
            break;
        case PhaseKind::BackwardBegin:
            if (!open) begin(t, p.step);
            beginPhase(PhaseName::Backward, t);
            break;
        case PhaseKind::OptimizerBegin:
            if (!open) begin(t, p.step);
            beginPhase(PhaseName::Optimizer, t);
            break;
        case PhaseKind::StepEnd: close(t + 1); break;  // events stamped with the marker's ns belong to the step
        case PhaseKind::RecomputeBegin:
            recomputeBeginNs = t;
            inRecompute = true;
            break;
        case PhaseKind::RecomputeEnd:
            if (inRecompute && open) set.iterations.back().recomputes.push_back({recomputeBeginNs, t});
            inRecompute = false;
            break;
        default: break;  // regions
        }
    }
    close(std::max(m.lastNs, set.iterations.empty() ? 0 : set.iterations.back().span.startNs + 1));
    // Phases whose end never came end with their iteration.
    for (auto& it : set.iterations)
        for (auto& ph : it.phases)
            if (ph.startNs && ph.endNs < ph.startNs) ph.endNs = it.span.endNs;
    set.iterations.erase(std::remove_if(set.iterations.begin(), set.iterations.end(),
                                        [](const Iteration& i) { return !i.span.valid(); }),
                         set.iterations.end());
    assignKernels(m, set);
    return set;
}

// ---- NVTX ranges ------------------------------------------------------------------

// What a range name says about training, by the names people and frameworks
// use: "step"/"train_step"/"iteration N", "forward", "backward",
// "optimizer"/"optimizer.step", "recompute"/"checkpoint".
enum class RangeRole { None, Step, Forward, Backward, Optimizer, Recompute };

RangeRole roleOf(std::string_view name) {
    std::string n;
    for (char ch : name.substr(0, 64)) n += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto startsWithWord = [&](std::string_view word) {
        return n.compare(0, word.size(), word) == 0 && (n.size() == word.size() || !std::isalpha(static_cast<unsigned char>(n[word.size()])));
    };
    for (std::string_view w : {"step", "train_step", "training_step", "train step", "iteration", "iter", "train_iter"})
        if (startsWithWord(w)) return RangeRole::Step;
    for (std::string_view w : {"forward", "fwd"})
        if (startsWithWord(w)) return RangeRole::Forward;
    for (std::string_view w : {"backward", "bwd"})
        if (startsWithWord(w)) return RangeRole::Backward;
    for (std::string_view w : {"optimizer", "optim", "optimizer_step"})
        if (startsWithWord(w)) return RangeRole::Optimizer;
    for (std::string_view w : {"recompute", "checkpoint"})
        if (startsWithWord(w)) return RangeRole::Recompute;
    return RangeRole::None;
}

// Phase markers equivalent to the training ranges, in time order.
std::vector<format::Phase> markersFromRanges(const TraceModel& m) {
    std::vector<format::Phase> markers;
    std::unordered_map<uint32_t, RangeRole> roles;  // per name id
    uint64_t step = 0;
    for (size_t i = 0; i < m.ranges.size(); ++i) {
        auto [it, added] = roles.try_emplace(m.ranges.nameId[i], RangeRole::None);
        if (added) it->second = roleOf(m.text(m.ranges.nameId[i]));
        const uint64_t start = m.ranges.startNs[i], end = m.ranges.endNs[i];
        switch (it->second) {
        case RangeRole::Step:
            markers.push_back({start, PhaseKind::StepBegin, step, 0});
            markers.push_back({end, PhaseKind::StepEnd, step++, 0});
            break;
        case RangeRole::Forward: markers.push_back({start, PhaseKind::ForwardBegin, step, 0}); break;
        case RangeRole::Backward: markers.push_back({start, PhaseKind::BackwardBegin, step, 0}); break;
        case RangeRole::Optimizer: markers.push_back({start, PhaseKind::OptimizerBegin, step, 0}); break;
        case RangeRole::Recompute:
            markers.push_back({start, PhaseKind::RecomputeBegin, step, 0});
            markers.push_back({end, PhaseKind::RecomputeEnd, step, 0});
            break;
        case RangeRole::None: break;
        }
    }
    // Ranges are stored when they close (a step after its phases): sort by
    // time, a step's begin before a phase beginning at the same time.
    std::stable_sort(markers.begin(), markers.end(), [](const format::Phase& a, const format::Phase& b) {
        if (a.timestampNs != b.timestampNs) return a.timestampNs < b.timestampNs;
        return (a.kind == PhaseKind::StepBegin) > (b.kind == PhaseKind::StepBegin);
    });
    return markers;
}

// ---- kernel pattern -----------------------------------------------------------

// Fraction of positions i where seq[i] == seq[i + period] (sampled).
double periodMatch(const std::vector<uint32_t>& seq, size_t period, size_t samples) {
    const size_t n = seq.size();
    if (period == 0 || period * 2 > n) return 0;
    const size_t positions = n - period;
    const size_t stride = std::max<size_t>(1, positions / samples);
    size_t same = 0, total = 0;
    for (size_t i = 0; i < positions; i += stride, ++total) same += seq[i] == seq[i + period];
    return total ? static_cast<double>(same) / static_cast<double>(total) : 0;
}

// The smallest period whose shifted sequence matches itself (>= 97%, or the
// best >= 90%): candidates are the distances from a probe window to its
// next occurrences.
size_t findPeriod(const std::vector<uint32_t>& seq) {
    const size_t n = seq.size();
    const size_t window = std::min<size_t>(32, n / 4);
    if (window < 2) return 0;
    size_t best = 0;
    double bestMatch = 0.9;
    for (size_t probe : {n / 3, size_t(0)}) {
        if (probe + window > n) continue;
        size_t candidates = 0;
        for (size_t j = probe + 1; j + window <= n && candidates < 4000; ++j) {
            if (!std::equal(seq.begin() + static_cast<std::ptrdiff_t>(probe),
                            seq.begin() + static_cast<std::ptrdiff_t>(probe + window),
                            seq.begin() + static_cast<std::ptrdiff_t>(j)))
                continue;
            ++candidates;
            const size_t period = j - probe;
            if (period * 2 > n) break;
            // A coarse look first: most candidates fail it, and it bounds the cost.
            if (periodMatch(seq, period, 4096) < 0.85) continue;
            const double match = periodMatch(seq, period, 200000);
            if (match >= 0.97) return period;
            if (match > bestMatch) {
                bestMatch = match;
                best = period;
            }
        }
        if (best) return best;
    }
    return best;
}

// Within (fromNs, toNs): the middle of the longest quiet stretch between
// host-side events (allocations, copies). Steps are separated by host work,
// while inside a step allocations follow kernels closely.
uint64_t quietestPoint(const TraceModel& m, uint64_t fromNs, uint64_t toNs) {
    if (toNs <= fromNs + 1) return toNs;
    // Busy intervals: allocation events are instants, copies last a while.
    std::vector<std::pair<uint64_t, uint64_t>> busy{{fromNs, fromNs}, {toNs, toNs}};
    const auto& curve = m.allocated.timesNs();
    for (auto it = std::upper_bound(curve.begin(), curve.end(), fromNs); it != curve.end() && *it < toNs; ++it)
        busy.emplace_back(*it, *it);
    const auto& copies = m.memcpys.startNs;
    for (auto it = std::upper_bound(copies.begin(), copies.end(), fromNs); it != copies.end() && *it < toNs; ++it)
        busy.emplace_back(*it, std::min(toNs, m.memcpys.endNs(static_cast<size_t>(it - copies.begin()))));
    std::sort(busy.begin(), busy.end());
    uint64_t bestGap = 0, at = toNs, busyUntil = busy.front().second;
    for (size_t i = 1; i < busy.size(); ++i) {
        if (busy[i].first > busyUntil && busy[i].first - busyUntil > bestGap) {
            bestGap = busy[i].first - busyUntil;
            at = busyUntil + bestGap / 2;
        }
        busyUntil = std::max(busyUntil, busy[i].second);
    }
    return at;
}

// The host events (allocation changes, copy starts) inside a kernel gap.
struct HostGap {
    uint64_t fromNs = 0, toNs = 0;
    std::vector<uint64_t> instants;  // sorted, inside (fromNs, toNs)
    size_t eventsBefore(uint64_t t) const {
        return static_cast<size_t>(std::lower_bound(instants.begin(), instants.end(), t) - instants.begin());
    }
    // A time between event index-1 and event index (the gap's ends outside).
    uint64_t splitAt(size_t index) const {
        const uint64_t a = index == 0 ? fromNs : instants[index - 1];
        const uint64_t b = index == instants.size() ? toNs : instants[index];
        return a + (b - a + 1) / 2;
    }
};

HostGap hostGap(const TraceModel& m, uint64_t fromNs, uint64_t toNs) {
    HostGap g{fromNs, std::max(fromNs, toNs), {}};
    const auto& curve = m.allocated.timesNs();
    for (auto it = std::upper_bound(curve.begin(), curve.end(), fromNs); it != curve.end() && *it < toNs; ++it)
        g.instants.push_back(*it);
    const auto& copies = m.memcpys.startNs;
    for (auto it = std::upper_bound(copies.begin(), copies.end(), fromNs); it != copies.end() && *it < toNs; ++it)
        g.instants.push_back(*it);
    std::sort(g.instants.begin(), g.instants.end());
    return g;
}

// Phases of an inferred iteration: backward starts after the last kernel
// that ends before the allocated peak (the loss: activations are all live);
// the optimizer is the trailing run of kernels that never ran in forward.
void inferPhases(const TraceModel& m, Iteration& it) {
    const auto& k = m.kernels;
    if (it.firstKernel >= it.lastKernel) return;
    const auto peak = m.allocated.peakIn(it.span.startNs, it.span.endNs);
    size_t lastForward = it.firstKernel;  // last kernel ending at or before the peak
    bool any = false;
    for (size_t i = it.firstKernel; i < it.lastKernel; ++i) {
        if (k.endNs(i) <= peak.timeNs) {
            lastForward = i;
            any = true;
        }
    }
    if (!any || m.allocated.empty()) return;
    const uint64_t backwardStart = k.endNs(lastForward);
    std::unordered_set<uint32_t> forwardNames;
    for (size_t i = it.firstKernel; i <= lastForward; ++i) forwardNames.insert(k.nameId[i]);
    size_t firstOptimizer = it.lastKernel;
    while (firstOptimizer > lastForward + 1 && !forwardNames.count(k.nameId[firstOptimizer - 1])) --firstOptimizer;
    it.phases[0] = {it.span.startNs, backwardStart};
    if (firstOptimizer < it.lastKernel && firstOptimizer > lastForward + 1) {
        const uint64_t optimizerStart = k.endNs(firstOptimizer - 1);
        it.phases[1] = {backwardStart, optimizerStart};
        it.phases[2] = {optimizerStart, it.span.endNs};
    } else {
        it.phases[1] = {backwardStart, it.span.endNs};
    }
}

IterationSet fromKernelPattern(const TraceModel& m) {
    IterationSet set;
    const auto& k = m.kernels;
    const size_t n = k.size();
    const size_t period = findPeriod(k.nameId);
    if (period == 0) return set;

    // Steps begin after the longest launch gap of the cycle (host work between steps).
    std::vector<double> gapSum(period, 0);
    std::vector<uint32_t> gapCount(period, 0);
    for (size_t i = 1; i < n; ++i) {
        const uint64_t end = k.endNs(i - 1);
        gapSum[i % period] += static_cast<double>(k.startNs[i] > end ? k.startNs[i] - end : 0);
        ++gapCount[i % period];
    }
    size_t offset = 0;
    double widest = -1;
    for (size_t o = 0; o < period; ++o) {
        const double mean = gapCount[o] ? gapSum[o] / gapCount[o] : 0;
        if (mean > widest) {
            widest = mean;
            offset = o;
        }
    }
    // The reference cycle: one from the middle of the run.
    const size_t cycles = (n - offset) / period;
    if (cycles < 2) return set;
    const size_t reference = offset + (cycles / 2) * period;
    std::vector<size_t> starts;
    for (size_t c = 0; c < cycles; ++c) {
        const size_t first = offset + c * period;
        size_t same = 0;
        for (size_t i = 0; i < period; ++i) same += k.nameId[first + i] == k.nameId[reference + i];
        if (same * 2 >= period) starts.push_back(first);  // warm-up or stray cycles do not count
    }
    if (starts.size() < 2) return set;
    set.source = IterationSource::KernelPattern;
    set.phasesInferred = true;
    set.kernelsPerIteration = static_cast<uint32_t>(period);
    // Where in the gap before its first kernel does each step begin? The
    // quietest stretch is a good guess, but host timing is noisy; the number
    // of host events (allocations, copies) on either side of it is not. Take
    // the most common split and apply it to every gap, so that what a step
    // does at its end (or start) lands in the same step every time.
    std::vector<HostGap> gaps;
    for (size_t first : starts) gaps.push_back(hostGap(m, first == 0 ? m.firstNs : k.endNs(first - 1), k.startNs[first]));
    std::map<size_t, size_t> beforeVotes, afterVotes;
    for (size_t c = 1; c < gaps.size(); ++c) {
        const size_t before = gaps[c].eventsBefore(quietestPoint(m, gaps[c].fromNs, gaps[c].toNs));
        ++beforeVotes[before];
        ++afterVotes[gaps[c].instants.size() - before];
    }
    auto mode = [](const std::map<size_t, size_t>& votes) {
        size_t best = 0, count = 0;
        for (const auto& [value, n] : votes)
            if (n > count) best = value, count = n;
        return best;
    };
    const size_t before = mode(beforeVotes), after = mode(afterVotes);
    for (size_t c = 0; c < starts.size(); ++c) {
        const HostGap& g = gaps[c];
        Iteration it;
        it.step = c;
        if (c == 0 && g.instants.size() >= after) it.span.startNs = g.splitAt(g.instants.size() - after);  // after setup work
        else if (c > 0 && g.instants.size() == before + after) it.span.startNs = g.splitAt(before);
        else it.span.startNs = quietestPoint(m, g.fromNs, g.toNs);
        set.iterations.push_back(it);
    }
    for (size_t c = 0; c < starts.size(); ++c) {
        const size_t last = starts[c] + period;  // one past this iteration's kernels
        uint64_t end;
        if (c + 1 < starts.size() && starts[c + 1] == last) end = set.iterations[c + 1].span.startNs;
        else if (last < n) end = quietestPoint(m, k.endNs(last - 1), k.startNs[last]);
        else end = std::max(m.lastNs + 1, k.endNs(last - 1));
        set.iterations[c].span.endNs = end;
    }
    assignKernels(m, set);
    for (auto& it : set.iterations) inferPhases(m, it);
    return set;
}

// ---- memory pattern -------------------------------------------------------------

// Each rise of the allocated curve from near its floor to above half its
// swing is one iteration; it begins at the last floor point before the rise.
IterationSet fromMemoryPattern(const TraceModel& m) {
    IterationSet set;
    const auto& times = m.allocated.timesNs();
    const auto& values = m.allocated.values();
    if (values.size() < 8) return set;
    const uint64_t skipNs = m.allocated.firstNs() + (m.allocated.lastNs() - m.allocated.firstNs()) / 10;
    const auto range = m.allocated.minMaxIn(skipNs, m.allocated.lastNs() + 1);
    if (range.maxBytes <= range.minBytes) return set;
    const uint64_t swing = range.maxBytes - range.minBytes;
    const uint64_t low = range.minBytes + swing / 10, high = range.minBytes + swing / 2;
    bool armed = false;
    uint64_t lastLowNs = times.front();
    std::vector<uint64_t> starts;
    for (size_t i = 0; i < values.size(); ++i) {
        if (values[i] <= low) {
            armed = true;
            lastLowNs = times[i];
        } else if (armed && values[i] >= high) {
            starts.push_back(lastLowNs);
            armed = false;
        }
    }
    if (starts.size() < 2) return set;
    set.source = IterationSource::MemoryPattern;
    set.phasesInferred = true;
    for (size_t i = 0; i < starts.size(); ++i) {
        Iteration it;
        it.step = i;
        it.span = {starts[i], i + 1 < starts.size() ? starts[i + 1] : std::max(m.lastNs + 1, starts[i] + 1)};
        set.iterations.push_back(it);
    }
    assignKernels(m, set);
    for (auto& it : set.iterations) inferPhases(m, it);
    return set;
}

// ---- are inferred phases a training step's? ---------------------------------------

bool containsWord(const std::string& lowerName, std::initializer_list<std::string_view> words) {
    for (std::string_view w : words)
        if (lowerName.find(w) != std::string::npos) return true;
    return false;
}

// Phases inferred from the kernel pattern split each step at its allocated
// peak and call the trailing new kernels the optimizer. That shape is not
// evidence of training: any loop that allocates scratch memory and frees it
// rises and falls, and a plain CUDA program's phases were shown as forward,
// backward, optimizer. Kernel names are: cuDNN and PyTorch name their
// gradient kernels (dgrad, wgrad, *_backward_*), optimizers theirs
// (multi_tensor_apply over adam, sgd). One such kernel in the phase of that
// name, in any iteration, is enough.
void judgeTrainingPhases(const TraceModel& m, IterationSet& set) {
    set.trainingPhases = false;
    set.phaseEvidence = "no phase markers, no NVTX step names and no backward or optimizer kernel names";
    std::unordered_map<uint32_t, int> roleOfName;  // nameId → 1 backward, 2 optimizer, 0 neither
    auto roleOf = [&](uint32_t nameId) {
        auto [it, added] = roleOfName.try_emplace(nameId, 0);
        if (added) {
            std::string n = m.text(nameId).substr(0, 512);
            for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            // C++ lambdas in template arguments ({lambda(float, float)#1}) are not LAMB.
            for (size_t at; (at = n.find("lambda")) != std::string::npos;) n.erase(at, 6);
            if (containsWord(n, {"backward", "bwd", "dgrad", "wgrad", "grad_input", "grad_weight", "gradinput", "gradweight"}))
                it->second = 1;
            else if (containsWord(n, {"adam", "sgd", "optimizer", "lamb", "adagrad", "rmsprop", "lion"}))
                it->second = 2;
        }
        return it->second;
    };
    const auto& k = m.kernels;
    // Without inferred phases (memory that does not rise and fall, as a
    // caching allocator's segments at driver level) any such kernel will do.
    bool anyPhase = false;
    for (const Iteration& it : set.iterations)
        for (const TimeSpan& p : it.phases) anyPhase = anyPhase || p.valid();
    for (size_t n = 0; n < set.iterations.size(); ++n) {
        const Iteration& it = set.iterations[n];
        for (size_t i = it.firstKernel; i < it.lastKernel; ++i) {
            const int role = roleOf(k.nameId[i]);
            if (!role || (anyPhase && set.phaseAt(n, k.startNs[i]) != role)) continue;
            set.trainingPhases = true;
            const char* what = role == 1 ? "a backward kernel" : "an optimizer kernel";
            const char* where = !anyPhase ? "" : role == 1 ? " in phase 2" : " in phase 3";
            set.phaseEvidence = std::string(what) + where + ": " + m.text(k.nameId[i]).substr(0, 80);
            return;
        }
    }
}

}  // namespace

IterationSet detectIterations(const TraceModel& m) {
    bool markers = false, fromFrames = false;
    for (const auto& p : m.phases) {
        if (p.kind != PhaseKind::StepBegin && p.kind != PhaseKind::ForwardBegin) continue;
        markers = true;
        fromFrames |= p.nameId && m.text(p.nameId) == format::kPhasesFromStackFrames;
    }
    if (markers) {
        IterationSet set = fromMarkers(m, m.phases, fromFrames ? IterationSource::StackFrames : IterationSource::Markers);
        set.phasesInferred = fromFrames;
        set.phaseEvidence = fromFrames ? "the allocations' stack frames: module calls, the autograd engine, torch/optim"
                                       : "phase markers from the framework's hooks";
        if (!set.iterations.empty()) return set;
    }
    const std::vector<format::Phase> fromRanges = markersFromRanges(m);
    bool rangeMarkers = false;
    for (const auto& p : fromRanges) rangeMarkers |= p.kind == PhaseKind::StepBegin || p.kind == PhaseKind::ForwardBegin;
    if (rangeMarkers) {
        IterationSet set = fromMarkers(m, fromRanges, IterationSource::Ranges);
        set.phaseEvidence = "NVTX ranges named like training steps";
        if (!set.iterations.empty()) return set;
    }
    IterationSet set = fromKernelPattern(m);
    if (set.iterations.empty()) set = fromMemoryPattern(m);
    judgeTrainingPhases(m, set);
    return set;
}

}  // namespace vramscope::analysis
