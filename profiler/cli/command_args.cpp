#include "command_args.h"

#include "capture_options.h"
#include "command.h"
#include "number_args.h"
#include "path_bytes.h"

#include <QCommandLineParser>

#include <cstdio>

namespace vramscope::cli {

namespace {

// The estimator doubles a batch in 32 bits and reads at most 2^24 from a
// traced command line (estimator.cpp); the options take the same range.
constexpr uint64_t kMaxBatchOrSequence = 1u << 24;
constexpr const char* kEstimatorWhy = "the estimator's range";
// More rows than any table needs; far below what would not fit in memory.
constexpr uint64_t kMaxListed = 100'000;

// Reads a set option through number_args.h; false after printing its
// usage error. An option not given keeps *out.
bool wholeOption(const char* command, const QCommandLineParser& parser, const QCommandLineOption& option, uint64_t lo,
                 uint64_t hi, uint64_t* out, const char* why = nullptr) {
    if (!parser.isSet(option)) return true;
    std::string error;
    if (readWholeNumber("--" + option.names().constLast().toStdString(), parser.value(option).toStdString(), lo, hi, out,
                        &error, why))
        return true;
    printError(command, QString::fromStdString(error));
    return false;
}

bool decimalOption(const char* command, const QCommandLineParser& parser, const QCommandLineOption& option, double lo,
                   double hi, double* out, const char* why = nullptr) {
    if (!parser.isSet(option)) return true;
    std::string error;
    if (readDecimalNumber("--" + option.names().constLast().toStdString(), parser.value(option).toStdString(), lo, hi,
                          out, &error, why))
        return true;
    printError(command, QString::fromStdString(error));
    return false;
}

// Ends parsing with a usage error.
bool usage(const char* command, const QString& message, int* exitCode) {
    printError(command, message);
    *exitCode = kExitUsage;
    return false;
}

}  // namespace

bool parseSummaryArgs(const QStringList& arguments, SummaryArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Summarises a trace: iterations and phases, peak allocated and reserved memory with the blocks live at "
        "the peak, memory categories, leaks, activation checkpointing, a batch-size estimator and boundness. "
        "A damaged trace (cut off, corrupt chunks, no footer) is summarised as far as it could be read and says so.");
    parser.addPositionalArgument("FILE", "The .vtrace file.");
    const QCommandLineOption json("json", "Print one JSON object (schema in docs/summary-schema.md).");
    const QCommandLineOption batch("batch", "Batch size of the traced run, 1 to 16777216 (default: read from its command line).",
                                   "N");
    const QCommandLineOption targetBatch("target-batch",
                                         "Batch size to predict the peak for, 1 to 16777216 (default: twice the batch).", "N");
    const QCommandLineOption sequence("seq", "Sequence length of the traced run, 1 to 16777216 (default: read from its command line).",
                                      "N");
    const QCommandLineOption targetSequence("target-seq", "Sequence length to predict the peak for, 1 to 16777216.", "N");
    const QCommandLineOption headroom("headroom",
                                      "Percent of device memory to keep free when fitting a batch, 0 to 99 (default 10).", "PCT");
    const QCommandLineOption top("top", "How many blocks live at the peak to list, 1 to 100000 (default 10).", "N");
    parser.addOptions({json, batch, targetBatch, sequence, targetSequence, headroom, top});
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    if (parser.positionalArguments().size() != 1) return usage("summary", "expects exactly one FILE (see --help)", exitCode);
    analysis::EstimatorOptions& e = out->options.estimator;
    uint64_t measuredBatch = e.measuredBatch, wantedBatch = e.targetBatch, measuredSequence = e.measuredSequence,
             wantedSequence = e.targetSequence, topBlocks = out->options.topBlocks;
    double headroomPercent = e.headroom * 100;
    if (!wholeOption("summary", parser, batch, 1, kMaxBatchOrSequence, &measuredBatch, kEstimatorWhy) ||
        !wholeOption("summary", parser, targetBatch, 1, kMaxBatchOrSequence, &wantedBatch, kEstimatorWhy) ||
        !wholeOption("summary", parser, sequence, 1, kMaxBatchOrSequence, &measuredSequence, kEstimatorWhy) ||
        !wholeOption("summary", parser, targetSequence, 1, kMaxBatchOrSequence, &wantedSequence, kEstimatorWhy) ||
        !wholeOption("summary", parser, top, 1, kMaxListed, &topBlocks) ||
        !decimalOption("summary", parser, headroom, 0, 99, &headroomPercent)) {
        *exitCode = kExitUsage;
        return false;
    }
    e.measuredBatch = uint32_t(measuredBatch);
    e.targetBatch = uint32_t(wantedBatch);
    e.measuredSequence = uint32_t(measuredSequence);
    e.targetSequence = uint32_t(wantedSequence);
    e.headroom = headroomPercent / 100.0;
    out->options.topBlocks = size_t(topBlocks);
    out->path = parser.positionalArguments().first();
    out->json = parser.isSet(json);
    return true;
}

