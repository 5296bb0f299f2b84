// vramscope export FILE --format chrome|csv|kernels -o OUT: a trace for
// Perfetto / chrome://tracing, a CSV of every allocation, or one of every
// kernel name with its class.
#include "command.h"
#include "trace_input.h"

#include "analysis/categories.h"
#include "analysis/iterations.h"
#include "analysis/kernel_boundness.h"
#include "export/chrome_trace.h"
#include "export/csv_export.h"
#include "model/model_builder.h"

#include <cstdio>
#include <fstream>
#include <iostream>

namespace vramscope::cli {
namespace {

int runExport(const QStringList& arguments) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Exports a trace. chrome: Chrome trace / Perfetto JSON (open in ui.perfetto.dev) with memory and hardware counters as "
        "counter tracks, kernels and copies per stream, NVTX ranges, iterations and phases. csv: one row per allocation "
        "with its lifetime, size, category, iteration and phase. kernels: one CSV row per kernel name with its launches, GPU "
        "time, class (compute, bandwidth, latency) and, with hardware counters, its SM, DRAM and tensor-pipe percentages.");
    parser.addPositionalArgument("FILE", "The .vtrace file.");
    const QCommandLineOption format("format", "chrome, csv or kernels.", "FORMAT");
    const QCommandLineOption output({"o", "output"}, "Where to write (- for standard output).", "OUT");
    const QCommandLineOption maxPoints("max-counter-points",
                                       "chrome: draw memory curves with at most N points (default: every point).", "N");
    const QCommandLineOption noKernels("no-kernels", "chrome: leave kernels and copies out (smaller files).");
    parser.addOptions({format, output, maxPoints, noKernels});
    int exitCode = 0;
    if (!parseOrExit(parser, arguments, &exitCode)) return exitCode;
    if (parser.positionalArguments().size() != 1) {
        printError("export", "expects exactly one FILE (see --help)");
        return kExitUsage;
    }
    const QString kind = parser.value(format);
    if (kind != "chrome" && kind != "csv" && kind != "kernels") {
        printError("export", "--format must be chrome, csv or kernels");
        return kExitUsage;
    }
    if (!parser.isSet(output)) {
        printError("export", "-o OUT is required (use - for standard output)");
        return kExitUsage;
    }
    exporting::ChromeTraceOptions options;
    options.kernels = !parser.isSet(noKernels);
    if (parser.isSet(maxPoints)) {
        bool good = false;
        options.maxCounterPoints = parser.value(maxPoints).toUInt(&good);
        if (!good) {
            printError("export", "--max-counter-points takes a whole number");
            return kExitUsage;
        }
    }

    const QString path = parser.positionalArguments().first();
    model::TraceModel m;
    if (!loadModelForCommand("export", path, m)) {
        return kExitBadInput;
    }
    const analysis::IterationSet iterations = analysis::detectIterations(m);

    const QString outPath = parser.value(output);
    std::ofstream file;
    if (outPath != "-") {
        file.open(outPath.toStdString(), std::ios::binary | std::ios::trunc);
        if (!file) {
            printError("export", outPath + ": cannot be written (check the folder exists and is writable)");
            return kExitBadInput;
        }
    }
    std::ostream& out = outPath == "-" ? static_cast<std::ostream&>(std::cout) : file;
    bool ok;
    if (kind == "chrome") {
        ok = exporting::writeChromeTrace(m, iterations, out, options);
    } else if (kind == "kernels") {
        ok = exporting::writeKernelsCsv(analysis::kernelStats(m), analysis::kernelBoundness(m), out);
    } else {
        const analysis::Categorization categories = analysis::categorize(m, iterations);
        ok = exporting::writeAllocationsCsv(m, &categories, out);
    }
    if (!ok) {
        printError("export", outPath + ": writing failed (disk full?)");
        return kExitBadInput;
    }
    if (outPath != "-") std::fprintf(stderr, "wrote %s (%s)\n", qPrintable(outPath), qPrintable(kind));
    return kExitOk;
}

const CommandRegistration registration{{"export", "Export to Chrome trace/Perfetto JSON, or allocations or kernels as CSV", &runExport}};

}  // namespace
}  // namespace vramscope::cli
