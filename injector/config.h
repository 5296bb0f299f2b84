// Injector settings, read once from VRAMSCOPE_* environment variables.
//
// Every option of `vramscope record` maps to one variable here, so users who
// set LD_PRELOAD themselves get the same behaviour (docs/injector.md lists
// them). Parsing is pure: it takes a getenv-like function, so tests feed it
// a map instead of the real environment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::inject {

// Hardware counters for boundness (VRAMSCOPE_COUNTERS): CUPTI PM sampling,
// falling back to NVML GPM, then none; or GPM only; or off.
enum class CounterMode { Pm, Gpm, Off };

struct InjectorConfig {
    bool enabled = true;              // VRAMSCOPE_DISABLE=1 turns the injector off
    std::string output;               // VRAMSCOPE_OUTPUT: file, directory (ends in '/'), or %-pattern
    uint32_t bufferMegabytes = 64;    // VRAMSCOPE_BUFFER_MB: cap on CUPTI activity buffers
    uint32_t cuptiBufferKilobytes = 2048;  // VRAMSCOPE_CUPTI_BUFFER_KB: size of one CUPTI buffer
    // VRAMSCOPE_CUPTI_ZEROED_BUFFERS: tell CUPTI our buffers come zeroed, so
    // it does not clear each new one on the launching thread (measured on an
    // H100: docs/injector.md, "What the capture costs"). 0 lets CUPTI clear them.
    bool cuptiZeroedBuffers = true;
    // VRAMSCOPE_MEMINFO_MS: cuMemGetInfo period, 0 = off. Paused alone in
    // GPT-2 small on an H200, the 20 ms sampler cost nothing measurable
    // (step period ratio 1.000, 0.987-1.013; docs/injector.md).
    uint32_t memInfoIntervalMs = 20;
    uint32_t flushIntervalMs = 100;   // VRAMSCOPE_FLUSH_MS: max time between chunk flushes
    bool kernels = true;              // VRAMSCOPE_KERNELS
    bool launchTimes = false;         // VRAMSCOPE_LAUNCH_TIMES: CUPTI latency timestamps (when each kernel was queued)
    bool copies = true;               // VRAMSCOPE_COPIES (memcpy and memset)
    bool nvtx = true;                 // VRAMSCOPE_NVTX
    bool driverCallbacks = true;      // VRAMSCOPE_CALLBACKS (OOM + VMM via driver-API callbacks)
    bool runtimeCallbacks = true;     // VRAMSCOPE_RUNTIME_CALLBACKS (OOM of cudaMalloc* via runtime-API callbacks)
    bool quiet = false;               // VRAMSCOPE_QUIET: no stderr line except on failure
    bool verbose = false;             // VRAMSCOPE_VERBOSE: statistics on stderr at exit
    bool testWithoutCupti = false;    // VRAMSCOPE_TEST_NO_CUPTI: tests only — writer and signal/fork
                                      // handling run, CUPTI and the driver are never touched
    // VRAMSCOPE_COUNTERS: off (default) | pm (then gpm, then none) | gpm.
    // Opt-in until the sampler's cost on the injector benchmark is measured
    // (the exit abort it once caused is fixed: docs/injector.md).
    CounterMode counters = CounterMode::Off;
    uint32_t counterIntervalUs = 1000;       // VRAMSCOPE_COUNTER_INTERVAL_US: counter sampling period
    uint32_t counterDecodeMs = 20;           // VRAMSCOPE_COUNTER_DECODE_MS: how often PM samples are decoded
    // VRAMSCOPE_COUNTER_DUTY=ON:OFF (ms): PM sampling runs ON ms, then pauses
    // OFF ms, and so on; 0:0 (default) samples all along.
    uint32_t counterOnMs = 0, counterOffMs = 0;
    bool listCounters = false;               // VRAMSCOPE_COUNTERS_LIST: print the PM-sampling metrics on stderr
    std::string testPmSmExtra;               // VRAMSCOPE_TEST_PM_SM_EXTRA: a metric the SM percentage takes the max with
    bool listAllCounters = false;            // VRAMSCOPE_COUNTERS_LIST=all: every base metric, not only SM/DRAM/tensor
    // VRAMSCOPE_TEST_PM_STAGE: cost measurements only — PM set-up stops after
    // this step and nothing is sampled: 1 initialize (cuptiProfilerInitialize),
    // 2 enable (cuptiPmSamplingEnable), 3 configure (SetConfig, before Start).
    uint32_t testPmStage = 0;
    // VRAMSCOPE_TEST_PAUSE=ON:OFF[:PARTS]: cost measurements only — capture
    // runs ON ms, then PARTS of it pause for OFF ms, and so on, each pause a
    // region "capture paused: PARTS" in the trace, so that steps with and
    // without those parts alternate inside one process
    // (injector/tools/duty_cost.py --paused). PARTS: a comma list of
    // kernels, copies, memory, nvtx, flush, meminfo, tensors, callbacks, or all.
    uint32_t testPauseOnMs = 0, testPauseOffMs = 0;
    // VRAMSCOPE_TEST_CUPTI_ATTRS=NAME=VALUE[,...]: cost measurements only —
    // CUPTI activity attributes set before tracing starts (docs/injector.md):
    // device_buffer_kb, preallocate, pool_limit, pinned (0/1), per_thread (0/1).
    // 0 in a field means "leave CUPTI's default".
    struct CuptiAttrs {
        uint32_t deviceBufferKb = 0, preallocate = 0, poolLimit = 0;
        int32_t pinned = -1, perThread = -1;  // -1: CUPTI's default
    } testCuptiAttrs;
    uint32_t testPauseParts = 0;  // PausePart bits
    std::string testPauseName;    // "capture paused: " + PARTS as given
    int32_t rank = -1;                // RANK
    int32_t localRank = -1;           // LOCAL_RANK
    int32_t rootPid = -1;             // VRAMSCOPE_ROOT_PID: the process that owns VRAMSCOPE_OUTPUT as is
};

