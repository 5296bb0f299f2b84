#include "pm_sampler.h"

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
#include <ctime>
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>
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

uint64_t steadyMs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000ull + uint64_t(ts.tv_nsec) / 1000000ull;
}

// Exit while PM sampling is being set up or running crashed the process in
// the first GPU runs (H100, CUPTI 13.0: SIGSEGV during exit, traces without
// footer). This handler is registered after the CUDA runtime initialized, so
// it runs before the runtime's own teardown: it stops sampling and waits for
// the sampler thread to leave CUPTI.
void stopAtExit() { stopCounterSampler(); }

constexpr uint32_t kDecodePeriodMs = 20;
// Device-side buffer for raw samples. KEEP_LATEST mode: if the decode thread
// falls behind, the oldest samples are overwritten instead of failing.
constexpr size_t kHardwareBufferBytes = 16u << 20;

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
// neither is listed; the first entry per output is the set tried first.
const Candidate kCandidates[] = {
    // The triage form of sm__throughput (what ncu reports) is listed for GH100
    // PM sampling; the issue rate below read 36% on an SGEMM that ncu puts at 90%.
    {CounterMetric::SmThroughputPct, Combine::Direct, 1,
     {"TPC.TriageCompute.sm__throughput.avg.pct_of_peak_sustained_elapsed"}},
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
    CUptiResult init(const std::string& chip, const std::vector<uint8_t>& availability) {
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

// Builds the config image for these metrics; true when they fit one pass.
bool buildConfig(HostObject& host, const std::string& chip, const std::vector<uint8_t>& availability,
                 std::vector<const char*>& names, std::vector<uint8_t>* image, std::string* why) {
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
    image->assign(size.configImageSize, 0);
    auto get = cuptiParams<CUpti_Profiler_Host_GetConfigImage_Params>(CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE);
    get.pHostObject = host.object;
    get.configImageSize = image->size();
    get.pConfigImage = image->data();
    if ((rc = cuptiProfilerHostGetConfigImage(&get)) != CUPTI_SUCCESS) {
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

void listMetrics(const std::string& chip, const std::vector<uint8_t>& availability) {
    HostObject host;
    if (host.init(chip, availability) != CUPTI_SUCCESS) return;
    const char* filters[] = {"dram", "sm__throughput", "sm__inst_executed", "tensor", "sm__cycles_active", "gr__"};
    for (CUpti_MetricType type : {CUPTI_METRIC_TYPE_COUNTER, CUPTI_METRIC_TYPE_RATIO, CUPTI_METRIC_TYPE_THROUGHPUT}) {
        auto p = cuptiParams<CUpti_Profiler_Host_GetBaseMetrics_Params>(CUpti_Profiler_Host_GetBaseMetrics_Params_STRUCT_SIZE);
        p.pHostObject = host.object;
        p.metricType = type;
        if (cuptiProfilerHostGetBaseMetrics(&p) != CUPTI_SUCCESS) continue;
        std::string line;
        size_t shown = 0;
        for (size_t i = 0; i < p.numMetrics; ++i) {
            const char* m = p.ppMetricNames[i];
            bool match = false;
            for (const char* f : filters) match = match || std::strstr(m, f);
            if (!match) continue;
            if (shown++) line += ' ';
            line += m;
        }
        printLine("pm sampling " + chip + " type " + std::to_string(int(type)) + ": " + std::to_string(p.numMetrics) +
                  " base metrics; matching: " + line);
    }
}

struct PmDevice {
    int ordinal = -1;
    void* context = nullptr;
    std::string chip;
    uint64_t peakDramBytesPerSec = 0;
    std::vector<uint8_t> availability, config, counterData, blankCounterData;
    HostObject host;
    CUpti_PmSampling_Object* object = nullptr;
    std::vector<const char*> metricNames;
    std::vector<ChosenCounter> chosen;
    std::vector<double> values;
    bool sampling = false;
    bool failed = false;
    int64_t clockOffsetNs = 0;
    bool clockChecked = false;
    uint64_t samples = 0, overflows = 0;
};

uint32_t gNextCounterId = 1;

// Sets PM sampling up on one device and starts it. False with *why.
bool setupPm(Recorder& r, PmDevice& d, std::string* why) {
    static bool profilerInitialized = false;
    if (!profilerInitialized) {
        auto init = cuptiParams<CUpti_Profiler_Initialize_Params>(CUpti_Profiler_Initialize_Params_STRUCT_SIZE);
        CUptiResult rc = cuptiProfilerInitialize(&init);
        if (rc != CUPTI_SUCCESS) {
            *why = "cuptiProfilerInitialize: " + cuptiText(rc);
            return false;
        }
        profilerInitialized = true;
    }
    auto supported = cuptiParams<CUpti_Profiler_DeviceSupported_Params>(CUpti_Profiler_DeviceSupported_Params_STRUCT_SIZE);
    int dev = 0;
    r.driver.deviceGet(&dev, d.ordinal);
    supported.cuDevice = dev;
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
    d.availability.assign(avail.counterAvailabilityImageSize, 0);
    avail.pCounterAvailabilityImage = d.availability.data();
    if ((rc = cuptiPmSamplingGetCounterAvailability(&avail)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingGetCounterAvailability: " + cuptiText(rc);
        return false;
    }
    if (r.config.listCounters) listMetrics(d.chip, d.availability);

    // Choose metrics. Building a config image takes tens of milliseconds, so
    // the preferred set (the first candidate per output) is tried as a whole
    // first; only if the chip refuses it, per output the first candidate that
    // fits with those already chosen.
    std::vector<const Candidate*> picked;
    for (const Candidate& c : kCandidates) {
        bool have = false;
        for (const Candidate* p : picked) have = have || p->metric == c.metric;
        if (have) continue;
        picked.push_back(&c);
        for (int i = 0; i < c.count; ++i) d.metricNames.push_back(c.names[i]);
    }
    std::string reason;
    if (!buildConfig(d.host, d.chip, d.availability, d.metricNames, &d.config, &reason)) {
        if (r.config.verbose) printLine("pm sampling: the preferred metrics were refused: " + reason);
        picked.clear();
        d.metricNames.clear();
        for (const Candidate& c : kCandidates) {
            if (gStop.load(std::memory_order_acquire)) {
                *why = "the process exited before PM sampling was set up";
                return false;
            }
            bool have = false;
            for (const Candidate* p : picked) have = have || p->metric == c.metric;
            if (have) continue;
            std::vector<const char*> names = d.metricNames;
            for (int i = 0; i < c.count; ++i) names.push_back(c.names[i]);
            std::string probeWhy;
            HostObject probe;
            std::vector<uint8_t> image;
            if (!buildConfig(probe, d.chip, d.availability, names, &image, &probeWhy)) {
                if (r.config.verbose) printLine("pm sampling: " + std::string(c.names[0]) + " refused: " + probeWhy);
                continue;
            }
            picked.push_back(&c);
            d.metricNames = names;
        }
        if (picked.empty()) {
            *why = "the chip " + d.chip + " accepts none of the SM/DRAM/tensor metrics for PM sampling";
            return false;
        }
        if (!buildConfig(d.host, d.chip, d.availability, d.metricNames, &d.config, &reason)) {
            *why = "config image: " + reason;
            return false;
        }
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
    const uint64_t intervalNs = uint64_t(r.config.counterIntervalUs) * 1000ull;
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
    size.maxSamples = samplesPerDecode(r.config.counterIntervalUs, kDecodePeriodMs);
    if ((rc = cuptiPmSamplingGetCounterDataSize(&size)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingGetCounterDataSize: " + cuptiText(rc);
        return false;
    }
    d.counterData.assign(size.counterDataSize, 0);
    auto ci = cuptiParams<CUpti_PmSampling_CounterDataImage_Initialize_Params>(CUpti_PmSampling_CounterDataImage_Initialize_Params_STRUCT_SIZE);
    ci.pPmSamplingObject = d.object;
    ci.counterDataSize = d.counterData.size();
    ci.pCounterData = d.counterData.data();
    if ((rc = cuptiPmSamplingCounterDataImageInitialize(&ci)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingCounterDataImageInitialize: " + cuptiText(rc);
        return false;
    }
    d.blankCounterData = d.counterData;  // re-initializing is a copy of this
    auto start = cuptiParams<CUpti_PmSampling_Start_Params>(CUpti_PmSampling_Start_Params_STRUCT_SIZE);
    start.pPmSamplingObject = d.object;
    if ((rc = cuptiPmSamplingStart(&start)) != CUPTI_SUCCESS) {
        *why = "cuptiPmSamplingStart: " + cuptiText(rc);
        return false;
    }
    d.sampling = true;
    d.values.assign(d.metricNames.size(), 0.0);

    DeviceDescription desc;
    if (describeDevice(r.driver, d.ordinal, &desc)) d.peakDramBytesPerSec = desc.peakDramBytesPerSec;
    std::string summary;
    int first = 0;
    for (const Candidate* c : picked) {
        ChosenCounter cc{c, first, gNextCounterId++};
        first += c->count;
        std::string name = c->names[0];
        if (c->count > 1) {
            name += c->combine == Combine::Sum ? " + " : ", ";
            name += c->names[1];
        }
        if (c->combine == Combine::BytesOfPeak) name += " / peak DRAM bandwidth";
        pushInfo(cc.counterId, uint32_t(d.ordinal), c->metric, CounterSource::PmSampling, name, intervalNs);
        d.chosen.push_back(cc);
        if (!summary.empty()) summary += "; ";
        summary += name;
    }
    std::string text = "hardware counters: CUPTI PM sampling on device " + std::to_string(d.ordinal) + " (" + d.chip +
                       ") every " + std::to_string(r.config.counterIntervalUs) + " us: " + summary;
    addNote(int(format::Severity::Info), text);
    if (r.config.verbose) printLine(text);
    return true;
}

// Decodes what the hardware buffer holds; false when decoding failed.
bool decodePm(Recorder& r, PmDevice& d) {
    for (int round = 0; round < 16; ++round) {
        auto dec = cuptiParams<CUpti_PmSampling_DecodeData_Params>(CUpti_PmSampling_DecodeData_Params_STRUCT_SIZE);
        dec.pPmSamplingObject = d.object;
        dec.pCounterDataImage = d.counterData.data();
        dec.counterDataImageSize = d.counterData.size();
        CUptiResult rc = cuptiPmSamplingDecodeData(&dec);
        if (rc != CUPTI_SUCCESS) {
            addNote(int(format::Severity::Warning),
                    "PM sampling stopped on device " + std::to_string(d.ordinal) +
                        ": cuptiPmSamplingDecodeData: " + cuptiText(rc));
            return false;
        }
        if (dec.overflow) ++d.overflows;
        auto info = cuptiParams<CUpti_PmSampling_GetCounterDataInfo_Params>(CUpti_PmSampling_GetCounterDataInfo_Params_STRUCT_SIZE);
        info.pCounterDataImage = d.counterData.data();
        info.counterDataImageSize = d.counterData.size();
        if (cuptiPmSamplingGetCounterDataInfo(&info) != CUPTI_SUCCESS) return false;
        for (size_t i = 0; i < info.numCompletedSamples; ++i) {
            auto si = cuptiParams<CUpti_PmSampling_CounterData_GetSampleInfo_Params>(CUpti_PmSampling_CounterData_GetSampleInfo_Params_STRUCT_SIZE);
            si.pPmSamplingObject = d.object;
            si.pCounterDataImage = d.counterData.data();
            si.counterDataImageSize = d.counterData.size();
            si.sampleIndex = i;
            if (cuptiPmSamplingCounterDataGetSampleInfo(&si) != CUPTI_SUCCESS) continue;
            auto ev = cuptiParams<CUpti_Profiler_Host_EvaluateToGpuValues_Params>(CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE);
            ev.pHostObject = d.host.object;
            ev.pCounterDataImage = d.counterData.data();
            ev.counterDataImageSize = d.counterData.size();
            ev.rangeIndex = i;
            ev.ppMetricNames = d.metricNames.data();
            ev.numMetrics = d.metricNames.size();
            ev.pMetricValues = d.values.data();
            if (cuptiProfilerHostEvaluateToGpuValues(&ev) != CUPTI_SUCCESS) continue;
            if (!d.clockChecked) {
                // PM sample times come from the GPU timer. A sample decoded
                // now ended at most one decode period plus one interval ago
                // if both clocks agree; if they do not (the sample ends in
                // the future, or long ago), shift by the difference seen now,
                // less half a decode period.
                d.clockChecked = true;
                int64_t skew = int64_t(cuptiTimestamp()) - int64_t(si.endTimestamp);
                const int64_t expectedLagNs =
                    int64_t(kDecodePeriodMs) * 2000000ll + int64_t(r.config.counterIntervalUs) * 2000ll;
                if (skew < -5000000ll || skew > expectedLagNs)
                    d.clockOffsetNs = skew - int64_t(kDecodePeriodMs) * 500000ll;
                if (r.config.verbose)
                    printLine("pm sampling: first sample ends " + std::to_string(skew) + " ns before now");
            }
            uint64_t endNs = uint64_t(int64_t(si.endTimestamp) + d.clockOffsetNs);
            uint64_t durationNs = si.endTimestamp > si.startTimestamp ? si.endTimestamp - si.startTimestamp : 0;
            for (const ChosenCounter& c : d.chosen) {
                double pct = combineValues(c.candidate->combine, &d.values[size_t(c.firstValue)], c.candidate->count,
                                           durationNs, d.peakDramBytesPerSec);
                pushSample(c.counterId, endNs, pct);
            }
            ++d.samples;
        }
        d.counterData = d.blankCounterData;
        if (dec.decodeStopReason != CUPTI_PM_SAMPLING_DECODE_STOP_REASON_COUNTER_DATA_FULL) break;
    }
    return true;
}

void finishPm(Recorder& r, PmDevice& d) {
    if (!d.sampling) return;
    auto stop = cuptiParams<CUpti_PmSampling_Stop_Params>(CUpti_PmSampling_Stop_Params_STRUCT_SIZE);
    stop.pPmSamplingObject = d.object;
    cuptiPmSamplingStop(&stop);
    decodePm(r, d);
    d.sampling = false;
    // No cuptiPmSamplingDisable: the process is exiting, and disabling was
    // seen to tear CUPTI down with it (XLA's sampler avoids it likewise).
    if (d.overflows)
        addNote(int(format::Severity::Warning),
                "PM sampling lost samples on device " + std::to_string(d.ordinal) +
                    " (hardware buffer overflowed " + std::to_string(d.overflows) + " times)");
    if (r.config.verbose)
        printLine("pm sampling: device " + std::to_string(d.ordinal) + " decoded " + std::to_string(d.samples) +
                  " samples, overflows " + std::to_string(d.overflows));
}

// -------------------------------------------------------------------------
// NVML GPM, loaded at run time (Debian's CUDA has no nvml.h). The few types
// below follow the public NVML API reference (nvml.h, R520+).
namespace nvml {
using Return = int;  // nvmlReturn_t; 0 = NVML_SUCCESS
struct DeviceSt;
using Device = DeviceSt*;
struct GpmSampleSt;
using GpmSample = GpmSampleSt*;
struct GpmMetric {
    unsigned metricId;
    Return nvmlReturn;
    double value;
    struct {
        char* shortName;
        char* longName;
        char* unit;
    } metricInfo;
};
constexpr unsigned kMetricsGetVersion = 1;  // NVML_GPM_METRICS_GET_VERSION
constexpr unsigned kSupportVersion = 1;     // NVML_GPM_SUPPORT_VERSION
struct GpmMetricsGet {
    unsigned version;
    unsigned numMetrics;
    GpmSample sample1;
    GpmSample sample2;
    GpmMetric metrics[98];  // NVML_GPM_METRIC_MAX in R525; NVML reads numMetrics entries
};
struct GpmSupport {
    unsigned version;
    unsigned isSupportedDevice;
};
// nvmlGpmMetricId_t values used here.
constexpr unsigned kIntegerUtil = 4, kAnyTensorUtil = 5, kDramBwUtil = 10, kFp64Util = 11, kFp32Util = 12,
                   kFp16Util = 13;
}  // namespace nvml

struct Gpm {
    nvml::Return (*init)() = nullptr;
    nvml::Return (*handleByUuid)(const char*, nvml::Device*) = nullptr;
    nvml::Return (*querySupport)(nvml::Device, nvml::GpmSupport*) = nullptr;
    nvml::Return (*sampleAlloc)(nvml::GpmSample*) = nullptr;
    nvml::Return (*sampleGet)(nvml::Device, nvml::GpmSample) = nullptr;
    nvml::Return (*metricsGet)(nvml::GpmMetricsGet*) = nullptr;
    struct Dev {
        int ordinal;
        nvml::Device device;
        nvml::GpmSample samples[2];
        int current;
        uint32_t smId, dramId, tensorId;
    };
    std::vector<Dev> devices;

    bool load(std::string* why) {
        void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            *why = "libnvidia-ml.so.1 not found";
            return false;
        }
        init = reinterpret_cast<decltype(init)>(dlsym(lib, "nvmlInit_v2"));
        handleByUuid = reinterpret_cast<decltype(handleByUuid)>(dlsym(lib, "nvmlDeviceGetHandleByUUID"));
        querySupport = reinterpret_cast<decltype(querySupport)>(dlsym(lib, "nvmlGpmQueryDeviceSupport"));
        sampleAlloc = reinterpret_cast<decltype(sampleAlloc)>(dlsym(lib, "nvmlGpmSampleAlloc"));
        sampleGet = reinterpret_cast<decltype(sampleGet)>(dlsym(lib, "nvmlGpmSampleGet"));
        metricsGet = reinterpret_cast<decltype(metricsGet)>(dlsym(lib, "nvmlGpmMetricsGet"));
        if (!init || !handleByUuid || !querySupport || !sampleAlloc || !sampleGet || !metricsGet) {
            *why = "this NVML has no GPM functions (driver older than R520)";
            return false;
        }
        nvml::Return rc = init();
        if (rc != 0) {
            *why = "nvmlInit failed (NVML error " + std::to_string(rc) + ")";
            return false;
        }
        return true;
    }

    bool addDevice(Recorder& r, int ordinal, std::string* why) {
        DeviceDescription desc;
        if (!describeDevice(r.driver, ordinal, &desc)) {
            *why = "the device could not be described";
            return false;
        }
        char uuid[64];
        const uint8_t* u = desc.uuid;
        std::snprintf(uuid, sizeof uuid,
                      "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
                      u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        Dev d{};
        d.ordinal = ordinal;
        if (handleByUuid(uuid, &d.device) != 0) {
            *why = std::string("NVML does not know ") + uuid;
            return false;
        }
        nvml::GpmSupport support{nvml::kSupportVersion, 0};
        if (querySupport(d.device, &support) != 0 || !support.isSupportedDevice) {
            *why = "the device does not support GPM";
            return false;
        }
        if (sampleAlloc(&d.samples[0]) != 0 || sampleAlloc(&d.samples[1]) != 0 || sampleGet(d.device, d.samples[0]) != 0) {
            *why = "GPM samples could not be taken";
            return false;
        }
        const uint64_t intervalNs = std::max<uint64_t>(uint64_t(r.config.counterIntervalUs) * 1000ull, 100000000ull);
        d.smId = gNextCounterId++;
        d.dramId = gNextCounterId++;
        d.tensorId = gNextCounterId++;
        pushInfo(d.smId, uint32_t(ordinal), CounterMetric::SmThroughputPct, CounterSource::Gpm,
                 "gpm: max(fp32, fp16, fp64, integer, any tensor) util", intervalNs);
        pushInfo(d.dramId, uint32_t(ordinal), CounterMetric::DramThroughputPct, CounterSource::Gpm, "gpm: dram bw util",
                 intervalNs);
        pushInfo(d.tensorId, uint32_t(ordinal), CounterMetric::TensorPipePct, CounterSource::Gpm,
                 "gpm: any tensor util", intervalNs);
        devices.push_back(d);
        return true;
    }

    void sample() {
        for (Dev& d : devices) {
            int next = 1 - d.current;
            if (sampleGet(d.device, d.samples[next]) != 0) continue;
            uint64_t now = cuptiTimestamp();
            static nvml::GpmMetricsGet get;  // large; this thread only
            std::memset(&get, 0, sizeof get);
            get.version = nvml::kMetricsGetVersion;
            get.sample1 = d.samples[d.current];
            get.sample2 = d.samples[next];
            const unsigned ids[] = {nvml::kFp32Util,      nvml::kFp16Util,  nvml::kFp64Util,
                                    nvml::kIntegerUtil,   nvml::kAnyTensorUtil, nvml::kDramBwUtil};
            get.numMetrics = sizeof ids / sizeof ids[0];
            for (unsigned i = 0; i < get.numMetrics; ++i) get.metrics[i].metricId = ids[i];
            d.current = next;
            if (metricsGet(&get) != 0) continue;
            double v[6];
            for (int i = 0; i < 6; ++i) v[i] = get.metrics[i].nvmlReturn == 0 ? get.metrics[i].value : 0;
            pushSample(d.smId, now, combineValues(Combine::Max, v, 5, 0, 0));
            pushSample(d.tensorId, now, v[4]);
            pushSample(d.dramId, now, v[5]);
        }
    }
};

void* samplerMain(void*) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    Recorder& r = recorder();
    try {
        std::vector<PmDevice*> pm(kMaxDevices, nullptr);
        void* retained[kMaxDevices] = {};
        uint64_t handled = 0;
        bool usePm = r.config.counters == CounterMode::Pm;
        bool gpmLoaded = false, gpmFailed = false;
        Gpm gpm;
        std::string pmWhy;
        // GPM read at 20 ms periods gave values far below ncu on an H100 (DRAM
        // 2.5 % for a GEMM ncu puts at 13 %); DCGM's finest profiling period is
        // 100 ms, so GPM is never read faster than that (not yet re-measured).
        const uint32_t gpmPeriodMs = r.config.counterIntervalUs / 1000 > 100 ? r.config.counterIntervalUs / 1000 : 100;
        uint32_t sinceGpm = 0;
        while (!gStop.load(std::memory_order_acquire)) {
            sleepMs(usePm ? kDecodePeriodMs : 5);
            sinceGpm += usePm ? kDecodePeriodMs : 5;
            // New devices: set up once their context is active.
            uint64_t pending = r.devicesSeen.load(std::memory_order_acquire) & ~handled;
            for (int o = 0; o < kMaxDevices && pending; ++o) {
                if (!(pending & (1ull << o))) continue;
                pending &= ~(1ull << o);
                if (!makeContextCurrent(r, o, &retained[o])) continue;
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
                if (!gpmLoaded || !gpm.addDevice(r, o, &why)) {
                    std::string text = "no hardware counters on device " + std::to_string(o) + ": " +
                                       (pmWhy.empty() ? "" : "PM sampling: " + pmWhy + "; ") + "NVML GPM: " + why +
                                       "; boundness falls back to an estimate from kernel names";
                    addNote(int(format::Severity::Warning), text);
                    printLine(text);
                    continue;
                }
                std::string text = "hardware counters: NVML GPM on device " + std::to_string(o) +
                                   (pmWhy.empty() ? std::string() : " (PM sampling: " + pmWhy + ")");
                addNote(int(format::Severity::Info), text);
                if (r.config.verbose) printLine(text);
            }
            for (PmDevice* d : pm) {
                if (!d || !d->sampling || d->failed) continue;
                if (d->context) r.driver.ctxSetCurrent(d->context);
                if (!decodePm(r, *d)) d->failed = true;
            }
            if (gpmLoaded && !gpm.devices.empty() && sinceGpm >= gpmPeriodMs) {
                sinceGpm = 0;
                gpm.sample();
            }
        }
        for (PmDevice* d : pm)
            if (d && !d->failed) {
                if (d->context) r.driver.ctxSetCurrent(d->context);
                finishPm(r, *d);
            }
        if (gpmLoaded) gpm.sample();
    } catch (...) {
        printLine("the hardware-counter sampler failed; the trace has no further counter samples");
    }
    gRunning.store(false, std::memory_order_release);
    return nullptr;
}

}  // namespace

CounterQueue* counterQueue() { return gQueue; }

bool startCounterSampler(Recorder& r) {
    if (r.config.counters == CounterMode::Off || r.config.testWithoutCupti || !r.cuptiStarted) return false;
    if (gStarted.exchange(true)) return false;
    gQueue = new CounterQueue;
    gOwnerPid.store(int(getpid()));
    gRunning.store(true);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // The profiler host library builds config images on this thread's stack.
    pthread_attr_setstacksize(&attr, 32u << 20);
    pthread_t t;
    int rc = pthread_create(&t, &attr, samplerMain, nullptr);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        gRunning.store(false);
        return false;
    }
    return true;
}

void stopCounterSampler() {
    if (int(getpid()) != gOwnerPid.load()) return;  // forked child: there is no sampler thread to wait for
    gStop.store(true, std::memory_order_release);
    // Bounded: a set-up or decode stuck in CUPTI must not hang the exit. Set-up
    // took hundreds of milliseconds on an H100; leaving while the thread is
    // inside CUPTI is what crashed.
    for (int i = 0; i < 10000 && gRunning.load(std::memory_order_acquire); ++i) sleepMs(1);
}

}  // namespace vramscope::inject
