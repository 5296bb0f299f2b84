// vramscope export FILE --format chrome|csv|kernels -o OUT: a trace for
// Perfetto / chrome://tracing, a CSV of every allocation, or one of every
// kernel name with its class.
#include "command.h"
#include "command_args.h"
#include "path_bytes.h"
#include "trace_input.h"

#include "analysis/categories.h"
#include "analysis/iterations.h"
#include "analysis/kernel_boundness.h"
#include "export/chrome_trace.h"
#include "export/csv_export.h"
#include "format/output_file.h"
#include "model/model_builder.h"

#include <cstdio>
#include <fstream>
#include <iostream>

namespace vramscope::cli {
namespace {

int runExport(const QStringList& arguments) {
    ExportArgs args;
    int exitCode = 0;
    if (!parseExportArgs(arguments, &args, &exitCode)) return exitCode;
    const exporting::ChromeTraceOptions& options = args.chrome;
    const QString& kind = args.format;
    const QString path = args.path;
    // Written beside OUT and renamed over it once complete: OUT is never the
    // input, never truncated first, never left half written.
    const QString outPath = args.output;
    format::OutputFile target;
    std::ofstream file;
    std::string error;
    if (outPath != "-") {
        if (!target.begin(pathBytes(outPath), {pathBytes(path)}, &error)) {
            printError("export", textFromBytes(error));
            return target.refusedPath() ? kExitUsage : kExitBadInput;
        }
        file.open(target.writePath(), std::ios::binary | std::ios::trunc);
        if (!file) {
            printError("export", outPath + ": cannot be written (check the folder exists and is writable)");
            return kExitBadInput;
        }
    }

    model::TraceModel m;
    if (!loadModelForCommand("export", path, m)) {
        return kExitBadInput;
    }
    const analysis::IterationSet iterations = analysis::detectIterations(m);
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
    if (file.is_open()) {
        file.close();
        ok = ok && !file.fail();
    }
    if (!ok) {
        printError("export", outPath + ": writing failed (disk full?)");
        return kExitBadInput;
    }
    if (!target.commit(&error)) {
        printError("export", textFromBytes(error));
        return kExitBadInput;
    }
    if (outPath != "-") std::fprintf(stderr, "wrote %s (%s)\n", pathBytes(outPath).c_str(), qPrintable(kind));
    return kExitOk;
}

const CommandRegistration registration{{"export", "Export to Chrome trace/Perfetto JSON, or allocations or kernels as CSV", &runExport}};

}  // namespace
}  // namespace vramscope::cli
