// Everything that talks to CUPTI: the subscription (resource and API
// callbacks), the activity kinds, and the two buffer callbacks.
//
// Hot path: bufferRequested/bufferCompleted and the API callbacks run on
// application threads (or CUPTI's). They touch only atomics, the lock-free
// BufferPool and SideQueue, and call no function that can block on us.
#include "recorder.h"

#include <cuda.h>
#include <cupti.h>

#include <array>
#include <atomic>
#include <ctime>
#include <cstring>
#include <dlfcn.h>

namespace vramscope::inject {

namespace {

CUpti_SubscriberHandle subscriber = nullptr;

// Nesting of runtime allocation calls on this thread: the driver call a
// cudaMalloc makes inside must not report the same OOM a second time.
// initial-exec: no allocation on first access, also when dlopen'ed by cuInit.
__attribute__((tls_model("initial-exec"))) thread_local int runtimeAllocDepth = 0;

bool active() {
    return recorder().state.load(std::memory_order_acquire) == static_cast<int>(RecorderState::Active);
}

constexpr int kOutOfMemory = 2;  // cudaErrorMemoryAllocation == CUDA_ERROR_OUT_OF_MEMORY == 2

// The runtime's allocation functions all start with (void** ptr, size_t size)
// in their CUPTI parameter structs (generated_cuda_runtime_api_meta.h,
// CUDA 11–13); cudaMallocPitch is (void**, size_t* pitch, size_t width, size_t height).
struct PtrSizeParams {
    void** ptr;
    size_t size;
};
struct PitchParams {
    void** ptr;
    size_t* pitch;
    size_t width;
    size_t height;
};

uint32_t deviceOf(CUcontext ctx) {
    uint32_t dev = 0;
    if (!ctx || cuptiGetDeviceId(ctx, &dev) != CUPTI_SUCCESS) return 0;
    return dev;
}

void pushFailure(const CUpti_CallbackData* cb, uint64_t requestedBytes, bool fromRuntime) {
    Recorder& r = recorder();
    SideEvent e;
    e.kind = SideEvent::Kind::AllocFailure;
    e.fromRuntime = fromRuntime ? 1 : 0;
    e.timestampNs = cuptiTimestamp();
    e.deviceId = deviceOf(cb->context);
    e.correlationId = cb->correlationId;
    e.bytes = requestedBytes;
    if (e.deviceId < kMaxDevices) e.freeBytes = r.lastFreeBytes[e.deviceId].load(std::memory_order_relaxed);
    r.side->push(e);
}

void onRuntimeApi(CUpti_CallbackId cbid, const CUpti_CallbackData* cb) {
    if (cb->callbackSite == CUPTI_API_ENTER) {
        ++runtimeAllocDepth;
        return;
    }
    if (runtimeAllocDepth > 0) --runtimeAllocDepth;  // 0 if capture began inside the call
    int result = cb->functionReturnValue ? *static_cast<const int*>(cb->functionReturnValue) : 0;
    if (result != kOutOfMemory || !cb->functionParams) return;
    uint64_t bytes = 0;
    if (cbid == CUPTI_RUNTIME_TRACE_CBID_cudaMallocPitch_v3020) {
        const auto* p = static_cast<const PitchParams*>(cb->functionParams);
        bytes = uint64_t(p->width) * p->height;
    } else {
        bytes = static_cast<const PtrSizeParams*>(cb->functionParams)->size;
    }
    pushFailure(cb, bytes, true);
}

void pushVmm(SideEvent::Kind kind, const CUpti_CallbackData* cb, uint64_t address, uint64_t bytes, uint32_t device) {
    SideEvent e;
    e.kind = kind;
    e.timestampNs = cuptiTimestamp();
    e.correlationId = cb->correlationId;
    e.contextId = cb->contextUid;
    e.deviceId = device;
    e.address = address;
    e.bytes = bytes;
    recorder().side->push(e);
}

void onDriverApi(CUpti_CallbackId cbid, const CUpti_CallbackData* cb) {
    if (cb->callbackSite != CUPTI_API_EXIT || !cb->functionParams) return;
    int result = cb->functionReturnValue ? *static_cast<const int*>(cb->functionReturnValue) : 0;
    switch (cbid) {
    case CUPTI_DRIVER_TRACE_CBID_cuMemCreate:
        if (result == 0) {
            const auto* p = static_cast<const cuMemCreate_params*>(cb->functionParams);
            uint32_t dev = p->prop && p->prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE
                               ? static_cast<uint32_t>(p->prop->location.id)
                               : deviceOf(cb->context);
            pushVmm(SideEvent::Kind::VmmCreate, cb, p->handle ? uint64_t(*p->handle) : 0, p->size, dev);
        } else if (result == kOutOfMemory && runtimeAllocDepth == 0) {
            pushFailure(cb, static_cast<const cuMemCreate_params*>(cb->functionParams)->size, false);
        }
        return;
    case CUPTI_DRIVER_TRACE_CBID_cuMemMap:
        if (result == 0) {
            const auto* p = static_cast<const cuMemMap_params*>(cb->functionParams);
            pushVmm(SideEvent::Kind::VmmMap, cb, uint64_t(p->ptr), p->size, 0);
        }
        return;
    case CUPTI_DRIVER_TRACE_CBID_cuMemUnmap:
        if (result == 0) {
            const auto* p = static_cast<const cuMemUnmap_params*>(cb->functionParams);
            pushVmm(SideEvent::Kind::VmmUnmap, cb, uint64_t(p->ptr), p->size, 0);
        }
        return;
    case CUPTI_DRIVER_TRACE_CBID_cuMemRelease:
        if (result == 0) {
            const auto* p = static_cast<const cuMemRelease_params*>(cb->functionParams);
            pushVmm(SideEvent::Kind::VmmRelease, cb, uint64_t(p->handle), 0, 0);
        }
        return;
    case CUPTI_DRIVER_TRACE_CBID_cuMemAllocPitch_v2:
        if (result == kOutOfMemory && runtimeAllocDepth == 0) {
            const auto* p = static_cast<const cuMemAllocPitch_v2_params*>(cb->functionParams);
            pushFailure(cb, uint64_t(p->WidthInBytes) * p->Height, false);
        }
        return;
    default:
        // cuMemAlloc_v2, cuMemAllocAsync, cuMemAllocFromPoolAsync,
        // cuMemAllocManaged, cuMemAllocHost_v2, cuMemHostAlloc: (ptr*, size_t bytesize, ...).
        if (result == kOutOfMemory && runtimeAllocDepth == 0)
            pushFailure(cb, static_cast<const PtrSizeParams*>(cb->functionParams)->size, false);
        return;
    }
}

// A context on device `dev` (CUPTI id ctxId) into the trace; the first one
// on a device, or any when `describe` asks, carries the device's description.
void pushContextCreated(uint32_t dev, uint32_t ctxId, bool describe) {
    Recorder& r = recorder();
    SideEvent e;
    e.kind = SideEvent::Kind::ContextCreated;
    e.timestampNs = cuptiTimestamp();
    e.deviceId = dev;
    e.contextId = ctxId;
    uint64_t bit = dev < 64 ? (1ull << dev) : 0;
    if (bit && (describe || !(r.devicesSeen.load() & bit))) {
        // Plain attribute queries.
        DeviceDescription d;
        if (describeDevice(r.driver, static_cast<int>(dev), &d)) {
            std::memcpy(e.deviceName, d.name, sizeof e.deviceName);
            std::memcpy(e.uuid, d.uuid, sizeof e.uuid);
            e.totalMemoryBytes = d.totalMemoryBytes;
            e.smCount = d.smCount;
            e.computeCapability = d.computeCapability;
            e.peakDramBytesPerSec = d.peakDramBytesPerSec;
            e.peakFlopsPerSec = d.peakFlopsPerSec;
        }
    }
    r.side->push(e);
    if (bit) r.devicesSeen.fetch_or(bit, std::memory_order_release);
}

void onContextCreated(const CUpti_ResourceData* res) {
    uint32_t ctxId = 0;
    cuptiGetContextId(res->context, &ctxId);
    pushContextCreated(deviceOf(res->context), ctxId, false);
}

// Detach: cuptiFinalize runs on an application thread at the exit of its
// next CUDA call, where CUPTI's own attach/detach sample calls it.
std::atomic<bool> finalizeWanted{false};
std::atomic<bool> finalizeClaimed{false};
std::atomic<bool> finalizeDone{false};

void CUPTIAPI onCallback(void*, CUpti_CallbackDomain domain, CUpti_CallbackId cbid, const void* data) {
    if (finalizeWanted.load(std::memory_order_acquire) && data &&
        (domain == CUPTI_CB_DOMAIN_DRIVER_API || domain == CUPTI_CB_DOMAIN_RUNTIME_API) &&
        static_cast<const CUpti_CallbackData*>(data)->callbackSite == CUPTI_API_EXIT) {
        if (!finalizeClaimed.exchange(true)) {
            cuptiFinalize();
            finalizeDone.store(true, std::memory_order_release);
        }
        return;
    }
    if (!active() || !data) return;
    try {
        switch (domain) {
        case CUPTI_CB_DOMAIN_RUNTIME_API: onRuntimeApi(cbid, static_cast<const CUpti_CallbackData*>(data)); break;
        case CUPTI_CB_DOMAIN_DRIVER_API: onDriverApi(cbid, static_cast<const CUpti_CallbackData*>(data)); break;
        case CUPTI_CB_DOMAIN_RESOURCE:
            if (cbid == CUPTI_CBID_RESOURCE_CONTEXT_CREATED)
                onContextCreated(static_cast<const CUpti_ResourceData*>(data));
            else if (cbid == CUPTI_CBID_RESOURCE_CONTEXT_DESTROY_STARTING)
                recorder().flushRequested.store(true, std::memory_order_relaxed);
            break;
        default: break;
        }
    } catch (...) {
    }
}

void CUPTIAPI onBufferRequested(uint8_t** buffer, size_t* size, size_t* maxNumRecords) {
    *buffer = nullptr;
    *size = 0;
    *maxNumRecords = 0;  // as many as fit
    Recorder& r = recorder();
    if (!active() || !r.pool) return;  // CUPTI drops the records and counts them
    if (uint8_t* b = r.pool->acquire()) {
        *buffer = b;
        *size = r.pool->bufferBytes();
    }
}

void CUPTIAPI onBufferCompleted(CUcontext context, uint32_t streamId, uint8_t* buffer, size_t, size_t validSize) {
    Recorder& r = recorder();
    if (!r.pool || !buffer) return;
    int s = r.state.load(std::memory_order_acquire);
    if (s != static_cast<int>(RecorderState::Active) && s != static_cast<int>(RecorderState::Finished)) {
        r.pool->release(buffer, validSize);
        return;
    }
    size_t dropped = 0;
    if (cuptiActivityGetNumDroppedRecords(context, streamId, &dropped) == CUPTI_SUCCESS && dropped)
        r.cuptiDroppedRecords.fetch_add(dropped, std::memory_order_relaxed);
    if (validSize == 0) r.pool->release(buffer);
    else r.pool->complete(buffer, validSize);
}

std::string resultText(CUptiResult result) {
    const char* text = nullptr;
    if (cuptiGetResultString(result, &text) != CUPTI_SUCCESS || !text) return "CUPTI error " + std::to_string(int(result));
    return text;
}

const CUpti_CallbackId kRuntimeAllocCallbacks[] = {
    CUPTI_RUNTIME_TRACE_CBID_cudaMalloc_v3020,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocPitch_v3020,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocHost_v3020,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocManaged_v6000,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocAsync_v11020,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocAsync_ptsz_v11020,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocFromPoolAsync_v11020,
    CUPTI_RUNTIME_TRACE_CBID_cudaMallocFromPoolAsync_ptsz_v11020,
};
const CUpti_CallbackId kDriverCallbacks[] = {
    CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocPitch_v2,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocHost_v2,
    CUPTI_DRIVER_TRACE_CBID_cuMemHostAlloc,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocManaged,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocAsync,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocAsync_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocFromPoolAsync,
    CUPTI_DRIVER_TRACE_CBID_cuMemAllocFromPoolAsync_ptsz,
    CUPTI_DRIVER_TRACE_CBID_cuMemCreate,
    CUPTI_DRIVER_TRACE_CBID_cuMemMap,
    CUPTI_DRIVER_TRACE_CBID_cuMemUnmap,
    CUPTI_DRIVER_TRACE_CBID_cuMemRelease,
};

}  // namespace

uint64_t cuptiTimestamp() {
    uint64_t t = 0;
    if (!recorder().cuptiStarted || cuptiGetTimestamp(&t) != CUPTI_SUCCESS) {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        t = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
    }
    return t;
}

std::string cuptiLibraryPath() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cuptiGetTimestamp), &info) && info.dli_fname) return info.dli_fname;
    return {};
}

