#include "analysis_docks.h"

#include <QDateTime>

#include "display_text.h"
#include "format_text.h"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

namespace vramscope::app {

namespace {
QString bytesText(double b) { return QString::fromStdString(formatBytes(b)); }
QString nsText(double ns) { return QString::fromStdString(formatDuration(ns)); }
}  // namespace

// ---- LeakTableModel -----------------------------------------------------------

void LeakTableModel::setReport(const analysis::LeakReport* report) {
    beginResetModel();
    groups_ = report ? report->groups : std::vector<analysis::LeakGroup>{};
    endResetModel();
}

int LeakTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(groups_.size()); }

QVariant LeakTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || size_t(index.row()) >= groups_.size()) return {};
    const auto& g = groups_[size_t(index.row())];
    const char* phase = g.signature.phase >= 0 ? analysis::phaseNameText(analysis::PhaseName(g.signature.phase)) : "outside phases";
    if (role == kSortRole) {
        switch (index.column()) {
        case Bytes: return qulonglong(g.totalBytes);
        case Blocks: return qulonglong(g.blocks);
        case SizeRange: return qulonglong(g.maxBytes);
        case FirstIteration: return g.firstIteration;
        case Phase: return QString(phase);
        case Callsite: return shownText(g.callsite);
        }
    }
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Bytes: return bytesText(double(g.totalBytes));
        case Blocks: return qulonglong(g.blocks);
        case SizeRange:
            return g.minBytes == g.maxBytes ? bytesText(double(g.minBytes))
                                            : bytesText(double(g.minBytes)) + " – " + bytesText(double(g.maxBytes));
        case FirstIteration: return g.firstIteration;
        case Phase: return QString(phase);
        case Callsite: return g.callsite.empty() ? QStringLiteral("(unknown)") : shownText(g.callsite);
        }
    }
    return {};
}

QVariant LeakTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"Still live", "Blocks", "Block size", "First iteration", "Phase", "Callsite"};
    return section < ColumnCount ? QString(names[section]) : QVariant();
}

// ---- DiffTableModel -----------------------------------------------------------

namespace {

// "first iteration 468 ms (warm-up)", "iterations 0 (1.58 s), 9 (60.2 ms)".
QString leftOutText(const std::vector<analysis::LeftOutIteration>& list) {
    if (list.size() == 1 && list[0].index == 0)
        return DiffTableModel::tr("first iteration %1 (warm-up)").arg(nsText(double(list[0].durationNs)));
    QStringList parts;
    for (const auto& l : list) parts << QString("%1 (%2)").arg(l.index).arg(nsText(double(l.durationNs)));
    return DiffTableModel::tr("iterations %1").arg(parts.join(", "));
}

QString signedMs(int64_t ns) { return QString::asprintf("%+.3f ms", double(ns) / 1e6); }

}  // namespace

