// NVML GPM: the hardware-counter fallback when CUPTI PM sampling cannot
// start (Hopper and later). libnvidia-ml is dlopen'ed at run time (Debian's
// CUDA ships no nvml.h); two GPM snapshots per period give per-period
// utilisations. Used by the counter sampler thread only (pm_sampler.cpp),
// which owns the counter ids and the queue to the writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vramscope::inject {

struct DriverApi;

// One device's utilisations over the period since its previous reading.
struct GpmReading {
    double smPct = 0;      // max(fp32, fp16, fp64, integer, any tensor)
    double tensorPct = 0;  // any tensor
    double dramPct = 0;    // DRAM bandwidth
};

class GpmSampler {
public:
    GpmSampler();
    ~GpmSampler();
    GpmSampler(const GpmSampler&) = delete;
    GpmSampler& operator=(const GpmSampler&) = delete;

    // Loads NVML and initializes it. False with *why.
    bool load(std::string* why);
    // Finds the device by UUID and takes its first snapshot. False with *why.
    bool addDevice(const DriverApi& driver, int ordinal, std::string* why);
    size_t deviceCount() const;
    // Takes a new snapshot of device `index` and compares it with the last.
    // False when NVML gave no reading this time.
    bool read(size_t index, GpmReading* out);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace vramscope::inject
