// The JSON form of vramscope summary; docs/summary-schema.md is its schema.
#include "summary_json.h"

#include <QJsonArray>
#include <QJsonValue>

namespace vramscope::cli {

using namespace vramscope::analysis;

const char* levelText(model::AllocationLevel level) {
    switch (level) {
    case model::AllocationLevel::Tensor: return "tensor";
    case model::AllocationLevel::Driver: return "driver";
    default: return "none";
    }
}

const char* const kLeftOutReason =
    "freed before two more iterations began (at the end of the run), so they cannot be told from memory kept for one step";

namespace {

QJsonValue orNull(int64_t value, bool present) { return present ? QJsonValue(qint64(value)) : QJsonValue(); }

// What each phase key is called for people: the key itself for a training
// step's phases, "phase 1/2/3" for phases inferred in a program not shown to train.
QJsonObject phaseLabels(const IterationSet& set) {
    QJsonObject labels;
    for (int p = 0; p < kPhaseCount; ++p) labels[phaseNameText(PhaseName(p))] = phaseLabel(set, PhaseName(p));
    return labels;
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

QJsonObject blockJson(const BlockInfo& b) {
    return QJsonObject{
        {"bytes", qint64(b.bytes)},
        {"address", QString::asprintf("0x%llx", static_cast<unsigned long long>(b.address))},
        {"alloc_ns", qint64(b.allocNs)},
        {"free_ns", orNull(qint64(b.freeNs), b.freeNs != model::kNeverNs)},
        // Host memory (pinned, pageable) is not device memory: in no category.
        {"category", isHostMemory(b.memoryKind) ? QJsonValue() : QJsonValue(categoryName(b.category))},
        {"kind", memoryKindText(b.memoryKind)},
        {"iteration", orNull(b.iteration, b.iteration >= 0)},
        {"phase", b.phase >= 0 ? QJsonValue(phaseNameText(PhaseName(b.phase))) : QJsonValue()},
        {"callsite", QString::fromStdString(b.callsite)},
    };
}

// Each out-of-memory and what the device held then (docs/summary-schema.md, "oom").
QJsonArray oomJson(const model::TraceModel& m, const TraceSummary& s) {
    QJsonArray out;
    for (const OutOfMemory& o : s.outOfMemory) {
        QJsonObject live;
        for (int k = 0; k < kCategoryCount; ++k) live[categoryName(Category(k))] = qint64(o.liveByCategory[size_t(k)]);
        QJsonArray largest;
        for (uint32_t b : o.largestBlocks) largest.append(blockJson(blockInfo(m, s.categories, b)));
        out.append(QJsonObject{
            {"time_ns", qint64(o.timeNs)},
            {"device", qint64(o.deviceId)},
            {"source", o.fromFramework ? "framework" : "driver"},
            {"failures", qint64(o.failures)},
            {"requested_bytes", qint64(o.requestedBytes)},
            {"allocated_bytes", qint64(o.allocatedBytes)},
            {"reserved_bytes", qint64(o.reservedBytes)},
            {"device_free_bytes", orNull(o.deviceFreeBytes, o.deviceFreeBytes >= 0)},
            {"device_total_bytes", orNull(qint64(o.deviceTotalBytes), o.deviceTotalBytes > 0)},
            {"shortfall_bytes", qint64(o.shortfallBytes)},
            {"larger_than_device", o.largerThanDevice},
            {"more_than_program_can_free", o.moreThanProgramCanFree},
            {"live_by_category", live},
            {"largest_blocks", largest},
            {"callsite", QString::fromStdString(m.callsiteText(o.callsiteId))},
        });
    }
    return out;
}

}  // namespace

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
            {"period_ns", qint64(it.periodNs)},
            {"gpu_busy_ns", qint64(it.gpuBusyNs)},
            {"recompute_ns", qint64(it.recomputeNs)},
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
            {"steady_iterations", qint64(ps.steadyIterations)},
            {"mean_duration_ns", qint64(ps.meanNs)},
            {"median_duration_ns", qint64(ps.medianNs)},
            {"total_duration_ns", qint64(ps.totalNs)},
            {"peak_allocated_bytes", qint64(ps.peakAllocatedBytes)},
            {"mean_peak_allocated_bytes", qint64(ps.meanPeakAllocatedBytes)},
        };
    }
    QJsonArray topBlocks;
    for (const BlockInfo& b : s.topBlocksAtPeak) topBlocks.append(blockJson(b));
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
        {"training_phases", s.iterations.trainingPhases},
        {"phase_labels", phaseLabels(s.iterations)},
        {"phase_evidence", QString::fromStdString(s.iterations.phaseEvidence)},
        {"kernels_per_iteration", qint64(s.iterations.kernelsPerIteration)},
        {"steady_iterations", qint64(s.steps.steadyIterations)},
        {"mean_iteration_ns", qint64(s.meanIterationNs)},
        {"median_iteration_ns", qint64(s.medianIterationNs)},
        {"median_step_period_ns", qint64(s.medianStepPeriodNs)},
        {"median_between_steps_ns", qint64(s.medianBetweenStepsNs)},
        {"median_step_gpu_busy_ns", qint64(s.steps.medianGpuBusyNs)},
        {"median_step_gpu_idle_ns", qint64(s.steps.medianGpuIdleNs)},
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
             {"counted_iterations", qint64(s.leak.countedIterations)},
             {"left_out_blocks", qint64(s.leak.leftOutBlocks)},
             {"left_out_bytes", qint64(s.leak.leftOutBytes)},
             {"left_out_from_iteration", orNull(s.leak.leftOutFromIteration, s.leak.leftOutFromIteration >= 0)},
             {"left_out_reason", s.leak.leftOutBlocks ? QString(kLeftOutReason) : QString()},
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
             {"fraction_of_backward", c.fractionOfBackward},
             {"recompute_region_ns_per_iteration", qint64(c.recomputeRegionNsPerIteration)},
             {"region_fraction_of_backward", c.regionFractionOfBackward},
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
        {"oom", oomJson(m, s)},
    };
}

}  // namespace vramscope::cli
