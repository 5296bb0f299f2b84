// vramscope's PyTorch bridge: forwards every event of PyTorch's CUDA caching
// allocator into the injector, tensor by tensor.
//
// Why a bridge: the caching allocator hides tensors from the driver (in steady
// state a training step makes no cudaMalloc at all), so CUPTI sees segments,
// never tensors. c10::cuda::CUDACachingAllocator::attachAllocatorTraceTracker
// calls us synchronously for every alloc / free_requested / free_completed /
// segment_alloc / segment_free / segment_map / segment_unmap / oom — measured
// on torch 2.11, H100: ~900 allocations per GPT-2-small step, no measurable
// overhead, allocator behaviour unchanged (we only observe).
//
// It is a C++ API, so this file is compiled against the user's own torch
// headers: by CMake when torch is found at configure time, otherwise once on
// first use by python/vramscope/_bridge.py into ~/.cache/vramscope/. It has no
// link-time dependency on the injector: it finds vramscope_tensor_event with
// dlsym at attach time, and does nothing when the process is not traced.
//
// The tracker must be attached after CUDA lazy init: before it the allocator
// has no per-device allocators and the attach silently reaches none of them.
// The Python side calls vramscope_torch_bridge_attach() from
// torch.cuda._lazy_call, which runs right after torch's CUDA init.
//
// Python callsites (vramscope_torch_bridge_set_python_stacks): for each
// tensor allocation, the allocating thread's Python frames are read without
// the GIL and interned into CallsiteDef chains (python_stacks.h). Compiled in
// when the build passes VRAMSCOPE_PYTHON_STACKS and the Python headers.
#include <c10/cuda/CUDACachingAllocator.h>

#ifdef VRAMSCOPE_PYTHON_STACKS
#include "python_stacks.h"
#endif

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef VRAMSCOPE_TORCH_VERSION
#define VRAMSCOPE_TORCH_VERSION "unknown"
#endif

