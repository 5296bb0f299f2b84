#include "config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include <string>

namespace vramscope::inject {

bool parseBool(const char* text, bool* value) {
    if (!text) return false;
    static const char* const kTrue[] = {"1", "true", "yes", "on"};
    static const char* const kFalse[] = {"0", "false", "no", "off"};
    for (const char* t : kTrue)
        if (strcasecmp(text, t) == 0) { *value = true; return true; }
    for (const char* f : kFalse)
        if (strcasecmp(text, f) == 0) { *value = false; return true; }
    return false;
}

bool parseUnsigned(const char* text, uint32_t minValue, uint32_t maxValue, uint32_t* value) {
    if (!text || !*text) return false;
    for (const char* p = text; *p; ++p)
        if (*p < '0' || *p > '9') return false;
    errno = 0;
    unsigned long long v = std::strtoull(text, nullptr, 10);
    if (errno != 0 || v < minValue || v > maxValue) return false;
    *value = static_cast<uint32_t>(v);
    return true;
}

bool parseCounterMode(const char* text, CounterMode* mode) {
    if (!text) return false;
    for (const char* t : {"pm", "auto", "on", "1", "true", "yes"})
        if (strcasecmp(text, t) == 0) { *mode = CounterMode::Pm; return true; }
    if (strcasecmp(text, "gpm") == 0) { *mode = CounterMode::Gpm; return true; }
    for (const char* t : {"off", "none", "0", "false", "no"})
        if (strcasecmp(text, t) == 0) { *mode = CounterMode::Off; return true; }
    return false;
}

bool parseDuty(const char* text, uint32_t* onMs, uint32_t* offMs) {
    if (!text) return false;
    if (strcasecmp(text, "off") == 0 || std::strcmp(text, "0:0") == 0) {
        *onMs = *offMs = 0;
        return true;
    }
    const char* colon = std::strchr(text, ':');
    if (!colon || colon == text) return false;
    const std::string on(text, size_t(colon - text));
    uint32_t a = 0, b = 0;
    if (!parseUnsigned(on.c_str(), 10, 100000, &a) || !parseUnsigned(colon + 1, 0, 100000, &b)) return false;
    *onMs = b ? a : 0;  // no pause: sampling all along
    *offMs = b;
    return true;
}

bool parsePauseParts(const char* text, uint32_t* parts) {
    static const struct {
        const char* name;
        uint32_t bits;
    } kParts[] = {{"kernels", PauseKernels}, {"copies", PauseCopies}, {"memory", PauseMemory},
                  {"nvtx", PauseNvtx},       {"flush", PauseFlush},   {"meminfo", PauseMemInfo},
                  {"tensors", PauseTensors}, {"callbacks", PauseCallbacks}, {"all", PauseAll}};
    if (!text || !*text) return false;
    uint32_t bits = 0;
    for (const char* p = text;;) {
        const char* comma = std::strchr(p, ',');
        const std::string part(p, comma ? size_t(comma - p) : std::strlen(p));
        uint32_t found = 0;
        for (const auto& k : kParts)
            if (strcasecmp(part.c_str(), k.name) == 0) found = k.bits;
        if (!found) return false;
        bits |= found;
        if (!comma) break;
        p = comma + 1;
    }
    *parts = bits;
    return true;
}

bool parseCuptiAttrs(const char* text, InjectorConfig::CuptiAttrs* attrs) {
    if (!text || !*text) return false;
    InjectorConfig::CuptiAttrs a;
    for (const char* p = text;;) {
        const char* comma = std::strchr(p, ',');
        const std::string part(p, comma ? size_t(comma - p) : std::strlen(p));
        const size_t eq = part.find('=');
        if (eq == std::string::npos) return false;
        const std::string name = part.substr(0, eq), value = part.substr(eq + 1);
        uint32_t n = 0;
        bool b = false;
        if (name == "device_buffer_kb" && parseUnsigned(value.c_str(), 64, 1048576, &n))
            a.deviceBufferKb = n;
        else if (name == "preallocate" && parseUnsigned(value.c_str(), 1, 64, &n))
            a.preallocate = n;
        else if (name == "pool_limit" && parseUnsigned(value.c_str(), 1, 1000, &n))
            a.poolLimit = n;
        else if (name == "pinned" && parseBool(value.c_str(), &b))
            a.pinned = b;
        else if (name == "per_thread" && parseBool(value.c_str(), &b))
            a.perThread = b;
        else
            return false;
        if (!comma) break;
        p = comma + 1;
    }
    *attrs = a;
    return true;
}

namespace {

struct Reader {
    GetEnvFunction getEnv;
    void* context;
    std::vector<std::string>* warnings;