void DiffTableModel::setComparison(const analysis::Comparison* c) {
    beginResetModel();
    rows_.clear();
    headline_.clear();
    if (c) {
        // Times are each run's steady iterations (analysis/step_times.h): the warm-up is said apart.
        const QString steady = tr("over the steady iterations: A %1 of %2, B %3 of %4")
                                   .arg(c->steadyA).arg(c->iterationsA).arg(c->steadyB).arg(c->iterationsB);
        rows_.push_back({tr("Peak allocated"), c->peakAllocatedBytes.a, c->peakAllocatedBytes.b, true, false, {}});
        rows_.push_back({tr("Peak reserved"), c->peakReservedBytes.a, c->peakReservedBytes.b, true, false, {}});
        rows_.push_back({tr("Iteration time (median)"), c->medianIterationNs.a, c->medianIterationNs.b, false, false, steady});
        rows_.push_back({tr("Iteration time (mean)"), c->meanIterationNs.a, c->meanIterationNs.b, false, false, steady});
        rows_.push_back({tr("Step period (median)"), c->medianStepPeriodNs.a, c->medianStepPeriodNs.b, false, false, steady});
        rows_.push_back({tr("GPU busy per step (median)"), c->gpuBusyPerStepNs.a, c->gpuBusyPerStepNs.b, false, false,
                         tr("time at least one kernel ran, from one step's start to the next")});
        rows_.push_back({tr("GPU idle per step (median)"), c->gpuIdlePerStepNs.a, c->gpuIdlePerStepNs.b, false, false,
                         tr("time the GPU ran nothing, from one step's start to the next: waiting on the CPU")});
        rows_.push_back({tr("Leak per iteration"), c->leakBytesPerIteration.a, c->leakBytesPerIteration.b, true, false, {}});
        for (int p = 0; p < analysis::kPhaseCount; ++p) {
            const size_t i = size_t(p);
            QString name = analysis::phaseNameText(analysis::PhaseName(p));
            rows_.push_back({tr("%1 time (median)").arg(name), c->phaseMedianNs[i].a, c->phaseMedianNs[i].b, false, false,
                             steady});
            rows_.push_back({tr("%1 peak").arg(name), c->phasePeakBytes[i].a, c->phasePeakBytes[i].b, true, false, {}});
            rows_.push_back({tr("%1 GPU busy").arg(name), c->busyFraction[i].a, c->busyFraction[i].b, false, true, steady});
        }
        for (int k = 0; k < analysis::kCategoryCount; ++k)
            rows_.push_back({tr("%1 (peak)").arg(analysis::categoryName(analysis::Category(k))),
                             c->categoryPeakBytes[size_t(k)].a, c->categoryPeakBytes[size_t(k)].b, true, false, {}});
        rows_.push_back({tr("Recompute per iteration (median)"), c->recomputeNsPerIteration.a, c->recomputeNsPerIteration.b,
                         false, false, steady});
        for (const auto& k : c->kernels)
            rows_.push_back({shownText(k.name), k.nsPerIteration.a, k.nsPerIteration.b, false, false,
                             shownText(k.name, kTooltipTextBytes) + tr("\nkernel time per step, steady steps")});

        QStringList lines;
        QString times = tr("Times %1").arg(steady);
        if (!c->leftOutA.empty() || !c->leftOutB.empty())
            times += tr("; not counted: A %1, B %2")
                         .arg(c->leftOutA.empty() ? tr("none") : leftOutText(c->leftOutA))
                         .arg(c->leftOutB.empty() ? tr("none") : leftOutText(c->leftOutB));
        lines << times + ".";
        if (c->checkpointed != analysis::CheckpointedRun::None) {
            const analysis::CheckpointingTradeOff t = c->tradeOff();
            lines << tr("Checkpointing in %1 saves %2 of peak allocated (%3%) and %4 per step (%5%, median step period): "
                        "recompute kernels %6, GPU idle %7, other kernels %8 (medians per step); backward GPU busy "
                        "%9% → %10%.")
                         .arg(t.checkpointedIsA ? "A" : "B", bytesText(double(t.peakSavedBytes)))
                         .arg(t.peakSavedPercent, 0, 'f', 1)
                         .arg(t.stepTimeAddedNs >= 0 ? tr("costs %1").arg(signedMs(t.stepTimeAddedNs))
                                                     : tr("shortens the step by %1").arg(signedMs(-t.stepTimeAddedNs)))
                         .arg(QString::asprintf("%+.1f", t.stepTimeAddedPercent))
                         .arg(signedMs(t.recomputeAddedNs), signedMs(t.gpuIdleAddedNs), signedMs(t.otherKernelAddedNs))
                         .arg(t.backwardBusyOther * 100, 0, 'f', 0)
                         .arg(t.backwardBusyOwn * 100, 0, 'f', 0);
        }
        headline_ = lines.join("\n");
    }
    endResetModel();
}

