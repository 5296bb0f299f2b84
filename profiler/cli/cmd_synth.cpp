// vramscope synth -o FILE --iterations N ...: write a synthetic training trace.
#include "command.h"
#include "synth/synth.h"

#include <cstdio>

namespace vramscope::cli {
namespace {

bool toUnsigned(const QString& text, uint64_t* out) {
    bool ok = false;
    qulonglong v = text.toULongLong(&ok);
    if (ok) *out = v;
    return ok;
}

int runSynth(const QStringList& arguments) {
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Writes a synthetic but realistic training trace (GPT-like model on an H100-like device): "
        "weights and optimizer state allocated once, activations rising through forward and falling "
        "through backward, gradients, compute- and bandwidth-bound kernels with counter samples, and "
        "phase markers. The same options and seed always give the same file.");
    const QCommandLineOption output({"o", "output"}, "Write the trace to FILE (required).", "FILE");
    const QCommandLineOption iterations("iterations", "Number of training iterations (default 20).", "N", "20");
    const QCommandLineOption seed("seed", "Random seed (default 1).", "S", "1");
    const QCommandLineOption leak("leak-bytes-per-iter", "Leak B bytes every iteration (default 0).", "B", "0");
    const QCommandLineOption checkpointing("checkpointing", "Per-layer activation checkpointing.");
    const QCommandLineOption batch("batch", "Batch size; activations scale with it (default 8).", "N", "8");
    const QCommandLineOption layers("layers", "Transformer layers (default 12).", "N", "12");
    const QCommandLineOption sequence("sequence-length", "Tokens per sample (default 1024).", "N", "1024");
    const QCommandLineOption noMarkers("no-markers", "Omit phase markers and NVTX ranges, as a plain CUDA program.");
    parser.addOptions({output, iterations, seed, leak, checkpointing, batch, layers, sequence, noMarkers});
    int exitCode = 0;
    if (!parseOrExit(parser, arguments, &exitCode)) return exitCode;
    if (!parser.isSet(output) || !parser.positionalArguments().isEmpty()) {
        printError("synth", "usage: vramscope synth -o FILE [--iterations N] [options] (see --help)");
        return kExitUsage;
    }
    synth::SynthOptions o;
    uint64_t v = 0;
    auto number = [&](const QCommandLineOption& opt, uint64_t lo, uint64_t hi, uint64_t* out) {
        if (!toUnsigned(parser.value(opt), &v) || v < lo || v > hi) {
            printError("synth", QString("--%1 must be a whole number from %2 to %3, not '%4'")
                                    .arg(opt.names().constLast()).arg(lo).arg(hi).arg(parser.value(opt)));
            return false;
        }
        *out = v;
        return true;
    };
    uint64_t it = 0, b = 0, l = 0, s = 0;
    if (!number(iterations, 1, 10'000'000, &it) || !number(seed, 0, UINT64_MAX, &o.seed) ||
        !number(leak, 0, 1ull << 40, &o.leakBytesPerIteration) || !number(batch, 1, 4096, &b) ||
        !number(layers, 1, 1024, &l) || !number(sequence, 1, 1 << 20, &s))
        return kExitUsage;
    o.iterations = uint32_t(it);
    o.batch = uint32_t(b);
    o.layers = uint32_t(l);
    o.sequenceLength = uint32_t(s);
    o.checkpointing = parser.isSet(checkpointing);
    o.phaseMarkers = !parser.isSet(noMarkers);

    synth::SynthResult result;
    std::string error;
    if (!synth::writeSynthTrace(parser.value(output).toStdString(), o, &result, &error)) {
        printError("synth", QString::fromStdString(error));
        return kExitBadInput;
    }
    std::printf("wrote %s: %u iterations, %llu events, %llu bytes (%.2f bytes/event), %.3f s of trace\n",
                qPrintable(parser.value(output)), o.iterations, static_cast<unsigned long long>(result.events),
                static_cast<unsigned long long>(result.bytes), result.events ? double(result.bytes) / result.events : 0.0,
                double(result.durationNs) / 1e9);
    return kExitOk;
}

const CommandRegistration registration{{"synth", "Write a synthetic training trace (no GPU needed)", &runSynth}};

}  // namespace
}  // namespace vramscope::cli
