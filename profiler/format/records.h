// The .vtrace record types: every event vramscope captures, defined once.
//
// docs/trace-format.md is the spec that follows this header. Units are in the
// field names (Ns = nanoseconds in CUPTI's clock domain, Bytes = bytes).
// A record is encoded as   varint type | varint payloadBytes | payload
// so that a reader skips types it does not know and ignores trailing fields
// it does not know (fields are only ever appended within a major version).
//
// This header is plain C++ with no dependency: the injector includes it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace vramscope::format {

// Major version: a reader refuses files with a different major.
// Minor version: new record types or appended fields; readers accept any minor.
inline constexpr uint32_t kFormatVersionMajor = 1;
inline constexpr uint32_t kFormatVersionMinor = 2;  // 1: Kernel.queuedLeadNs; 2: attach (ProcessInfo.start…, DriverMemoryOp::Existing)

enum class RecordType : uint8_t {
    StringDef = 1,     // id → UTF-8 text (kernel names, NVTX names, files, notes)
    ProcessInfo = 2,   // the traced process: pid, host, command line, rank
    DeviceInfo = 3,    // one GPU: name, UUID, memory, SMs, peak figures
    DriverMemory = 4,  // driver-level allocation/free/VMM map/unmap
    PoolReserved = 5,  // stream-ordered pool reserved size after a change
    TensorMemory = 6,  // framework (caching allocator) block and segment events
    AllocFailure = 7,  // a failed allocation (OOM) with the requested size
    Kernel = 8,        // one kernel execution
    Memcpy = 9,        // one copy
    Memset = 10,       // one memset
    Range = 11,        // an NVTX range (push/pop or start/end), closed
    Mark = 12,         // an NVTX instantaneous marker
    Phase = 13,        // a training phase boundary (step, forward, backward…)
    CounterInfo = 14,  // defines a hardware counter series and its source
    CounterSample = 15,// one sample of a hardware counter
    MemInfo = 16,      // device memory used/free sampled by a background thread
    Note = 17,         // a message for the user (warning, error, info)
    Dropped = 18,      // events the capture had to drop, and why
    CallsiteDef = 19,  // one frame of a callsite tree (Python file:line)
};
inline constexpr int kRecordTypeCount = 20;  // one past the largest value

// Stable lower-case names, used by `vramscope info --json` under "counts".
const char* recordTypeName(RecordType type);

// The largest byte size a record can hold and be real: 256 TiB, about 250
// times the device memory of an 8-GPU H200 node (8 × 141 GB), and beyond any
// host's memory too. A reader treats a larger block, segment, pool or device
// as damage (model/size_check.h), and so does `vramscope import`. Within it,
// a device-memory size is bounded by its device's totalMemoryBytes.
inline constexpr uint64_t kMaxPlausibleBytes = 1ull << 48;

// ---------------------------------------------------------------------------
// Enumerations carried by records. Values are part of the format: never
// renumber, only append.

enum class MemoryKind : uint8_t {
    Unknown = 0,
    Device = 1,        // cudaMalloc / cuMemAlloc
    Pool = 2,          // stream-ordered pool (cudaMallocAsync / cuMemAllocAsync)
    Vmm = 3,           // virtual memory management (cuMemCreate / cuMemMap)
    Managed = 4,       // cudaMallocManaged
    PinnedHost = 5,    // cudaHostAlloc / cudaMallocHost
    ModuleStatic = 6,  // __device__ globals loaded with a module
    Pageable = 7,      // pageable host memory (copies only)
};

enum class DriverMemoryOp : uint8_t {
    Alloc = 1,
    Free = 2,
    VmmCreate = 3,   // physical memory created, not yet mapped
    VmmMap = 4,
    VmmUnmap = 5,
    VmmRelease = 6,  // physical memory released
    // An allocation that already existed when capture began (seeded when
    // attaching to a running process, from the framework allocator's own
    // segment list): read like Alloc, but it was not seen being made.
    Existing = 7,
};

// Mirrors the actions of PyTorch's caching allocator trace (TraceEntry).
enum class TensorAction : uint8_t {
    Alloc = 1,
    FreeRequested = 2,
    FreeCompleted = 3,
    SegmentAlloc = 4,
    SegmentFree = 5,
    SegmentMap = 6,
    SegmentUnmap = 7,
    Snapshot = 8,  // a block that already existed when capture began
};

// How capture began in the traced process (ProcessInfo.captureStart).
enum class CaptureStart : uint8_t {
    Launch = 0,  // from the start: `vramscope record`, LD_PRELOAD, CUDA_INJECTION64_PATH
    Attach = 1,  // attached to a process that was already running (`vramscope attach`)
};

enum class FailureSource : uint8_t { Driver = 1, Framework = 2 };

