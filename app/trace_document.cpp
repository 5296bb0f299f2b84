#include "trace_document.h"

#include "import/trace_source.h"
#include "model/model_builder.h"

#include <QFileInfo>

#include <algorithm>
#include <map>

namespace vramscope::app {

void buildPhaseSpans(TraceDocument& doc) {
    doc.phases.clear();
    doc.iterationStartsNs.clear();
    const auto& iterations = doc.summary.iterations.iterations;
    static constexpr PhaseSpanKind kinds[analysis::kPhaseCount] = {PhaseSpanKind::Forward, PhaseSpanKind::Backward,
                                                                   PhaseSpanKind::Optimizer};
    for (size_t i = 0; i < iterations.size(); ++i) {
        const auto& it = iterations[i];
        doc.iterationStartsNs.push_back(it.span.startNs);
        bool any = false;
        for (int p = 0; p < analysis::kPhaseCount; ++p) {
            if (!it.phases[size_t(p)].valid()) continue;
            const auto& classes = doc.summary.boundness.iterations;
            const analysis::Bound bound = i < classes.size() ? classes[i].phases[size_t(p)].bound : analysis::Bound::Unknown;
            doc.phases.push_back({it.phases[size_t(p)].startNs, it.phases[size_t(p)].endNs, kinds[p], uint32_t(i),
                                  int8_t(p), bound});
            any = true;
        }
        if (!any) doc.phases.push_back({it.span.startNs, it.span.endNs, PhaseSpanKind::Step, uint32_t(i)});
        for (const auto& r : it.recomputes) doc.phases.push_back({r.startNs, r.endNs, PhaseSpanKind::Recompute, uint32_t(i)});
    }
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
    constexpr size_t kNvtxRows = 4, kRegionRows = 2;  // deeper ranges fold into the last row of their kind
    size_t nvtxRows = 0;
    uint16_t regionBase = UINT16_MAX;  // the model's depth of an outermost region
    for (size_t i = 0; i < r.size(); ++i) {
        if (r.domainId[i] == model::TraceModel::kRegionDomain)
            regionBase = std::min(regionBase, r.depth[i]);
        else
            nvtxRows = std::max(nvtxRows, std::min<size_t>(r.depth[i], kNvtxRows - 1) + 1);
    }
    if (regionBase != UINT16_MAX) doc.firstRegionRow = nvtxRows;
    for (size_t i = 0; i < r.size(); ++i) {
        const bool region = r.domainId[i] == model::TraceModel::kRegionDomain;
        const size_t d = region ? nvtxRows + std::min<size_t>(r.depth[i] - regionBase, kRegionRows - 1)
                                : std::min<size_t>(r.depth[i], kNvtxRows - 1);
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
    import::TraceSource source;  // PyTorch snapshots are imported to a temporary trace first
    if (!source.open(path.toStdString(), &message)) {
        if (error) *error = QString::fromStdString(message);
        return nullptr;
    }
    doc->importedFromSnapshot = source.imported();
    if (!model::loadModel(source.tracePath(), doc->model, options, &message)) {
        if (error) *error = QString::fromStdString(message);
        return nullptr;
    }
    if (cancel && cancel->load()) return nullptr;
    buildStreams(*doc);
    buildRanges(*doc);
    doc->summary = analysis::summarize(doc->model);
    if (progress) progress(0.95);
    doc->categoryCurves = analysis::buildCategoryCurves(doc->model, doc->summary.categories);
    buildPhaseSpans(*doc);
    QStringList problems;
    for (const auto& p : doc->model.problems) problems << QString::fromStdString(p.message);
    if (!problems.isEmpty()) doc->warning = problems.join("\n");
    if (progress) progress(1.0);
    return doc;
}

}  // namespace vramscope::app
