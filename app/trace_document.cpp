#include "trace_document.h"

#include "cli/path_bytes.h"
#include "import/trace_source.h"
#include "model/model_builder.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>

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

namespace {

// Kernels from `from` on into their stream's row (streams by id, each row by
// start, which is kernel order): a stream's entries from `from` on are its tail.
void updateStreams(TraceDocument& doc, size_t from) {
    const auto& k = doc.model.kernels;
    for (auto& s : doc.streams)
        s.kernels.erase(std::lower_bound(s.kernels.begin(), s.kernels.end(), uint32_t(std::min<size_t>(from, UINT32_MAX))),
                        s.kernels.end());
    uint32_t lastStream = UINT32_MAX;
    size_t row = 0;
    for (size_t i = from; i < k.size(); ++i) {
        if (k.streamId[i] != lastStream || row >= doc.streams.size() || doc.streams[row].streamId != lastStream) {
            lastStream = k.streamId[i];
            auto it = std::lower_bound(doc.streams.begin(), doc.streams.end(), lastStream,
                                       [](const StreamKernels& s, uint32_t id) { return s.streamId < id; });
            if (it == doc.streams.end() || it->streamId != lastStream) it = doc.streams.insert(it, {lastStream, {}});
            row = size_t(it - doc.streams.begin());
        }
        doc.streams[row].kernels.push_back(uint32_t(i));
    }
}

constexpr size_t kNvtxRows = 4, kRegionRows = 2;  // deeper ranges fold into the last row of their kind

// Range rows: NVTX ranges by depth (at most 4 rows), then the user's regions
// by nesting (at most 2 rows) from firstRegionRow, each row by start. NVTX
// ranges only ever join (a live model appends them, in file order); region
// rows are rebuilt whenever a range changes, there are few of them.
void updateRanges(TraceDocument& doc, size_t from) {
    const auto& r = doc.model.ranges;
    auto duration = [&](size_t i) { return r.endNs[i] > r.startNs[i] ? r.endNs[i] - r.startNs[i] : 0; };
    auto byStart = [&](uint32_t a, uint32_t b) { return r.startNs[a] < r.startNs[b]; };
    // Region rows go: NVTX rows may deepen, and regions are rebuilt below.
    const size_t nvtxRowsBefore = doc.firstRegionRow == SIZE_MAX ? doc.rangesByDepth.size() : doc.firstRegionRow;
    doc.rangesByDepth.resize(nvtxRowsBefore);
    doc.rangeMaxDurationByDepth.resize(nvtxRowsBefore);
    const uint32_t first = uint32_t(std::min<size_t>(from, UINT32_MAX));
    doc.regionRanges.erase(std::lower_bound(doc.regionRanges.begin(), doc.regionRanges.end(), first), doc.regionRanges.end());
    if (from < doc.nvtxRangesPlaced) {
        // NVTX ranges placed earlier moved (never in a live model, which
        // only appends them): take them out of their rows again.
        for (size_t d = 0; d < doc.rangesByDepth.size(); ++d) {
            auto& row = doc.rangesByDepth[d];
            row.erase(std::remove_if(row.begin(), row.end(), [&](uint32_t i) { return i >= first; }), row.end());
            uint64_t longest = 0;
            for (uint32_t i : row) longest = std::max(longest, duration(i));
            doc.rangeMaxDurationByDepth[d] = longest;
        }
    }
    // New NVTX ranges per row, merged into the row by start (ties: index order).
    std::vector<std::vector<uint32_t>> added;
    for (size_t i = from; i < r.size(); ++i) {
        if (r.domainId[i] == model::TraceModel::kRegionDomain) {
            doc.regionRanges.push_back(uint32_t(i));
            continue;
        }
        const size_t d = std::min<size_t>(r.depth[i], kNvtxRows - 1);
        if (added.size() <= d) added.resize(d + 1);
        added[d].push_back(uint32_t(i));
        doc.nvtxRangesPlaced = i + 1;
    }
    if (doc.rangesByDepth.size() < added.size()) {
        doc.rangesByDepth.resize(added.size());
        doc.rangeMaxDurationByDepth.resize(added.size(), 0);
    }
    for (size_t d = 0; d < added.size(); ++d) {
        auto& row = doc.rangesByDepth[d];
        std::stable_sort(added[d].begin(), added[d].end(), byStart);
        const size_t before = row.size();
        row.insert(row.end(), added[d].begin(), added[d].end());
        std::inplace_merge(row.begin(), row.begin() + std::ptrdiff_t(before), row.end(), byStart);
        for (uint32_t i : added[d]) doc.rangeMaxDurationByDepth[d] = std::max(doc.rangeMaxDurationByDepth[d], duration(i));
    }
    const size_t nvtxRows = doc.rangesByDepth.size();
    doc.firstRegionRow = SIZE_MAX;
    if (doc.regionRanges.empty()) return;
    uint16_t regionBase = UINT16_MAX;  // the model's depth of an outermost region
    for (uint32_t i : doc.regionRanges) regionBase = std::min(regionBase, r.depth[i]);
    doc.firstRegionRow = nvtxRows;
    for (uint32_t i : doc.regionRanges) {
        const size_t d = nvtxRows + std::min<size_t>(r.depth[i] - regionBase, kRegionRows - 1);
        if (doc.rangesByDepth.size() <= d) {
            doc.rangesByDepth.resize(d + 1);
            doc.rangeMaxDurationByDepth.resize(d + 1, 0);
        }
        doc.rangesByDepth[d].push_back(i);
        doc.rangeMaxDurationByDepth[d] = std::max(doc.rangeMaxDurationByDepth[d], duration(i));
    }
    for (size_t d = nvtxRows; d < doc.rangesByDepth.size(); ++d)
        std::stable_sort(doc.rangesByDepth[d].begin(), doc.rangesByDepth[d].end(), byStart);
}

}  // namespace

