// The few CUDA driver functions the injector calls itself, resolved with
// dlopen/dlsym: the injector must load (and then stay quiet) in processes on
// machines without a driver, so it cannot link libcuda.
#pragma once

#include <cstdint>
#include <string>

namespace vramscope::inject {

struct DriverApi {
    using Result = int;  // CUresult
    using Device = int;  // CUdevice
    Result (*deviceGet)(Device*, int) = nullptr;
    Result (*deviceGetAttribute)(int*, int, Device) = nullptr;
    Result (*deviceGetName)(char*, int, Device) = nullptr;
    Result (*deviceGetUuid)(void*, Device) = nullptr;  // CUuuid*: 16 bytes
    Result (*deviceTotalMem)(size_t*, Device) = nullptr;
    Result (*primaryCtxGetState)(Device, unsigned*, int*) = nullptr;
    Result (*primaryCtxRetain)(void**, Device) = nullptr;
    Result (*ctxSetCurrent)(void*) = nullptr;
    Result (*memGetInfo)(size_t*, size_t*) = nullptr;
    Result (*deviceGetCount)(int*) = nullptr;          // optional: attach enumerates devices with it
    Result (*primaryCtxRelease)(Device) = nullptr;     // optional

    // Loads libcuda.so.1. False with a sentence in *error when there is none.
    bool load(std::string* error);
    bool loaded() const { return memGetInfo != nullptr; }
};

// What DeviceInfo says about one device, queried through the driver.
struct DeviceDescription {
    char name[96] = {};
    uint8_t uuid[16] = {};
    uint64_t totalMemoryBytes = 0;
    uint32_t smCount = 0;
    uint32_t computeCapability = 0;  // major * 10 + minor
    uint64_t peakDramBytesPerSec = 0;
    uint64_t peakFlopsPerSec = 0;    // estimate: dense bf16 tensor-core
};

bool describeDevice(const DriverApi& api, int ordinal, DeviceDescription* out);

// Dense bf16 tensor-core FLOP per clock per SM by compute capability, from
// the vendors' published peak figures (H100 SXM: 989 TFLOP/s at 1.83 GHz,
// 132 SMs → 4096). 0 when unknown. An estimate, labelled as such in docs.
uint32_t bf16FlopsPerClockPerSm(uint32_t computeCapability);

}  // namespace vramscope::inject