bool parseDiffArgs(const QStringList& arguments, DiffArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Compares two traces aligned by iteration: peak allocated and reserved, per phase, per category and per "
        "kernel, and for checkpointing the peak saved against the time spent. With --fail-on-regression, exits "
        "with code 3 when B's peak allocated memory exceeds A's by more than PCT percent, and with code 4 when "
        "A or B is damaged (cut off, corrupt chunks, no footer: a killed job) or holds no allocations, since "
        "its peak says nothing then; --allow-damaged compares such a trace anyway.");
    parser.addPositionalArgument("A", "The baseline .vtrace file.");
    parser.addPositionalArgument("B", "The .vtrace file to compare with it.");
    const QCommandLineOption json("json", "Print one JSON object (schema in docs/summary-schema.md).");
    const QCommandLineOption fail("fail-on-regression",
                                  "Exit with code 3 when peak allocated grows by more than PCT percent (0 to 1000000).",
                                  "PCT");
    const QCommandLineOption allowDamaged("allow-damaged",
                                          "With --fail-on-regression: judge a damaged or empty trace by what could be "
                                          "read instead of exiting with code 4.");
    const QCommandLineOption top("top", "How many kernels with the largest change to list, 0 to 100000 (default 10).", "N");
    parser.addOptions({json, fail, allowDamaged, top});
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    if (parser.positionalArguments().size() != 2) return usage("diff", "expects two files, A and B (see --help)", exitCode);
    uint64_t topKernels = out->topKernels;
    if (!decimalOption("diff", parser, fail, 0, 1'000'000, &out->thresholdPercent) ||
        !wholeOption("diff", parser, top, 0, kMaxListed, &topKernels)) {
        *exitCode = kExitUsage;
        return false;
    }
    if (parser.isSet(allowDamaged) && !parser.isSet(fail))
        return usage("diff", "--allow-damaged only changes what --fail-on-regression decides; give both", exitCode);
    out->topKernels = size_t(topKernels);
    out->allowDamaged = parser.isSet(allowDamaged);
    out->pathA = parser.positionalArguments()[0];
    out->pathB = parser.positionalArguments()[1];
    out->json = parser.isSet(json);
    return true;
}

bool parseExportArgs(const QStringList& arguments, ExportArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Exports a trace. chrome: Chrome trace / Perfetto JSON (open in ui.perfetto.dev) with memory and hardware counters as "
        "counter tracks, kernels and copies per stream, NVTX ranges, iterations and phases. csv: one row per allocation "
        "with its lifetime, size, category, iteration and phase. kernels: one CSV row per kernel name with its launches, GPU "
        "time, class (compute, bandwidth, latency) and, with hardware counters, its SM, DRAM and tensor-pipe percentages.");
    parser.addPositionalArgument("FILE", "The .vtrace file.");
    const QCommandLineOption format("format", "chrome, csv or kernels.", "FORMAT");
    const QCommandLineOption output({"o", "output"}, "Where to write (- for standard output).", "OUT");
    const QCommandLineOption maxPoints(
        "max-counter-points", "chrome: draw memory curves with at most N points, 0 to 100000000 (default 0: every point).",
        "N");
    const QCommandLineOption noKernels("no-kernels", "chrome: leave kernels and copies out (smaller files).");
    parser.addOptions({format, output, maxPoints, noKernels});
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    if (parser.positionalArguments().size() != 1) return usage("export", "expects exactly one FILE (see --help)", exitCode);
    out->format = parser.value(format);
    if (out->format != "chrome" && out->format != "csv" && out->format != "kernels")
        return usage("export", "--format must be chrome, csv or kernels", exitCode);
    if (!parser.isSet(output)) return usage("export", "-o OUT is required (use - for standard output)", exitCode);
    uint64_t points = out->chrome.maxCounterPoints;
    if (!wholeOption("export", parser, maxPoints, 0, 100'000'000, &points)) {
        *exitCode = kExitUsage;
        return false;
    }
    out->chrome.maxCounterPoints = size_t(points);
    out->chrome.kernels = !parser.isSet(noKernels);
    out->path = parser.positionalArguments().first();
    out->output = parser.value(output);
    return true;
}

