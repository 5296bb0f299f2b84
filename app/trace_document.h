// One open trace as the app holds it: the model (read-only once loaded) plus
// the small indexes the timeline needs for drawing, all built off the GUI
// thread by loadDocument().
#pragma once

#include "analysis/categories.h"
#include "analysis/kernel_boundness.h"
#include "analysis/summary.h"
#include "model/trace_index.h"
#include "model/trace_model.h"

#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace vramscope::app {

enum class PhaseSpanKind : uint8_t { Forward, Backward, Optimizer, Recompute, Step };

struct PhaseSpan {
    uint64_t startNs = 0, endNs = 0;
    PhaseSpanKind kind = PhaseSpanKind::Forward;
    uint32_t iteration = 0;
    int8_t phase = -1;                            // analysis::PhaseName for forward/backward/optimizer
    analysis::Bound bound = analysis::Bound::Unknown;  // this iteration's class of the phase
};

struct StreamKernels {
    uint32_t streamId = 0;
    std::vector<uint32_t> kernels;  // indices into model.kernels, by start time
};

struct TraceDocument {
    QString path;
    QString displayName;
    bool importedFromSnapshot = false;
    model::TraceModel model;
    std::vector<StreamKernels> streams;        // kernels per stream, by stream id
    std::vector<PhaseSpan> phases;             // by start time (recompute spans too)
    std::vector<uint64_t> iterationStartsNs;   // one per iteration
    // Range indices per row, by start: NVTX ranges by depth (at most 4 rows),
    // then the user's regions by nesting (at most 2 rows) from firstRegionRow.
    std::vector<std::vector<uint32_t>> rangesByDepth;
    std::vector<uint64_t> rangeMaxDurationByDepth;
    size_t firstRegionRow = SIZE_MAX;  // SIZE_MAX: no regions
    QString warning;  // truncation/corruption, shown once after loading

    // A preview (previewDocument()): the whole run drawn from the trace's
    // index while the full model loads; memory curves at the index's
    // resolution, steps, no kernels or analysis yet.
    bool preview = false;

    // A live document (live_session.h) grows while a job runs: the model and
    // the indexes above follow every append; the analysis below is redone
    // now and then and covers the trace up to analyzedUntilNs.
    bool live = false;
    uint64_t analyzedUntilNs = UINT64_MAX;

    // What `vramscope summary` reports, computed once while loading.
    analysis::TraceSummary summary;  // kernelBounds: the class per kernel name
    // Bytes per category over time (weights, optimizer state, gradients, …).
    analysis::CategoryCurves categoryCurves;

    uint64_t firstNs() const { return model.firstNs; }
    uint64_t lastNs() const { return model.lastNs; }

    // Bookkeeping of updateDocumentIndexes(): NVTX ranges below this index
    // are in rows; the user regions (their rows are rebuilt as they change).
    size_t nvtxRangesPlaced = 0;
    std::vector<uint32_t> regionRanges;
};

// Loads path into a document. progress(fraction 0..1) is called from the
// loading thread; cancel is polled. Returns nullptr with *error set when the
// file cannot be read (the reader's own sentence) or loading was cancelled.
std::shared_ptr<TraceDocument> loadDocument(const QString& path, const std::function<void(double)>& progress,
                                            const std::atomic<bool>* cancel, QString* error);

// The trace's index (model/trace_index.h: its cache, or one streaming pass
// in bounded memory), as a document the timeline can draw at once: memory
// curves with each bucket's min and max, one step span per step. Returns
// nullptr when path is no .vtrace (a snapshot) or cannot be read, or when
// cancelled; loadDocument() then says why.
std::shared_ptr<TraceDocument> previewDocument(const QString& path, const std::atomic<bool>* cancel);

// Memory the full document of a trace of `events` events needs: 50 bytes an
// event (measured 44 B/event of model and analysis on a 100M-event synth
// trace, docs/benchmarks.md, plus the loader's working set).
uint64_t documentBytesFor(uint64_t events);
// Memory the system can still give this process (MemAvailable), 0 when
// unknown. VRAMSCOPE_TEST_MEMORY_AVAILABLE (bytes) overrides it (tests).
uint64_t availableMemoryBytes();

// Brings streams and range rows up to date after the model grew: kernels
// from firstKernel on and ranges from firstRange on are new or moved
// (model::LiveModel::Changes). From 0 on an empty document it builds them,
// which is what loadDocument() does.
void updateDocumentIndexes(TraceDocument& doc, size_t firstKernel, size_t firstRange);

// Phase spans and iteration starts from the analysis' iterations (markers,
// NVTX ranges or inferred), the same ones `vramscope summary` reports.
void buildPhaseSpans(TraceDocument& doc);

}  // namespace vramscope::app
