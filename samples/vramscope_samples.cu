// CUDA workloads that show what vramscope captures. One binary, one
// subcommand per workload. Each prints what it did as "key value" lines
// (allocations, frees, kernels, nvtx_ranges, leaked_bytes, ...) so tests can
// check a trace against the program's own account.
//
//   vramscope_samples train   [--iters N] [--layers L] [--mb M]   cudaMalloc training-like loop
//   vramscope_samples async   [...]                               the same with cudaMallocAsync
//   vramscope_samples leak    [...] [--leak-kb K]                 leaks K KiB per iteration
//   vramscope_samples vmm     [--iters N] [--mb M]                cuMemCreate/cuMemMap growth
//   vramscope_samples oom                                         one allocation larger than the GPU
//   vramscope_samples gemm    [--n N] [--reps R]                  compute-bound tiled matrix multiply
//   vramscope_samples stream  [--mb M] [--reps R]                 bandwidth-bound a = b + s*c
//   vramscope_samples tiny    [--reps R]                          launch storm: R one-warp kernels (latency-bound)
//   vramscope_samples bench   [--iters N] [--layers L]            steady training step, prints step times
//   vramscope_samples fork                                        child process uses CUDA after fork
#include <cuda.h>
#include <cuda_runtime.h>
#include <nvtx3/nvToolsExt.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

#define CHECK(call)                                                                              \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)

#define CHECK_CU(call)                                                                           \
    do {                                                                                         \
        CUresult r_ = (call);                                                                    \
        if (r_ != CUDA_SUCCESS) {                                                                \
            const char* s_ = nullptr;                                                            \
            cuGetErrorString(r_, &s_);                                                           \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, s_ ? s_ : "?");  \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)

struct Options {
    int iters = 4;
    int layers = 6;
    int mb = 16;          // activation size of the first layer, MiB
    int leakKb = 1024;
    int n = 2048;
    int reps = 5;
};

struct Counts {
    long allocations = 0, frees = 0, kernels = 0, nvtxRanges = 0, memcpys = 0, memsets = 0;
    long long leakedBytes = 0, peakBytes = 0, liveBytes = 0;
    void alloc(size_t b) { ++allocations; liveBytes += (long long)b; peakBytes = std::max(peakBytes, liveBytes); }
    void free(size_t b) { ++frees; liveBytes -= (long long)b; }
    void print() const {
        std::printf("allocations %ld\nfrees %ld\nkernels %ld\nnvtx_ranges %ld\nmemcpys %ld\nmemsets %ld\n"
                    "leaked_bytes %lld\npeak_bytes %lld\n",
                    allocations, frees, kernels, nvtxRanges, memcpys, memsets, leakedBytes, peakBytes);
    }
};

struct Range {  // one NVTX push/pop range, counted
    explicit Range(const char* name, Counts& c) { nvtxRangePushA(name); ++c.nvtxRanges; }
    ~Range() { nvtxRangePop(); }
};

__global__ void forwardLayer(float* out, const float* in, size_t n, float w) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        out[i] = tanhf(w * (in ? in[i % 1024] : 1.0f) + 0.01f * float(i & 7));
}

__global__ void backwardLayer(float* grad, const float* act, size_t n) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        grad[i % 4096] += 1e-6f * (1.0f - act[i] * act[i]);
}

__global__ void optimizerStep(float* weights, const float* grad, size_t n, float lr) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        weights[i] -= lr * grad[i];
}

__global__ void lossKernel(float* loss, const float* act, size_t n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) *loss = act[0] + act[n - 1];
}

constexpr size_t kGradFloats = 4096;
constexpr int kBlocks = 264, kThreads = 256;

enum class Alloc { Malloc, Async };

