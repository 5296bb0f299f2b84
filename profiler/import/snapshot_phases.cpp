// Steps and phases from snapshot stack frames; see snapshot_phases.h.
#include "snapshot_phases.h"

#include <algorithm>
#include <string_view>

namespace vramscope::import {

namespace {

bool endsWith(std::string_view text, std::string_view tail) {
    return text.size() >= tail.size() && text.substr(text.size() - tail.size()) == tail;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Frame file and function names as torch 2.1-2.11 write them: Python files
// are absolute paths (.../site-packages/torch/optim/adam.py), C++ frames
// carry the demangled function (stacks="all").
FrameRole roleOfFrame(std::string_view file, std::string_view function) {
    if (contains(file, "torch/optim/")) return FrameRole::Optimizer;
    if (endsWith(file, "torch/autograd/__init__.py") && (function == "backward" || function == "grad"))
        return FrameRole::Backward;
    if (endsWith(file, "torch/autograd/graph.py") && function == "_engine_run_backward") return FrameRole::Backward;
    if (endsWith(file, "torch/_tensor.py") && function == "backward") return FrameRole::Backward;
    // Activation checkpointing re-runs module forwards inside backward: the
    // recompute hooks (non-reentrant) or CheckpointFunction.backward (reentrant).
    if (endsWith(file, "torch/utils/checkpoint.py") &&
        (function == "unpack_hook" || function == "recompute_fn" || function == "backward"))
        return FrameRole::Backward;
    if (contains(function, "torch::autograd::Engine::") ||
        (contains(function, "torch::autograd::generated::") && contains(function, "Backward")))
        return FrameRole::Backward;
    if (endsWith(file, "torch/nn/modules/module.py") && (function == "_call_impl" || function == "_wrapped_call_impl"))
        return FrameRole::Forward;
    if (function == "forward" && endsWith(file, ".py")) return FrameRole::Forward;  // a model's own forward
    return FrameRole::None;
}

struct Step {
    uint64_t forwardNs = 0, backwardNs = 0, optimizerNs = 0, endNs = 0;
    bool hasBackward = false, hasOptimizer = false, endKnown = false;
};

struct Evidence {
    uint64_t ns = 0;
    FrameRole role = FrameRole::None;
    uint64_t endNs = 0;  // optimizer ranges: where the step ends
    bool range = false;
};

// Gradient accumulation: several forward/backward pairs per optimizer step.
// Seen when optimizer steps occur through the whole run (not only the first
// step, where a fused optimizer creates its state) and some steps lack one.
bool accumulates(const std::vector<Step>& steps) {
    size_t withOptimizer = 0, lastOptimizer = 0, withoutBefore = 0;
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].hasOptimizer) ++withOptimizer, lastOptimizer = i;
    for (size_t i = 0; i < lastOptimizer; ++i) withoutBefore += !steps[i].hasOptimizer;
    return withOptimizer >= 2 && lastOptimizer * 2 >= steps.size() && withoutBefore > 0;
}

std::vector<Step> mergeUpToOptimizer(const std::vector<Step>& steps) {
    std::vector<Step> merged;
    bool open = false;
    for (const Step& s : steps) {
        if (!open) {
            merged.push_back(s);
            open = true;
        } else {
            Step& g = merged.back();
            if (!g.hasBackward && s.hasBackward) g.backwardNs = s.backwardNs, g.hasBackward = true;
            if (s.hasOptimizer) g.optimizerNs = s.optimizerNs, g.hasOptimizer = true;
            g.endNs = s.endNs;
            g.endKnown = s.endKnown;
        }
        if (s.hasOptimizer) open = false;
    }
    return merged;
}

}  // namespace

FrameRole FrameRoles::of(PickleValue frames) {
    if (!frames.isSequence() || frames.size() == 0) return FrameRole::None;
    auto cached = byFramesValue_.find(frames.index());
    if (cached != byFramesValue_.end()) return cached->second;
    // Optimizer over backward over forward: an optimizer step runs inside no
    // backward, while backward can re-run module forwards (checkpointing).
    FrameRole role = FrameRole::None;
    for (size_t i = 0; i < frames.size() && role != FrameRole::Optimizer; ++i) {
        const PickleValue f = frames.at(i);
        if (!f.isDict()) continue;
        const FrameRole r = roleOfFrame(f.get("filename").text(), f.get("name").text());
        if (static_cast<int>(r) > static_cast<int>(role)) role = r;
    }
    byFramesValue_.emplace(frames.index(), role);
    return role;
}

std::vector<format::Phase> phasesFromFrames(std::vector<TimedRole> allocations, std::vector<OptimizerRange> optimizerRanges,
                                            uint32_t phaseNameId) {
    std::vector<Evidence> evidence;
    for (const TimedRole& a : allocations)
        if (a.role != FrameRole::None) evidence.push_back({a.ns, a.role, 0, false});
    for (const OptimizerRange& r : optimizerRanges) evidence.push_back({r.startNs, FrameRole::Optimizer, r.endNs, true});
    std::stable_sort(evidence.begin(), evidence.end(), [](const Evidence& a, const Evidence& b) { return a.ns < b.ns; });

    std::vector<Step> steps;
    FrameRole last = FrameRole::None;
    for (const Evidence& e : evidence) {
        if (e.role == FrameRole::Forward) {
            if (steps.empty() || last == FrameRole::Backward || last == FrameRole::Optimizer) steps.push_back({e.ns});
        } else if (steps.empty()) {
            continue;  // recording began inside a step: start at the first forward
        } else if (e.role == FrameRole::Backward) {
            Step& s = steps.back();
            if (!s.hasBackward) s.backwardNs = e.ns, s.hasBackward = true;
        } else {
            Step& s = steps.back();
            if (!s.hasOptimizer) s.optimizerNs = e.ns, s.hasOptimizer = true;
            if (e.range) s.endNs = std::max(s.endNs, e.endNs), s.endKnown = true;
        }
        last = e.role;
    }
    if (accumulates(steps)) steps = mergeUpToOptimizer(steps);
    // A forward followed by a backward or an optimizer step is training; a
    // forward alone (inference, evaluation) is not.
    size_t training = 0;
    for (const Step& s : steps) training += s.hasBackward || s.hasOptimizer;
    if (training < 2) return {};

    std::vector<format::Phase> markers;
    for (size_t i = 0; i < steps.size(); ++i) {
        const Step& s = steps[i];
        markers.push_back({s.forwardNs, format::PhaseKind::StepBegin, i, phaseNameId});
        markers.push_back({s.forwardNs, format::PhaseKind::ForwardBegin, i, phaseNameId});
        if (s.hasBackward) markers.push_back({s.backwardNs, format::PhaseKind::BackwardBegin, i, phaseNameId});
        if (s.hasOptimizer) markers.push_back({s.optimizerNs, format::PhaseKind::OptimizerBegin, i, phaseNameId});
        const bool endsBeforeNext = i + 1 == steps.size() || s.endNs < steps[i + 1].forwardNs;
        if (s.endKnown && endsBeforeNext) markers.push_back({s.endNs, format::PhaseKind::StepEnd, i, phaseNameId});
    }
    return markers;
}

}  // namespace vramscope::import