bool parseImportArgs(const QStringList& arguments, ImportArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Converts a PyTorch memory snapshot (the pickle written by torch.cuda.memory._dump_snapshot()) into a "
        ".vtrace: the allocation history becomes tensor and segment events with their Python callsites, OOMs "
        "become allocation failures, and what existed before the history began is reconstructed from the "
        "snapshot's final state. The pickle is read by vramscope's own reader, which accepts plain data only "
        "and executes nothing.");
    parser.addPositionalArgument("SNAPSHOT", "The .pickle file.");
    const QCommandLineOption output({"o", "output"}, "Write the trace to FILE (default: SNAPSHOT with .vtrace).", "FILE");
    const QCommandLineOption cppFrames("keep-cpp-frames", "Keep C++ frames in callsites (default: Python frames only).");
    const QCommandLineOption json("json", "Print the counts as one JSON object.");
    parser.addOptions({output, cppFrames, json});
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    if (parser.positionalArguments().size() != 1)
        return usage("import", "expects exactly one SNAPSHOT file (see --help)", exitCode);
    out->input = parser.positionalArguments().first();
    out->outputGiven = parser.isSet(output);
    out->output = parser.value(output);
    out->keepCppFrames = parser.isSet(cppFrames);
    out->json = parser.isSet(json);
    return true;
}

bool parseInfoArgs(const QStringList& arguments, InfoArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Shows what a .vtrace file holds: format version, process, devices, duration, chunks, "
        "events in total and per record type, bytes per event, and any truncation or corruption found.");
    parser.addPositionalArgument("FILE", "The .vtrace file.");
    const QCommandLineOption json("json", "Print one JSON object instead of text (schema in docs/cli.md).");
    parser.addOption(json);
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    if (parser.positionalArguments().size() != 1) return usage("info", "expects exactly one FILE (see --help)", exitCode);
    out->path = parser.positionalArguments().first();
    out->json = parser.isSet(json);
    return true;
}

