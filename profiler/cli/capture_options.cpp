#include "capture_options.h"

#include "command.h"

#include <QCoreApplication>

namespace vramscope::cli {

CaptureOptions::CaptureOptions(QCommandLineParser& parser, For command)
    : command_(command == For::Record ? "record" : "attach"), for_(command) {
    options_ = {
        {"injector", "The capture library to load (default: found next to vramscope).", "PATH"},
        {"buffer-mb", "Memory for capture buffers in MiB (default 64); beyond it, events are dropped and counted, "
                      "never the job slowed.", "N"},
        {"meminfo-ms", "Device memory sampling interval in ms (default 20; 0 = off).", "N"},
        {"no-kernels", "Do not record kernels."},
        {"launch-times", "Record when the CPU queued each kernel (CUPTI latency timestamps), so that each phase gets "
                         "the GPU work it launched even where the GPU runs behind the CPU. Off by default: it cost ~5% "
                         "of a GPT-2 small training step on an H100 (docs/boundness.md)."},
        {"counters", "Hardware counters (SM, DRAM, tensor-pipe throughput) for compute-/bandwidth-bound classes: 'pm' "
                     "(CUPTI PM sampling, else NVML GPM), 'gpm' (NVML GPM only) or 'off' (the default). Every 1 ms, PM "
                     "sampling added nothing measurable to a GPT-2 small training step (H100, H200; docs/boundness.md).",
         "MODE"},
        {"counter-interval-us", "Counter sampling period in microseconds (10-1000000, default 1000). 250 tells a step's "
                                "kernels apart better (closer to ncu per kernel) at about 2% of a GPT-2 small step; 100 "
                                "at about 3%.", "N"},
        {"counter-duty", "Sample counters in bursts: ON ms of sampling, then OFF ms of pause, e.g. 200:800 (default: "
                         "all along). Fewer samples and less decoding; steps in the pauses have no class.", "ON:OFF"},
        {"no-copies", "Do not record memcpy/memset."},
        {"no-callbacks", "No driver-API callbacks (failed allocations, VMM)."},
        {"python-stacks", "PyTorch jobs: the Python file:line (and callers) of every tensor allocation (off by default: "
                          "it cost 4% of a 15 ms training step; docs/pytorch.md)."},
        {"no-python-stacks", "PyTorch jobs: no Python callsites (the default)."},
        {"python-stack-depth", "Python frames kept per allocation (1-64, default 16).", "N"},
        {{"q", "quiet"}, "Print nothing of our own."},
        {"verbose", "Print capture statistics at the end."},
        {"no-summary", "Do not read the trace back for a summary afterwards."},
    };
    if (command == For::Record) {
        options_.push_back({"no-nvtx", "Do not record NVTX ranges."});
        options_.push_back({"start", "When capture starts: 'cuinit' (default: inside cuInit, processes that never use "
                                     "CUDA stay untouched) or 'preload' (at load time).", "WHEN", "cuinit"});
    }
    for (const QCommandLineOption& o : options_) parser.addOption(o);
}

const QCommandLineOption& CaptureOptions::option(const char* name) const {
    for (const QCommandLineOption& o : options_)
        if (o.names().contains(QLatin1String(name))) return o;
    return options_.front();  // never reached for the names used below
}

bool CaptureOptions::read(const QCommandLineParser& parser, RecordOptions* o) const {
    auto fail = [&](const char* text) {
        printError(command_, text);
        return false;
    };
    auto set = [&](const char* name) { return parser.isSet(option(name)); };
    auto value = [&](const char* name) { return parser.value(option(name)); };
    o->injectorPath = value("injector").toStdString();
    bool ok = true;
    if (set("buffer-mb")) {
        o->bufferMegabytes = value("buffer-mb").toUInt(&ok);
        if (!ok || o->bufferMegabytes == 0) return fail("--buffer-mb must be a positive whole number");
    }
    if (set("meminfo-ms")) {
        o->memInfoIntervalMs = value("meminfo-ms").toInt(&ok);
        if (!ok || o->memInfoIntervalMs < 0) return fail("--meminfo-ms must be 0 or a positive whole number");
    }
    if (set("counters")) {
        const QString mode = value("counters").toLower();
        if (mode != "pm" && mode != "gpm" && mode != "off") return fail("--counters must be 'pm', 'gpm' or 'off'");
        o->counters = mode.toStdString();
    }
    if (set("counter-interval-us")) {
        o->counterIntervalUs = value("counter-interval-us").toUInt(&ok);
        if (!ok || o->counterIntervalUs < 10 || o->counterIntervalUs > 1000000)
            return fail("--counter-interval-us must be a whole number from 10 to 1000000");
        if (o->counters.empty()) o->counters = "pm";
    }
    if (set("counter-duty")) {
        const QStringList parts = value("counter-duty").split(':');
        bool onOk = false, offOk = false;
        const uint on = parts.size() == 2 ? parts[0].toUInt(&onOk) : 0, off = parts.size() == 2 ? parts[1].toUInt(&offOk) : 0;
        if (!onOk || !offOk || on < 10 || on > 100000 || off > 100000)
            return fail("--counter-duty must be ON:OFF in milliseconds, ON from 10 to 100000 and OFF from 0 to 100000 "
                        "(e.g. 200:800)");
        o->counterDuty = std::to_string(on) + ":" + std::to_string(off);
        if (o->counters.empty()) o->counters = "pm";  // bursts of what: the counters
    }
    if (set("python-stacks") && set("no-python-stacks"))
        return fail("--python-stacks and --no-python-stacks contradict each other");
    if (set("python-stacks")) o->pythonStacks = 1;
    if (set("no-python-stacks")) o->pythonStacks = 0;
    if (set("python-stack-depth")) {
        o->pythonStackDepth = value("python-stack-depth").toInt(&ok);
        if (!ok || o->pythonStackDepth < 1 || o->pythonStackDepth > 64)
            return fail("--python-stack-depth must be a whole number from 1 to 64");
    }
    if (for_ == For::Record) {
        const QString when = value("start");
        if (when != "cuinit" && when != "preload") return fail("--start must be 'cuinit' or 'preload'");
        o->startAtCuInit = when == "cuinit";
        o->nvtx = !set("no-nvtx");
    }
    o->kernels = !set("no-kernels");
    o->launchTimes = set("launch-times");
    o->copies = !set("no-copies");
    o->callbacks = !set("no-callbacks");
    o->quiet = set("quiet");
    o->verbose = set("verbose");
    o->summary = !set("no-summary");
    o->selfPath = QCoreApplication::applicationFilePath().toStdString();
    return true;
}

}  // namespace vramscope::cli