namespace {

namespace alloc = c10::cuda::CUDACachingAllocator;
using TraceEntry = alloc::TraceEntry;

// int vramscope_tensor_event(action, device, address, bytes, stream, pool, timestampNs)
using TensorEventFn = int (*)(int, int, unsigned long long, unsigned long long, unsigned long long, unsigned long long,
                              unsigned long long);
// int vramscope_tensor_event_at(..., timestampNs, callsite)
using TensorEventAtFn = int (*)(int, int, unsigned long long, unsigned long long, unsigned long long,
                                unsigned long long, unsigned long long, unsigned int);
// int vramscope_callsite(id, parentId, file, function, line)
using CallsiteFn = int (*)(unsigned int, unsigned int, const char*, const char*, unsigned int);
// int vramscope_existing_allocation(device, address, bytes, memoryKind, timestampNs) (attach)
using ExistingFn = int (*)(int, unsigned long long, unsigned long long, int, unsigned long long);
// unsigned long long vramscope_timestamp() (attach)
using TimestampFn = unsigned long long (*)();

TensorEventFn forwardEvent = nullptr;
TensorEventAtFn forwardEventAt = nullptr;  // injectors before interface 2 lack it
CallsiteFn defineCallsite = nullptr;
ExistingFn forwardExisting = nullptr;     // injectors before attach lack these two
TimestampFn traceTimestamp = nullptr;
std::atomic<int> stackDepth{0};           // Python frames per allocation, 0 = off
std::atomic<unsigned long long> withCallsite{0};

#ifdef VRAMSCOPE_PYTHON_STACKS
void defineInInjector(uint32_t id, uint32_t parentId, const char* file, const char* function, uint32_t line, void*) {
    if (defineCallsite) defineCallsite(id, parentId, file, function, line);
}

vramscope::pystack::CallsiteInterner& interner() {
    static auto* instance = new vramscope::pystack::CallsiteInterner(defineInInjector, nullptr);  // never freed:
    return *instance;  // allocator events can arrive during static destruction
}

// The allocating Python line and its callers, interned; 0 when the thread has
// no Python frames (the autograd engine's threads run backward in C++).
uint32_t pythonCallsite() {
    const int depth = stackDepth.load(std::memory_order_relaxed);
    if (depth <= 0) return 0;
    vramscope::pystack::RawFrame frames[vramscope::pystack::kMaxDepth];
    const int n = vramscope::pystack::captureFrames(frames, depth);
    return n > 0 ? interner().intern(frames, n) : 0;
}
#else
uint32_t pythonCallsite() { return 0; }
#endif

// The injector's entry points, found at run time (absent: not traced).
void resolveInjector() {
    if (!forwardEvent) forwardEvent = reinterpret_cast<TensorEventFn>(dlsym(RTLD_DEFAULT, "vramscope_tensor_event"));
    if (!forwardEventAt)
        forwardEventAt = reinterpret_cast<TensorEventAtFn>(dlsym(RTLD_DEFAULT, "vramscope_tensor_event_at"));
    if (!defineCallsite) defineCallsite = reinterpret_cast<CallsiteFn>(dlsym(RTLD_DEFAULT, "vramscope_callsite"));
    if (!forwardExisting)
        forwardExisting = reinterpret_cast<ExistingFn>(dlsym(RTLD_DEFAULT, "vramscope_existing_allocation"));
    if (!traceTimestamp) traceTimestamp = reinterpret_cast<TimestampFn>(dlsym(RTLD_DEFAULT, "vramscope_timestamp"));
}
std::atomic<bool> attached{false};
std::atomic<unsigned long long> forwarded{0};
std::atomic<unsigned long long> refused{0};
std::atomic<unsigned long long> perAction[10] = {};

// TraceEntry grew fields over torch versions (device_ in 2.1, mempool_ in 2.5
// or so); read them where they exist.
template <class T, class = void> struct HasDevice : std::false_type {};
template <class T> struct HasDevice<T, std::void_t<decltype(std::declval<const T&>().device_)>> : std::true_type {};
template <class T, class = void> struct HasMempool : std::false_type {};
template <class T>
struct HasMempool<T, std::void_t<decltype(std::declval<const T&>().mempool_.first)>> : std::true_type {};

// SegmentInfo::is_expandable came with expandable segments (2.1).
template <class T, class = void> struct HasExpandable : std::false_type {};
template <class T>
struct HasExpandable<T, std::void_t<decltype(std::declval<const T&>().is_expandable)>> : std::true_type {};
template <class T> bool expandableSegment(const T& s) {
    if constexpr (HasExpandable<T>::value) return static_cast<bool>(s.is_expandable);
    else return false;
}

template <class T> int deviceOf(const T& e) {
    if constexpr (HasDevice<T>::value) return static_cast<int>(e.device_);
    else return 0;
}

template <class T> unsigned long long poolOf(const T& e) {
    if constexpr (HasMempool<T>::value)
        return static_cast<unsigned long long>(e.mempool_.first ? e.mempool_.first : e.mempool_.second);
    else return 0;
}

// format::TensorAction values; 9 = OOM (see injector/tensor_events.h); 0 = skip.
int actionCode(TraceEntry::Action a) {
    switch (a) {
    case TraceEntry::ALLOC: return 1;
    case TraceEntry::FREE_REQUESTED: return 2;
    case TraceEntry::FREE_COMPLETED: return 3;
    case TraceEntry::SEGMENT_ALLOC: return 4;
    case TraceEntry::SEGMENT_FREE: return 5;
    case TraceEntry::SEGMENT_MAP: return 6;
    case TraceEntry::SEGMENT_UNMAP: return 7;
    // PyTorch's SNAPSHOT entry marks a call to torch.cuda.memory._snapshot()
    // (addr/size are not a block), while format::TensorAction::Snapshot means
    // "a block that existed before capture began": forwarding it would add
    // phantom live memory (seen: +76 MB peak on a GPT run that dumped a pickle).
    case TraceEntry::SNAPSHOT: return 0;
    case TraceEntry::OOM: return 9;
    default: return 0;
    }
}

// Runs inside the allocator, under its lock, on the allocating thread: no
// exceptions, no Python API that needs the GIL; one lock-free push. With
// Python stacks on, an allocation also reads the thread's frames and takes
// the interner's lock (allocating only for frames never seen before).
void onTraceEntry(const TraceEntry& e) noexcept {
    int action = actionCode(e.action_);
    if (action == 0) return;
    perAction[action].fetch_add(1, std::memory_order_relaxed);
    uint32_t callsite = 0;
    if (action == 1 || action == 9) {
        try {
            callsite = pythonCallsite();
        } catch (...) {
            callsite = 0;  // out of memory in the interner: this event goes without
        }
        if (callsite) withCallsite.fetch_add(1, std::memory_order_relaxed);
    }
    // OOM: addr_ holds the free bytes the driver reported, size_ the request.
    const auto address = static_cast<unsigned long long>(e.addr_);
    const auto bytes = static_cast<unsigned long long>(e.size_);
    const auto stream = static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(e.stream_));
    int ok = forwardEventAt ? forwardEventAt(action, deviceOf(e), address, bytes, stream, poolOf(e), 0, callsite)
                            : forwardEvent(action, deviceOf(e), address, bytes, stream, poolOf(e), 0);
    (ok ? forwarded : refused).fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {

// The torch version this file was compiled against; the loader refuses a
// bridge built for another one (a C++ ABI mismatch would crash the job).
__attribute__((visibility("default"))) const char* vramscope_torch_bridge_built_for(void) {
    return VRAMSCOPE_TORCH_VERSION;
}

// 1 attached (or already), -1 not traced (no injector in the process),
// -2 no CUDA allocator, -3 CUDA not initialized yet, -4 PyTorch refused
// (e.g. the cudaMallocAsync backend has no trace tracker).
__attribute__((visibility("default"))) int vramscope_torch_bridge_attach(void) {
    if (attached.load()) return 1;
    try {
        resolveInjector();
        if (!forwardEvent) return -1;
        alloc::CUDAAllocator* a = alloc::get();
        if (!a) return -2;
        if (!a->initialized()) return -3;
        if (attached.exchange(true)) return 1;
        alloc::attachAllocatorTraceTracker([](const TraceEntry& e) { onTraceEntry(e); });
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "vramscope: the PyTorch allocator refused the trace tracker (%s); no tensor-level events\n",
                     e.what());
    } catch (...) {
        std::fprintf(stderr, "vramscope: the PyTorch allocator refused the trace tracker; no tensor-level events\n");
    }
    attached.store(false);
    return -4;
}

// Attach: enters what PyTorch's caching allocator holds now into the trace,
// so that a capture started in a running job knows its live set from the
// first instant. The trace tracker goes on first, then the allocator's own
// snapshot (c10::cuda::CUDACachingAllocator::snapshot(), what
// torch.cuda.memory_snapshot() returns) is read: every segment becomes an
// existing driver allocation and every allocated block a TensorMemory
// Snapshot record, all stamped with the instant before the tracker went on.
// An event between that instant and the snapshot is then seen twice or for a
// block the snapshot no longer has; both resolve by address (a block
// allocated again replaces itself, a free of an unknown block is ignored).
// Block sizes are the requested sizes, as the tracker's alloc events carry
// them (torch.cuda.memory_allocated() counts the 512-byte rounded sizes).
// out[0] blocks, out[1] their requested bytes, out[2] their rounded bytes,
// out[3] segments, out[4] their bytes, out[5] devices (bit per device).
// Returns 1, or what vramscope_torch_bridge_attach() returned when it failed,
// or -5 when the injector has no attach entry points.
//
// tagged: n pointers into tensors PyTorch says what they are (tags[i]: 1 a
// parameter or buffer, 2 a gradient, 3 optimizer state); an allocated block
// that holds one gets the callsite naming it (format::kExisting*File).
__attribute__((visibility("default"))) int vramscope_torch_bridge_seed_tagged(const unsigned long long* pointers,
                                                                              const int* tags, unsigned long long n,
                                                                              unsigned long long* out) {
    resolveInjector();
    if (!forwardEventAt || !forwardExisting || !traceTimestamp) return -5;
    const unsigned long long seedNs = traceTimestamp();
    const int rc = vramscope_torch_bridge_attach();
    if (rc != 1) return rc;
    unsigned long long counts[6] = {};
    try {
        // Callsite ids for the tags, far above the interner's (which count up from 1).
        constexpr unsigned kTagCallsite = 0xFFFFFF00u;
        static const char* const kTagFiles[] = {"", "(parameter)", "(gradient)", "(optimizer state)"};
        std::vector<std::pair<unsigned long long, int>> tagged;
        if (pointers && tags) {
            tagged.reserve(size_t(n));
            for (unsigned long long i = 0; i < n; ++i)
                if (tags[i] >= 1 && tags[i] <= 3) tagged.emplace_back(pointers[i], tags[i]);
            std::sort(tagged.begin(), tagged.end());
            if (defineCallsite)
                for (int t = 1; t <= 3; ++t) defineCallsite(kTagCallsite + unsigned(t), 0, kTagFiles[t], "", 0);
        }
        // The tag of the first tagged pointer inside [address, address + bytes), or 0.
        auto tagOf = [&](unsigned long long address, unsigned long long bytes) -> unsigned {
            auto it = std::lower_bound(tagged.begin(), tagged.end(), std::make_pair(address, 0));
            return it != tagged.end() && it->first < address + bytes ? kTagCallsite + unsigned(it->second) : 0u;
        };
        const auto info = alloc::snapshot();
        for (const auto& segment : info.segments) {
            const int device = static_cast<int>(segment.device);
            const auto stream = static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(segment.stream));
            // format::MemoryKind: 3 VMM (expandable segments map physical memory), 1 device
            forwardExisting(device, static_cast<unsigned long long>(segment.address),
                            static_cast<unsigned long long>(segment.total_size), expandableSegment(segment) ? 3 : 1, seedNs);
            counts[3] += 1;
            counts[4] += static_cast<unsigned long long>(segment.total_size);
            if (device >= 0 && device < 64) counts[5] |= 1ull << device;
            // Blocks tile the segment in address order.
            unsigned long long address = static_cast<unsigned long long>(segment.address);
            for (const auto& block : segment.blocks) {
                if (block.allocated) {
                    forwardEventAt(8, device, address, static_cast<unsigned long long>(block.requested_size), stream, 0,
                                   seedNs, tagOf(address, static_cast<unsigned long long>(block.size)));
                    counts[0] += 1;
                    counts[1] += static_cast<unsigned long long>(block.requested_size);
                    counts[2] += static_cast<unsigned long long>(block.size);
                }
                address += static_cast<unsigned long long>(block.size);
            }
        }
    } catch (...) {
        return -6;  // the caller says so; nothing goes to the job's stderr
    }
    if (out)
        for (int i = 0; i < 6; ++i) out[i] = counts[i];
    return 1;
}