    const char* get(const char* name) const {
        const char* v = getEnv(name, context);
        return (v && *v) ? v : nullptr;
    }
    void warn(const char* name, const char* value, const char* expected) const {
        if (warnings)
            warnings->push_back(std::string(name) + "=" + value + " is not " + expected + "; using the default");
    }
    void boolean(const char* name, bool* out) const {
        if (const char* v = get(name))
            if (!parseBool(v, out)) warn(name, v, "a boolean (1/0, true/false, yes/no, on/off)");
    }
    void number(const char* name, uint32_t minValue, uint32_t maxValue, uint32_t* out) const {
        if (const char* v = get(name))
            if (!parseUnsigned(v, minValue, maxValue, out)) {
                std::string expected = "a whole number from " + std::to_string(minValue) + " to " + std::to_string(maxValue);
                warn(name, v, expected.c_str());
            }
    }
    int32_t integer(const char* name) const {
        const char* v = get(name);
        uint32_t n = 0;
        if (v && parseUnsigned(v, 0, 0x7fffffff, &n)) return static_cast<int32_t>(n);
        return -1;
    }
};

const char* processGetEnv(const char* name, void*) { return std::getenv(name); }

}  // namespace

InjectorConfig parseConfig(GetEnvFunction getEnv, void* context, std::vector<std::string>* warnings) {
    InjectorConfig c;
    Reader r{getEnv, context, warnings};
    bool disable = false;
    r.boolean("VRAMSCOPE_DISABLE", &disable);
    c.enabled = !disable;
    if (const char* v = r.get("VRAMSCOPE_OUTPUT")) c.output = v;
    r.number("VRAMSCOPE_BUFFER_MB", 4, 4096, &c.bufferMegabytes);
    r.number("VRAMSCOPE_CUPTI_BUFFER_KB", 64, 65536, &c.cuptiBufferKilobytes);
    r.boolean("VRAMSCOPE_CUPTI_ZEROED_BUFFERS", &c.cuptiZeroedBuffers);
    r.number("VRAMSCOPE_MEMINFO_MS", 0, 60000, &c.memInfoIntervalMs);
    r.number("VRAMSCOPE_FLUSH_MS", 10, 100, &c.flushIntervalMs);
    // A buffer larger than the whole budget would never be handed out.
    if (uint64_t(c.cuptiBufferKilobytes) * 1024 * 2 > uint64_t(c.bufferMegabytes) << 20)
        c.cuptiBufferKilobytes = c.bufferMegabytes * 1024 / 2;
    r.boolean("VRAMSCOPE_KERNELS", &c.kernels);
    r.boolean("VRAMSCOPE_LAUNCH_TIMES", &c.launchTimes);
    r.boolean("VRAMSCOPE_COPIES", &c.copies);
    r.boolean("VRAMSCOPE_NVTX", &c.nvtx);
    r.boolean("VRAMSCOPE_CALLBACKS", &c.driverCallbacks);
    c.runtimeCallbacks = c.driverCallbacks;
    r.boolean("VRAMSCOPE_RUNTIME_CALLBACKS", &c.runtimeCallbacks);
    r.boolean("VRAMSCOPE_QUIET", &c.quiet);
    r.boolean("VRAMSCOPE_VERBOSE", &c.verbose);
    r.boolean("VRAMSCOPE_TEST_NO_CUPTI", &c.testWithoutCupti);
    if (const char* v = r.get("VRAMSCOPE_COUNTERS"))
        if (!parseCounterMode(v, &c.counters)) r.warn("VRAMSCOPE_COUNTERS", v, "one of pm, gpm, off");
    // 10 us is the finest period PM sampling was asked to keep up with here; 1 s the coarsest useful one.
    r.number("VRAMSCOPE_COUNTER_INTERVAL_US", 10, 1000000, &c.counterIntervalUs);
    r.number("VRAMSCOPE_COUNTER_DECODE_MS", 5, 1000, &c.counterDecodeMs);
    if (const char* v = r.get("VRAMSCOPE_COUNTER_DUTY"))
        if (!parseDuty(v, &c.counterOnMs, &c.counterOffMs))
            r.warn("VRAMSCOPE_COUNTER_DUTY", v, "ON:OFF in ms (ON 10-100000, OFF 0-100000)");
    if (const char* v = r.get("VRAMSCOPE_COUNTERS_LIST"); v && strcasecmp(v, "all") == 0)
        c.listCounters = c.listAllCounters = true;
    else
        r.boolean("VRAMSCOPE_COUNTERS_LIST", &c.listCounters);
    if (const char* v = r.get("VRAMSCOPE_TEST_PM_SM_EXTRA")) c.testPmSmExtra = v;
    if (const char* v = r.get("VRAMSCOPE_TEST_PM_STAGE")) {
        static const char* const kStages[] = {"initialize", "enable", "configure"};
        for (uint32_t i = 0; i < 3; ++i)
            if (strcasecmp(v, kStages[i]) == 0) c.testPmStage = i + 1;
        if (!c.testPmStage) r.warn("VRAMSCOPE_TEST_PM_STAGE", v, "one of initialize, enable, configure");
    }
    if (const char* v = r.get("VRAMSCOPE_TEST_PAUSE")) {
        // ON:OFF like the counter duty cycle, then optionally :PARTS.
        std::string text(v);
        std::string parts = "all";
        const size_t first = text.find(':');
        const size_t second = first == std::string::npos ? first : text.find(':', first + 1);
        if (second != std::string::npos) {
            parts = text.substr(second + 1);
            text.resize(second);
        }
        uint32_t on = 0, off = 0, bits = 0;
        if (parseDuty(text.c_str(), &on, &off) && off && parsePauseParts(parts.c_str(), &bits)) {
            c.testPauseOnMs = on;
            c.testPauseOffMs = off;
            c.testPauseParts = bits;
            c.testPauseName = "capture paused: " + parts;
        } else {
            r.warn("VRAMSCOPE_TEST_PAUSE", v,
                   "ON:OFF[:PARTS] in ms (ON 10-100000, OFF 1-100000; PARTS a comma list of kernels, copies, memory, "
                   "nvtx, flush, meminfo, tensors, callbacks, all)");
        }
    }
    if (const char* v = r.get("VRAMSCOPE_TEST_CUPTI_ATTRS"))
        if (!parseCuptiAttrs(v, &c.testCuptiAttrs))
            r.warn("VRAMSCOPE_TEST_CUPTI_ATTRS", v,
                   "a comma list of device_buffer_kb=N (64-1048576), preallocate=N (1-64), pool_limit=N (1-1000), "
                   "pinned=0|1, per_thread=0|1");
    c.rank = r.integer("RANK");
    c.localRank = r.integer("LOCAL_RANK");
    c.rootPid = r.integer("VRAMSCOPE_ROOT_PID");
    return c;
}

InjectorConfig configFromEnvironment(std::vector<std::string>* warnings) {
    return parseConfig(processGetEnv, nullptr, warnings);
}

}  // namespace vramscope::inject
