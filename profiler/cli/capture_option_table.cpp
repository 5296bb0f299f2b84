#include "capture_option_table.h"

#include "number_args.h"

#include <cctype>
#include <functional>

namespace vramscope::cli {

std::vector<CaptureOptionSpec> captureOptionTable(CaptureCommand command) {
    static const CaptureOptionSpec all[] = {
        {"injector", nullptr, "PATH", "The capture library to load (default: found next to vramscope).", false},
        {"buffer-mb", nullptr, "N",
         "Memory for capture buffers in MiB (default 64); beyond it, events are dropped and counted, never the job "
         "slowed.",
         false},
        {"meminfo-ms", nullptr, "N", "Device memory sampling interval in ms (default 20; 0 = off).", false},
        {"no-kernels", nullptr, nullptr, "Do not record kernels.", false},
        {"launch-times", nullptr, nullptr,
         "Record when the CPU queued each kernel (CUPTI latency timestamps), so that each phase gets the GPU work it "
         "launched even where the GPU runs behind the CPU. Off by default: it cost ~5% of a GPT-2 small training step "
         "on an H100 (docs/boundness.md).",
         false},
        {"counters", nullptr, "MODE",
         "Hardware counters (SM, DRAM, tensor-pipe throughput) for compute-/bandwidth-bound classes: 'pm' (CUPTI PM "
         "sampling, else NVML GPM), 'gpm' (NVML GPM only) or 'off' (the default). Every 1 ms, PM sampling added nothing "
         "measurable to a GPT-2 small training step (H100, H200; docs/boundness.md).",
         false},
        {"counter-interval-us", nullptr, "N",
         "Counter sampling period in microseconds (10-1000000, default 1000). 250 tells a step's kernels apart better "
         "(closer to ncu per kernel) at about 2% of a GPT-2 small step; 100 at about 3%.",
         false},
        {"counter-duty", nullptr, "ON:OFF",
         "Sample counters in bursts: ON ms of sampling, then OFF ms of pause, e.g. 200:800 (default: all along). "
         "Fewer samples and less decoding; steps in the pauses have no class.",
         false},
        {"no-copies", nullptr, nullptr, "Do not record memcpy/memset.", false},
        {"no-callbacks", nullptr, nullptr, "No driver-API callbacks (failed allocations, VMM).", false},
        {"python-stacks", nullptr, nullptr,
         "PyTorch jobs: the Python file:line (and callers) of every tensor allocation (off by default: it cost 4% of a "
         "15 ms training step; docs/pytorch.md).",
         false},
        {"no-python-stacks", nullptr, nullptr, "PyTorch jobs: no Python callsites (the default).", false},
        {"python-stack-depth", nullptr, "N", "Python frames kept per allocation (1-64, default 16).", false},
        {"quiet", "q", nullptr, "Print nothing of our own.", false},
        {"verbose", nullptr, nullptr, "Print capture statistics at the end.", false},
        {"no-summary", nullptr, nullptr, "Do not read the trace back for a summary afterwards.", false},
        {"no-nvtx", nullptr, nullptr, "Do not record NVTX ranges.", true},
        {"start", nullptr, "WHEN",
         "When capture starts: 'cuinit' (default: inside cuInit, processes that never use CUDA stay untouched) or "
         "'preload' (at load time).",
         true},
    };
    std::vector<CaptureOptionSpec> out;
    for (const CaptureOptionSpec& s : all)
        if (command == CaptureCommand::Record || !s.recordOnly) out.push_back(s);
    return out;
}

bool applyCaptureOption(const std::string& name, const std::string& value, RecordOptions* o, std::string* error) {
    uint64_t n = 0;
    auto fail = [&](const char* text) {
        *error = text;
        return false;
    };
    // A number through number_args.h: digits only, in range, else its sentence.
    auto whole = [&](uint64_t lo, uint64_t hi, const char* unit) {
        return readWholeNumber("--" + name, value, lo, hi, &n, error, unit);
    };
    if (name == "injector") o->injectorPath = value;
    else if (name == "buffer-mb") {
        if (!whole(1, 4096, "MiB")) return false;
        o->bufferMegabytes = uint32_t(n);
    } else if (name == "meminfo-ms") {
        if (!whole(0, 3600000, "milliseconds, 0 = off")) return false;
        o->memInfoIntervalMs = int(n);
    } else if (name == "no-kernels") o->kernels = false;
    else if (name == "launch-times") o->launchTimes = true;
    else if (name == "counters") {
        std::string mode = value;
        for (char& c : mode) c = char(std::tolower(static_cast<unsigned char>(c)));
        if (mode != "pm" && mode != "gpm" && mode != "off") return fail("--counters must be 'pm', 'gpm' or 'off'");
        o->counters = mode;
    } else if (name == "counter-interval-us") {
        if (!whole(10, 1000000, "microseconds")) return false;
        o->counterIntervalUs = uint32_t(n);
        if (o->counters.empty()) o->counters = "pm";  // a period of what: the counters
    } else if (name == "counter-duty") {
        const size_t colon = value.find(':');
        uint64_t on = 0, off = 0;
        std::string unused;
        if (colon == std::string::npos || !readWholeNumber("ON", value.substr(0, colon), 10, 100000, &on, &unused) ||
            !readWholeNumber("OFF", value.substr(colon + 1), 0, 100000, &off, &unused))
            return fail("--counter-duty must be ON:OFF in milliseconds, ON from 10 to 100000 and OFF from 0 to 100000 "
                        "(e.g. 200:800)");
        o->counterDuty = std::to_string(on) + ":" + std::to_string(off);
        if (o->counters.empty()) o->counters = "pm";  // bursts of what: the counters
    } else if (name == "no-copies") o->copies = false;
    else if (name == "no-callbacks") o->callbacks = false;
    else if (name == "python-stacks" || name == "no-python-stacks") {
        const int wanted = name == "python-stacks" ? 1 : 0;
        if (o->pythonStacks >= 0 && o->pythonStacks != wanted)
            return fail("--python-stacks and --no-python-stacks contradict each other");
        o->pythonStacks = wanted;
    } else if (name == "python-stack-depth") {
        if (!whole(1, 64, "Python frames")) return false;
        o->pythonStackDepth = int(n);
    } else if (name == "quiet") o->quiet = true;
    else if (name == "verbose") o->verbose = true;
    else if (name == "no-summary") o->summary = false;
    else if (name == "no-nvtx") o->nvtx = false;
    else if (name == "start") {
        if (value != "cuinit" && value != "preload") return fail("--start must be 'cuinit' or 'preload'");
        o->startAtCuInit = value == "cuinit";
    } else {
        *error = "unknown option --" + name;
        return false;
    }
    return true;
}

namespace {

// "  --name VALUE" padded to 28 columns, then the help wrapped at 100.
std::string helpLines(const std::string& flag, const char* help) {
    std::string out = "  " + flag;
    out += out.size() < 28 ? std::string(28 - out.size(), ' ') : "\n" + std::string(28, ' ');
    size_t column = 28;
    std::string word;
    auto flush = [&] {
        if (word.empty()) return;
        if (column + word.size() > 100 && column > 28) {
            out += "\n" + std::string(28, ' ');
            column = 28;
        } else if (column > 28) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        word.clear();
    };
    for (const char* p = help; *p; ++p) {
        if (*p == ' ') flush();
        else word += *p;
    }
    flush();
    return out + "\n";
}

}  // namespace

std::string launcherOptionsHelp(const std::vector<LauncherOption>& options) {
    std::string out;
    for (const LauncherOption& x : options) {
        std::string flag = std::string(std::string(x.name) == "output" ? "-o, " : "") + "--" + x.name;
        if (x.valueName) flag += std::string(" ") + x.valueName;
        out += helpLines(flag, x.help);
    }
    return out;
}

std::string captureOptionsHelp(CaptureCommand command) {
    std::string out;
    for (const CaptureOptionSpec& s : captureOptionTable(command)) {
        std::string flag = std::string(s.shortName ? std::string("-") + s.shortName + ", " : "") + "--" + s.name;
        if (s.valueName) flag += std::string(" ") + s.valueName;
        out += helpLines(flag, s.help);
    }
    return out;
}

bool parseLauncherArgs(const std::vector<std::string>& args, CaptureCommand command,
                       const std::vector<LauncherOption>& extra, bool stopAtPositional,
                       const std::function<bool(const std::string&, const std::string&, std::string*)>& onOption,
                       std::vector<std::string>* positional, std::string* error) {
    const std::vector<CaptureOptionSpec> table = captureOptionTable(command);
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            positional->insert(positional->end(), args.begin() + long(i) + 1, args.end());
            return true;
        }
        if (a.size() < 2 || a[0] != '-') {
            if (stopAtPositional) {
                positional->insert(positional->end(), args.begin() + long(i), args.end());
                return true;
            }
            positional->push_back(a);
            continue;
        }
        std::string name, value;
        bool hasValue = false;
        if (a.rfind("--", 0) == 0) {
            name = a.substr(2);
            const size_t eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.resize(eq);
                hasValue = true;
            }
        } else {
            name = a.substr(1);  // a short option
            for (const CaptureOptionSpec& s : table)
                if (s.shortName && name == s.shortName) name = s.name;
        }
        const char* valueName = nullptr;
        bool known = false;
        for (const CaptureOptionSpec& s : table)
            if (name == s.name) known = true, valueName = s.valueName;
        for (const LauncherOption& x : extra)
            if (name == x.name) known = true, valueName = x.valueName;
        if (!known) {
            *error = "unknown option " + a;
            return false;
        }
        if (valueName && !hasValue) {
            if (i + 1 >= args.size()) {
                *error = "--" + name + " needs a value (" + valueName + ")";
                return false;
            }
            value = args[++i];
        } else if (!valueName && hasValue) {
            *error = "--" + name + " takes no value";
            return false;
        }
        if (!onOption(name, value, error)) return false;
    }
    return true;
}

}  // namespace vramscope::cli