__attribute__((visibility("default"))) int vramscope_torch_bridge_seed(unsigned long long* out) {
    return vramscope_torch_bridge_seed_tagged(nullptr, nullptr, 0, out);
}

// Python callsites for tensor allocations: depth frames each (0 = off, at
// most 64). Call before or after attach. Returns the depth now in effect:
// 0 when this build or Python version cannot read frames, or the injector
// has no callsite interface.
__attribute__((visibility("default"))) int vramscope_torch_bridge_set_python_stacks(int depth) {
#ifdef VRAMSCOPE_PYTHON_STACKS
    if (!vramscope::pystack::supported()) depth = 0;
#else
    depth = 0;
#endif
    resolveInjector();
    if (!forwardEventAt || !defineCallsite) depth = 0;
    if (depth < 0) depth = 0;
    if (depth > 64) depth = 64;
    stackDepth.store(depth);
    return depth;
}

// Allocations that carried a Python callsite so far.
__attribute__((visibility("default"))) unsigned long long vramscope_torch_bridge_callsite_events(void) {
    return withCallsite.load();
}

// Events seen so far: out[0] forwarded, out[1] refused by the injector
// (queue full / not active), out[2..10] per action code 1..9.
__attribute__((visibility("default"))) void vramscope_torch_bridge_counts(unsigned long long* out) {
    if (!out) return;
    out[0] = forwarded.load();
    out[1] = refused.load();
    for (int i = 1; i <= 9; ++i) out[i + 1] = perAction[i].load();
}

}  // extern "C"