enum class CopyKind : uint8_t {
    Unknown = 0, HostToDevice = 1, DeviceToHost = 2, DeviceToDevice = 3,
    HostToHost = 4, PeerToPeer = 5,
};

enum class RangeKind : uint8_t { PushPop = 1, StartEnd = 2 };

enum class PhaseKind : uint8_t {
    StepBegin = 1,
    ForwardBegin = 2,
    BackwardBegin = 3,
    OptimizerBegin = 4,
    StepEnd = 5,
    RecomputeBegin = 6,  // activation checkpointing re-runs forward in backward
    RecomputeEnd = 7,
    RegionBegin = 8,     // user region (vramscope.region("name")); nameId set
    RegionEnd = 9,
};

enum class CounterSource : uint8_t { None = 0, PmSampling = 1, Gpm = 2, Estimated = 3, Synthetic = 4 };

enum class CounterMetric : uint8_t {
    Other = 0,
    SmThroughputPct = 1,
    DramThroughputPct = 2,
    TensorPipePct = 3,
};

enum class Severity : uint8_t { Info = 1, Warning = 2, Error = 3 };

enum class DropReason : uint8_t {
    BufferFull = 1,     // the writer fell behind; per-thread buffer full
    CuptiDropped = 2,   // CUPTI itself reported dropped records
    CaptureOff = 3,     // capture was turned off after a failure
};

// ---------------------------------------------------------------------------
// Records. Every record has a timestamp field (timestampNs or startNs) that
// the encoder delta-encodes; string-typed fields hold string ids (0 = none).

struct StringDef {
    uint32_t id = 0;       // > 0, unique within the file
    std::string text;
    bool operator==(const StringDef&) const = default;
};

struct ProcessInfo {
    uint64_t timestampNs = 0;
    uint32_t pid = 0;
    uint32_t hostnameId = 0;
    uint32_t commandLineId = 0;
    int32_t rank = -1;         // RANK, -1 when unset
    int32_t localRank = -1;    // LOCAL_RANK, -1 when unset
    uint64_t wallClockNs = 0;  // Unix time of timestampNs, to show dates
    // Since minor 2. timestampNs is when capture began: for Attach, the
    // instant of the attach; what ran before it is not in the trace.
    CaptureStart captureStart = CaptureStart::Launch;
    uint32_t attachIndex = 0;          // 1 for the first attach into this process, 2 for the next…; 0 = Launch
    uint64_t processStartUnixNs = 0;   // when the process started (Unix ns), 0 = unknown
    bool operator==(const ProcessInfo&) const = default;
};

struct DeviceInfo {
    uint64_t timestampNs = 0;
    uint32_t deviceId = 0;
    uint32_t nameId = 0;
    std::array<uint8_t, 16> uuid{};
    uint64_t totalMemoryBytes = 0;
    uint32_t smCount = 0;
    uint32_t computeCapability = 0;      // major * 10 + minor
    uint64_t peakDramBytesPerSec = 0;
    uint64_t peakFlopsPerSec = 0;        // dense tensor-core bf16
    bool operator==(const DeviceInfo&) const = default;
};

struct DriverMemory {
    uint64_t timestampNs = 0;
    DriverMemoryOp op = DriverMemoryOp::Alloc;
    MemoryKind kind = MemoryKind::Device;
    uint32_t deviceId = 0;
    uint64_t address = 0;
    uint64_t bytes = 0;
    uint64_t streamId = 0;
    bool operator==(const DriverMemory&) const = default;
};

struct PoolReserved {
    uint64_t timestampNs = 0;
    uint32_t deviceId = 0;
    uint64_t poolAddress = 0;
    uint64_t reservedBytes = 0;
    bool operator==(const PoolReserved&) const = default;
};

struct TensorMemory {
    uint64_t timestampNs = 0;
    TensorAction action = TensorAction::Alloc;
    uint32_t deviceId = 0;
    uint64_t address = 0;
    uint64_t bytes = 0;
    uint64_t streamId = 0;
    uint32_t callsiteId = 0;  // CallsiteDef id of the innermost frame, 0 = unknown
    bool operator==(const TensorMemory&) const = default;
};

struct AllocFailure {
    uint64_t timestampNs = 0;
    FailureSource source = FailureSource::Driver;
    uint32_t deviceId = 0;
    uint64_t requestedBytes = 0;
    uint64_t freeBytes = 0;   // device free memory when it failed, 0 if unknown
    uint32_t callsiteId = 0;
    bool operator==(const AllocFailure&) const = default;
};