void flushCupti(bool forced) {
    if (recorder().cuptiStarted) cuptiActivityFlushAll(forced ? CUPTI_ACTIVITY_FLAG_FLUSH_FORCED : 0);
}

namespace {

// The activity kinds besides MEMORY2 (which capture cannot do without), as
// configured: what startCupti enables and VRAMSCOPE_TEST_PAUSE pauses.
struct OptionalKind {
    bool wanted;
    CUpti_ActivityKind kind;
    const char* what;
    uint32_t pausePart;
};
std::array<OptionalKind, 5> optionalKinds(const Recorder& r) {
    return {{
        {true, CUPTI_ACTIVITY_KIND_MEMORY_POOL, "memory pool", PauseMemory},
        {r.config.kernels, CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, "kernel", PauseKernels},
        {r.config.copies, CUPTI_ACTIVITY_KIND_MEMCPY, "memcpy", PauseCopies},
        {r.config.copies, CUPTI_ACTIVITY_KIND_MEMSET, "memset", PauseCopies},
        {r.config.nvtx, CUPTI_ACTIVITY_KIND_MARKER, "NVTX marker", PauseNvtx},
    }};
}

// The runtime and driver API callbacks the configuration asks for, on or off.
void enableApiCallbacks(const Recorder& r, bool on) {
    if (r.config.runtimeCallbacks)
        for (CUpti_CallbackId id : kRuntimeAllocCallbacks)
            cuptiEnableCallback(on, subscriber, CUPTI_CB_DOMAIN_RUNTIME_API, id);
    if (r.config.driverCallbacks)
        for (CUpti_CallbackId id : kDriverCallbacks) cuptiEnableCallback(on, subscriber, CUPTI_CB_DOMAIN_DRIVER_API, id);
}

// VRAMSCOPE_TEST_CUPTI_ATTRS: where CUPTI keeps the kernel timestamps it
// instruments (device buffers, their number, pinned host memory) and whether
// records go to per-thread buffers, for measuring what each costs a step.
void applyTestCuptiAttributes(const InjectorConfig::CuptiAttrs& a) {
    auto report = [](CUptiResult e, const char* what, size_t value) {
        const std::string text = std::string("test CUPTI attribute ") + what + "=" + std::to_string(value) +
                                 (e == CUPTI_SUCCESS ? "" : ": refused (" + resultText(e) + ")");
        addNote(e == CUPTI_SUCCESS ? 1 : 2, text);
        printLine(text);
    };
    // Sizes and counts are size_t, flags uint8_t, as CUPTI reads them.
    auto set = [&](CUpti_ActivityAttribute attr, auto value, const char* what) {
        size_t size = sizeof value;
        report(cuptiActivitySetAttribute(attr, &size, &value), what, size_t(value));
    };
    if (a.poolLimit) set(CUPTI_ACTIVITY_ATTR_DEVICE_BUFFER_POOL_LIMIT, size_t(a.poolLimit), "pool_limit");
    if (a.deviceBufferKb)
        set(CUPTI_ACTIVITY_ATTR_DEVICE_BUFFER_SIZE, size_t(a.deviceBufferKb) * 1024, "device buffer bytes");
    if (a.preallocate) set(CUPTI_ACTIVITY_ATTR_DEVICE_BUFFER_PRE_ALLOCATE_VALUE, size_t(a.preallocate), "preallocate");
    if (a.pinned >= 0) set(CUPTI_ACTIVITY_ATTR_MEM_ALLOCATION_TYPE_HOST_PINNED, uint8_t(a.pinned), "pinned");
    if (a.perThread >= 0) set(CUPTI_ACTIVITY_ATTR_PER_THREAD_ACTIVITY_BUFFER, uint8_t(a.perThread), "per_thread");
}

}  // namespace

