// The processes the Attach to Process dialog offers: the user's processes
// that have the CUDA driver loaded (profiler/attach), with the GPU memory
// each uses where NVML can say (libnvidia-ml.so.1, opened at run time: a
// desktop without an NVIDIA driver still lists them, with no figure).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::app {

struct GpuProcess {
    int pid = 0;
    std::string name;
    std::string commandLine;
    int64_t gpuMemoryBytes = -1;  // -1: unknown
};

// Sorted by GPU memory (largest first), then pid.
std::vector<GpuProcess> listGpuProcesses();

}  // namespace vramscope::app
