// libFuzzer target: any argument list given to any `vramscope` subcommand
// must end in options the command can run with, inside the ranges its run
// function relies on, or in a usage error; --help is answered. The input's
// first byte picks the subcommand, the rest is its arguments separated by
// NUL bytes. Only the parsing runs (profiler/cli/command_args.cpp): no file
// is opened, no process started. Each argument is also read as a whole and
// as a decimal number (number_args.h), whose answers are checked.
// Built by the `fuzz` preset (clang); CI runs it for a bounded time.
#include "command.h"
#include "command_args.h"
#include "number_args.h"
#include "path_bytes.h"

#include <QCoreApplication>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace vramscope;
using namespace vramscope::cli;

void check(bool condition, const char* what) {
    if (condition) return;
    std::fprintf(stderr, "fuzz_cli: broken promise: %s\n", what);
    std::abort();
}

// What readWholeNumber / readDecimalNumber promise: an accepted value lies
// in its range and is what the text says; a refusal is one line.
void checkNumberReading(const std::string& text) {
    uint64_t whole = 0;
    std::string error;
    if (readWholeNumber("--n", text, 3, 1u << 24, &whole, &error)) {
        check(whole >= 3 && whole <= (1u << 24), "a whole number inside its range");
        size_t firstDigit = text.find_first_not_of('0');
        check(text.substr(firstDigit == std::string::npos ? text.size() - 1 : firstDigit) == std::to_string(whole),
              "a whole number is its digits");
    } else {
        check(error.find('\n') == std::string::npos && error.size() < 200, "a one-line refusal");
    }
    double decimal = 0;
    error.clear();
    if (readDecimalNumber("--x", text, -1, 99, &decimal, &error)) {
        check(std::isfinite(decimal) && decimal >= -1 && decimal <= 99, "a decimal inside its range");
        check(text.find_first_not_of("-.0123456789") == std::string::npos, "a decimal is plain digits");
    } else {
        check(error.find('\n') == std::string::npos && error.size() < 200, "a one-line refusal");
    }
}

// What each run function relies on once parsing said yes.
void checkParsed(int command, const QStringList& arguments) {
    int exitCode = -1;
    bool ok = false;
    constexpr uint32_t kMaxBatch = 1u << 24;
    switch (command) {
    case 0: {
        SummaryArgs a;
        ok = parseSummaryArgs(arguments, &a, &exitCode);
        if (!ok) break;
        const analysis::EstimatorOptions& e = a.options.estimator;
        // The estimator doubles the batch in 32 bits.
        check(e.measuredBatch <= kMaxBatch && e.targetBatch <= kMaxBatch, "a batch the estimator can double");
        check(e.measuredSequence <= kMaxBatch && e.targetSequence <= kMaxBatch, "a sequence length in range");
        check(std::isfinite(e.headroom) && e.headroom >= 0 && e.headroom < 1, "a headroom below 100%");
        check(a.options.topBlocks >= 1 && a.options.topBlocks <= 100000, "--top in range");
        break;
    }
    case 1: {
        DiffArgs a;
        ok = parseDiffArgs(arguments, &a, &exitCode);
        if (!ok) break;
        check(a.thresholdPercent == -1 || (a.thresholdPercent >= 0 && a.thresholdPercent <= 1e6),
              "a finite threshold or none");
        check(!a.allowDamaged || a.thresholdPercent >= 0, "--allow-damaged only with a gate");
        break;
    }
    case 2: {
        ExportArgs a;
        ok = parseExportArgs(arguments, &a, &exitCode);
        if (ok) check(a.format == "chrome" || a.format == "csv" || a.format == "kernels", "a known format");
        break;
    }
    case 3: {
        ImportArgs a;
        ok = parseImportArgs(arguments, &a, &exitCode);
        break;
    }
    case 4: {
        InfoArgs a;
        ok = parseInfoArgs(arguments, &a, &exitCode);
        break;
    }
    case 5: {
        SynthArgs a;
        ok = parseSynthArgs(arguments, &a, &exitCode);
        if (!ok) break;
        check(synth::synthSize(a.options).events <= double(synth::kMaxSynthEvents), "a trace of bounded size");
        check(a.options.iterations >= 1 && a.options.batch >= 1 && a.options.layers >= 1 && a.options.sequenceLength >= 1,
              "synth sizes of at least 1");
        break;
    }
    case 6: {
        RecordArgs a;
        ok = parseRecordArgs(arguments, &a, &exitCode);
        if (ok) check(!a.command.empty(), "a command to run");
        break;
    }
    default: {
        AttachArgs a;
        ok = parseAttachArgs(arguments, &a, &exitCode);
        if (!ok) break;
        check(a.options.pid >= 1, "a positive PID");
        const double s = a.options.durationSeconds;
        check(s == 0 || (s >= kMinAttachSeconds && s <= kMaxAttachSeconds), "a duration in range");
        break;
    }
    }
    check(ok || exitCode == kExitOk || exitCode == kExitUsage, "help or a usage error when parsing says no");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Qt's parser and CaptureOptions (applicationFilePath) want an application object.
    static int argc = 1;
    static char name[] = "vramscope";
    static char* argv[] = {name, nullptr};
    static QCoreApplication app(argc, argv);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const char* const names[] = {"summary", "diff", "export", "import", "info", "synth", "record", "attach"};
    const int command = data[0] % 8;
    QStringList arguments{QStringLiteral("vramscope ") + names[command]};
    std::string argument;
    int count = 0;
    for (size_t i = 1; i <= size && count < 64; ++i) {
        if (i == size || data[i] == 0) {
            checkNumberReading(argument);
            // Arguments are bytes on Linux: read as the CLI reads argv.
            arguments << textFromBytes(argument);
            argument.clear();
            ++count;
        } else {
            argument += char(data[i]);
        }
    }
    checkParsed(command, arguments);
    return 0;
}