QVariant DiffTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || size_t(index.row()) >= rows_.size()) return {};
    const Row& r = rows_[size_t(index.row())];
    auto text = [&](double v) {
        return r.fraction ? QString::asprintf("%.0f%%", v * 100) : r.bytes ? bytesText(v) : nsText(v);
    };
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case 0: return r.what;
        case 1: return text(r.a);
        case 2: return text(r.b);
        case 3: {
            double d = r.b - r.a;
            QString pct = r.a != 0 && !r.fraction ? QString::asprintf(" (%+.1f%%)", d / r.a * 100) : QString();
            return (d >= 0 ? "+" : "−") + text(std::abs(d)) + pct;
        }
        }
    }
    if (role == Qt::ToolTipRole && index.column() == 0) return r.tip.isEmpty() ? r.what : r.what + ": " + r.tip;
    // More memory or time is worse; a busier GPU is better.
    if (role == Qt::ForegroundRole && index.column() == 3 && r.b != r.a)
        return QColor((r.b > r.a) != r.fraction ? QColor(220, 60, 60) : QColor(40, 160, 70));
    if (role == Qt::TextAlignmentRole && index.column() > 0) return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

const DiffTableModel::Row* DiffTableModel::row(const QString& what) const {
    for (const Row& r : rows_)
        if (r.what == what) return &r;
    return nullptr;
}

QVariant DiffTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"What", "Run A", "Run B", "Change"};
    return section < 4 ? QString(names[section]) : QVariant();
}

// ---- EstimatorPanel -----------------------------------------------------------

EstimatorPanel::EstimatorPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    measured_ = new QLabel(tr("Open a trace to estimate what fits."), this);
    measured_->setWordWrap(true);
    measured_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Batch size"), this));
    slider_ = new QSlider(Qt::Horizontal, this);
    slider_->setRange(1, 256);
    spin_ = new QSpinBox(this);
    spin_->setRange(1, 4096);
    row->addWidget(slider_, 1);
    row->addWidget(spin_);
    auto* sequenceRow = new QHBoxLayout;
    sequenceRow->addWidget(new QLabel(tr("Sequence length"), this));
    sequence_ = new QSpinBox(this);
    sequence_->setRange(1, 1 << 20);
    sequence_->setToolTip(tr("Tokens per sample; known when the traced command line gave it (--seq, --seq-len, …)"));
    sequenceRow->addWidget(sequence_);
    sequenceRow->addStretch(1);
    prediction_ = new QLabel(this);
    prediction_->setWordWrap(true);
    prediction_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(measured_);
    layout->addLayout(row);
    layout->addLayout(sequenceRow);
    layout->addWidget(prediction_);
    layout->addStretch(1);
    connect(slider_, &QSlider::valueChanged, spin_, &QSpinBox::setValue);
    connect(spin_, &QSpinBox::valueChanged, this, [this](int v) {
        if (slider_->value() != v && v <= slider_->maximum()) slider_->setValue(v);
        refresh();
    });
    connect(sequence_, &QSpinBox::valueChanged, this, [this] { refresh(); });
    setEnabled(false);
}

int EstimatorPanel::targetBatch() const { return spin_->value(); }
void EstimatorPanel::setTargetBatch(int batch) { spin_->setValue(batch); }
int EstimatorPanel::targetSequence() const { return sequence_->value(); }
void EstimatorPanel::setTargetSequence(int tokens) { sequence_->setValue(tokens); }