void pauseCuptiActivities(uint32_t parts, bool pause) {
    const Recorder& r = recorder();
    if (!r.cuptiStarted) return;
    auto toggle = [&](CUpti_ActivityKind kind) { pause ? cuptiActivityDisable(kind) : cuptiActivityEnable(kind); };
    if (parts & PauseMemory) toggle(CUPTI_ACTIVITY_KIND_MEMORY2);
    for (const OptionalKind& o : optionalKinds(r))
        if (o.wanted && (parts & o.pausePart)) toggle(o.kind);
    if (parts & PauseCallbacks) enableApiCallbacks(r, !pause);
}

void seedRunningContexts() {
    Recorder& r = recorder();
    const DriverApi& api = r.driver;
    int count = 0;
    if (!api.loaded() || !api.deviceGetCount || api.deviceGetCount(&count) != 0) return;  // cuInit not called yet
    for (int ordinal = 0; ordinal < count && ordinal < kMaxDevices; ++ordinal) {
        int dev = 0;
        unsigned flags = 0;
        int activeContext = 0;
        if (api.deviceGet(&dev, ordinal) != 0 || api.primaryCtxGetState(dev, &flags, &activeContext) != 0 ||
            !activeContext)
            continue;
        void* context = nullptr;
        if (api.primaryCtxRetain(&context, dev) != 0) continue;
        uint32_t ctxId = 0;
        cuptiGetContextId(static_cast<CUcontext>(context), &ctxId);
        pushContextCreated(static_cast<uint32_t>(ordinal), ctxId, true);
        // Device memory in use at the attach: the first point of the
        // device-used curve, before the sampler's first period ends.
        if (api.ctxSetCurrent(context) == 0) sampleDeviceMemory(static_cast<uint32_t>(ordinal));
        api.ctxSetCurrent(nullptr);
        if (api.primaryCtxRelease) api.primaryCtxRelease(dev);
    }
}