bool parseSynthArgs(const QStringList& arguments, SynthArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Writes a synthetic but realistic training trace (GPT-like model on an H100-like device): "
        "weights and optimizer state allocated once, activations rising through forward and falling "
        "through backward, gradients, compute- and bandwidth-bound kernels with counter samples, and "
        "phase markers. The same options and seed always give the same file. A trace holds at most "
        "100 million events (about 350 MB): more iterations and layers, or a larger batch or sequence "
        "(longer kernels, so more counter samples), are refused beyond that.");
    const QCommandLineOption output({"o", "output"}, "Write the trace to FILE (required).", "FILE");
    const QCommandLineOption iterations("iterations", "Number of training iterations, 1 to 10000000 (default 20).", "N", "20");
    const QCommandLineOption seed("seed", "Random seed (default 1).", "S", "1");
    const QCommandLineOption leak("leak-bytes-per-iter", "Leak B bytes every iteration, 0 to 1099511627776 (default 0).",
                                  "B", "0");
    const QCommandLineOption checkpointing("checkpointing", "Per-layer activation checkpointing.");
    const QCommandLineOption batch("batch", "Batch size, 1 to 4096; activations scale with it (default 8).", "N", "8");
    const QCommandLineOption layers("layers", "Transformer layers, 1 to 1024 (default 12).", "N", "12");
    const QCommandLineOption sequence("sequence-length", "Tokens per sample, 1 to 1048576 (default 1024).", "N", "1024");
    const QCommandLineOption noMarkers("no-markers", "Omit phase markers and NVTX ranges, as a plain CUDA program.");
    parser.addOptions({output, iterations, seed, leak, checkpointing, batch, layers, sequence, noMarkers});
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    if (!parser.isSet(output) || !parser.positionalArguments().isEmpty())
        return usage("synth", "usage: vramscope synth -o FILE [--iterations N] [options] (see --help)", exitCode);
    synth::SynthOptions& o = out->options;
    uint64_t it = o.iterations, b = o.batch, l = o.layers, s = o.sequenceLength;
    if (!wholeOption("synth", parser, iterations, 1, 10'000'000, &it) ||
        !wholeOption("synth", parser, seed, 0, UINT64_MAX, &o.seed) ||
        !wholeOption("synth", parser, leak, 0, 1ull << 40, &o.leakBytesPerIteration) ||
        !wholeOption("synth", parser, batch, 1, 4096, &b) || !wholeOption("synth", parser, layers, 1, 1024, &l) ||
        !wholeOption("synth", parser, sequence, 1, 1 << 20, &s)) {
        *exitCode = kExitUsage;
        return false;
    }
    o.iterations = uint32_t(it);
    o.batch = uint32_t(b);
    o.layers = uint32_t(l);
    o.sequenceLength = uint32_t(s);
    o.checkpointing = parser.isSet(checkpointing);
    o.phaseMarkers = !parser.isSet(noMarkers);
    const synth::SynthSize size = synth::synthSize(o);
    if (size.events > double(synth::kMaxSynthEvents))
        return usage("synth",
                     QString::asprintf("these options would write about %.3g events (%.3g GB); a synthetic trace holds at "
                                       "most %.3g (about %.0f MB) so that a slip of the finger cannot fill a disk: give "
                                       "fewer --iterations or --layers, or a smaller --batch or --sequence-length",
                                       size.events, size.bytes / 1e9, double(synth::kMaxSynthEvents),
                                       double(synth::kMaxSynthEvents) * 3.5 / 1e6),
                     exitCode);
    out->output = parser.value(output);
    return true;
}

bool parseRecordArgs(const QStringList& arguments, RecordArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Runs CMD with the vramscope injector loaded and writes a .vtrace: every CUDA allocation, kernel, copy, "
        "NVTX range and device memory sample (and PyTorch tensor events and phases when the job uses torch). "
        "The command's exit code is passed through (128+N when it dies of signal N; 125: no injector; "
        "127: CMD cannot be started). Every option is also a VRAMSCOPE_* environment variable for setting "
        "LD_PRELOAD yourself (docs/injector.md).\n\nExample: vramscope record -o run.vtrace -- python train.py");
    parser.addPositionalArgument("CMD", "The command to trace, after --.", "-- CMD [ARGS...]");
    const QCommandLineOption output({"o", "output"},
                                    "Trace file (default vramscope.<program>.<pid>.vtrace), a directory ending in /, "
                                    "or a pattern with %p (pid), %h (host), %r (rank). Other processes of the job "
                                    "write <base>.<host>.<pid>[.rank<R>].vtrace beside it.",
                                    "FILE");
    parser.addOption(output);
    const CaptureOptions capture(parser, CaptureOptions::For::Record);
    // Everything after the command's first word belongs to the command.
    parser.setOptionsAfterPositionalArgumentsMode(QCommandLineParser::ParseAsPositionalArguments);
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    const QStringList command = parser.positionalArguments();
    if (command.isEmpty())
        return usage("record", "no command to run: vramscope record [-o FILE] -- CMD ARGS... (see --help)", exitCode);
    out->options.output = pathBytes(parser.value(output));
    if (!capture.read(parser, &out->options)) {
        *exitCode = kExitUsage;
        return false;
    }
    for (const QString& a : command) out->command.push_back(pathBytes(a));  // the bytes given, UTF-8 or not
    return true;
}

