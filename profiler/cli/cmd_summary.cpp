// vramscope summary FILE [--json]: what happened to GPU memory in a run.
// The JSON schema is docs/summary-schema.md; tests/analysis pins its keys.
#include "command.h"
#include "format/units.h"
#include "trace_input.h"

#include "analysis/summary.h"
#include "model/model_builder.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace vramscope::cli {
namespace {

using namespace vramscope::analysis;

QString bytesText(double bytes) { return QString::fromStdString(formatBytes(bytes)); }

QString msText(double ns) { return QString::asprintf("%.3f ms", ns / 1e6); }

const char* levelText(model::AllocationLevel level) {
    switch (level) {
    case model::AllocationLevel::Tensor: return "tensor";
    case model::AllocationLevel::Driver: return "driver";
    default: return "none";
    }
}

QJsonValue orNull(int64_t value, bool present) { return present ? QJsonValue(qint64(value)) : QJsonValue(); }

// ", SM 12%, DRAM 58%" where counters were sampled.
QString counterText(const PhaseBoundness& b) {
    QString out;
    if (b.smThroughputPct >= 0) out += QString(", SM %1%").arg(b.smThroughputPct, 0, 'f', 0);
    if (b.dramThroughputPct >= 0) out += QString(", DRAM %1%").arg(b.dramThroughputPct, 0, 'f', 0);
    if (b.tensorPipePct >= 0) out += QString(", tensor %1%").arg(b.tensorPipePct, 0, 'f', 0);
    return out;
}

QJsonObject boundJson(const PhaseBoundness& b) {
    return QJsonObject{
        {"bound", boundText(b.bound)},
        {"sm_throughput_pct", b.smThroughputPct >= 0 ? QJsonValue(b.smThroughputPct) : QJsonValue()},
        {"dram_throughput_pct", b.dramThroughputPct >= 0 ? QJsonValue(b.dramThroughputPct) : QJsonValue()},
        {"tensor_pipe_pct", b.tensorPipePct >= 0 ? QJsonValue(b.tensorPipePct) : QJsonValue()},
        {"busy_fraction", b.busyFraction},
        {"kernel_time_by_class", QJsonObject{{"compute", b.computeKernelShare},
                                             {"bandwidth", b.bandwidthKernelShare},
                                             {"latency", b.latencyKernelShare}}},
        {"samples", qint64(b.samples)},
        {"duration_ns", qint64(b.durationNs)},
    };
}

QJsonObject summaryJson(const QString& path, const model::TraceModel& m, const TraceSummary& s) {
    QJsonArray perIteration;
    for (size_t i = 0; i < s.perIteration.size(); ++i) {
        const IterationStats& it = s.perIteration[i];
        QJsonObject phases;
        const IterationBoundness* ib = i < s.boundness.iterations.size() ? &s.boundness.iterations[i] : nullptr;
        for (int p = 0; p < kPhaseCount; ++p) {
            if (!it.phaseDurationNs[size_t(p)]) continue;
            QJsonObject phase{
                {"duration_ns", qint64(it.phaseDurationNs[size_t(p)])},
                {"peak_allocated_bytes", qint64(it.phasePeakBytes[size_t(p)])},
            };
            if (ib) {
                const PhaseBoundness& b = ib->phases[size_t(p)];
                phase["bound"] = boundText(b.bound);
                phase["busy_fraction"] = b.busyFraction;
                if (b.smThroughputPct >= 0) phase["sm_throughput_pct"] = b.smThroughputPct;
                if (b.dramThroughputPct >= 0) phase["dram_throughput_pct"] = b.dramThroughputPct;
            }
            phases[phaseNameText(PhaseName(p))] = phase;
        }
        perIteration.append(QJsonObject{
            {"index", qint64(i)},
            {"step", qint64(it.step)},
            {"start_ns", qint64(it.startNs)},
            {"duration_ns", qint64(it.durationNs)},
            {"allocated_at_start_bytes", qint64(it.allocatedAtStartBytes)},
            {"peak_allocated_bytes", qint64(it.peakAllocatedBytes)},
            {"peak_reserved_bytes", qint64(it.peakReservedBytes)},
            {"phases", phases},
            {"bound", ib ? QJsonValue(boundText(ib->overall.bound)) : QJsonValue()},
            {"steady", ib ? ib->steady : true},
        });
    }
    QJsonObject phases;
    for (int p = 0; p < kPhaseCount; ++p) {
        const PhaseStats& ps = s.phases[size_t(p)];
        phases[phaseNameText(PhaseName(p))] = QJsonObject{
            {"iterations", qint64(ps.iterations)},
            {"mean_duration_ns", qint64(ps.meanNs)},
            {"median_duration_ns", qint64(ps.medianNs)},
            {"total_duration_ns", qint64(ps.totalNs)},
            {"peak_allocated_bytes", qint64(ps.peakAllocatedBytes)},
            {"mean_peak_allocated_bytes", qint64(ps.meanPeakAllocatedBytes)},
        };
    }
    QJsonArray topBlocks;
    for (const BlockInfo& b : s.topBlocksAtPeak) {
        topBlocks.append(QJsonObject{
            {"bytes", qint64(b.bytes)},
            {"address", QString::asprintf("0x%llx", static_cast<unsigned long long>(b.address))},
            {"alloc_ns", qint64(b.allocNs)},
            {"free_ns", orNull(qint64(b.freeNs), b.freeNs != model::kNeverNs)},
            {"category", categoryName(b.category)},
            {"iteration", orNull(b.iteration, b.iteration >= 0)},
            {"phase", b.phase >= 0 ? QJsonValue(phaseNameText(PhaseName(b.phase))) : QJsonValue()},
            {"callsite", QString::fromStdString(b.callsite)},
        });
    }
    QJsonObject categories;
    uint64_t persistentPeak = 0, persistentAtPeak = 0;
    for (int k = 0; k < kCategoryCount; ++k) {
        categories[categoryName(Category(k))] = QJsonObject{
            {"peak_bytes", qint64(s.categories.peakBytes[size_t(k)])},
            {"bytes_at_peak", qint64(s.categories.bytesAtPeak[size_t(k)])},
        };
        if (isPersistent(Category(k))) {
            persistentPeak += s.categories.peakBytes[size_t(k)];
            persistentAtPeak += s.categories.bytesAtPeak[size_t(k)];
        }
    }
    categories["persistent"] = QJsonObject{{"peak_bytes", qint64(persistentPeak)}, {"bytes_at_peak", qint64(persistentAtPeak)}};

    QJsonArray leakBlocks;
    for (const LeakGroup& g : s.leak.groups) {
        leakBlocks.append(QJsonObject{
            {"callsite", QString::fromStdString(g.callsite)},
            {"phase", g.signature.phase >= 0 ? QJsonValue(phaseNameText(PhaseName(g.signature.phase))) : QJsonValue()},
            {"size_class_bytes", qint64(1ll << g.signature.sizeClass)},
            {"min_bytes", qint64(g.minBytes)},
            {"max_bytes", qint64(g.maxBytes)},
            {"count", qint64(g.blocks)},
            {"total_bytes", qint64(g.totalBytes)},
            {"first_iteration", qint64(g.firstIteration)},
            {"iterations", qint64(g.iterations)},
        });
    }
    const Estimate& e = s.estimate;
    const CheckpointingReport& c = s.checkpointing;
    QJsonArray leftOut;
    for (size_t i : s.boundness.leftOut) leftOut.append(qint64(i));
    QJsonObject boundPhases;
    for (int p = 0; p < kPhaseCount; ++p) boundPhases[phaseNameText(PhaseName(p))] = boundJson(s.boundness.phases[size_t(p)]);
    QJsonArray kernels;
    for (size_t i = 0; i < s.kernels.size() && i < 10; ++i) {
        const uint32_t nameId = s.kernels[i].nameId;
        auto bound = s.kernelBounds.byName.find(nameId);
        QJsonObject k{
            {"name", QString::fromStdString(s.kernels[i].name)},
            {"count", qint64(s.kernels[i].count)},
            {"total_ns", qint64(s.kernels[i].totalNs)},
            {"bound", bound == s.kernelBounds.byName.end() ? "unknown" : boundText(bound->second)},
            {"bound_source", s.kernelBounds.classedByCounters.count(nameId) ? "counters" : "name"},
        };
        const auto fitted = s.kernelBounds.fitted(nameId);
        if (fitted.sm >= 0) k["sm_pct"] = fitted.sm;
        if (fitted.dram >= 0) k["dram_pct"] = fitted.dram;
        if (fitted.tensor >= 0) k["tensor_pct"] = fitted.tensor;
        kernels.append(k);
    }
    QJsonArray rooflineKernels;
    for (size_t i = 0; i < s.roofline.points.size() && i < 10; ++i) {
        const RooflinePoint& p = s.roofline.points[i];
        rooflineKernels.append(QJsonObject{
            {"name", QString::fromStdString(m.text(p.nameId))},
            {"bound", boundText(p.bound)},
            {"time_ns", qint64(p.timeNs)},
            {"compute_pct", p.computePct},
            {"dram_pct", p.dramPct},
            {"flops_per_s", p.flopsPerSec},
            {"dram_bytes_per_s", p.dramBytesPerSec},
            {"flops_per_byte", p.flopsPerByte},
        });
    }
    const QJsonObject rooflineJson =
        s.roofline.valid ? QJsonObject{{"peak_flops_per_s", s.roofline.peakFlopsPerSec},
                                       {"peak_fp32_flops_per_s", s.roofline.peakFp32FlopsPerSec},
                                       {"peak_dram_bytes_per_s", s.roofline.peakDramBytesPerSec},
                                       {"ridge_flops_per_byte", s.roofline.ridgeFlopsPerByte},
                                       {"kernels", rooflineKernels}}
                         : QJsonObject{};
    QJsonArray problems;
    for (const auto& p : m.problems) problems.append(QString::fromStdString(p.message));

    const CaptureInfo& cap = s.capture;
    const QJsonObject capture =
        cap.attached ? QJsonObject{{"start", "attach"},
                                   {"attach_index", qint64(cap.attachIndex)},
                                   {"attached_ns", qint64(cap.attachedNs)},
                                   {"attached_unix_ns", qint64(cap.attachedUnixNs)},
                                   {"process_start_unix_ns", orNull(qint64(cap.processStartUnixNs), cap.processStartUnixNs > 0)},
                                   {"seeded_ns", qint64(cap.seededNs)},
                                   {"allocated_at_attach_bytes", qint64(cap.allocatedAtAttachBytes)},
                                   {"reserved_at_attach_bytes", qint64(cap.reservedAtAttachBytes)},
                                   {"device_used_at_attach_bytes", qint64(cap.deviceUsedAtAttachBytes)}}
                     : QJsonObject{{"start", "launch"}};
    return QJsonObject{
        {"file", path},
        {"capture", capture},
        {"device", QJsonObject{{"name", QString::fromStdString(s.deviceName)}, {"total_memory_bytes", qint64(s.deviceTotalBytes)}}},
        {"duration_ns", qint64(s.durationNs)},
        {"events", qint64(s.events)},
        {"tensor_events", qint64(s.tensorEvents)},
        {"driver_events", qint64(s.driverEvents)},
        {"allocation_level", levelText(s.allocationLevel)},
        {"iterations", qint64(s.perIteration.size())},
        {"iteration_source", iterationSourceText(s.iterations.source)},
        {"phases_inferred", s.iterations.phasesInferred},
        {"kernels_per_iteration", qint64(s.iterations.kernelsPerIteration)},
        {"mean_iteration_ns", qint64(s.meanIterationNs)},
        {"median_iteration_ns", qint64(s.medianIterationNs)},
        {"median_step_period_ns", qint64(s.medianStepPeriodNs)},
        {"median_between_steps_ns", qint64(s.medianBetweenStepsNs)},
        {"per_iteration", perIteration},
        {"phases", phases},
        {"peak_allocated_bytes", qint64(s.peakAllocated.bytes)},
        {"peak_allocated_time_ns", qint64(s.peakAllocated.timeNs)},
        {"peak_reserved_bytes", qint64(s.peakReserved.bytes)},
        {"peak_reserved_time_ns", qint64(s.peakReserved.timeNs)},
        {"top_blocks_at_peak", topBlocks},
        {"categories", categories},
        {"leak", QJsonObject{
             {"detected", s.leak.detected},
             {"bytes_per_iteration", qint64(s.leak.bytesPerIteration)},
             {"first_iteration", orNull(s.leak.firstIteration, s.leak.detected)},
             {"total_leaked_bytes", qint64(s.leak.totalLeakedBytes)},
             {"growth_bytes_per_iteration", s.leak.growthBytesPerIteration},
             {"warmup_iterations", qint64(s.leak.warmupIterations)},
             {"blocks", leakBlocks},
         }},
        {"checkpointing", QJsonObject{
             {"detected", c.detected},
             {"source", recomputeSourceText(c.source)},
             {"iterations_with_recompute", qint64(c.iterationsWithRecompute)},
             {"recompute_kernels", qint64(c.recomputeKernels)},
             {"recompute_ns", qint64(c.recomputeNs)},
             {"recompute_ns_per_iteration", qint64(c.recomputeNsPerIteration)},
             {"fraction_of_iteration_time", c.fractionOfIterationTime},
         }},
        {"estimator", QJsonObject{
             {"valid", e.valid},
             {"measured_batch", qint64(e.measuredBatch)},
             {"batch_source", QString::fromStdString(e.batchSource)},
             {"measured_sequence", orNull(e.measuredSequence, e.measuredSequence > 0)},
             {"sequence_source", QString::fromStdString(e.sequenceSource)},
             {"measured_peak_bytes", qint64(e.measuredPeakBytes)},
             {"weights_bytes", qint64(e.weightsBytes)},
             {"gradients_bytes", qint64(e.gradientsBytes)},
             {"optimizer_state_bytes", qint64(e.optimizerStateBytes)},
             {"activations_bytes", qint64(e.activationsBytes)},
             {"activations_per_sample_bytes", qint64(e.activationsPerSampleBytes)},
             {"activations_per_token_bytes", orNull(qint64(e.activationsPerTokenBytes), e.measuredSequence > 0)},
             {"fixed_bytes_at_peak", qint64(e.fixedBytesAtPeak)},
             {"target_batch", qint64(e.targetBatch)},
             {"target_sequence", orNull(e.targetSequence, e.targetSequence > 0)},
             {"predicted_peak_bytes", qint64(e.predictedPeakBytes)},
             {"device_total_bytes", qint64(e.deviceTotalBytes)},
             {"headroom", e.headroom},
             {"reserved_per_allocated", e.reservedPerAllocated},
             {"context_bytes", qint64(e.contextBytes)},
             {"max_batch_that_fits", orNull(e.maxBatchThatFits, e.maxBatchThatFits > 0)},
             {"note", QString::fromStdString(e.note)},
         }},
        {"boundness", QJsonObject{
             {"source", QString::fromStdString(s.boundness.source)},
             {"phases", boundPhases},
             {"overall", boundJson(s.boundness.overall)},
             {"median_iteration_ns", qint64(s.boundness.medianIterationNs)},
             {"attribution", QString::fromStdString(s.boundness.attribution)},
             {"left_out_iterations", leftOut},
             {"roofline", s.roofline.valid ? QJsonValue(rooflineJson) : QJsonValue()},
         }},
        {"top_kernels", kernels},
        {"problems", problems},
    };
}

// "2 h 05 min", "12 min 30 s", "45 s".
QString spanText(uint64_t ns) {
    const uint64_t seconds = ns / 1000000000ull;
    if (seconds >= 3600) return QString("%1 h %2 min").arg(seconds / 3600).arg((seconds % 3600) / 60, 2, 10, QChar('0'));
    if (seconds >= 60) return QString("%1 min %2 s").arg(seconds / 60).arg(seconds % 60);
    return QString("%1 s").arg(seconds);
}

void printText(const QString& path, const model::TraceModel& m, const TraceSummary& s) {
    std::printf("%s\n", qPrintable(path));
    if (s.capture.attached) {
        const CaptureInfo& c = s.capture;
        const QString when = QDateTime::fromMSecsSinceEpoch(qint64(c.attachedUnixNs / 1000000)).toString("yyyy-MM-dd hh:mm:ss");
        const QString running = c.processStartUnixNs && c.processStartUnixNs < c.attachedUnixNs
                                    ? QString(", %1 after the process started").arg(spanText(c.attachedUnixNs - c.processStartUnixNs))
                                    : QString();
        QString live;
        if (c.allocatedAtAttachBytes || c.reservedAtAttachBytes)
            live = QString("%1 allocated, %2 reserved").arg(bytesText(double(c.allocatedAtAttachBytes)),
                                                            bytesText(double(c.reservedAtAttachBytes)));
        if (c.deviceUsedAtAttachBytes)
            live += QString("%1%2 in use on the device").arg(live.isEmpty() ? "" : ", ", bytesText(double(c.deviceUsedAtAttachBytes)));
        std::printf("  attached      %s%s (attach %u): what ran before is not in the trace%s%s\n", qPrintable(when),
                    qPrintable(running), c.attachIndex, live.isEmpty() ? "" : "; live then: ", qPrintable(live));
    }
    if (!s.deviceName.empty())
        std::printf("  device        %s, %s\n", s.deviceName.c_str(), qPrintable(bytesText(double(s.deviceTotalBytes))));
    std::printf("  duration      %.3f s, %llu events (%llu tensor, %llu driver memory; allocated from %s events)\n",
                double(s.durationNs) / 1e9, (unsigned long long)s.events, (unsigned long long)s.tensorEvents,
                (unsigned long long)s.driverEvents, levelText(s.allocationLevel));
    std::printf("  iterations    %zu (%s%s), median %s, mean %s", s.perIteration.size(),
                iterationSourceText(s.iterations.source), s.iterations.phasesInferred ? ", phases inferred" : "",
                qPrintable(msText(double(s.medianIterationNs))), qPrintable(msText(double(s.meanIterationNs))));
    // Time between steps that no iteration holds (a training log's step time is the period).
    if (s.timeBetweenStepsShows())
        std::printf("; one every %s, %s of it between steps", qPrintable(msText(double(s.medianStepPeriodNs))),
                    qPrintable(msText(double(s.medianBetweenStepsNs))));
    std::printf("\n");
    for (int p = 0; p < kPhaseCount; ++p) {
        const PhaseStats& ps = s.phases[size_t(p)];
        if (!ps.iterations) continue;
        const PhaseBoundness& b = s.boundness.phases[size_t(p)];
        std::printf("    %-10s  median %s, peak %s, %s-bound (GPU busy %.0f%%%s)", phaseNameText(PhaseName(p)),
                    qPrintable(msText(double(ps.medianNs))), qPrintable(bytesText(double(ps.peakAllocatedBytes))),
                    boundText(b.bound), 100 * b.busyFraction, qPrintable(counterText(b)));
        // What the phase's kernel time went to, by the kernels' own classes.
        if (b.computeKernelShare + b.bandwidthKernelShare + b.latencyKernelShare > 0)
            std::printf("; kernel time %.0f%% compute, %.0f%% bandwidth, %.0f%% latency", 100 * b.computeKernelShare,
                        100 * b.bandwidthKernelShare, 100 * b.latencyKernelShare);
        std::printf("\n");
    }
    std::printf("  peak          allocated %s at %.3f s, reserved %s\n", qPrintable(bytesText(double(s.peakAllocated.bytes))),
                double(s.peakAllocated.timeNs - s.firstNs) / 1e9, qPrintable(bytesText(double(s.peakReserved.bytes))));
    std::printf("  at the peak  ");
    for (int k = 0; k < kCategoryCount; ++k)
        if (s.categories.bytesAtPeak[size_t(k)])
            std::printf(" %s %s;", categoryName(Category(k)), qPrintable(bytesText(double(s.categories.bytesAtPeak[size_t(k)]))));
    std::printf("\n  largest blocks live at the peak:\n");
    for (const BlockInfo& b : s.topBlocksAtPeak)
        std::printf("    %12s  %-16s %s%s\n", qPrintable(bytesText(double(b.bytes))), categoryName(b.category),
                    b.phase >= 0 ? phaseNameText(PhaseName(b.phase)) : "-", b.callsite.empty() ? "" : ("  " + b.callsite).c_str());
    if (s.leak.detected) {
        std::printf("  leak          %s per iteration from iteration %d (%s still held at the end)\n",
                    qPrintable(bytesText(double(s.leak.bytesPerIteration))), s.leak.firstIteration,
                    qPrintable(bytesText(double(s.leak.totalLeakedBytes))));
        for (const LeakGroup& g : s.leak.groups)
            std::printf("    %llu blocks of %s, %s total, allocated in %s%s\n", (unsigned long long)g.blocks,
                        qPrintable(bytesText(double(g.minBytes))), qPrintable(bytesText(double(g.totalBytes))),
                        g.signature.phase >= 0 ? phaseNameText(PhaseName(g.signature.phase)) : "no phase",
                        g.callsite.empty() ? "" : (" at " + g.callsite).c_str());
    } else {
        std::printf("  leak          none\n");
    }
    if (s.checkpointing.detected)
        std::printf("  checkpointing recompute %s per iteration (%.1f%% of the time, from %s)\n",
                    qPrintable(msText(double(s.checkpointing.recomputeNsPerIteration))),
                    100 * s.checkpointing.fractionOfIterationTime, recomputeSourceText(s.checkpointing.source));
    const Estimate& e = s.estimate;
    if (e.valid) {
        std::printf("  estimator     weights %s, gradients %s, optimizer state %s, activations %s per sample (batch %u, %s)\n",
                    qPrintable(bytesText(double(e.weightsBytes))), qPrintable(bytesText(double(e.gradientsBytes))),
                    qPrintable(bytesText(double(e.optimizerStateBytes))),
                    qPrintable(bytesText(double(e.activationsPerSampleBytes))), e.measuredBatch, e.batchSource.c_str());
        std::printf("                batch %u would peak at %s allocated", e.targetBatch,
                    qPrintable(bytesText(double(e.predictedPeakBytes))));
        if (e.maxBatchThatFits)
            std::printf("; largest batch that fits with %.0f%% headroom: %u", e.headroom * 100, e.maxBatchThatFits);
        std::printf("\n");
        if (!e.note.empty()) std::printf("                (%s)\n", e.note.c_str());
    }
    if (s.boundness.source == "estimated")
        std::printf("  boundness     estimated from kernel names (no hardware counters: record with --counters pm), phases by CPU time");
    else
        std::printf("  boundness     from %s counters, phases by %s", s.boundness.source.c_str(),
                    s.boundness.attribution == "launch_time" ? "kernel launch time" : "CPU time");
    if (!s.boundness.leftOut.empty()) {
        QStringList which;
        for (size_t i : s.boundness.leftOut) which << QString::number(i);
        std::printf("; iteration%s %s left out (over 3x the median %s: warm-up or a stall)",
                    s.boundness.leftOut.size() > 1 ? "s" : "", qPrintable(which.join(", ")),
                    qPrintable(msText(double(s.boundness.medianIterationNs))));
    }
    std::printf("\n");
    // The kernels that take the GPU's time, and what limits each.
    uint64_t gpuNs = 0;
    bool anyByName = false;
    for (const KernelStats& k : s.kernels) gpuNs += k.totalNs;
    for (size_t i = 0; i < s.kernels.size() && i < 5 && gpuNs; ++i) {
        const KernelStats& k = s.kernels[i];
        auto bound = s.kernelBounds.byName.find(k.nameId);
        const bool fitted = s.kernelBounds.classedByCounters.count(k.nameId) != 0;
        anyByName = anyByName || !fitted;
        std::string name = k.name.size() > 90 ? k.name.substr(0, 87) + "..." : k.name;
        const std::string cls =
            std::string(bound == s.kernelBounds.byName.end() ? "unknown" : boundText(bound->second)) + (fitted ? "" : "*");
        std::printf("  %-13s %5.1f%%  %-10s  %s\n", i == 0 ? "top kernels" : "", 100.0 * double(k.totalNs) / double(gpuNs),
                    cls.c_str(), name.c_str());
    }
    if (anyByName)
        std::printf("                (* class from the kernel's name: %s)\n",
                    s.kernelBounds.fromCounters ? "too little of it was sampled" : "no hardware counters in this trace");
    for (const auto& p : m.problems) std::printf("  problem       %s\n", p.message.c_str());
}

int runSummary(const QStringList& arguments) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Summarises a trace: iterations and phases, peak allocated and reserved memory with the blocks live at "
        "the peak, memory categories, leaks, activation checkpointing, a batch-size estimator and boundness.");
    parser.addPositionalArgument("FILE", "The .vtrace file.");
    const QCommandLineOption json("json", "Print one JSON object (schema in docs/summary-schema.md).");
    const QCommandLineOption batch("batch", "Batch size of the traced run (default: read from its command line).", "N");
    const QCommandLineOption targetBatch("target-batch", "Batch size to predict the peak for (default: twice the batch).", "N");
    const QCommandLineOption sequence("seq", "Sequence length of the traced run (default: read from its command line).", "N");
    const QCommandLineOption targetSequence("target-seq", "Sequence length to predict the peak for.", "N");
    const QCommandLineOption headroom("headroom", "Percent of device memory to keep free when fitting a batch (default 10).", "PCT");
    const QCommandLineOption top("top", "How many blocks live at the peak to list (default 10).", "N");
    parser.addOptions({json, batch, targetBatch, sequence, targetSequence, headroom, top});
    int exitCode = 0;
    if (!parseOrExit(parser, arguments, &exitCode)) return exitCode;
    if (parser.positionalArguments().size() != 1) {
        printError("summary", "expects exactly one FILE (see --help)");
        return kExitUsage;
    }
    SummaryOptions options;
    bool ok = true;
    auto number = [&](const QCommandLineOption& o, uint32_t& out) {
        if (!parser.isSet(o)) return;
        bool good = false;
        const uint value = parser.value(o).toUInt(&good);
        if (!good || value == 0) ok = false;
        else out = value;
    };
    number(batch, options.estimator.measuredBatch);
    number(targetBatch, options.estimator.targetBatch);
    number(sequence, options.estimator.measuredSequence);
    number(targetSequence, options.estimator.targetSequence);
    uint32_t topCount = 10;
    number(top, topCount);
    options.topBlocks = topCount;
    if (parser.isSet(headroom)) {
        bool good = false;
        const double pct = parser.value(headroom).toDouble(&good);
        if (!good || pct < 0 || pct >= 100) ok = false;
        else options.estimator.headroom = pct / 100.0;
    }
    if (!ok) {
        printError("summary", "--batch, --target-batch, --seq, --target-seq and --top take a positive whole number, "
                              "--headroom a percentage below 100");
        return kExitUsage;
    }

    const QString path = parser.positionalArguments().first();
    model::TraceModel m;
    if (!loadModelForCommand("summary", path, m)) {
        return kExitBadInput;
    }
    const TraceSummary s = summarize(m, options);
    if (parser.isSet(json)) {
        std::fputs(QJsonDocument(summaryJson(path, m, s)).toJson(QJsonDocument::Indented).constData(), stdout);
        return kExitOk;
    }
    printText(path, m, s);
    return kExitOk;
}

const CommandRegistration registration{
    {"summary", "Iterations, phases, peaks, categories, leaks, checkpointing, estimator", &runSummary}};

}  // namespace
}  // namespace vramscope::cli