void EstimatorPanel::setDocument(std::shared_ptr<const TraceDocument> doc) {
    doc_ = std::move(doc);
    const bool valid = doc_ && doc_->summary.estimate.valid;
    setEnabled(valid);
    if (!valid) {
        measured_->setText(doc_ ? tr("This trace has no allocations to estimate from.") : tr("Open a trace to estimate what fits."));
        prediction_->clear();
        return;
    }
    const auto& e = doc_->summary.estimate;
    measured_->setText(tr("<b>Measured</b> at batch %1 (%2)%3:<br>"
                          "weights %4, gradients %5, optimizer state %6,<br>activations %7 (%8 per sample%9)<br>"
                          "peak allocated %10")
                           .arg(e.measuredBatch)
                           .arg(QString::fromStdString(e.batchSource))
                           .arg(e.measuredSequence ? tr(", sequence %1").arg(e.measuredSequence) : QString())
                           .arg(bytesText(double(e.weightsBytes)), bytesText(double(e.gradientsBytes)),
                                bytesText(double(e.optimizerStateBytes)), bytesText(double(e.activationsBytes)),
                                bytesText(double(e.activationsPerSampleBytes)))
                           .arg(e.activationsPerTokenBytes ? tr(", %1 per token").arg(bytesText(double(e.activationsPerTokenBytes)))
                                                           : QString())
                           .arg(bytesText(double(e.measuredPeakBytes))));
    slider_->setMaximum(std::max<int>(64, int(std::min<uint32_t>(4096, std::max<uint32_t>(e.maxBatchThatFits * 2, e.measuredBatch * 4)))));
    sequence_->setEnabled(e.measuredSequence > 0);
    sequence_->setValue(int(e.measuredSequence ? e.measuredSequence : 1));
    spin_->setValue(int(e.targetBatch ? e.targetBatch : e.measuredBatch * 2));
    refresh();
}

void EstimatorPanel::refresh() {
    if (!doc_ || !doc_->summary.estimate.valid) return;
    const auto& e = doc_->summary.estimate;
    // Activations scale with the tokens per step: batch × sequence length.
    double ratio = double(spin_->value()) / double(std::max<uint32_t>(1, e.measuredBatch));
    if (e.measuredSequence) ratio *= double(sequence_->value()) / double(e.measuredSequence);
    predictedPeakBytes_ = e.predictPeakBytes(ratio);
    const uint64_t device = e.predictDeviceBytes(ratio);
    QString fit;
    if (e.deviceTotalBytes) {
        const double capacity = double(e.deviceTotalBytes) * (1.0 - e.headroom);
        fit = double(device) <= capacity
                  ? tr("<span style='color:#2e7d32'>fits</span> with %1% headroom").arg(int(e.headroom * 100))
                  : tr("<span style='color:#c62828'>does not fit</span> (%1 usable)").arg(bytesText(capacity));
    }
    prediction_->setText(tr("<b>Batch %1</b>: predicted peak allocated %2, device memory %3 %4<br>"
                            "Largest batch that fits the %5 device with %6% headroom: <b>%7</b>%8")
                             .arg(e.measuredSequence ? tr("%1 × %2 tokens").arg(spin_->value()).arg(sequence_->value())
                                                     : QString::number(spin_->value()))
                             .arg(bytesText(double(predictedPeakBytes_)), bytesText(double(device)), fit,
                                  bytesText(double(e.deviceTotalBytes)))
                             .arg(int(e.headroom * 100))
                             .arg(e.maxBatchThatFits ? QString::number(e.maxBatchThatFits) : tr("unknown"))
                             .arg(e.note.empty() ? QString() : "<br><i>" + QString::fromStdString(e.note) + "</i>"));
}

// ---- Summary rows -------------------------------------------------------------