std::string detachCupti() {
    Recorder& r = recorder();
    cuptiActivityDisable(CUPTI_ACTIVITY_KIND_MEMORY2);
    for (const OptionalKind& o : optionalKinds(r))
        if (o.wanted) cuptiActivityDisable(o.kind);
    if (r.config.kernels && r.config.launchTimes) cuptiActivityEnableLatencyTimestamps(0);
    enableApiCallbacks(r, false);
    cuptiEnableCallback(0, subscriber, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_CONTEXT_CREATED);
    cuptiEnableCallback(0, subscriber, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_CONTEXT_DESTROY_STARTING);
    finalizeClaimed.store(false);
    finalizeDone.store(false);
    finalizeWanted.store(true, std::memory_order_release);
    cuptiEnableDomain(1, subscriber, CUPTI_CB_DOMAIN_DRIVER_API);
    // A training job makes CUDA calls all the time; an idle one may not.
    for (int i = 0; i < 400 && !finalizeDone.load(std::memory_order_acquire); ++i) {
        timespec ts{0, 5000000L};
        nanosleep(&ts, nullptr);
    }
    std::string how = "finalized";
    if (!finalizeClaimed.exchange(true)) {
        // No CUDA call came: stay initialised but unsubscribed, every activity off.
        cuptiEnableDomain(0, subscriber, CUPTI_CB_DOMAIN_DRIVER_API);
        cuptiUnsubscribe(subscriber);
        how = "unsubscribed (no CUDA call came to finalize it from)";
    } else {
        for (int i = 0; i < 2000 && !finalizeDone.load(std::memory_order_acquire); ++i) {
            timespec ts{0, 1000000L};
            nanosleep(&ts, nullptr);
        }
    }
    finalizeWanted.store(false, std::memory_order_release);
    subscriber = nullptr;
    return how;
}