// One training-like run: weights + gradients persist; per iteration the
// forward pass allocates one activation per layer (growing sizes), backward
// consumes and frees them in reverse, the optimizer updates the weights.
int trainLoop(const Options& o, Alloc mode, bool leak, bool timeSteps) {
    Counts c;
    cudaStream_t stream;
    CHECK(cudaStreamCreate(&stream));
    auto allocate = [&](size_t bytes) {
        void* p = nullptr;
        if (mode == Alloc::Async) CHECK(cudaMallocAsync(&p, bytes, stream));
        else CHECK(cudaMalloc(&p, bytes));
        c.alloc(bytes);
        return static_cast<float*>(p);
    };
    auto release = [&](void* p, size_t bytes) {
        if (mode == Alloc::Async) CHECK(cudaFreeAsync(p, stream));
        else CHECK(cudaFree(p));
        c.free(bytes);
    };
    float *weights, *grad, *loss;
    {
        Range r("setup", c);
        weights = allocate(kGradFloats * sizeof(float));
        grad = allocate(kGradFloats * sizeof(float));
        loss = allocate(sizeof(float));
        std::vector<float> host(kGradFloats, 0.5f);
        CHECK(cudaMemcpyAsync(weights, host.data(), kGradFloats * sizeof(float), cudaMemcpyHostToDevice, stream));
        ++c.memcpys;
        CHECK(cudaStreamSynchronize(stream));
    }
    std::vector<void*> leaked;
    std::vector<double> stepMs;
    float hostLoss = 0;
    for (int it = 0; it < o.iters; ++it) {
        auto t0 = std::chrono::steady_clock::now();
        Range step("step", c);
        std::vector<std::pair<float*, size_t>> acts;
        {
            Range r("forward", c);
            const float* in = weights;
            for (int l = 0; l < o.layers; ++l) {
                size_t bytes = (size_t(o.mb) << 20) * size_t(l + 1) / size_t(o.layers) + (size_t(l) << 16);
                bytes = (bytes + 255) & ~size_t(255);
                float* a = allocate(bytes);
                forwardLayer<<<kBlocks, kThreads, 0, stream>>>(a, in, bytes / sizeof(float), 0.9f);
                ++c.kernels;
                acts.push_back({a, bytes});
                in = a;
            }
            lossKernel<<<1, 32, 0, stream>>>(loss, acts.back().first, acts.back().second / sizeof(float));
            ++c.kernels;
        }
        {
            Range r("backward", c);
            CHECK(cudaMemsetAsync(grad, 0, kGradFloats * sizeof(float), stream));
            ++c.memsets;
            for (int l = o.layers - 1; l >= 0; --l) {
                backwardLayer<<<kBlocks, kThreads, 0, stream>>>(grad, acts[l].first, acts[l].second / sizeof(float));
                ++c.kernels;
                release(acts[l].first, acts[l].second);
            }
        }
        {
            Range r("optimizer", c);
            optimizerStep<<<16, 256, 0, stream>>>(weights, grad, kGradFloats, 1e-3f);
            ++c.kernels;
        }
        if (leak) {
            // A "logged output" kept forever: leakKb KiB per iteration.
            size_t bytes = size_t(o.leakKb) << 10;
            leaked.push_back(allocate(bytes));
            c.leakedBytes += (long long)bytes;
        }
        CHECK(cudaMemcpyAsync(&hostLoss, loss, sizeof(float), cudaMemcpyDeviceToHost, stream));
        ++c.memcpys;
        CHECK(cudaStreamSynchronize(stream));
        stepMs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    release(weights, kGradFloats * sizeof(float));
    release(grad, kGradFloats * sizeof(float));
    release(loss, sizeof(float));
    CHECK(cudaStreamSynchronize(stream));
    CHECK(cudaStreamDestroy(stream));
    c.print();
    std::printf("iterations %d\nlayers %d\nloss %g\n", o.iters, o.layers, hostLoss);
    if (timeSteps && stepMs.size() > 2) {
        std::vector<double> s(stepMs.begin() + 2, stepMs.end());  // skip warm-up
        std::sort(s.begin(), s.end());
        std::printf("step_ms_median %.4f\nstep_ms_min %.4f\n", s[s.size() / 2], s.front());
    }
    return 0;
}

int vmmSample(const Options& o) {
    Counts c;
    long creates = 0, maps = 0, unmaps = 0, releases = 0;
    CHECK(cudaFree(nullptr));  // creates the primary context
    CUdevice dev;
    CHECK_CU(cuCtxGetDevice(&dev));
    CUmemAllocationProp prop{};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = dev;
    size_t granularity = 0;
    CHECK_CU(cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
    size_t chunk = ((size_t(o.mb) << 20) + granularity - 1) / granularity * granularity;
    // Like PyTorch's expandable segments: reserve a range once, map chunks as it grows.
    CUdeviceptr base = 0;
    size_t reserved = chunk * size_t(o.iters);
    CHECK_CU(cuMemAddressReserve(&base, reserved, 0, 0, 0));
    std::vector<CUmemGenericAllocationHandle> handles;
    for (int it = 0; it < o.iters; ++it) {
        Range r("grow", c);
        CUmemGenericAllocationHandle h;
        CHECK_CU(cuMemCreate(&h, chunk, &prop, 0));
        ++creates;
        CHECK_CU(cuMemMap(base + chunk * it, chunk, 0, h, 0));
        ++maps;
        CUmemAccessDesc access{};
        access.location = prop.location;
        access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
        CHECK_CU(cuMemSetAccess(base + chunk * it, chunk, &access, 1));
        handles.push_back(h);
        forwardLayer<<<kBlocks, kThreads>>>(reinterpret_cast<float*>(base), nullptr, chunk * (it + 1) / sizeof(float), 0.5f);
        ++c.kernels;
        CHECK(cudaDeviceSynchronize());
    }
    {
        Range r("shrink", c);
        for (int it = o.iters - 1; it >= 0; --it) {
            CHECK_CU(cuMemUnmap(base + chunk * it, chunk));
            ++unmaps;
            CHECK_CU(cuMemRelease(handles[it]));
            ++releases;
        }
    }
    CHECK_CU(cuMemAddressFree(base, reserved));
    c.print();
    std::printf("vmm_create %ld\nvmm_map %ld\nvmm_unmap %ld\nvmm_release %ld\nvmm_chunk_bytes %zu\n", creates, maps, unmaps,
                releases, chunk);
    return 0;
}

int oomSample() {
    Counts c;
    size_t freeBytes = 0, totalBytes = 0;
    CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
    void* ok = nullptr;
    CHECK(cudaMalloc(&ok, 64 << 20));
    c.alloc(64 << 20);
    size_t request = totalBytes * 2;
    void* p = nullptr;
    cudaError_t e;
    {
        Range r("oom", c);
        e = cudaMalloc(&p, request);
    }
    cudaGetLastError();  // clear the sticky-free error state
    long failures = e == cudaErrorMemoryAllocation ? 1 : 0;
    CHECK(cudaFree(ok));
    c.free(64 << 20);
    c.print();
    std::printf("alloc_failures %ld\nrequested_bytes %zu\nerror %s\n", failures, request, cudaGetErrorString(e));
    return failures == 1 ? 0 : 1;
}

// Tiled FP32 matrix multiply: ~2 n^3 FLOP over 3 n^2 floats, compute-bound.
constexpr int kTile = 32;
__global__ void gemmTiled(const float* a, const float* b, float* out, int n) {
    __shared__ float ta[kTile][kTile + 1], tb[kTile][kTile + 1];
    int row = blockIdx.y * kTile + threadIdx.y, col = blockIdx.x * kTile + threadIdx.x;
    float acc = 0;
    for (int t = 0; t < n; t += kTile) {
        ta[threadIdx.y][threadIdx.x] = a[row * n + t + threadIdx.x];
        tb[threadIdx.y][threadIdx.x] = b[(t + threadIdx.y) * n + col];
        __syncthreads();
#pragma unroll
        for (int k = 0; k < kTile; ++k) acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
        __syncthreads();
    }
    out[row * n + col] = acc;
}

int gemmSample(const Options& o) {
    Counts c;
    int n = (o.n + kTile - 1) / kTile * kTile;
    size_t bytes = size_t(n) * n * sizeof(float);
    float *a, *b, *out;
    CHECK(cudaMalloc(&a, bytes)); c.alloc(bytes);
    CHECK(cudaMalloc(&b, bytes)); c.alloc(bytes);
    CHECK(cudaMalloc(&out, bytes)); c.alloc(bytes);
    CHECK(cudaMemset(a, 0, bytes)); CHECK(cudaMemset(b, 0, bytes)); c.memsets += 2;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0); cudaEventCreate(&e1);
    {
        Range r("gemm", c);
        cudaEventRecord(e0);
        for (int i = 0; i < o.reps; ++i) {
            gemmTiled<<<dim3(n / kTile, n / kTile), dim3(kTile, kTile)>>>(a, b, out, n);
            ++c.kernels;
        }
        cudaEventRecord(e1);
        CHECK(cudaEventSynchronize(e1));
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    CHECK(cudaFree(a)); c.free(bytes);
    CHECK(cudaFree(b)); c.free(bytes);
    CHECK(cudaFree(out)); c.free(bytes);
    c.print();
    std::printf("gemm_n %d\ngemm_tflops %.3f\n", n, 2.0 * n * double(n) * n * o.reps / (ms * 1e-3) / 1e12);
    return 0;
}

__global__ void triad(float* a, const float* b, const float* c, size_t n, float s) {
    for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        a[i] = b[i] + s * c[i];
}

int streamSample(const Options& o) {
    Counts c;
    size_t bytes = size_t(o.mb) << 20, n = bytes / sizeof(float);
    float *a, *b, *d;
    CHECK(cudaMalloc(&a, bytes)); c.alloc(bytes);
    CHECK(cudaMalloc(&b, bytes)); c.alloc(bytes);
    CHECK(cudaMalloc(&d, bytes)); c.alloc(bytes);
    CHECK(cudaMemset(b, 0, bytes)); CHECK(cudaMemset(d, 0, bytes)); c.memsets += 2;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0); cudaEventCreate(&e1);
    {
        Range r("stream", c);
        cudaEventRecord(e0);
        for (int i = 0; i < o.reps; ++i) {
            triad<<<132 * 8, 256>>>(a, b, d, n, 3.0f);
            ++c.kernels;
        }
        cudaEventRecord(e1);
        CHECK(cudaEventSynchronize(e1));
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    CHECK(cudaFree(a)); c.free(bytes);
    CHECK(cudaFree(b)); c.free(bytes);
    CHECK(cudaFree(d)); c.free(bytes);
    c.print();
    std::printf("stream_gbps %.1f\n", 3.0 * bytes * o.reps / (ms * 1e-3) / 1e9);
    return 0;
}

// A launch storm: one warp doing almost nothing per kernel, back to back.
// Neither the SMs nor DRAM get busy; launch latency sets the pace.
__global__ void tinyKernel(float* p) {
    if (threadIdx.x == 0) p[blockIdx.x] += 1.0f;
}

int tinySample(const Options& o) {
    Counts c;
    float* p;
    CHECK(cudaMalloc(&p, 4096)); c.alloc(4096);
    CHECK(cudaMemset(p, 0, 4096)); c.memsets += 1;
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0); cudaEventCreate(&e1);
    {
        Range r("tiny", c);
        cudaEventRecord(e0);
        for (int i = 0; i < o.reps; ++i) {
            tinyKernel<<<1, 32>>>(p);
            ++c.kernels;
        }
        cudaEventRecord(e1);
        CHECK(cudaEventSynchronize(e1));
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    CHECK(cudaFree(p)); c.free(4096);
    c.print();
    std::printf("tiny_us_per_kernel %.3f\n", ms * 1e3 / o.reps);
    return 0;
}

int forkSample() {
    // The parent does not touch CUDA; the child does, after fork. Under the
    // injector the child must work exactly as without it.
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        float* p = nullptr;
        cudaError_t e = cudaMalloc(&p, 1 << 20);
        if (e == cudaSuccess) {
            forwardLayer<<<1, 32>>>(p, nullptr, 32, 1.0f);
            e = cudaDeviceSynchronize();
            cudaFree(p);
        }
        std::printf("fork_child_cuda %s\n", cudaGetErrorString(e));
        std::fflush(stdout);
        _exit(e == cudaSuccess ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::printf("fork_child_exit %d\n", code);
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s train|async|leak|vmm|oom|gemm|stream|tiny|bench|fork [options]\n", argv[0]);
        return 2;
    }
    std::string cmd = argv[1];
    Options o;
    if (cmd == "gemm") o.reps = 10;
    if (cmd == "stream") { o.mb = 256; o.reps = 20; }
    if (cmd == "tiny") o.reps = 20000;
    if (cmd == "bench") { o.iters = 60; o.layers = 48; o.mb = 8; }
    if (cmd == "vmm") o.mb = 32;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (k == "--iters") o.iters = v;
        else if (k == "--layers") o.layers = v;
        else if (k == "--mb") o.mb = v;
        else if (k == "--leak-kb") o.leakKb = v;
        else if (k == "--n") o.n = v;
        else if (k == "--reps") o.reps = v;
        else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
    }
    std::printf("sample %s\n", cmd.c_str());
    if (cmd == "train") return trainLoop(o, Alloc::Malloc, false, false);
    if (cmd == "async") return trainLoop(o, Alloc::Async, false, false);
    if (cmd == "leak") return trainLoop(o, Alloc::Malloc, true, false);
    if (cmd == "bench") return trainLoop(o, Alloc::Async, false, true);
    if (cmd == "vmm") return vmmSample(o);
    if (cmd == "oom") return oomSample();
    if (cmd == "gemm") return gemmSample(o);
    if (cmd == "stream") return streamSample(o);
    if (cmd == "tiny") return tinySample(o);
    if (cmd == "fork") return forkSample();
    std::fprintf(stderr, "unknown sample %s\n", cmd.c_str());
    return 2;
}