std::vector<KeyValueModel::Row> summaryRows(const TraceDocument& doc) {
    const auto& s = doc.summary;
    const auto& m = doc.model;
    std::vector<KeyValueModel::Row> rows;
    auto add = [&](const QString& k, const QString& v, const QString& tip = {}) { rows.push_back({k, v, tip}); };
    add(doc.displayName, "", doc.path);
    for (const analysis::OutOfMemory& o : s.outOfMemory)
        add(QObject::tr("Out of memory"),
            QObject::tr("at %1: asked for %2, %3 free%4")
                .arg(nsText(double(o.timeNs - m.firstNs)), bytesText(double(o.requestedBytes)),
                     o.deviceFreeBytes >= 0 ? bytesText(double(o.deviceFreeBytes)) : QObject::tr("?"),
                     o.largerThanDevice         ? QObject::tr("; larger than the whole device")
                     : o.moreThanProgramCanFree ? QObject::tr("; more than free plus all the program holds")
                     : o.shortfallBytes ? QObject::tr("; %1 would have to go").arg(bytesText(double(o.shortfallBytes)))
                                        : QString()),
            QObject::tr("allocated %1, reserved %2 then; the red OOM line on the timeline, the live set at the cursor")
                .arg(bytesText(double(o.allocatedBytes)), bytesText(double(o.reservedBytes))));
    if (s.capture.attached) {
        const auto& c = s.capture;
        QString live;
        if (c.allocatedAtAttachBytes || c.reservedAtAttachBytes)
            live = QObject::tr("%1 allocated, %2 reserved").arg(bytesText(double(c.allocatedAtAttachBytes)),
                                                               bytesText(double(c.reservedAtAttachBytes)));
        else if (c.deviceUsedAtAttachBytes)
            live = QObject::tr("%1 in use on the device").arg(bytesText(double(c.deviceUsedAtAttachBytes)));
        const QString when = QDateTime::fromMSecsSinceEpoch(qint64(c.attachedUnixNs / 1000000)).toString("yyyy-MM-dd hh:mm:ss");
        add(QObject::tr("Attached"), when + (live.isEmpty() ? QString() : QObject::tr("; live then: ") + live),
            QObject::tr("attach %1 into a running process: what ran before is not in the trace; what was live then "
                        "entered at the attach (PyTorch's allocator snapshot)")
                .arg(c.attachIndex));
    }
    for (const auto& dev : m.devices)
        add(QObject::tr("Device %1").arg(dev.deviceId),
            shownText(m.text(dev.nameId)) + ", " + bytesText(double(dev.totalMemoryBytes)));
    add(QObject::tr("Duration"), nsText(double(s.durationNs)));
    add(QObject::tr("Events"), QString::number(s.events));
    add(QObject::tr("Tensor events"), QString::number(s.tensorEvents));
    add(QObject::tr("Iterations"), QString::number(s.iterations.size()),
        QObject::tr("found from %1").arg(analysis::iterationSourceText(s.iterations.source)));
    if (s.iterations.phasesInferred && !s.iterations.phaseEvidence.empty())
        add(QObject::tr("Phases"),
            s.iterations.trainingPhases ? QObject::tr("forward, backward, optimizer (inferred)")
                                        : QObject::tr("phase 1, 2, 3 (inferred; nothing says training)"),
            QString::fromStdString(s.iterations.phaseEvidence));
    if (s.meanIterationNs)
        add(QObject::tr("Iteration time (median)"), nsText(double(s.medianIterationNs)),
            QObject::tr("over the %1 steady iterations; mean %2").arg(s.steps.steadyIterations).arg(nsText(double(s.meanIterationNs))));
    // The warm-up, shown apart: its lazy initialisation would swamp every time figure.
    if (!s.steps.leftOut.empty()) {
        std::vector<analysis::LeftOutIteration> leftOut;
        for (size_t i : s.steps.leftOut) leftOut.push_back({i, s.perIteration[i].durationNs});
        add(QObject::tr("Not counted"), leftOutText(leftOut),
            QObject::tr("iterations over 3x the median (warm-up, stalls) are left out of every time figure"));
    }
    if (s.timeBetweenStepsShows())
        add(QObject::tr("Step period (median)"), nsText(double(s.medianStepPeriodNs)),
            QObject::tr("from one iteration's start to the next: %1 of it between steps, in no iteration "
                        "(zero_grad, data loading, synchronization, logging)")
                .arg(nsText(double(s.medianBetweenStepsNs))));
    for (int p = 0; p < analysis::kPhaseCount; ++p) {
        const auto& ph = s.phases[size_t(p)];
        if (!ph.iterations) continue;
        add(QObject::tr("  %1").arg(analysis::phaseLabel(s.iterations, analysis::PhaseName(p))),
            QObject::tr("%1, peak %2").arg(nsText(double(ph.medianNs)), bytesText(double(ph.peakAllocatedBytes))),
            QObject::tr("median over %1 steady iterations; mean %2").arg(ph.steadyIterations).arg(nsText(double(ph.meanNs))));
    }
    add(QObject::tr("Peak allocated"), bytesText(double(s.peakAllocated.bytes)),
        QObject::tr("torch.cuda.max_memory_allocated() where tensor events exist, driver allocations otherwise"));
    add(QObject::tr("Peak reserved"), bytesText(double(s.peakReserved.bytes)), QObject::tr("torch.cuda.max_memory_reserved()"));
    if (!m.deviceUsed.empty()) add(QObject::tr("Peak device used"), bytesText(double(m.deviceUsed.peak().bytes)));
    for (int k = 0; k < analysis::kCategoryCount; ++k)
        if (s.categories.bytesAtPeak[size_t(k)])
            add(QObject::tr("  %1 at peak").arg(analysis::categoryName(analysis::Category(k))),
                bytesText(double(s.categories.bytesAtPeak[size_t(k)])));
    add(QObject::tr("Leak"), s.leak.detected ? QObject::tr("%1 per iteration from iteration %2")
                                                   .arg(bytesText(double(s.leak.bytesPerIteration)))
                                                   .arg(s.leak.firstIteration)
                                             : QObject::tr("none"),
        s.leak.leftOutBlocks ? QObject::tr("%1 blocks (%2) from iteration %3 on not counted: freed before two more "
                                           "iterations began, so they cannot be told from memory kept for one step")
                                   .arg(s.leak.leftOutBlocks)
                                   .arg(bytesText(double(s.leak.leftOutBytes)))
                                   .arg(s.leak.leftOutFromIteration)
                             : QString());
    if (s.checkpointing.detected) {
        const auto& c = s.checkpointing;
        const size_t backward = size_t(analysis::PhaseName::Backward);
        add(QObject::tr("Checkpointing"),
            QObject::tr("recompute %1 per iteration, %2% of backward; backward GPU busy %3%")
                .arg(nsText(double(c.recomputeNsPerIteration)))
                .arg(c.fractionOfBackward * 100, 0, 'f', 1)
                .arg(s.boundness.phases[backward].busyFraction * 100, 0, 'f', 0),
            c.recomputeRegionNsPerIteration
                ? QObject::tr("recompute kernels are %1% of step time; the CPU spends %2 (%3% of backward) re-running "
                              "forward, while the GPU waits when it outruns the CPU")
                      .arg(c.fractionOfIterationTime * 100, 0, 'f', 1)
                      .arg(nsText(double(c.recomputeRegionNsPerIteration)))
                      .arg(c.regionFractionOfBackward * 100, 0, 'f', 0)
                : QObject::tr("recompute kernels are %1% of step time").arg(c.fractionOfIterationTime * 100, 0, 'f', 1));
    }
    if (s.estimate.valid && s.estimate.maxBatchThatFits)
        add(QObject::tr("Largest batch that fits"), QString::number(s.estimate.maxBatchThatFits));
    if (s.boundness.source != "none") {
        QStringList parts;
        for (int p = 0; p < analysis::kPhaseCount; ++p)
            if (s.boundness.phases[size_t(p)].bound != analysis::Bound::Unknown)
                parts << QString("%1 %2").arg(analysis::phaseLabel(s.iterations, analysis::PhaseName(p)),
                                              analysis::boundText(s.boundness.phases[size_t(p)].bound));
        add(QObject::tr("Boundness (%1)").arg(QString::fromStdString(s.boundness.source)), parts.join(", "));
    }
    add(QObject::tr("Kernels"), QString::number(m.kernels.size()));
    if (!m.allocFailures.empty()) add(QObject::tr("Failed allocations (OOM)"), QString::number(m.allocFailures.size()));
    if (m.droppedEvents) add(QObject::tr("Dropped during capture"), QString::number(m.droppedEvents));
    for (const auto& n : m.notes) add(QObject::tr("Note"), shownText(m.text(n.textId), kTooltipTextBytes));
    if (!doc.warning.isEmpty()) add(QObject::tr("Problems"), doc.warning, doc.warning);
    return rows;
}

}  // namespace vramscope::app
