// vramscope diff A B [--json] [--fail-on-regression PCT [--allow-damaged]]:
// two runs aligned by iteration. Exit code 3 when B's peak allocated exceeds
// A's by more than PCT percent, so it can guard memory in CI; exit code 4 when
// A or B cannot be judged (damaged or empty), so a broken trace never passes.
#include "command.h"
#include "command_args.h"
#include "format/units.h"
#include "path_bytes.h"
#include "trace_input.h"

#include "analysis/compare.h"
#include "analysis/summary.h"
#include "model/model_builder.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace vramscope::cli {
namespace {

using namespace vramscope::analysis;

QJsonObject deltaJson(const ValueDelta& d) {
    return QJsonObject{{"a", d.a}, {"b", d.b}, {"delta", d.delta()}, {"percent", d.percent()}};
}

// A counter mean: null on a side that had no counters (-1), no delta then.
QJsonObject counterDeltaJson(const ValueDelta& d) {
    if (d.a >= 0 && d.b >= 0) return deltaJson(d);
    return QJsonObject{{"a", d.a >= 0 ? QJsonValue(d.a) : QJsonValue()},
                       {"b", d.b >= 0 ? QJsonValue(d.b) : QJsonValue()},
                       {"delta", QJsonValue()},
                       {"percent", QJsonValue()}};
}

QString bytesText(double bytes) { return QString::fromStdString(formatBytes(bytes)); }

QJsonArray leftOutJson(const std::vector<LeftOutIteration>& list) {
    QJsonArray out;
    for (const auto& l : list) out.append(QJsonObject{{"index", qint64(l.index)}, {"duration_ns", qint64(l.durationNs)}});
    return out;
}

// "first iteration 468 ms (warm-up)", "iterations 0 (1.58 s), 9 (60.2 ms)", "none".
QString leftOutText(const std::vector<LeftOutIteration>& list) {
    auto duration = [](uint64_t ns) { return QString::fromStdString(formatDuration(double(ns))); };
    if (list.empty()) return "none";
    if (list.size() == 1 && list[0].index == 0) return QString("first iteration %1 (warm-up)").arg(duration(list[0].durationNs));
    QStringList parts;
    for (const auto& l : list) parts << QString("%1 (%2)").arg(l.index).arg(duration(l.durationNs));
    return QString("iteration%1 %2").arg(list.size() > 1 ? "s" : "", parts.join(", "));
}

// What checkpointing saved and cost, from the run that checkpoints.
void printTradeOff(const Comparison& c) {
    const CheckpointingTradeOff t = c.tradeOff();
    const char* run = t.checkpointedIsA ? "A" : "B";
    std::printf("  checkpointing (%s): saves %s of peak allocated (%.1f%%) and ", run,
                qPrintable(bytesText(double(t.peakSavedBytes))), t.peakSavedPercent);
    if (t.stepTimeAddedNs >= 0)
        std::printf("costs %+.3f ms per step (%+.1f%%", double(t.stepTimeAddedNs) / 1e6, t.stepTimeAddedPercent);
    else
        std::printf("its step is %.3f ms shorter (%+.1f%%", -double(t.stepTimeAddedNs) / 1e6, t.stepTimeAddedPercent);
    std::printf(", median step period of the steady iterations)\n");
    std::printf("                     per step: recompute kernels %+.3f ms, GPU idle %+.3f ms, other kernels %+.3f ms "
                "(medians); backward GPU busy %.0f%% -> %.0f%%\n",
                double(t.recomputeAddedNs) / 1e6, double(t.gpuIdleAddedNs) / 1e6, double(t.otherKernelAddedNs) / 1e6,
                100 * t.backwardBusyOther, 100 * t.backwardBusyOwn);
}

void printRow(const char* label, const ValueDelta& d, bool bytes) {
    auto text = [&](double v) { return bytes ? bytesText(v) : QString::asprintf("%.3f ms", v / 1e6); };
    std::printf("  %-22s %14s -> %-14s %+8.2f%%\n", label, qPrintable(text(d.a)), qPrintable(text(d.b)), d.percent());
}

// A run as diff compares it: its summary, and why its figures are no
// verdict for a gate: what the reader found wrong (cut off, corrupt chunks,
// no footer: the trace of a killed job), or no allocation at all (a peak of
// 0 B would pass any threshold).
struct ComparedRun {
    TraceSummary summary;
    QStringList damage;  // sentences; empty when the trace is whole
};

bool loadRun(const QString& path, ComparedRun& out) {
    model::TraceModel m;
    if (!loadModelForCommand("diff", path, m)) {
        return false;
    }
    out.summary = summarize(m);
    for (const auto& p : m.problems) out.damage << textFromBytes(p.message);
    if (m.allocated.empty()) out.damage << "no memory allocations in this trace: nothing to compare";
    return true;
}

// "B is damaged", "A and B are damaged".
QString damagedRunsText(const ComparedRun& a, const ComparedRun& b) {
    if (!a.damage.isEmpty() && !b.damage.isEmpty()) return "A and B are damaged";
    return QString("%1 is damaged").arg(a.damage.isEmpty() ? "B" : "A");
}

// Each problem of a run, at most 5 (a trace with thousands of corrupt chunks
// says how many more).
void printDamage(const char* run, const QStringList& damage) {
    for (qsizetype i = 0; i < damage.size() && i < 5; ++i)
        std::printf("  %-22s %s\n", i == 0 ? (QByteArray("damaged ") + run).constData() : "",
                    pathBytes(damage[i]).c_str());
    if (damage.size() > 5) std::printf("  %-22s and %lld more\n", "", static_cast<long long>(damage.size() - 5));
}

int runDiff(const QStringList& arguments) {
    DiffArgs args;
    int exitCode = 0;
    if (!parseDiffArgs(arguments, &args, &exitCode)) return exitCode;
    const double threshold = args.thresholdPercent;
    const QString pathA = args.pathA, pathB = args.pathB;
    ComparedRun runA, runB;
    if (!loadRun(pathA, runA) || !loadRun(pathB, runB)) return kExitBadInput;
    const TraceSummary& a = runA.summary;
    const TraceSummary& b = runB.summary;
    const Comparison c = compareRuns(a, b, args.topKernels);
    const bool damaged = !runA.damage.isEmpty() || !runB.damage.isEmpty();
    // The gate judges whole traces only, unless told to judge what could be read.
    const bool gate = threshold >= 0;
    const bool refused = gate && damaged && !args.allowDamaged;
    const bool regressed = gate && !refused && c.regressed(threshold);
    if (refused)
        printError("diff", QString("%1 (%2): no verdict, exit %3 (--allow-damaged judges what could be read)")
                               .arg(damagedRunsText(runA, runB), runB.damage.isEmpty() ? runA.damage.first() : runB.damage.first())
                               .arg(int(kExitDamagedInput)));

    if (args.json) {
        QJsonObject phases, categories;
        for (int p = 0; p < kPhaseCount; ++p)
            phases[phaseNameText(PhaseName(p))] = QJsonObject{
                {"mean_duration_ns", deltaJson(c.phaseMeanNs[size_t(p)])},
                {"median_duration_ns", deltaJson(c.phaseMedianNs[size_t(p)])},
                {"peak_allocated_bytes", deltaJson(c.phasePeakBytes[size_t(p)])},
                {"bound", QJsonObject{{"a", boundText(c.boundA[size_t(p)])},
                                      {"b", boundText(c.boundB[size_t(p)])},
                                      {"changed", c.boundA[size_t(p)] != c.boundB[size_t(p)]}}},
                {"busy_fraction", deltaJson(c.busyFraction[size_t(p)])},
                {"sm_throughput_pct", counterDeltaJson(c.smThroughputPct[size_t(p)])},
                {"dram_throughput_pct", counterDeltaJson(c.dramThroughputPct[size_t(p)])},
            };
        for (int k = 0; k < kCategoryCount; ++k)
            categories[categoryName(Category(k))] = deltaJson(c.categoryPeakBytes[size_t(k)]);
        QJsonArray kernels, iterations;
        for (const auto& k : c.kernels)
            kernels.append(QJsonObject{{"name", QString::fromStdString(k.name)},
                                       {"ns_per_iteration", deltaJson(k.nsPerIteration)},
                                       {"count_per_iteration", deltaJson(k.countPerIteration)}});
        for (const auto& it : c.iterations)
            iterations.append(QJsonObject{{"index", qint64(it.index)},
                                          {"peak_allocated_bytes", deltaJson(it.peakAllocatedBytes)},
                                          {"duration_ns", deltaJson(it.durationNs)}});
        const QJsonObject o{
            {"a", pathA},
            {"b", pathB},
            {"iterations", QJsonObject{{"a", qint64(c.iterationsA)}, {"b", qint64(c.iterationsB)}}},
            {"aligned_iterations", qint64(c.alignedIterations)},
            {"steady_iterations", QJsonObject{{"a", qint64(c.steadyA)}, {"b", qint64(c.steadyB)}}},
            {"left_out_iterations", QJsonObject{{"a", leftOutJson(c.leftOutA)}, {"b", leftOutJson(c.leftOutB)}}},
            {"peak_allocated_bytes", deltaJson(c.peakAllocatedBytes)},
            {"peak_reserved_bytes", deltaJson(c.peakReservedBytes)},
            {"mean_iteration_ns", deltaJson(c.meanIterationNs)},
            {"median_iteration_ns", deltaJson(c.medianIterationNs)},
            {"median_step_period_ns", deltaJson(c.medianStepPeriodNs)},
            {"gpu_busy_per_step_ns", deltaJson(c.gpuBusyPerStepNs)},
            {"gpu_idle_per_step_ns", deltaJson(c.gpuIdlePerStepNs)},
            {"leak_bytes_per_iteration", deltaJson(c.leakBytesPerIteration)},
            {"phases", phases},
            {"categories", categories},
            {"kernels", kernels},
            {"per_iteration", iterations},
            {"checkpointing", QJsonObject{{"checkpointed_run", checkpointedRunText(c.checkpointed)},
                                          {"peak_saved_bytes", qint64(c.peakSavedBytes)},
                                          {"iteration_time_added_ns", qint64(c.iterationTimeAddedNs)},
                                          {"step_time_added_ns", qint64(c.stepTimeAddedNs)},
                                          {"gpu_idle_added_ns", qint64(c.gpuIdlePerStepNs.delta())},
                                          {"other_kernel_added_ns", qint64(c.gpuBusyPerStepNs.delta() -
                                                                           c.recomputeNsPerIteration.delta())},
                                          {"recompute_ns_per_iteration", deltaJson(c.recomputeNsPerIteration)}}},
            {"boundness_source", QJsonObject{{"a", QString::fromStdString(c.boundSourceA)},
                                             {"b", QString::fromStdString(c.boundSourceB)}}},
            {"problems", QJsonObject{{"a", QJsonArray::fromStringList(runA.damage)},
                                     {"b", QJsonArray::fromStringList(runB.damage)}}},
            {"regression", QJsonObject{{"threshold_percent", gate ? QJsonValue(threshold) : QJsonValue()},
                                       {"regressed", refused ? QJsonValue() : QJsonValue(regressed)},
                                       {"allow_damaged", args.allowDamaged},
                                       {"verdict", !gate      ? QJsonValue()
                                                   : refused  ? QJsonValue("damaged_input")
                                                   : regressed ? QJsonValue("regression")
                                                              : QJsonValue("ok")}}},
        };
        std::fputs(QJsonDocument(o).toJson(QJsonDocument::Indented).constData(), stdout);
    } else {
        std::printf("A %s\nB %s\n", pathBytes(pathA).c_str(), pathBytes(pathB).c_str());
        // Said first: every figure below is of what could be read.
        printDamage("A", runA.damage);
        printDamage("B", runB.damage);
        std::printf("  iterations %zu vs %zu, %zu aligned; times below over the steady ones, %zu vs %zu\n", c.iterationsA,
                    c.iterationsB, c.alignedIterations, c.steadyA, c.steadyB);
        // The warm-up, shown apart: it lasts as long as it lasts in each run.
        if (!c.leftOutA.empty() || !c.leftOutB.empty())
            std::printf("  not counted: A %s; B %s\n", qPrintable(leftOutText(c.leftOutA)), qPrintable(leftOutText(c.leftOutB)));
        printRow("peak allocated", c.peakAllocatedBytes, true);
        printRow("peak reserved", c.peakReservedBytes, true);
        printRow("iteration (median)", c.medianIterationNs, false);
        printRow("iteration (mean)", c.meanIterationNs, false);
        printRow("step period (median)", c.medianStepPeriodNs, false);
        printRow("GPU busy per step", c.gpuBusyPerStepNs, false);
        printRow("GPU idle per step", c.gpuIdlePerStepNs, false);
        printRow("leak per iteration", c.leakBytesPerIteration, true);
        for (int p = 0; p < kPhaseCount; ++p) {
            const QByteArray name = phaseNameText(PhaseName(p));
            printRow((name + " time (median)").constData(), c.phaseMedianNs[size_t(p)], false);
            printRow((name + " peak").constData(), c.phasePeakBytes[size_t(p)], true);
        }
        for (int p = 0; p < kPhaseCount; ++p) {
            const size_t i = size_t(p);
            if (c.boundA[i] == Bound::Unknown && c.boundB[i] == Bound::Unknown) continue;
            std::printf("  %-22s %14s -> %-14s GPU busy %.0f%% -> %.0f%%%s\n",
                        (QByteArray(phaseNameText(PhaseName(p))) + " bound").constData(), boundText(c.boundA[i]),
                        boundText(c.boundB[i]), 100 * c.busyFraction[i].a, 100 * c.busyFraction[i].b,
                        c.boundA[i] != c.boundB[i] ? "  (changed)" : "");
        }
        if (c.boundSourceA != c.boundSourceB)
            std::printf("  boundness from %s counters in A, %s in B\n", c.boundSourceA.c_str(), c.boundSourceB.c_str());
        for (int k = 0; k < kCategoryCount; ++k)
            if (c.categoryPeakBytes[size_t(k)].a || c.categoryPeakBytes[size_t(k)].b)
                printRow(categoryName(Category(k)), c.categoryPeakBytes[size_t(k)], true);
        if (c.checkpointed != CheckpointedRun::None) printTradeOff(c);
        if (!c.kernels.empty()) std::printf("  kernels with the largest change in time per step:\n");
        for (const auto& k : c.kernels) {
            if (k.nsPerIteration.delta() == 0) continue;
            std::printf("    %+10.3f ms  %s\n", k.nsPerIteration.delta() / 1e6, k.name.substr(0, 100).c_str());
        }
        if (refused)
            std::printf("  DAMAGED INPUT: %s (above), so peak allocated %+.2f%% is no verdict (threshold %.2f%%; "
                        "--allow-damaged judges what could be read)\n",
                        qPrintable(damagedRunsText(runA, runB)), c.peakAllocatedBytes.percent(), threshold);
        else if (gate)
            std::printf("  %s: peak allocated %+.2f%% (threshold %.2f%%)%s\n", regressed ? "REGRESSION" : "ok",
                        c.peakAllocatedBytes.percent(), threshold,
                        damaged ? ", judged on what could be read (--allow-damaged)" : "");
    }
    if (refused) return kExitDamagedInput;
    return regressed ? kExitRegression : kExitOk;
}

const CommandRegistration registration{
    {"diff", "Compare two runs by iteration; exit 3 on a peak-memory regression, 4 on a damaged input", &runDiff}};

}  // namespace
}  // namespace vramscope::cli