void updateDocumentIndexes(TraceDocument& doc, size_t firstKernel, size_t firstRange) {
    if (firstKernel <= doc.model.kernels.size()) updateStreams(doc, firstKernel);
    if (firstRange <= doc.model.ranges.size()) updateRanges(doc, firstRange);
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
    if (!source.open(cli::pathBytes(path), &message)) {
        if (error) *error = cli::textFromBytes(message);
        return nullptr;
    }
    doc->importedFromSnapshot = source.imported();
    if (!model::loadModel(source.tracePath(), doc->model, options, &message)) {
        if (error) *error = cli::textFromBytes(message);
        return nullptr;
    }
    if (cancel && cancel->load()) return nullptr;
    updateDocumentIndexes(*doc, 0, 0);
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

namespace {

// A curve whose buckets show the index's min and max: the min from a
// bucket's start, the max from its middle.
void curveFromIndex(const model::TraceIndex& x, const model::IndexCurve& c, model::MemoryCurve& out) {
    std::vector<uint64_t> times, values;
    if (!c.present || c.minBytes.size() != x.buckets) return;
    times.reserve(2 * size_t(x.buckets));
    values.reserve(2 * size_t(x.buckets));
    for (uint32_t b = 0; b < x.buckets; ++b) {
        const uint64_t start = x.bucketStartNs(b);
        times.push_back(start);
        values.push_back(c.minBytes[b]);
        times.push_back(start + x.bucketNs / 2);
        values.push_back(c.maxBytes[b]);
    }
    out.assign(std::move(times), std::move(values));
}

}  // namespace

uint64_t documentBytesFor(uint64_t events) { return events > UINT64_MAX / 50 ? UINT64_MAX : events * 50; }

uint64_t availableMemoryBytes() {
    if (const QByteArray test = qgetenv("VRAMSCOPE_TEST_MEMORY_AVAILABLE"); !test.isEmpty())
        return test.toULongLong();
    QFile meminfo("/proc/meminfo");
    if (!meminfo.open(QIODevice::ReadOnly)) return 0;
    for (const QByteArray& line : meminfo.readAll().split('\n'))
        if (line.startsWith("MemAvailable:")) return line.mid(13).trimmed().split(' ').value(0).toULongLong() << 10;
    return 0;
}

std::shared_ptr<TraceDocument> previewDocument(const QString& path, const std::atomic<bool>* cancel) {
    model::TraceIndex index;
    model::IndexOptions options;
    options.progress = [&](size_t, size_t) { return !(cancel && cancel->load()); };
    std::string error;
    if (!model::openTraceIndex(cli::pathBytes(path), index, options, nullptr, &error)) return nullptr;
    auto doc = std::make_shared<TraceDocument>();
    doc->path = path;
    doc->displayName = QFileInfo(path).fileName();
    doc->preview = true;
    model::TraceModel& m = doc->model;
    m.name = cli::pathBytes(path);
    m.firstNs = index.firstNs;
    m.lastNs = index.lastNs;
    m.events = index.events;
    m.tensorEvents = index.tensorEvents;
    m.driverEvents = index.driverEvents;
    m.droppedEvents = index.droppedEvents;
    m.allocationLevel = index.allocationLevel;
    curveFromIndex(index, index.allocated, m.allocated);
    curveFromIndex(index, index.reserved, m.reserved);
    curveFromIndex(index, index.deviceUsed, m.deviceUsed);
    const auto& steps = index.stepStartsNs;
    for (size_t i = 0; i < steps.size(); ++i) {
        PhaseSpan s;
        s.startNs = steps[i];
        s.endNs = i + 1 < steps.size() ? steps[i + 1] : index.lastNs;
        s.kind = PhaseSpanKind::Step;
        s.iteration = static_cast<uint32_t>(i);
        doc->phases.push_back(s);
        doc->iterationStartsNs.push_back(steps[i]);
    }
    m.buildIndexes();
    return doc;
}

}  // namespace vramscope::app
