#include "gpu_processes.h"

#include "attach/process_inspect.h"

#include <algorithm>
#include <dlfcn.h>
#include <map>

namespace vramscope::app {

namespace {

// nvmlProcessInfo_t of nvmlDeviceGetComputeRunningProcesses_v3 (NVML 11.5+;
// _v2 has the same layout).
struct NvmlProcess {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
};

// pid → bytes over every device, from NVML; empty when NVML is absent.
std::map<int, int64_t> gpuMemoryByPid() {
    std::map<int, int64_t> out;
    void* nvml = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!nvml) return out;
    using Init = int (*)();
    using Count = int (*)(unsigned*);
    using Handle = int (*)(unsigned, void**);
    using Running = int (*)(void*, unsigned*, NvmlProcess*);
    auto init = reinterpret_cast<Init>(dlsym(nvml, "nvmlInit_v2"));
    auto shutdown = reinterpret_cast<Init>(dlsym(nvml, "nvmlShutdown"));
    auto count = reinterpret_cast<Count>(dlsym(nvml, "nvmlDeviceGetCount_v2"));
    auto handle = reinterpret_cast<Handle>(dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2"));
    auto running = reinterpret_cast<Running>(dlsym(nvml, "nvmlDeviceGetComputeRunningProcesses_v3"));
    if (!running) running = reinterpret_cast<Running>(dlsym(nvml, "nvmlDeviceGetComputeRunningProcesses_v2"));
    unsigned devices = 0;
    if (init && count && handle && running && init() == 0) {
        if (count(&devices) == 0) {
            for (unsigned d = 0; d < devices && d < 64; ++d) {
                void* device = nullptr;
                if (handle(d, &device) != 0) continue;
                NvmlProcess processes[256];
                unsigned n = 256;
                if (running(device, &n, processes) != 0) continue;
                for (unsigned i = 0; i < n && i < 256; ++i)
                    out[int(processes[i].pid)] += int64_t(processes[i].usedGpuMemory);
            }
        }
        if (shutdown) shutdown();
    }
    dlclose(nvml);
    return out;
}

}  // namespace

std::vector<GpuProcess> listGpuProcesses() {
    const std::map<int, int64_t> memory = gpuMemoryByPid();
    std::vector<GpuProcess> out;
    for (const attach::CudaProcess& p : attach::listCudaProcesses()) {
        GpuProcess g;
        g.pid = p.pid;
        g.name = p.name;
        g.commandLine = p.commandLine;
        if (auto it = memory.find(p.pid); it != memory.end()) g.gpuMemoryBytes = it->second;
        out.push_back(std::move(g));
    }
    std::sort(out.begin(), out.end(), [](const GpuProcess& a, const GpuProcess& b) {
        return a.gpuMemoryBytes != b.gpuMemoryBytes ? a.gpuMemoryBytes > b.gpuMemoryBytes : a.pid < b.pid;
    });
    return out;
}

}  // namespace vramscope::app
