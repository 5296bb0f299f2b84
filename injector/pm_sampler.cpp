#include "pm_sampler.h"

#include "gpm_sampler.h"
#include "recorder.h"

#include <format/records.h>

#include <cupti.h>
#include <cupti_pmsampling.h>
#include <cupti_profiler_host.h>
#include <cupti_profiler_target.h>
#include <cupti_target.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <pthread.h>
#include <unistd.h>

#include <set>
#include <utility>
#include <string>
#include <vector>

namespace vramscope::inject {

using format::CounterMetric;
using format::CounterSource;

namespace {

CounterQueue* gQueue = nullptr;
std::atomic<bool> gStop{false};
std::atomic<bool> gRunning{false};
std::atomic<bool> gStarted{false};
std::atomic<bool> gAtExitRegistered{false};
std::atomic<int> gOwnerPid{0};  // a forked child inherits our flags and exit handler, not the thread
// The sampler thread is joinable: stopping it means waiting until it has
// left, thread-local destructors included, before exit goes on to tear
// CUDA and CUPTI down. Exactly one caller joins.
pthread_t gThread{};
std::atomic<bool> gThreadValid{false};
std::atomic<bool> gJoinClaimed{false};
std::atomic<bool> gJoinTimedOut{false};
// cuptiProfilerInitialize once per CUPTI lifetime: a detach (cuptiFinalize)
// ends that lifetime, so resetCounterSampler() clears it.
bool gProfilerInitialized = false;


uint64_t steadyNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
uint64_t steadyMs() { return steadyNs() / 1000000ull; }

// Registered from the sampler thread once a device's context is active, so
// after the CUDA runtime registered its own teardown: exit handlers run in
// reverse order, so this one runs first, while the contexts still exist. It
// has the sampler finish (last decode, Stop) and joins it.
void stopAtExit() { stopCounterSampler(); }

// Device-side buffer for raw samples. KEEP_LATEST mode: if the decode thread
// falls behind, the oldest samples are overwritten instead of failing.
constexpr size_t kHardwareBufferBytes = 16u << 20;
// Guard zones behind the buffers CUPTI writes into (pm_sampler.h).
constexpr size_t kImageGuardBytes = 256u << 10;
constexpr size_t kSmallGuardBytes = 4096;

// A CUPTI parameter struct: zeroed, with its size set (pPriv stays null).
template <class T> T cuptiParams(size_t structSize) {
    T p{};
    p.structSize = structSize;
    return p;
}

void sleepMs(uint32_t ms) {
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

std::string cuptiText(CUptiResult rc) {
    const char* s = nullptr;
    if (cuptiGetResultString(rc, &s) != CUPTI_SUCCESS || !s) return "CUPTI error " + std::to_string(int(rc));
    return s;
}

void pushInfo(uint32_t counterId, uint32_t device, CounterMetric metric, CounterSource source, const std::string& name,
              uint64_t intervalNs) {
    CounterEvent e;
    e.kind = CounterEvent::Kind::Info;
    e.counterId = counterId;
    e.deviceId = device;
    e.metric = static_cast<uint8_t>(metric);
    e.source = static_cast<uint8_t>(source);
    e.intervalNs = intervalNs;
    e.timestampNs = cuptiTimestamp();
    copyName(e.name, sizeof e.name, name.c_str());
    gQueue->push(e);
}

void pushSample(uint32_t counterId, uint64_t endNs, double percent) {
    CounterEvent e;
    e.kind = CounterEvent::Kind::Sample;
    e.counterId = counterId;
    e.timestampNs = endNs;
    e.valueMilli = percentToMilli(percent);
    gQueue->push(e);
}

// Retains the device's primary context if the application already made it
// active (never creates one) and makes it current on this thread.
bool makeContextCurrent(Recorder& r, int ordinal, void** retained) {
    int dev = 0;
    if (r.driver.deviceGet(&dev, ordinal) != 0) return false;
    unsigned flags = 0;
    int active = 0;
    if (r.driver.primaryCtxGetState(dev, &flags, &active) != 0 || !active) return false;
    if (!*retained && r.driver.primaryCtxRetain(retained, dev) != 0) {
        *retained = nullptr;
        return false;
    }
    return r.driver.ctxSetCurrent(*retained) == 0;
}

// -------------------------------------------------------------------------
// CUPTI PM sampling.
//
// PM sampling collects only metrics that fit one pass of the performance
// monitors, and which ones exist differs by chip. Each output has candidates,
// best first: the first whose metrics the chip accepts together with those
// already chosen, in one pass, wins. Percent-of-peak throughputs are what
// ncu reports; the issue-rate and SM-active forms are weaker stand-ins and
// keep their own names in CounterInfo so a reader can tell.
struct Candidate {
    CounterMetric metric;
    Combine combine;
    int count;
    const char* names[2];
};

// Measured on an H100 (GH100, CUPTI 13.0): sm__throughput needs 19 passes
// and sm__pipe_tensor_op_hmma_cycles_active is not a PM-sampling metric, so
// neither is listed; the first entry per output is the set tried first. The
// first entries are the set the counters_*.vtrace fixtures were recorded
// with, by a build that exited cleanly.
//
// The SM side, like ncu's sm__throughput, is the larger of two of the units
// it takes the maximum of: instruction issue, and the L1's LSU data pipe
// (wavefronts), which limits kernels that live in shared memory. On an H200
// (GH100, CUPTI 13.0, driver 580) the pair reads a tiled FP32 GEMM at 90.3 %
// where ncu --clock-control none puts sm__throughput at 89.9 % (its LSU
// pipe), a triad at 15.6 % (ncu 18.3 %) and a launch storm at 0 %; issue
// alone read the GEMM at 36 % (injector/tools/gpu_sm_metric_check.sh,
// docs/boundness.md).
const Candidate kCandidates[] = {
    {CounterMetric::SmThroughputPct, Combine::Max, 2,
     {"sm__inst_executed_realtime.avg.pct_of_peak_sustained_elapsed",
      "SM_A.TriageCompute.l1tex__data_pipe_lsu_wavefronts.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::SmThroughputPct, Combine::Direct, 1, {"sm__inst_executed_realtime.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::SmThroughputPct, Combine::Direct, 1, {"sm__inst_executed.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::SmThroughputPct, Combine::Direct, 1,
     {"TPC.TriageCompute.sm__cycles_active.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::SmThroughputPct, Combine::Direct, 1, {"sm__cycles_active.avg.pct_of_peak_sustained_elapsed"}},

    {CounterMetric::DramThroughputPct, Combine::Direct, 1, {"dram__throughput.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::DramThroughputPct, Combine::Direct, 1, {"gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::DramThroughputPct, Combine::Sum, 2,
     {"dramc__read_throughput.avg.pct_of_peak_sustained_elapsed",
      "dramc__write_throughput.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::DramThroughputPct, Combine::Sum, 2,
     {"dram__read_throughput.avg.pct_of_peak_sustained_elapsed",
      "dram__write_throughput.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::DramThroughputPct, Combine::BytesOfPeak, 1, {"dram__bytes.sum"}},

    {CounterMetric::TensorPipePct, Combine::Direct, 1,
     {"TPC.TriageCompute.sm__pipe_tensor_cycles_active_realtime.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::TensorPipePct, Combine::Direct, 1,
     {"sm__pipe_tensor_cycles_active_realtime.avg.pct_of_peak_sustained_elapsed"}},
    {CounterMetric::TensorPipePct, Combine::Direct, 1,
     {"sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed"}},
};

// Not listed: TPC.TriageCompute.sm__throughput (what ncu reports as SM
// throughput). On an H100 (CUPTI 13.0, driver 580) cuptiProfilerHostConfigAddMetrics
// refuses it with CUPTI_ERROR_INVALID_PARAMETER, and every process in which
// that refusal happened aborted at exit with a corrupted heap (glibc:
// "corrupted double-linked list"), while the same runs without it exited
// cleanly (injector/tools/gpu_pm_check.sh). So a refused metric set is never
// retried metric by metric: setupPm gives PM sampling up instead.

struct ChosenCounter {
    const Candidate* candidate;
    int firstValue;  // index of its first metric in the flat metric list
    uint32_t counterId;
};

struct HostObject {
    CUpti_Profiler_Host_Object* object = nullptr;
    ~HostObject() { reset(); }
    void reset() {
        if (!object) return;
        auto p = cuptiParams<CUpti_Profiler_Host_Deinitialize_Params>(CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE);
        p.pHostObject = object;
        cuptiProfilerHostDeinitialize(&p);
        object = nullptr;
    }
    CUptiResult init(const std::string& chip, const GuardedBytes& availability) {
        reset();
        auto p = cuptiParams<CUpti_Profiler_Host_Initialize_Params>(CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE);
        p.profilerType = CUPTI_PROFILER_TYPE_PM_SAMPLING;
        p.pChipName = chip.c_str();
        p.pCounterAvailabilityImage = availability.empty() ? nullptr : availability.data();
        CUptiResult rc = cuptiProfilerHostInitialize(&p);
        if (rc == CUPTI_SUCCESS) object = p.pHostObject;
        return rc;
    }
};

std::string overrunText(const char* what, size_t bytes) {
    return std::string("CUPTI wrote past the ") + what + " (" + std::to_string(bytes) + " guard bytes changed)";
}

// Builds the config image for these metrics; true when they fit one pass.
bool buildConfig(HostObject& host, const std::string& chip, const GuardedBytes& availability,
                 std::vector<const char*>& names, GuardedBytes* image, std::string* why) {
    CUptiResult rc = host.init(chip, availability);
    if (rc != CUPTI_SUCCESS) {
        *why = "cuptiProfilerHostInitialize: " + cuptiText(rc);
        return false;
    }
    auto add = cuptiParams<CUpti_Profiler_Host_ConfigAddMetrics_Params>(CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE);
    add.pHostObject = host.object;
    add.ppMetricNames = names.data();
    add.numMetrics = names.size();
    rc = cuptiProfilerHostConfigAddMetrics(&add);
    if (rc != CUPTI_SUCCESS) {
        *why = "cuptiProfilerHostConfigAddMetrics: " + cuptiText(rc);
        return false;
    }
    auto size = cuptiParams<CUpti_Profiler_Host_GetConfigImageSize_Params>(CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE);
    size.pHostObject = host.object;
    if ((rc = cuptiProfilerHostGetConfigImageSize(&size)) != CUPTI_SUCCESS) {
        *why = "cuptiProfilerHostGetConfigImageSize: " + cuptiText(rc);
        return false;
    }
    image->assign(size.configImageSize);
    auto get = cuptiParams<CUpti_Profiler_Host_GetConfigImage_Params>(CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE);
    get.pHostObject = host.object;
    get.configImageSize = image->size();
    get.pConfigImage = image->data();
    rc = cuptiProfilerHostGetConfigImage(&get);
    if (size_t bad = image->damagedGuardBytes()) {
        *why = overrunText("config image", bad);
        return false;
    }
    if (rc != CUPTI_SUCCESS) {
        *why = "cuptiProfilerHostGetConfigImage: " + cuptiText(rc);
        return false;
    }
    auto passes = cuptiParams<CUpti_Profiler_Host_GetNumOfPasses_Params>(CUpti_Profiler_Host_GetNumOfPasses_Params_STRUCT_SIZE);
    passes.configImageSize = image->size();
    passes.pConfigImage = image->data();
    if ((rc = cuptiProfilerHostGetNumOfPasses(&passes)) != CUPTI_SUCCESS) {
        *why = "cuptiProfilerHostGetNumOfPasses: " + cuptiText(rc);
        return false;
    }
    if (passes.numOfPasses != 1) {
        *why = "needs " + std::to_string(passes.numOfPasses) + " passes";
        return false;
    }
    return true;
}

// "dram__throughput" of "dram__throughput.avg.pct_of_peak_sustained_elapsed":
// the name before its rollup (.avg/.sum/.min/.max).
std::string baseName(const char* metric) {
    std::string m(metric);
    for (const char* rollup : {".avg", ".sum", ".min", ".max"}) {
        size_t at = m.find(rollup);
        if (at != std::string::npos) return m.substr(0, at);
    }
    return m;
}

// The base metrics of one type the host object's chip offers for PM sampling.
std::vector<std::string> baseMetricsOfType(const HostObject& host, CUpti_MetricType type) {
    std::vector<std::string> names;
    auto p = cuptiParams<CUpti_Profiler_Host_GetBaseMetrics_Params>(CUpti_Profiler_Host_GetBaseMetrics_Params_STRUCT_SIZE);
    p.pHostObject = host.object;
    p.metricType = type;
    if (cuptiProfilerHostGetBaseMetrics(&p) != CUPTI_SUCCESS || !p.ppMetricNames) return names;
    for (size_t i = 0; i < p.numMetrics; ++i)
        if (p.ppMetricNames[i]) names.emplace_back(p.ppMetricNames[i]);
    return names;
}

constexpr CUpti_MetricType kMetricTypes[] = {CUPTI_METRIC_TYPE_COUNTER, CUPTI_METRIC_TYPE_RATIO,
                                             CUPTI_METRIC_TYPE_THROUGHPUT};

// Every base metric the chip offers for PM sampling; empty when CUPTI cannot say.
std::set<std::string> baseMetrics(const std::string& chip, const GuardedBytes& availability) {
    std::set<std::string> names;
    HostObject host;
    if (host.init(chip, availability) != CUPTI_SUCCESS) return names;
    for (CUpti_MetricType type : kMetricTypes)
        for (std::string& m : baseMetricsOfType(host, type)) names.insert(std::move(m));
    return names;
}

void listMetrics(const std::string& chip, const GuardedBytes& availability, bool everything) {
    HostObject host;
    if (host.init(chip, availability) != CUPTI_SUCCESS) return;
    const char* filters[] = {"dram", "sm__throughput", "sm__inst_executed", "tensor", "sm__cycles_active", "gr__"};
    for (CUpti_MetricType type : kMetricTypes) {
        const std::vector<std::string> names = baseMetricsOfType(host, type);
        if (names.empty()) continue;
        std::string line;
        for (const std::string& m : names) {
            bool match = everything;
            for (const char* f : filters) match = match || m.find(f) != std::string::npos;
            if (!match) continue;
            if (!line.empty()) line += ' ';
            line += m;
        }
        printLine("pm sampling " + chip + " type " + std::to_string(int(type)) + ": " + std::to_string(names.size()) +
                  " base metrics; matching: " + line);
    }
}

// One device's PM-sampling state. Never freed: CUPTI keeps pointers into
// some of it (the config image handed to SetConfig, the chip name and
// availability image given to the host object), so none of these buffers
// is reassigned once sampling started.
struct PmDevice {
    int ordinal = -1;
    int cuDevice = 0;
    void* context = nullptr;
    std::string chip;
    uint64_t peakDramBytesPerSec = 0;
    GuardedBytes availability{kSmallGuardBytes}, config{kSmallGuardBytes};
    GuardedBytes counterData{kImageGuardBytes};
    std::vector<uint8_t> blankCounterData;  // an initialized empty image: resetting is a copy of it
    size_t maxSamples = 0;                  // what the counter data image was sized for
    HostObject host;
    CUpti_PmSampling_Object* object = nullptr;
    std::vector<const char*> metricNames;
    std::vector<ChosenCounter> chosen;
    GuardedBytes values{kSmallGuardBytes};  // metricNames.size() doubles
    bool sampling = false;   // started and not yet stopped
    bool failed = false;     // no more decoding
    bool corrupt = false;    // CUPTI wrote past a buffer: no more CUPTI calls on this device
    int64_t clockOffsetNs = 0;
    bool clockChecked = false;
    uint64_t samples = 0, overflows = 0, emptySamples = 0;
    // What decoding cost on the sampler thread: the calls that read the
    // hardware buffer, and the host-side evaluation of each sample.
    uint64_t decodeCalls = 0, decodeNs = 0, decodeMaxNs = 0, evaluateNs = 0;
    // Duty cycle (VRAMSCOPE_COUNTER_DUTY): stopped between bursts.
    bool paused = false;
    uint64_t dutyMarkMs = 0;  // when the current burst or pause began
    uint64_t pauses = 0;
};

uint32_t gNextCounterId = 1;

// Starts or stops the hardware sampling of a set-up device.
CUptiResult startPm(const PmDevice& d) {
    auto start = cuptiParams<CUpti_PmSampling_Start_Params>(CUpti_PmSampling_Start_Params_STRUCT_SIZE);
    start.pPmSamplingObject = d.object;
    return cuptiPmSamplingStart(&start);
}
CUptiResult stopPm(const PmDevice& d) {
    auto stop = cuptiParams<CUpti_PmSampling_Stop_Params>(CUpti_PmSampling_Stop_Params_STRUCT_SIZE);
    stop.pPmSamplingObject = d.object;
    return cuptiPmSamplingStop(&stop);
}

// VRAMSCOPE_TEST_PM_STAGE: true (and a Note) when set-up is to stop after
// `stage`, to measure what each step costs the job on its own.
bool holdBack(Recorder& r, PmDevice& d, uint32_t stage, const char* step) {
    if (r.config.testPmStage != stage) return false;
    addNote(int(format::Severity::Info), "PM sampling on device " + std::to_string(d.ordinal) + " set up only up to " +
                                             step + " (VRAMSCOPE_TEST_PM_STAGE): no samples");
    return true;
}

// Sets PM sampling up on one device and starts it. False with *why. True
// without sampling when VRAMSCOPE_TEST_PM_STAGE holds it back.
bool setupPm(Recorder& r, PmDevice& d, std::string* why) {
    if (!gProfilerInitialized) {
        auto init = cuptiParams<CUpti_Profiler_Initialize_Params>(CUpti_Profiler_Initialize_Params_STRUCT_SIZE);
        CUptiResult rc = cuptiProfilerInitialize(&init);
        if (rc != CUPTI_SUCCESS) {
            *why = "cuptiProfilerInitialize: " + cuptiText(rc);
            return false;
        }
        gProfilerInitialized = true;
    }
    if (holdBack(r, d, 1, "cuptiProfilerInitialize")) return true;
    auto supported = cuptiParams<CUpti_Profiler_DeviceSupported_Params>(CUpti_Profiler_DeviceSupported_Params_STRUCT_SIZE);
    r.driver.deviceGet(&d.cuDevice, d.ordinal);
    supported.cuDevice = d.cuDevice;
    supported.api = CUPTI_PROFILER_PM_SAMPLING;
    CUptiResult rc = cuptiProfilerDeviceSupported(&supported);
    if (rc == CUPTI_SUCCESS && supported.isSupported != CUPTI_PROFILER_CONFIGURATION_SUPPORTED) {
        *why = "the device does not support PM sampling (architecture " + std::to_string(int(supported.architecture)) +
               ", confidential compute " + std::to_string(int(supported.confidentialCompute)) + ", vGPU " +
               std::to_string(int(supported.vGpu)) + ")";
        return false;
    }
    auto chip = cuptiParams<CUpti_Device_GetChipName_Params>(CUpti_Device_GetChipName_Params_STRUCT_SIZE);
    chip.deviceIndex = size_t(d.ordinal);
    if ((rc = cuptiDeviceGetChipName(&chip)) != CUPTI_SUCCESS) {
        *why = "cuptiDeviceGetChipName: " + cuptiText(rc);
        return false;
    }
    d.chip = chip.pChipName ? chip.pChipName : "";
    auto avail = cuptiParams<CUpti_PmSampling_GetCounterAvailability_Params>(CUpti_PmSampling_GetCounterAvailability_Params_STRUCT_SIZE);
    avail.deviceIndex = size_t(d.ordinal);
    if ((rc = cuptiPmSamplingGetCounterAvailability(&avail)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingGetCounterAvailability: " + cuptiText(rc);
        return false;
    }
    d.availability.assign(avail.counterAvailabilityImageSize);
    avail.counterAvailabilityImageSize = d.availability.size();
    avail.pCounterAvailabilityImage = d.availability.data();
    rc = cuptiPmSamplingGetCounterAvailability(&avail);
    if (size_t bad = d.availability.damagedGuardBytes()) {
        *why = overrunText("counter availability image", bad);
        return false;
    }
    if (rc != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingGetCounterAvailability: " + cuptiText(rc);
        return false;
    }
    if (r.config.listCounters) listMetrics(d.chip, d.availability, r.config.listAllCounters);

    // Choose metrics: per output, the first candidate whose base metrics the
    // chip lists (cuptiProfilerHostGetBaseMetrics), all in one config. Names
    // are checked against that list first because a refused
    // cuptiProfilerHostConfigAddMetrics was seen to corrupt the heap.
    const std::set<std::string> offered = baseMetrics(d.chip, d.availability);
    std::vector<const Candidate*> picked;
    for (const Candidate& c : kCandidates) {
        bool have = false;
        for (const Candidate* p : picked) have = have || p->metric == c.metric;
        if (have) continue;
        bool listed = true;
        for (int i = 0; i < c.count; ++i) listed = listed && (offered.empty() || offered.count(baseName(c.names[i])));
        if (!listed) continue;
        picked.push_back(&c);
    }
    // VRAMSCOPE_TEST_PM_SM_EXTRA (trying metrics on a new chip): the SM
    // percentage becomes the larger of the chosen SM metric and this one,
    // when the chip lists it.
    static Candidate smWithExtra;
    const std::string& extra = r.config.testPmSmExtra;
    if (!extra.empty() && (offered.empty() || offered.count(baseName(extra.c_str())))) {
        for (const Candidate*& p : picked) {
            if (p->metric != CounterMetric::SmThroughputPct) continue;
            // The first metric of the chosen SM set (the issue rate) and the extra one.
            smWithExtra = {CounterMetric::SmThroughputPct, Combine::Max, 2, {p->names[0], extra.c_str()}};
            p = &smWithExtra;
        }
    } else if (!extra.empty()) {
        printLine("VRAMSCOPE_TEST_PM_SM_EXTRA: the chip " + d.chip + " does not list " + baseName(extra.c_str()));
    }
    for (const Candidate* p : picked)
        for (int i = 0; i < p->count; ++i) d.metricNames.push_back(p->names[i]);
    if (picked.empty()) {
        *why = "the chip " + d.chip + " lists none of the SM/DRAM/tensor metrics for PM sampling";
        return false;
    }
    std::string reason;
    if (!buildConfig(d.host, d.chip, d.availability, d.metricNames, &d.config, &reason)) {
        // Not retried with other metrics: a refusal inside CUPTI's host
        // object was seen to corrupt the heap (see kCandidates).
        d.host.reset();
        *why = "the chip " + d.chip + " refuses the SM/DRAM/tensor metric set (" + reason + ")";
        return false;
    }
    if (gStop.load(std::memory_order_acquire)) {
        *why = "the process exited before PM sampling was set up";
        return false;
    }
    auto enable = cuptiParams<CUpti_PmSampling_Enable_Params>(CUpti_PmSampling_Enable_Params_STRUCT_SIZE);
    enable.deviceIndex = size_t(d.ordinal);
    if ((rc = cuptiPmSamplingEnable(&enable)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingEnable: " + cuptiText(rc);
        return false;
    }
    d.object = enable.pPmSamplingObject;
    if (holdBack(r, d, 2, "cuptiPmSamplingEnable")) return true;
    const uint64_t intervalNs = uint64_t(r.config.counterIntervalUs) * 1000ull;
    // CUPTI keeps pConfig: d.config is not touched again from here on.
    auto set = cuptiParams<CUpti_PmSampling_SetConfig_Params>(CUpti_PmSampling_SetConfig_Params_STRUCT_SIZE);
    set.pPmSamplingObject = d.object;
    set.configSize = d.config.size();
    set.pConfig = d.config.data();
    set.hardwareBufferSize = kHardwareBufferBytes;
    set.samplingInterval = intervalNs;
    set.triggerMode = CUPTI_PM_SAMPLING_TRIGGER_MODE_GPU_TIME_INTERVAL;
    set.hwBufferAppendMode = CUPTI_PM_SAMPLING_HARDWARE_BUFFER_APPEND_MODE_KEEP_LATEST;
    if ((rc = cuptiPmSamplingSetConfig(&set)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingSetConfig: " + cuptiText(rc);
        return false;
    }
    auto size = cuptiParams<CUpti_PmSampling_GetCounterDataSize_Params>(CUpti_PmSampling_GetCounterDataSize_Params_STRUCT_SIZE);
    size.pPmSamplingObject = d.object;
    size.pMetricNames = d.metricNames.data();
    size.numMetrics = d.metricNames.size();
    size.maxSamples = samplesPerDecode(r.config.counterIntervalUs, r.config.counterDecodeMs);
    if ((rc = cuptiPmSamplingGetCounterDataSize(&size)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingGetCounterDataSize: " + cuptiText(rc);
        return false;
    }
    d.maxSamples = size.maxSamples;
    d.counterData.assign(size.counterDataSize);
    auto ci = cuptiParams<CUpti_PmSampling_CounterDataImage_Initialize_Params>(CUpti_PmSampling_CounterDataImage_Initialize_Params_STRUCT_SIZE);
    ci.pPmSamplingObject = d.object;
    ci.counterDataSize = d.counterData.size();
    ci.pCounterData = d.counterData.data();
    rc = cuptiPmSamplingCounterDataImageInitialize(&ci);
    if (size_t bad = d.counterData.damagedGuardBytes()) {
        d.corrupt = true;
        *why = overrunText("counter data image", bad);
        return false;
    }
    if (rc != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingCounterDataImageInitialize: " + cuptiText(rc);
        return false;
    }
    d.blankCounterData.assign(d.counterData.data(), d.counterData.data() + d.counterData.size());
    d.values.assign(d.metricNames.size() * sizeof(double));
    if (holdBack(r, d, 3, "cuptiPmSamplingSetConfig")) return true;
    if ((rc = startPm(d)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingStart: " + cuptiText(rc);
        return false;
    }
    d.sampling = true;
    d.dutyMarkMs = steadyMs();

    DeviceDescription desc;
    if (describeDevice(r.driver, d.ordinal, &desc)) d.peakDramBytesPerSec = desc.peakDramBytesPerSec;
    std::string summary;
    int first = 0;
    for (const Candidate* c : picked) {
        ChosenCounter cc{c, first, gNextCounterId++};
        first += c->count;
        std::string name = c->names[0];
        if (c->count > 1) {
            name += c->combine == Combine::Sum ? " + " : c->combine == Combine::Max ? " max " : ", ";
            name += c->names[1];
        }
        if (c->combine == Combine::BytesOfPeak) name += " / peak DRAM bandwidth";
        pushInfo(cc.counterId, uint32_t(d.ordinal), c->metric, CounterSource::PmSampling, name, intervalNs);
        d.chosen.push_back(cc);
        if (!summary.empty()) summary += "; ";
        summary += name;
    }
    std::string text = "hardware counters: CUPTI PM sampling on device " + std::to_string(d.ordinal) + " (" + d.chip +
                       ") every " + std::to_string(r.config.counterIntervalUs) + " us" +
                       (r.config.counterOffMs ? " in bursts of " + std::to_string(r.config.counterOnMs) +
                                                    " ms, " + std::to_string(r.config.counterOffMs) + " ms apart"
                                              : std::string()) +
                       ": " + summary;
    addNote(int(format::Severity::Info), text);
    if (r.config.verbose) printLine(text);
    return true;
}

// Stops all further decoding on a device, with a Note (and a line when it
// matters or in verbose mode).
void giveUp(Recorder& r, PmDevice& d, const std::string& why, bool print) {
    d.failed = true;
    std::string text = "PM sampling stopped on device " + std::to_string(d.ordinal) + ": " + why;
    addNote(int(format::Severity::Warning), text);
    if (print || r.config.verbose) printLine(text);
}

// The device's primary context still exists (the application did not reset
// the device). PM sampling objects live in it: after a reset no PM call may
// touch them.
bool contextAlive(Recorder& r, const PmDevice& d) {
    unsigned flags = 0;
    int active = 0;
    return r.driver.primaryCtxGetState(d.cuDevice, &flags, &active) == 0 && active;
}

// Decodes what the hardware buffer holds; false when decoding failed (the
// device is then marked failed and never decoded again).
bool decodePm(Recorder& r, PmDevice& d) {
    if (d.failed || d.corrupt) return false;
    if (!contextAlive(r, d)) {
        giveUp(r, d, "its CUDA context is gone (device reset?)", false);
        return false;
    }
    for (int round = 0; round < 16; ++round) {
        auto dec = cuptiParams<CUpti_PmSampling_DecodeData_Params>(CUpti_PmSampling_DecodeData_Params_STRUCT_SIZE);
        dec.pPmSamplingObject = d.object;
        dec.pCounterDataImage = d.counterData.data();
        dec.counterDataImageSize = d.counterData.size();
        const uint64_t decodeStart = steadyNs();
        CUptiResult rc = cuptiPmSamplingDecodeData(&dec);
        const uint64_t decodeEnd = steadyNs();
        ++d.decodeCalls;
        d.decodeNs += decodeEnd - decodeStart;
        d.decodeMaxNs = std::max(d.decodeMaxNs, decodeEnd - decodeStart);
        if (size_t bad = d.counterData.damagedGuardBytes()) {
            d.corrupt = true;
            giveUp(r, d, "cuptiPmSamplingDecodeData: " + overrunText("counter data image", bad), true);
            return false;
        }
        if (rc != CUPTI_SUCCESS) {
            giveUp(r, d, "cuptiPmSamplingDecodeData: " + cuptiText(rc), false);
            return false;
        }
        if (dec.overflow) ++d.overflows;
        auto info = cuptiParams<CUpti_PmSampling_GetCounterDataInfo_Params>(CUpti_PmSampling_GetCounterDataInfo_Params_STRUCT_SIZE);
        info.pCounterDataImage = d.counterData.data();
        info.counterDataImageSize = d.counterData.size();
        if ((rc = cuptiPmSamplingGetCounterDataInfo(&info)) != CUPTI_SUCCESS) {
            giveUp(r, d, "cuptiPmSamplingGetCounterDataInfo: " + cuptiText(rc), false);
            return false;
        }
        // Never index past what the image was sized for.
        const size_t completed = std::min<size_t>(info.numCompletedSamples, d.maxSamples);
        double* values = reinterpret_cast<double*>(d.values.data());
        for (size_t i = 0; i < completed; ++i) {
            auto si = cuptiParams<CUpti_PmSampling_CounterData_GetSampleInfo_Params>(CUpti_PmSampling_CounterData_GetSampleInfo_Params_STRUCT_SIZE);
            si.pPmSamplingObject = d.object;
            si.pCounterDataImage = d.counterData.data();
            si.counterDataImageSize = d.counterData.size();
            si.sampleIndex = i;
            if (cuptiPmSamplingCounterDataGetSampleInfo(&si) != CUPTI_SUCCESS) continue;
            if (si.endTimestamp <= si.startTimestamp) {
                ++d.emptySamples;  // covers no time (seen after Stop)
                continue;
            }
            auto ev = cuptiParams<CUpti_Profiler_Host_EvaluateToGpuValues_Params>(CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE);
            ev.pHostObject = d.host.object;
            ev.pCounterDataImage = d.counterData.data();
            ev.counterDataImageSize = d.counterData.size();
            ev.rangeIndex = i;
            ev.ppMetricNames = d.metricNames.data();
            ev.numMetrics = d.metricNames.size();
            ev.pMetricValues = values;
            rc = cuptiProfilerHostEvaluateToGpuValues(&ev);
            if (size_t bad = d.values.damagedGuardBytes()) {
                d.corrupt = true;
                giveUp(r, d, "cuptiProfilerHostEvaluateToGpuValues: " + overrunText("metric values", bad), true);
                return false;
            }
            if (rc != CUPTI_SUCCESS) continue;
            if (!d.clockChecked) {
                // PM sample times come from the GPU timer. A sample decoded
                // now ended at most one decode period plus one interval ago
                // if both clocks agree; if they do not (the sample ends in
                // the future, or long ago), shift by the difference seen now,
                // less half a decode period.
                d.clockChecked = true;
                int64_t skew = int64_t(cuptiTimestamp()) - int64_t(si.endTimestamp);
                const int64_t expectedLagNs =
                    int64_t(r.config.counterDecodeMs) * 2000000ll + int64_t(r.config.counterIntervalUs) * 2000ll;
                if (skew < -5000000ll || skew > expectedLagNs)
                    d.clockOffsetNs = skew - int64_t(r.config.counterDecodeMs) * 500000ll;
                if (r.config.verbose)
                    printLine("pm sampling: first sample ends " + std::to_string(skew) + " ns before now");
            }
            uint64_t endNs = uint64_t(int64_t(si.endTimestamp) + d.clockOffsetNs);
            uint64_t durationNs = si.endTimestamp - si.startTimestamp;
            for (const ChosenCounter& c : d.chosen) {
                double pct = combineValues(c.candidate->combine, &values[size_t(c.firstValue)], c.candidate->count,
                                           durationNs, d.peakDramBytesPerSec);
                pushSample(c.counterId, endNs, pct);
            }
            ++d.samples;
        }
        d.evaluateNs += steadyNs() - decodeEnd;
        d.counterData.copyFrom(d.blankCounterData);
        if (dec.decodeStopReason != CUPTI_PM_SAMPLING_DECODE_STOP_REASON_COUNTER_DATA_FULL) break;
    }
    return true;
}

// Duty cycle: after a burst's last decode, Stop; after the pause, Start
// again. Samples only cover the bursts; the analysis weighs samples by the
// time they cover, so pauses leave no false values behind.
void dutyCycle(Recorder& r, PmDevice& d) {
    if (!r.config.counterOffMs || d.failed || d.corrupt) return;
    const uint64_t now = steadyMs();
    if (!d.paused && now - d.dutyMarkMs >= r.config.counterOnMs) {
        if (CUptiResult rc = stopPm(d); rc != CUPTI_SUCCESS) {
            giveUp(r, d, "cuptiPmSamplingStop between bursts: " + cuptiText(rc), true);
            return;
        }
        d.paused = true;
        d.dutyMarkMs = now;
        ++d.pauses;
    } else if (d.paused && now - d.dutyMarkMs >= r.config.counterOffMs) {
        if (CUptiResult rc = startPm(d); rc != CUPTI_SUCCESS) {
            giveUp(r, d, "cuptiPmSamplingStart after a pause: " + cuptiText(rc), true);
            return;
        }
        d.paused = false;
        d.dutyMarkMs = now;
    }
}

// The last PM work on a device, on the sampler thread, while the process's
// exit handlers wait for it (before the CUDA runtime's teardown): one more
// decode while sampling still runs — the same call that ran every period —
// then Stop. Nothing after Stop: a decode after Stop only returns samples
// that cover no time. No cuptiPmSamplingDisable either: disabling was seen to tear
// CUPTI down with it (XLA's sampler avoids it likewise), and the writer
// still flushes CUPTI's activity buffers after this.
void finishPm(Recorder& r, PmDevice& d) {
    if (!d.sampling) return;
    d.sampling = false;
    if (d.corrupt) return;  // CUPTI's state for this device is not to be trusted
    if (!contextAlive(r, d)) {
        giveUp(r, d, "its CUDA context is gone (device reset?)", false);
        return;
    }
    if (d.context) r.driver.ctxSetCurrent(d.context);
    if (!d.paused) {  // paused: already stopped, and decoded before that
        decodePm(r, d);
        if (d.corrupt) return;
        stopPm(d);
    }
    if (d.overflows)
        addNote(int(format::Severity::Warning),
                "PM sampling lost samples on device " + std::to_string(d.ordinal) +
                    " (hardware buffer overflowed " + std::to_string(d.overflows) + " times)");
    // What sampling cost this process's CPU, in the trace: a user who asks
    // whether counters slowed the job finds it there.
    auto ms = [](uint64_t ns) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", double(ns) / 1e6);
        return std::string(buf);
    };
    const std::string cost = "PM sampling on device " + std::to_string(d.ordinal) + ": " + std::to_string(d.samples) +
                             " samples in " + std::to_string(d.decodeCalls) + " decodes every " +
                             std::to_string(r.config.counterDecodeMs) + " ms; decoding took " + ms(d.decodeNs) +
                             " ms (longest " + ms(d.decodeMaxNs) + " ms), evaluating " + ms(d.evaluateNs) +
                             " ms, on the sampler thread" +
                             (d.pauses ? "; paused " + std::to_string(d.pauses) + " times" : std::string());
    addNote(int(format::Severity::Info), cost);
    if (r.config.verbose)
        printLine(cost + " (" + std::to_string(d.emptySamples) + " empty skipped, overflows " +
                  std::to_string(d.overflows) + ")");
}

// The counter ids of one GPM device (the GPM sampler's device order).
struct GpmIds {
    uint32_t sm, dram, tensor;
};

void* samplerMain(void*) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    Recorder& r = recorder();
    bool contextMadeCurrent = false;
    try {
        std::vector<PmDevice*> pm(kMaxDevices, nullptr);  // never freed: see PmDevice
        void* retained[kMaxDevices] = {};
        uint64_t handled = 0;
        bool usePm = r.config.counters == CounterMode::Pm;
        bool gpmLoaded = false, gpmFailed = false;
        GpmSampler gpm;
        std::vector<GpmIds> gpmIds;
        std::string pmWhy;
        // GPM read at 20 ms periods gave values far below ncu on an H100 (DRAM
        // 2.5 % for a GEMM ncu puts at 13 %); DCGM's finest profiling period is
        // 100 ms, so GPM is never read faster than that (not yet re-measured).
        const uint32_t gpmPeriodMs = r.config.counterIntervalUs / 1000 > 100 ? r.config.counterIntervalUs / 1000 : 100;
        const uint64_t gpmIntervalNs = std::max<uint64_t>(uint64_t(r.config.counterIntervalUs) * 1000ull, 100000000ull);
        auto sampleGpm = [&] {
            for (size_t i = 0; i < gpm.deviceCount(); ++i) {
                GpmReading reading;
                if (!gpm.read(i, &reading)) continue;
                uint64_t now = cuptiTimestamp();
                pushSample(gpmIds[i].sm, now, reading.smPct);
                pushSample(gpmIds[i].tensor, now, reading.tensorPct);
                pushSample(gpmIds[i].dram, now, reading.dramPct);
            }
        };
        uint32_t sinceGpm = 0;
        while (!gStop.load(std::memory_order_acquire)) {
            const uint32_t periodMs = usePm ? r.config.counterDecodeMs : 5;
            sleepMs(periodMs);
            sinceGpm += periodMs;
            if (gStop.load(std::memory_order_acquire)) break;  // the final decode is finishPm's
            // New devices: set up once their context is active.
            uint64_t pending = r.devicesSeen.load(std::memory_order_acquire) & ~handled;
            for (int o = 0; o < kMaxDevices && pending; ++o) {
                if (!(pending & (1ull << o))) continue;
                pending &= ~(1ull << o);
                if (!makeContextCurrent(r, o, &retained[o])) continue;
                contextMadeCurrent = true;
                handled |= 1ull << o;
                if (!gAtExitRegistered.exchange(true)) atexit(stopAtExit);
                if (gStop.load(std::memory_order_acquire)) break;
                if (usePm) {
                    uint64_t setupStartMs = steadyMs();
                    auto* d = new PmDevice;
                    d->ordinal = o;
                    d->context = retained[o];
                    bool ok = setupPm(r, *d, &pmWhy);
                    if (r.config.verbose)
                        printLine("pm sampling: set-up on device " + std::to_string(o) + " took " +
                                  std::to_string(steadyMs() - setupStartMs) + " ms");
                    if (ok) {
                        pm[size_t(o)] = d;
                        continue;
                    }
                    if (gStop.load(std::memory_order_acquire)) {
                        addNote(int(format::Severity::Warning), "no hardware counters on device " +
                                                                    std::to_string(o) + ": " + pmWhy);
                        break;
                    }
                    // PM sampling failed: GPM for this and later devices.
                    usePm = false;
                    printLine("PM sampling is unavailable (" + pmWhy + "); trying NVML GPM");
                }
                std::string why;
                if (!gpmLoaded && !gpmFailed) {
                    gpmLoaded = gpm.load(&why);
                    gpmFailed = !gpmLoaded;
                }
                if (!gpmLoaded || !gpm.addDevice(r.driver, o, &why)) {
                    std::string text = "no hardware counters on device " + std::to_string(o) + ": " +
                                       (pmWhy.empty() ? "" : "PM sampling: " + pmWhy + "; ") + "NVML GPM: " + why +
                                       "; boundness falls back to an estimate from kernel names";
                    addNote(int(format::Severity::Warning), text);
                    printLine(text);
                    continue;
                }
                GpmIds ids{gNextCounterId++, gNextCounterId++, gNextCounterId++};
                gpmIds.push_back(ids);
                pushInfo(ids.sm, uint32_t(o), CounterMetric::SmThroughputPct, CounterSource::Gpm,
                         "gpm: max(fp32, fp16, fp64, integer, any tensor) util", gpmIntervalNs);
                pushInfo(ids.dram, uint32_t(o), CounterMetric::DramThroughputPct, CounterSource::Gpm,
                         "gpm: dram bw util", gpmIntervalNs);
                pushInfo(ids.tensor, uint32_t(o), CounterMetric::TensorPipePct, CounterSource::Gpm,
                         "gpm: any tensor util", gpmIntervalNs);
                std::string text = "hardware counters: NVML GPM on device " + std::to_string(o) +
                                   (pmWhy.empty() ? std::string() : " (PM sampling: " + pmWhy + ")");
                addNote(int(format::Severity::Info), text);
                if (r.config.verbose) printLine(text);
            }
            for (PmDevice* d : pm) {
                if (!d || !d->sampling || d->failed) continue;
                if (d->context) r.driver.ctxSetCurrent(d->context);
                if (!d->paused) decodePm(r, *d);
                dutyCycle(r, *d);
            }
            if (gpmLoaded && gpm.deviceCount() && sinceGpm >= gpmPeriodMs) {
                sinceGpm = 0;
                sampleGpm();
            }
        }
        // Stopping: only this thread ever calls into CUPTI's PM API, so the
        // final decode happens exactly once, here.
        for (PmDevice* d : pm)
            if (d) finishPm(r, *d);
        if (gpmLoaded && gpm.deviceCount()) sampleGpm();
    } catch (...) {
        printLine("the hardware-counter sampler failed; the trace has no further counter samples");
    }
    // Leave no context current on a thread that is about to end while the
    // process tears CUDA down.
    if (contextMadeCurrent) r.driver.ctxSetCurrent(nullptr);
    gRunning.store(false, std::memory_order_release);
    return nullptr;
}

}  // namespace

CounterQueue* counterQueue() { return gQueue; }

bool startCounterSampler(Recorder& r) {
    if (r.config.counters == CounterMode::Off || r.config.testWithoutCupti || !r.cuptiStarted) return false;
    if (gStarted.exchange(true)) return false;
    if (!gQueue) gQueue = new CounterQueue;  // one queue for every attach: the writer drains it
    gOwnerPid.store(int(getpid()));
    gRunning.store(true);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
    // The profiler host library builds config images on this thread's stack.
    pthread_attr_setstacksize(&attr, 32u << 20);
    int rc = pthread_create(&gThread, &attr, samplerMain, nullptr);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        gRunning.store(false);
        return false;
    }
    gThreadValid.store(true, std::memory_order_release);
    return true;
}

bool resetCounterSampler() {
    if (gRunning.load(std::memory_order_acquire)) return false;  // its thread has not left yet
    gStop.store(false);
    gStarted.store(false);
    gThreadValid.store(false);
    gJoinClaimed.store(false);
    gJoinTimedOut.store(false);
    gProfilerInitialized = false;
    return true;
}

void stopCounterSampler() {
    if (int(getpid()) != gOwnerPid.load()) return;  // forked child: there is no sampler thread to wait for
    if (!gThreadValid.load(std::memory_order_acquire)) return;
    if (pthread_equal(pthread_self(), gThread)) return;
    gStop.store(true, std::memory_order_release);
    // Bounded: a set-up or decode stuck in CUPTI must not hang the exit. Set-up
    // took hundreds of milliseconds on an H100.
    if (!gJoinClaimed.exchange(true)) {
        timespec deadline{};
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        if (pthread_timedjoin_np(gThread, nullptr, &deadline) != 0) {
            gJoinTimedOut.store(true);
            printLine("the hardware-counter sampler did not stop within 10 s; exiting without it");
        }
        return;
    }
    // Another caller is joining (or has joined): wait for the thread's work to end.
    if (gJoinTimedOut.load()) return;
    for (int i = 0; i < 10000 && gRunning.load(std::memory_order_acquire); ++i) sleepMs(1);
}

}  // namespace vramscope::inject
