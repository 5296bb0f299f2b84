#include "gpm_sampler.h"

#include "driver_api.h"
#include "pm_sampler.h"

#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <vector>

namespace vramscope::inject {

// -------------------------------------------------------------------------
// The few NVML types used here, following the public NVML API reference
// (nvml.h, R520+).
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

struct GpmSampler::State {
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
    };
    std::vector<Dev> devices;
    nvml::GpmMetricsGet get{};  // large; reused for every reading
};

GpmSampler::GpmSampler() : state_(new State) {}
GpmSampler::~GpmSampler() = default;

bool GpmSampler::load(std::string* why) {
    State& s = *state_;
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        *why = "libnvidia-ml.so.1 not found";
        return false;
    }
    s.init = reinterpret_cast<decltype(s.init)>(dlsym(lib, "nvmlInit_v2"));
    s.handleByUuid = reinterpret_cast<decltype(s.handleByUuid)>(dlsym(lib, "nvmlDeviceGetHandleByUUID"));
    s.querySupport = reinterpret_cast<decltype(s.querySupport)>(dlsym(lib, "nvmlGpmQueryDeviceSupport"));
    s.sampleAlloc = reinterpret_cast<decltype(s.sampleAlloc)>(dlsym(lib, "nvmlGpmSampleAlloc"));
    s.sampleGet = reinterpret_cast<decltype(s.sampleGet)>(dlsym(lib, "nvmlGpmSampleGet"));
    s.metricsGet = reinterpret_cast<decltype(s.metricsGet)>(dlsym(lib, "nvmlGpmMetricsGet"));
    if (!s.init || !s.handleByUuid || !s.querySupport || !s.sampleAlloc || !s.sampleGet || !s.metricsGet) {
        *why = "this NVML has no GPM functions (driver older than R520)";
        return false;
    }
    nvml::Return rc = s.init();
    if (rc != 0) {
        *why = "nvmlInit failed (NVML error " + std::to_string(rc) + ")";
        return false;
    }
    return true;
}

bool GpmSampler::addDevice(const DriverApi& driver, int ordinal, std::string* why) {
    State& s = *state_;
    DeviceDescription desc;
    if (!describeDevice(driver, ordinal, &desc)) {
        *why = "the device could not be described";
        return false;
    }
    char uuid[64];
    const uint8_t* u = desc.uuid;
    std::snprintf(uuid, sizeof uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                  u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    State::Dev d{};
    d.ordinal = ordinal;
    if (s.handleByUuid(uuid, &d.device) != 0) {
        *why = std::string("NVML does not know ") + uuid;
        return false;
    }
    nvml::GpmSupport support{nvml::kSupportVersion, 0};
    if (s.querySupport(d.device, &support) != 0 || !support.isSupportedDevice) {
        *why = "the device does not support GPM";
        return false;
    }
    if (s.sampleAlloc(&d.samples[0]) != 0 || s.sampleAlloc(&d.samples[1]) != 0 ||
        s.sampleGet(d.device, d.samples[0]) != 0) {
        *why = "GPM samples could not be taken";
        return false;
    }
    s.devices.push_back(d);
    return true;
}

size_t GpmSampler::deviceCount() const { return state_->devices.size(); }

bool GpmSampler::read(size_t index, GpmReading* out) {
    State& s = *state_;
    if (index >= s.devices.size()) return false;
    State::Dev& d = s.devices[index];
    int next = 1 - d.current;
    if (s.sampleGet(d.device, d.samples[next]) != 0) return false;
    nvml::GpmMetricsGet& get = s.get;
    std::memset(&get, 0, sizeof get);
    get.version = nvml::kMetricsGetVersion;
    get.sample1 = d.samples[d.current];
    get.sample2 = d.samples[next];
    const unsigned ids[] = {nvml::kFp32Util,    nvml::kFp16Util,      nvml::kFp64Util,
                            nvml::kIntegerUtil, nvml::kAnyTensorUtil, nvml::kDramBwUtil};
    get.numMetrics = sizeof ids / sizeof ids[0];
    for (unsigned i = 0; i < get.numMetrics; ++i) get.metrics[i].metricId = ids[i];
    d.current = next;
    if (s.metricsGet(&get) != 0) return false;
    double v[6];
    for (int i = 0; i < 6; ++i) v[i] = get.metrics[i].nvmlReturn == 0 ? get.metrics[i].value : 0;
    out->smPct = combineValues(Combine::Max, v, 5, 0, 0);
    out->tensorPct = v[4];
    out->dramPct = v[5];
    return true;
}

}  // namespace vramscope::inject