bool startCupti() {
    Recorder& r = recorder();
    CUptiResult rc = cuptiSubscribe(&subscriber, onCallback, nullptr);
    if (rc == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED) {
        r.failure = "another CUPTI tool (Nsight Systems, torch.profiler, ...) is already attached to this process, "
                    "and CUPTI allows only one";
        return false;
    }
    if (rc != CUPTI_SUCCESS) {
        r.failure = "CUPTI could not start (" + resultText(rc) + ")";
        return false;
    }
    cuptiEnableCallback(1, subscriber, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_CONTEXT_CREATED);
    cuptiEnableCallback(1, subscriber, CUPTI_CB_DOMAIN_RESOURCE, CUPTI_CBID_RESOURCE_CONTEXT_DESTROY_STARTING);
    enableApiCallbacks(r, true);
    // Our buffers come zeroed (BufferPool): with this CUPTI need not clear
    // each new buffer on the application thread that asked for it.
    if (r.config.cuptiZeroedBuffers) {
        uint8_t on = 1;
        size_t size = sizeof on;
        if (cuptiActivitySetAttribute(CUPTI_ACTIVITY_ATTR_ZEROED_OUT_ACTIVITY_BUFFER, &size, &on) != CUPTI_SUCCESS)
            addNote(1, "CUPTI refused zeroed activity buffers: it clears each buffer itself");
    }
    applyTestCuptiAttributes(r.config.testCuptiAttrs);
    rc = cuptiActivityRegisterCallbacks(onBufferRequested, onBufferCompleted);
    if (rc == CUPTI_SUCCESS) rc = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMORY2);
    if (rc != CUPTI_SUCCESS) {
        r.failure = "CUPTI activity tracing is unavailable (" + resultText(rc) + ")";
        cuptiUnsubscribe(subscriber);
        return false;
    }
    for (const OptionalKind& o : optionalKinds(r)) {
        if (!o.wanted) continue;
        CUptiResult e = cuptiActivityEnable(o.kind);
        if (e != CUPTI_SUCCESS)
            addNote(2, std::string(o.what) + " records are off: CUPTI refused them (" + resultText(e) + ")");
    }
    // When each kernel launch was queued by the CPU: lets the analysis give
    // a phase the GPU work it launched, not what the GPU ran while the CPU
    // was in it (a GPU-bound backward runs milliseconds behind).
    if (r.config.kernels && r.config.launchTimes) {
        CUptiResult e = cuptiActivityEnableLatencyTimestamps(1);
        if (e != CUPTI_SUCCESS)
            addNote(2, "kernel launch times are off: CUPTI refused latency timestamps (" + resultText(e) + ")");
    }
    return true;
}

}  // namespace vramscope::inject