struct Kernel {
    uint64_t startNs = 0;
    uint64_t endNs = 0;
    uint32_t deviceId = 0;
    uint32_t streamId = 0;
    uint32_t nameId = 0;
    uint32_t gridX = 1, gridY = 1, gridZ = 1;
    uint32_t blockX = 1, blockY = 1, blockZ = 1;
    uint32_t registersPerThread = 0;
    uint32_t staticSharedBytes = 0;
    uint32_t dynamicSharedBytes = 0;
    uint32_t correlationId = 0;
    uint32_t graphId = 0;
    // How long before startNs the launch was queued by the CPU (CUPTI's
    // `queued` latency timestamp, VRAMSCOPE_LAUNCH_TIMES=1); 0 = unknown.
    // Launch time = startNs − queuedLeadNs.
    uint64_t queuedLeadNs = 0;
    bool operator==(const Kernel&) const = default;
};

struct Memcpy {
    uint64_t startNs = 0;
    uint64_t endNs = 0;
    uint32_t deviceId = 0;
    uint32_t streamId = 0;
    uint64_t bytes = 0;
    CopyKind copyKind = CopyKind::Unknown;
    MemoryKind srcKind = MemoryKind::Unknown;
    MemoryKind dstKind = MemoryKind::Unknown;
    bool operator==(const Memcpy&) const = default;
};

struct Memset {
    uint64_t startNs = 0;
    uint64_t endNs = 0;
    uint32_t deviceId = 0;
    uint32_t streamId = 0;
    uint64_t bytes = 0;
    uint32_t value = 0;
    bool operator==(const Memset&) const = default;
};

struct Range {
    uint64_t startNs = 0;
    uint64_t endNs = 0;
    RangeKind kind = RangeKind::PushPop;
    uint32_t domainId = 0;   // string id of the NVTX domain, 0 = default domain
    uint32_t nameId = 0;
    uint32_t threadId = 0;
    uint32_t depth = 0;      // nesting depth for push/pop ranges
    bool operator==(const Range&) const = default;
};

struct Mark {
    uint64_t timestampNs = 0;
    uint32_t domainId = 0;
    uint32_t nameId = 0;
    uint32_t threadId = 0;
    bool operator==(const Mark&) const = default;
};

struct Phase {
    uint64_t timestampNs = 0;
    PhaseKind kind = PhaseKind::StepBegin;
    uint64_t step = 0;        // optimizer step index, from the marker source
    uint32_t nameId = 0;      // for regions; on step and phase markers 0, or
                              // kPhasesFromStackFrames when a converter inferred them
    bool operator==(const Phase&) const = default;
};

// The name of step and phase markers that were not recorded by hooks but
// inferred by `vramscope import` from the stack frames of a PyTorch
// snapshot's allocations (torch/optim/ → optimizer, the autograd engine →
// backward, module calls → forward), so that the analysis can say so.
inline constexpr std::string_view kPhasesFromStackFrames = "(phases from stack frames)";

struct CounterInfo {
    uint64_t timestampNs = 0;
    uint32_t counterId = 0;   // > 0, referred to by CounterSample
    uint32_t deviceId = 0;
    CounterMetric metric = CounterMetric::Other;
    CounterSource source = CounterSource::None;
    uint32_t nameId = 0;      // the source's own metric name
    uint64_t intervalNs = 0;  // nominal sampling interval
    bool operator==(const CounterInfo&) const = default;
};

struct CounterSample {
    uint64_t timestampNs = 0;   // end of the sampled interval
    uint32_t counterId = 0;
    uint32_t valueMilli = 0;    // value × 1000 (percent × 1000 for percentages)
    bool operator==(const CounterSample&) const = default;
};

struct MemInfo {
    uint64_t timestampNs = 0;
    uint32_t deviceId = 0;
    uint64_t usedBytes = 0;
    uint64_t freeBytes = 0;
    bool operator==(const MemInfo&) const = default;
};

struct Note {
    uint64_t timestampNs = 0;
    Severity severity = Severity::Info;
    uint32_t textId = 0;
    bool operator==(const Note&) const = default;
};

struct Dropped {
    uint64_t timestampNs = 0;
    DropReason reason = DropReason::BufferFull;
    uint64_t count = 0;
    bool operator==(const Dropped&) const = default;
};

// What a block that already existed at an attach was, as the framework
// knows it (PyTorch: the model's parameters and buffers, their gradients,
// the optimizers' state): the file name of the CallsiteDef its TensorMemory
// Snapshot record points to. Blocks it did not recognise carry no callsite.
inline constexpr std::string_view kExistingParameterFile = "(parameter)";
inline constexpr std::string_view kExistingGradientFile = "(gradient)";
inline constexpr std::string_view kExistingOptimizerStateFile = "(optimizer state)";

struct CallsiteDef {
    uint32_t id = 0;         // > 0
    uint32_t parentId = 0;   // caller frame, 0 = outermost
    uint32_t fileId = 0;
    uint32_t functionId = 0;
    uint32_t line = 0;
    bool operator==(const CallsiteDef&) const = default;
};

}  // namespace vramscope::format