// What VRAMSCOPE_TEST_PAUSE pauses.
enum PausePart : uint32_t {
    PauseKernels = 1u << 0,   // CUPTI concurrent-kernel activity
    PauseCopies = 1u << 1,    // memcpy and memset activity
    PauseMemory = 1u << 2,    // MEMORY2 and memory-pool activity
    PauseNvtx = 1u << 3,      // marker activity
    PauseFlush = 1u << 4,     // the writer's periodic cuptiActivityFlushAll
    PauseMemInfo = 1u << 5,   // the cuMemGetInfo sampler
    PauseTensors = 1u << 6,   // tensor events from the PyTorch bridge (refused)
    PauseCallbacks = 1u << 7, // the runtime and driver API callbacks (OOM, VMM)
    PauseAll = (1u << 8) - 1,
};

// "pinned=1,device_buffer_kb=32768" -> attributes; false for an unknown
// name or a value out of range.
bool parseCuptiAttrs(const char* text, InjectorConfig::CuptiAttrs* attrs);
// "kernels,flush" -> bits; false for an unknown or empty part.
bool parsePauseParts(const char* text, uint32_t* parts);

using GetEnvFunction = const char* (*)(const char* name, void* context);

// Reads the configuration. Invalid values keep their default and add a
// sentence to *warnings (each printed once as "vramscope: ...").
InjectorConfig parseConfig(GetEnvFunction getEnv, void* context, std::vector<std::string>* warnings);
// The same, from the process environment.
InjectorConfig configFromEnvironment(std::vector<std::string>* warnings);

// "1", "true", "yes", "on" / "0", "false", "no", "off" (case-insensitive).
bool parseBool(const char* text, bool* value);
// "pm" / "auto" / "on" / "1", "gpm", "off" / "none" / "0" (case-insensitive).
bool parseCounterMode(const char* text, CounterMode* mode);
// "ON:OFF", two decimal millisecond counts: ON within [10, 100000], OFF
// within [0, 100000]; "0:0" or "off" for no pauses.
bool parseDuty(const char* text, uint32_t* onMs, uint32_t* offMs);
// A decimal unsigned integer within [minValue, maxValue].
bool parseUnsigned(const char* text, uint32_t minValue, uint32_t maxValue, uint32_t* value);

}  // namespace vramscope::inject
