// The one recorder inside the traced process. Both ways in — the LD_PRELOAD
// constructor and CUDA's InitializeInjection — call initialize(); everything
// else (CUPTI callbacks, the writer and sampler threads, exit, signal and fork
// handling) hangs off the state here.
//
// Lifecycle: Uninitialized → Active (CUPTI on, threads running) → Finished,
// or → Failed (one "vramscope:" line on stderr, the program runs untouched),
// or → ForkedOff in a child forked from an Active parent (the child's copy of
// CUPTI and our threads is not usable; the child runs untraced).
// An attached capture (`vramscope attach`, attach_session.cpp) goes
// Uninitialized/Finished/Failed → Active → Finished, as often as the user
// attaches: each time a new trace file, CUPTI detached in between.
#pragma once

#include "buffer_pool.h"
#include "config.h"
#include "driver_api.h"
#include "output_naming.h"
#include "side_queue.h"

#include <format/records.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace vramscope::inject {

enum class EntryPath { Preload, CudaInjection, Attach };

enum class RecorderState : int { Uninitialized = 0, Active = 1, Finished = 2, Failed = 3, ForkedOff = 4 };

constexpr int kMaxDevices = 64;

struct Recorder {
    std::atomic<int> state{static_cast<int>(RecorderState::Uninitialized)};
    InjectorConfig config;
    ProcessIdentity identity;
    bool isRoot = true;
    bool outputExplicit = false;  // VRAMSCOPE_OUTPUT was set
    int ownerPid = 0;
    std::string outputPath;
    std::string failure;          // why capture is off (Failed)
    format::CaptureStart captureStart = format::CaptureStart::Launch;
    uint32_t attachIndex = 0;     // attaches into this process so far (ProcessInfo.attachIndex)
    bool eagerOpen = false;       // open the trace at once (attach: the live stream needs its header)

    DriverApi driver;
    bool cuptiStarted = false;    // false in VRAMSCOPE_TEST_NO_CUPTI mode: no CUPTI call is made
    BufferPool* pool = nullptr;
    SideQueue* side = nullptr;
    std::atomic<uint64_t> cuptiDroppedRecords{0};
    std::atomic<uint64_t> devicesSeen{0};           // bit per device ordinal < 64
    std::atomic<uint64_t> lastFreeBytes[kMaxDevices] = {};

    // Notes for the trace, added at init or on rare events; the writer drains them.
    std::mutex notesMutex;
    std::vector<std::pair<int, std::string>> notes;  // severity, text

    // Writer/sampler thread control.
    std::atomic<bool> finalizeRequested{false};
    std::atomic<bool> finalizeDone{false};
    std::atomic<bool> flushRequested{false};
    std::atomic<bool> samplerStop{false};
    std::atomic<bool> writerRunning{false};
    std::atomic<bool> samplerRunning{false};
    // VRAMSCOPE_TEST_PAUSE: the PausePart bits paused now (writer thread sets them).
    std::atomic<uint32_t> pausedParts{0};

    // The trace file as the live server may read it (writer thread sets them):
    // bytes that form whole chunks, and whether the footer is written.
    std::atomic<uint64_t> committedBytes{0};
    std::atomic<bool> traceClosed{false};
    std::string writerError;      // why the trace could not be written (guarded by notesMutex)
};

Recorder& recorder();

// The shared init path. Safe to call more than once and from both entries.
void initialize(EntryPath path);
// Whether LD_PRELOAD or CUDA_INJECTION64_PATH names this library: it was
// loaded to trace from the start, not dlopen'ed into a running process.
bool namedAtStartup();
// Flushes and closes the trace (footer). Called at exit; idempotent.
void shutdown(const char* why);

// Adds a Note to the trace (any thread, rare events only).
void addNote(int severity, const std::string& text);
// One "vramscope: ..." line on stderr, written with write(2).
void printLine(const std::string& text);

// In cupti_source.cpp: subscribes, enables activity kinds. False with
// recorder().failure set when CUPTI cannot be used.
bool startCupti();
// Forces CUPTI to hand over every buffer (writer thread, at the end).
void flushCupti(bool forced);
// VRAMSCOPE_TEST_PAUSE (writer thread): disables, or enables again, the
// CUPTI activity kinds among parts (PausePart bits) that capture has on.
void pauseCuptiActivities(uint32_t parts, bool pause);
// CUPTI's clock (ns); CLOCK_REALTIME before CUPTI started (the same domain
// on Linux, which CUPTI's own timestamps are measured against).
uint64_t cuptiTimestamp();
// One MemInfo sample of the device whose context is current on this thread
// (cuMemGetInfo). False when the driver refused.
bool sampleDeviceMemory(uint32_t device);
// Pushes a Phase or Note from the public C entry points (any thread).
void pushMarker(SideEvent::Kind kind, int phaseKind, uint64_t step, const char* text);
// The file libcupti was loaded from (for NVTX_INJECTION64_PATH).
std::string cuptiLibraryPath();

// In recorder.cpp: the threads.
bool startThreads();

// Attach (attach_session.cpp calls these on its own thread, never on an
// application thread). startAttachedCapture starts capture in a process that
// is already running: CUPTI late, the running contexts described, the
// writer opening `config.output` at once. False with *error when it cannot.
bool startAttachedCapture(const InjectorConfig& config, std::string* error);
// Ends an attached capture: everything flushed, footer written, CUPTI
// detached; the library stays loaded and idle until the next attach.
// Returns how CUPTI ended (detachCupti), "" without CUPTI.
std::string stopAttachedCapture();
// In cupti_source.cpp: for a late start, describes the devices whose
// primary context is already active (no CONTEXT_CREATED callback will come
// for them) and samples their memory in use at once.
void seedRunningContexts();
// Turns CUPTI off after an attached capture (activity off, then
// cuptiFinalize from an API exit callback, as CUPTI recommends). Returns how
// it ended: "finalized", or "unsubscribed" when no CUDA call came in time.
std::string detachCupti();

}  // namespace vramscope::inject
