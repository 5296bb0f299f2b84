#include "trace_document.h"

#include "model/model_builder.h"

#include <QFileInfo>

#include <algorithm>
#include <map>

namespace vramscope::app {

using format::PhaseKind;

void buildPhaseSpans(TraceDocument& doc) {
    doc.phases.clear();
    doc.iterationStartsNs.clear();
    const auto& markers = doc.model.phases;
    // Open spans: the current phase and an optional recompute inside backward.
    bool open = false, recomputeOpen = false;
    PhaseSpan current, recompute;
    auto close = [&](uint64_t t) {
        if (open && t >= current.startNs) {
            current.endNs = t;
            doc.phases.push_back(current);
        }
        open = false;
    };
    uint32_t iteration = 0;
    for (const auto& p : markers) {
        switch (p.kind) {
        case PhaseKind::StepBegin:
            close(p.timestampNs);
            iteration = uint32_t(doc.iterationStartsNs.size());
            doc.iterationStartsNs.push_back(p.timestampNs);
            break;
        case PhaseKind::ForwardBegin:
        case PhaseKind::BackwardBegin:
        case PhaseKind::OptimizerBegin:
            close(p.timestampNs);
            if (doc.iterationStartsNs.empty()) doc.iterationStartsNs.push_back(p.timestampNs);
            open = true;
            current.startNs = p.timestampNs;
            current.kind = p.kind == PhaseKind::ForwardBegin    ? PhaseSpanKind::Forward
                           : p.kind == PhaseKind::BackwardBegin ? PhaseSpanKind::Backward
                                                                : PhaseSpanKind::Optimizer;
            current.iteration = iteration;
            break;
        case PhaseKind::StepEnd: close(p.timestampNs); break;
        case PhaseKind::RecomputeBegin:
            recomputeOpen = true;
            recompute.startNs = p.timestampNs;
            recompute.kind = PhaseSpanKind::Recompute;
            recompute.iteration = iteration;
            break;
        case PhaseKind::RecomputeEnd:
            if (recomputeOpen && p.timestampNs >= recompute.startNs) {
                recompute.endNs = p.timestampNs;
                doc.phases.push_back(recompute);
            }
            recomputeOpen = false;
            break;
        default: break;
        }
    }
    close(doc.model.lastNs);
    std::stable_sort(doc.phases.begin(), doc.phases.end(),
                     [](const PhaseSpan& a, const PhaseSpan& b) { return a.startNs < b.startNs; });
}

static void buildStreams(TraceDocument& doc) {
    const auto& k = doc.model.kernels;
    std::map<uint32_t, size_t> slot;
    for (size_t i = 0; i < k.size(); ++i) {
        auto [it, added] = slot.try_emplace(k.streamId[i], doc.streams.size());
        if (added) doc.streams.push_back({k.streamId[i], {}, 0});
        auto& s = doc.streams[it->second];
        s.kernels.push_back(uint32_t(i));  // model kernels are sorted by start
        s.busyNs += k.durationNs[i];
    }
    std::sort(doc.streams.begin(), doc.streams.end(),
              [](const StreamKernels& a, const StreamKernels& b) { return a.streamId < b.streamId; });
}

static void buildRanges(TraceDocument& doc) {
    const auto& r = doc.model.ranges;
    constexpr size_t kMaxDepth = 6;  // deeper ranges fold into the last row
    for (size_t i = 0; i < r.size(); ++i) {
        size_t d = std::min<size_t>(r.depth[i], kMaxDepth - 1);
        if (doc.rangesByDepth.size() <= d) {
            doc.rangesByDepth.resize(d + 1);
            doc.rangeMaxDurationByDepth.resize(d + 1, 0);
        }
        doc.rangesByDepth[d].push_back(uint32_t(i));
        doc.rangeMaxDurationByDepth[d] =
            std::max(doc.rangeMaxDurationByDepth[d], r.endNs[i] > r.startNs[i] ? r.endNs[i] - r.startNs[i] : 0);
    }
    for (auto& list : doc.rangesByDepth)
        std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) { return r.startNs[a] < r.startNs[b]; });
}

std::shared_ptr<TraceDocument> loadDocument(const QString& path, const std::function<void(double)>& progress,
                                            const std::atomic<bool>* cancel, QString* error) {
    auto doc = std::make_shared<TraceDocument>();
    doc->path = path;
    doc->displayName = QFileInfo(path).fileName();
    format::LoadOptions options;
    options.progress = [&](size_t done, size_t total) {
        if (progress && total) progress(0.9 * double(done) / double(total));
        return !(cancel && cancel->load());
    };
    std::string message;
    if (!model::loadModel(path.toStdString(), doc->model, options, &message)) {
        if (error) *error = QString::fromStdString(message);
        return nullptr;
    }
    buildStreams(*doc);
    buildRanges(*doc);
    buildPhaseSpans(*doc);
    QStringList problems;
    for (const auto& p : doc->model.problems) problems << QString::fromStdString(p.message);
    if (!problems.isEmpty()) doc->warning = problems.join("\n");
    if (progress) progress(1.0);
    return doc;
}

}  // namespace vramscope::app
