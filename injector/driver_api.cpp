#include "driver_api.h"

#include <cstring>
#include <dlfcn.h>

namespace vramscope::inject {

namespace {
// CUdevice_attribute values from cuda.h (stable across CUDA 11–13).
constexpr int kAttrClockRateKhz = 13;
constexpr int kAttrSmCount = 16;
constexpr int kAttrMemoryClockKhz = 36;
constexpr int kAttrMemoryBusWidthBits = 37;
constexpr int kAttrCcMajor = 75;
constexpr int kAttrCcMinor = 76;

template <class F> bool resolve(void* lib, const char* name, F* out) {
    *out = reinterpret_cast<F>(dlsym(lib, name));
    return *out != nullptr;
}
}  // namespace

bool DriverApi::load(std::string* error) {
    void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!lib) {
        const char* why = dlerror();
        if (error) *error = std::string("no CUDA driver found (") + (why ? why : "libcuda.so.1 not found") + ")";
        return false;
    }
    bool ok = resolve(lib, "cuDeviceGet", &deviceGet) && resolve(lib, "cuDeviceGetAttribute", &deviceGetAttribute) &&
              resolve(lib, "cuDeviceGetName", &deviceGetName) && resolve(lib, "cuDeviceTotalMem_v2", &deviceTotalMem) &&
              resolve(lib, "cuDevicePrimaryCtxGetState", &primaryCtxGetState) &&
              resolve(lib, "cuDevicePrimaryCtxRetain", &primaryCtxRetain) &&
              resolve(lib, "cuCtxSetCurrent", &ctxSetCurrent) && resolve(lib, "cuMemGetInfo_v2", &memGetInfo);
    if (!resolve(lib, "cuDeviceGetUuid_v2", &deviceGetUuid)) resolve(lib, "cuDeviceGetUuid", &deviceGetUuid);
    resolve(lib, "cuDeviceGetCount", &deviceGetCount);
    if (!resolve(lib, "cuDevicePrimaryCtxRelease_v2", &primaryCtxRelease)) resolve(lib, "cuDevicePrimaryCtxRelease", &primaryCtxRelease);
    if (!ok) {
        if (error) *error = "the CUDA driver (libcuda.so.1) lacks functions vramscope needs; it is too old";
        memGetInfo = nullptr;
        return false;
    }
    return true;
}

uint32_t bf16FlopsPerClockPerSm(uint32_t cc) {
    if (cc >= 100 && cc < 110) return 8192;  // Blackwell datacenter (B200: ~2.25 PFLOP/s dense)
    if (cc >= 120) return 1024;              // Blackwell consumer
    if (cc == 90) return 4096;               // Hopper
    if (cc == 80) return 2048;               // A100
    if (cc == 86 || cc == 87 || cc == 89) return 512;  // Ampere/Ada consumer (fp32 accumulate)
    if (cc == 70 || cc == 72) return 1024;   // Volta (fp16)
    if (cc == 75) return 1024;               // Turing (fp16)
    return 0;
}

bool describeDevice(const DriverApi& api, int ordinal, DeviceDescription* out) {
    if (!api.loaded()) return false;
    DriverApi::Device dev = 0;
    if (api.deviceGet(&dev, ordinal) != 0) return false;
    api.deviceGetName(out->name, sizeof out->name - 1, dev);
    if (api.deviceGetUuid) api.deviceGetUuid(out->uuid, dev);
    size_t total = 0;
    if (api.deviceTotalMem(&total, dev) == 0) out->totalMemoryBytes = total;
    int sm = 0, major = 0, minor = 0, clockKhz = 0, memClockKhz = 0, busBits = 0;
    api.deviceGetAttribute(&sm, kAttrSmCount, dev);
    api.deviceGetAttribute(&major, kAttrCcMajor, dev);
    api.deviceGetAttribute(&minor, kAttrCcMinor, dev);
    api.deviceGetAttribute(&clockKhz, kAttrClockRateKhz, dev);
    api.deviceGetAttribute(&memClockKhz, kAttrMemoryClockKhz, dev);
    api.deviceGetAttribute(&busBits, kAttrMemoryBusWidthBits, dev);
    out->smCount = static_cast<uint32_t>(sm);
    out->computeCapability = static_cast<uint32_t>(major * 10 + minor);
    // Double data rate: two transfers per memory clock over the bus width.
    out->peakDramBytesPerSec = 2ull * static_cast<uint64_t>(memClockKhz) * 1000ull * static_cast<uint64_t>(busBits) / 8ull;
    out->peakFlopsPerSec = static_cast<uint64_t>(sm) * static_cast<uint64_t>(clockKhz) * 1000ull *
                           bf16FlopsPerClockPerSm(out->computeCapability);
    return true;
}

}  // namespace vramscope::inject