bool parseAttachArgs(const QStringList& arguments, AttachArgs* out, int* exitCode) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Loads vramscope's capture into a job that is already running (started without vramscope) and records it "
        "from now on into a .vtrace: kernels, copies, driver allocations, device memory, and for PyTorch the tensor "
        "allocations and training phases. Memory in use at the attach is in the trace from its first instant "
        "(the device's, and PyTorch's allocator state from its own snapshot). Ctrl-C, --duration or --stop detaches: "
        "the footer is written and the job runs on untouched; attaching again later writes a new file.\n\n"
        "Only processes of your own user (or any as root). Linux x86-64; the target must use glibc and have the CUDA "
        "driver loaded. Exit codes: 0 done, 1 the attach failed (the job is unharmed), 2 usage, 125 no capture library."
        "\n\nExamples:\n  vramscope attach 12345                  # until Ctrl-C\n"
        "  vramscope attach 12345 --duration 60 -o step.vtrace\n"
        "  vramscope attach 12345 --no-wait && vramscope-gui --connect unix:/run/user/$UID/vramscope/12345.sock\n"
        "  vramscope attach --stop 12345");
    parser.addPositionalArgument("PID", "The process to attach to.", "PID");
    const QCommandLineOption output({"o", "output"},
                                    "Trace file (default vramscope.<name>.<pid>.attach<N>.vtrace in this directory, "
                                    "N the first free number). Written by the job itself, so its user must be able "
                                    "to write there.",
                                    "FILE");
    const QCommandLineOption duration("duration",
                                      "Detach after S seconds, 0.001 to 2592000 (30 days) (default: at Ctrl-C or when "
                                      "the job ends).",
                                      "S");
    const QCommandLineOption noWait("no-wait", "Start the capture and return at once; it runs until "
                                               "`vramscope attach --stop PID` or the job's end.");
    const QCommandLineOption stop("stop", "Detach the capture attached to PID (footer written, job untouched).");
    const QCommandLineOption status("status", "Print the state of the capture attached to PID.");
    const QCommandLineOption tcp("tcp", "Also serve the live stream on 127.0.0.1 (a random port and token, printed): "
                                        "for `ssh -L` from a desktop.");
    const QCommandLineOption noBridge("no-bridge", "PyTorch jobs: no tensor-level events (driver level only).");
    const QCommandLineOption noPhaseHooks("no-phase-hooks", "PyTorch jobs: no training-phase markers.");
    parser.addOptions({output, duration, noWait, stop, status, tcp, noBridge, noPhaseHooks});
    const CaptureOptions capture(parser, CaptureOptions::For::Attach);
    if (!parseOrExit(parser, arguments, exitCode)) return false;
    const QStringList positional = parser.positionalArguments();
    if (positional.isEmpty()) return usage("attach", "which process? vramscope attach PID (see --help)", exitCode);
    std::string error;
    uint64_t pid = 0;
    if (positional.size() != 1 || !readWholeNumber("PID", positional[0].toStdString(), 1, kMaxProcessId, &pid, &error))
        return usage("attach", positional.size() != 1 ? "PID must be one positive process id (see --help)"
                                                      : QString::fromStdString(error),
                     exitCode);
    if (parser.isSet(stop) && parser.isSet(status))
        return usage("attach", "--stop and --status are two different requests; give one", exitCode);
    AttachOptions& o = out->options;
    o.pid = int(pid);
    out->request = parser.isSet(stop) ? AttachArgs::Request::Stop
                   : parser.isSet(status) ? AttachArgs::Request::Status
                                          : AttachArgs::Request::Attach;
    if (out->request != AttachArgs::Request::Attach) return true;
    o.capture.output = pathBytes(parser.value(output));
    if (!capture.read(parser, &o.capture) ||
        !decimalOption("attach", parser, duration, kMinAttachSeconds, kMaxAttachSeconds, &o.durationSeconds)) {
        *exitCode = kExitUsage;
        return false;
    }
    if (parser.isSet(noWait) && parser.isSet(duration))
        return usage("attach", "--no-wait returns at once, so it cannot also wait --duration", exitCode);
    o.noWait = parser.isSet(noWait);
    o.tcp = parser.isSet(tcp);
    o.bridge = !parser.isSet(noBridge);
    o.phaseHooks = !parser.isSet(noPhaseHooks);
    return true;
}

}  // namespace vramscope::cli
