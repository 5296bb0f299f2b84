// vramscope summary FILE [--json]: what happened to GPU memory in a run.
// The JSON schema is docs/summary-schema.md; tests/analysis pins its keys.
#include "command.h"
#include "command_args.h"
#include "format/units.h"
#include "summary_json.h"
#include "trace_input.h"

#include "analysis/summary.h"
#include "model/model_builder.h"

#include <QDateTime>
#include <QJsonDocument>

#include <cstdio>

namespace vramscope::cli {
namespace {

using namespace vramscope::analysis;

QString bytesText(double bytes) { return QString::fromStdString(formatBytes(bytes)); }

QString msText(double ns) { return QString::asprintf("%.3f ms", ns / 1e6); }

// ", SM 12%, DRAM 58%" where counters were sampled.
QString counterText(const PhaseBoundness& b) {
    QString out;
    if (b.smThroughputPct >= 0) out += QString(", SM %1%").arg(b.smThroughputPct, 0, 'f', 0);
    if (b.dramThroughputPct >= 0) out += QString(", DRAM %1%").arg(b.dramThroughputPct, 0, 'f', 0);
    if (b.tensorPipePct >= 0) out += QString(", tensor %1%").arg(b.tensorPipePct, 0, 'f', 0);
    return out;
}

// The category column of a block list: host memory shows its kind instead
// (it is in no category), managed memory is marked.
QString blockCategoryText(const BlockInfo& b) {
    const auto kind = format::MemoryKind(b.memoryKind);
    if (kind == format::MemoryKind::PinnedHost) return "pinned host";
    if (kind == format::MemoryKind::Pageable) return "pageable host";
    QString text = categoryName(b.category);
    if (kind == format::MemoryKind::Managed) text += " (managed)";
    return text;
}

// "2 h 05 min", "12 min 30 s", "45 s".
QString spanText(uint64_t ns) {
    const uint64_t seconds = ns / 1000000000ull;
    if (seconds >= 3600) return QString("%1 h %2 min").arg(seconds / 3600).arg((seconds % 3600) / 60, 2, 10, QChar('0'));
    if (seconds >= 60) return QString("%1 min %2 s").arg(seconds / 60).arg(seconds % 60);
    return QString("%1 s").arg(seconds);
}

// "first iteration 1.58 s (warm-up), not counted", or the indices and
// durations of every iteration left out of the time figures.
QString leftOutText(const TraceSummary& s) {
    const auto& out = s.steps.leftOut;
    auto duration = [&](size_t i) { return QString::fromStdString(formatDuration(double(s.perIteration[i].durationNs))); };
    if (out.size() == 1 && out[0] == 0) return QString("first iteration %1 (warm-up), not counted").arg(duration(0));
    QStringList parts;
    for (size_t i : out) parts << QString("%1 (%2)").arg(i).arg(duration(i));
    return QString("iteration%1 %2 over 3x the median (warm-up or stalls), not counted")
        .arg(out.size() > 1 ? "s" : "", parts.join(", "));
}

// The first thing a summary says: each out-of-memory, what was asked for,
// what the device had, what was live, and how much would have to go.
void printOutOfMemory(const model::TraceModel& m, const TraceSummary& s) {
    for (const OutOfMemory& o : s.outOfMemory) {
        const QString free = o.deviceFreeBytes >= 0 ? bytesText(double(o.deviceFreeBytes)) + " free" : QString("free unknown");
        const QString total = o.deviceTotalBytes ? " of " + bytesText(double(o.deviceTotalBytes)) : QString();
        std::printf("  OUT OF MEMORY at %.3f s on device %u: %s asked for %s, %s%s\n",
                    double(o.timeNs > s.firstNs ? o.timeNs - s.firstNs : 0) / 1e9, o.deviceId,
                    o.fromFramework ? "the program" : "a driver allocation", qPrintable(bytesText(double(o.requestedBytes))),
                    qPrintable(free), qPrintable(total));
        std::printf("                allocated %s, reserved %s", qPrintable(bytesText(double(o.allocatedBytes))),
                    qPrintable(bytesText(double(o.reservedBytes))));
        if (o.largerThanDevice)
            std::printf("; larger than the whole device: nothing freed would make it fit");
        else if (o.moreThanProgramCanFree)
            std::printf("; more than free plus all the program holds: freeing its memory would not make it fit");
        else if (o.shortfallBytes)
            std::printf("; %s would have to go for it to fit", qPrintable(bytesText(double(o.shortfallBytes))));
        else if (o.deviceFreeBytes >= 0)
            std::printf("; enough was free, but not in one piece (fragmentation)");
        std::printf("\n");
        if (o.callsiteId) std::printf("                asked for at %s\n", m.callsiteText(o.callsiteId).c_str());
        QString live;
        for (int k = 0; k < kCategoryCount; ++k)
            if (o.liveByCategory[size_t(k)])
                live += QString("%1 %2; ").arg(categoryName(Category(k)), bytesText(double(o.liveByCategory[size_t(k)])));
        if (!live.isEmpty()) std::printf("                live then: %s\n", qPrintable(live.trimmed()));
        for (uint32_t b : o.largestBlocks) {
            const BlockInfo info = blockInfo(m, s.categories, b);
            std::printf("                  %10s  %-16s %s\n", qPrintable(bytesText(double(info.bytes))),
                        categoryName(info.category), info.callsite.empty() ? "-" : info.callsite.c_str());
        }
        if (o.failures > 1) std::printf("                (%u failed allocation records)\n", o.failures);
    }
}

void printText(const QString& path, const model::TraceModel& m, const TraceSummary& s) {
    std::printf("%s\n", qPrintable(path));
    // Said before any figure: each covers only what could be read.
    if (!m.problems.empty())
        std::printf("  DAMAGED       %zu problem%s (listed at the end): the figures below cover what could be read\n",
                    m.problems.size(), m.problems.size() > 1 ? "s" : "");
    printOutOfMemory(m, s);
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
    if (!s.steps.leftOut.empty()) std::printf(" over the %u steady", s.steps.steadyIterations);
    // Time between steps that no iteration holds (a training log's step time is the period).
    if (s.timeBetweenStepsShows())
        std::printf("; one every %s, %s of it between steps", qPrintable(msText(double(s.medianStepPeriodNs))),
                    qPrintable(msText(double(s.medianBetweenStepsNs))));
    std::printf("\n");
    // The warm-up, shown apart: its lazy initialisation would swamp every mean.
    if (!s.steps.leftOut.empty()) std::printf("                %s\n", qPrintable(leftOutText(s)));
    // Inferred phases say what their names rest on: a plain CUDA loop is not training.
    bool anyPhase = false;
    for (const PhaseStats& ps : s.phases) anyPhase = anyPhase || ps.iterations;
    if (anyPhase && s.iterations.phasesInferred) {
        const IterationSet& it = s.iterations;
        if (it.source == IterationSource::StackFrames)
            std::printf("  phases        from %s\n", it.phaseEvidence.c_str());
        else if (it.trainingPhases)
            std::printf("  phases        inferred; forward, backward, optimizer because of %s\n", it.phaseEvidence.c_str());
        else
            std::printf("  phases        inferred, named by position (phase 1, 2, 3): nothing says training (%s)\n",
                        it.phaseEvidence.c_str());
    }
    for (int p = 0; p < kPhaseCount; ++p) {
        const PhaseStats& ps = s.phases[size_t(p)];
        if (!ps.iterations) continue;
        const PhaseBoundness& b = s.boundness.phases[size_t(p)];
        std::printf("    %-10s  median %s, peak %s", phaseLabel(s.iterations, PhaseName(p)),
                    qPrintable(msText(double(ps.medianNs))), qPrintable(bytesText(double(ps.peakAllocatedBytes))));
        // Without kernels (an imported snapshot) there is nothing to bound.
        if (m.kernels.size())
            std::printf(", %s-bound (GPU busy %.0f%%%s)", boundText(b.bound), 100 * b.busyFraction, qPrintable(counterText(b)));
        // What the phase's kernel time went to, by the kernels' own classes.
        if (b.computeKernelShare + b.bandwidthKernelShare + b.latencyKernelShare > 0)
            std::printf("; kernel time %.0f%% compute, %.0f%% bandwidth, %.0f%% latency", 100 * b.computeKernelShare,
                        100 * b.bandwidthKernelShare, 100 * b.latencyKernelShare);
        std::printf("\n");
    }
    std::printf("  peak          allocated %s at %.3f s, reserved %s\n", qPrintable(bytesText(double(s.peakAllocated.bytes))),
                double(s.peakAllocated.timeNs > s.firstNs ? s.peakAllocated.timeNs - s.firstNs : 0) / 1e9,
                qPrintable(bytesText(double(s.peakReserved.bytes))));
    std::printf("  at the peak  ");
    for (int k = 0; k < kCategoryCount; ++k)
        if (s.categories.bytesAtPeak[size_t(k)])
            std::printf(" %s %s;", categoryName(Category(k)), qPrintable(bytesText(double(s.categories.bytesAtPeak[size_t(k)]))));
    if (s.categories.hostBytesAtPeak)
        std::printf(" and %s of host memory (pinned), not on the device: in no category;",
                    qPrintable(bytesText(double(s.categories.hostBytesAtPeak))));
    std::printf("\n  largest blocks live at the peak:\n");
    for (const BlockInfo& b : s.topBlocksAtPeak)
        std::printf("    %12s  %-18s %s%s\n", qPrintable(bytesText(double(b.bytes))), qPrintable(blockCategoryText(b)),
                    b.phase >= 0 ? phaseLabel(s.iterations, PhaseName(b.phase)) : "-",
                    b.callsite.empty() ? "" : ("  " + b.callsite).c_str());
    if (s.leak.detected) {
        std::printf("  leak          %s per iteration from iteration %d (%s still held at the end)\n",
                    qPrintable(bytesText(double(s.leak.bytesPerIteration))), s.leak.firstIteration,
                    qPrintable(bytesText(double(s.leak.totalLeakedBytes))));
        for (const LeakGroup& g : s.leak.groups)
            std::printf("    %llu blocks of %s, %s total, allocated in %s%s\n", (unsigned long long)g.blocks,
                        qPrintable(bytesText(double(g.minBytes))), qPrintable(bytesText(double(g.totalBytes))),
                        g.signature.phase >= 0 ? phaseLabel(s.iterations, PhaseName(g.signature.phase)) : "no phase",
                        g.callsite.empty() ? "" : (" at " + g.callsite).c_str());
        if (s.leak.leftOutBlocks)
            std::printf("    not counted: %llu more block%s (%s) from iteration %d on: %s\n",
                        (unsigned long long)s.leak.leftOutBlocks, s.leak.leftOutBlocks > 1 ? "s" : "",
                        qPrintable(bytesText(double(s.leak.leftOutBytes))), s.leak.leftOutFromIteration, kLeftOutReason);
    } else {
        std::printf("  leak          none\n");
    }
    if (s.checkpointing.detected) {
        const CheckpointingReport& c = s.checkpointing;
        const size_t backward = size_t(PhaseName::Backward);
        std::printf("  checkpointing recompute kernels %s per iteration (%.1f%% of the time, %.1f%% of backward; from %s)\n",
                    qPrintable(msText(double(c.recomputeNsPerIteration))), 100 * c.fractionOfIterationTime,
                    100 * c.fractionOfBackward, recomputeSourceText(c.source));
        // What users see as checkpointing's cost is often the GPU waiting
        // while the CPU re-runs forward, not the recompute kernels.
        if (s.phases[backward].steadyIterations) {
            std::printf("                backward median %s, GPU busy %.0f%%", qPrintable(msText(double(s.phases[backward].medianNs))),
                        100 * s.boundness.phases[backward].busyFraction);
            if (c.recomputeRegionNsPerIteration)
                std::printf("; the CPU spends %s of it (%.0f%%) in the recomputed forwards",
                            qPrintable(msText(double(c.recomputeRegionNsPerIteration))), 100 * c.regionFractionOfBackward);
            std::printf("\n");
        }
    }
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
    // "none": no iterations, so no phases to classify; kernels still have a class.
    const bool noPhases = s.boundness.source == "none";
    if (m.kernels.size() == 0)
        std::printf("  boundness     none: no kernels in this trace");
    else if (s.boundness.source == "estimated" || (noPhases && !s.kernelBounds.fromCounters))
        std::printf("  boundness     estimated from kernel names (no hardware counters: record with --counters pm)%s",
                    noPhases ? "; no iterations, so per kernel only" : ", phases by CPU time");
    else if (noPhases)
        std::printf("  boundness     from hardware counters, per kernel only (no iterations)");
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
    SummaryArgs args;
    int exitCode = 0;
    if (!parseSummaryArgs(arguments, &args, &exitCode)) return exitCode;
    const SummaryOptions& options = args.options;

    const QString path = args.path;
    model::TraceModel m;
    if (!loadModelForCommand("summary", path, m)) {
        return kExitBadInput;
    }
    const TraceSummary s = summarize(m, options);
    if (args.json) {
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
