// The ways into the injector. The first two end in initialize():
//
//   LD_PRELOAD=libvramscope_inject.so      → the constructor below, pre-main.
//   CUDA_INJECTION64_PATH=libvramscope_inject.so → cuInit dlopens the library
//                                            and calls InitializeInjection().
//   `vramscope attach PID`                 → dlopen in the running process,
//                                            then vramscope_attach_start()
//                                            (attach_session.cpp). Loaded that
//                                            way, the constructor starts nothing.
#include "recorder.h"
#include "tensor_events.h"

#include <csignal>
#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

namespace {

__attribute__((constructor)) void vramscopeConstructor() {
    if (!vramscope::inject::namedAtStartup()) return;  // dlopen'ed late: wait for vramscope_attach_start()
    vramscope::inject::initialize(vramscope::inject::EntryPath::Preload);
}

// At unload or exit, after atexit handlers registered before ours; the
// shutdown is idempotent, so whichever runs first finishes the trace.
__attribute__((destructor)) void vramscopeDestructor() { vramscope::inject::shutdown("unload"); }

}  // namespace

extern "C" {

// Called by the CUDA driver inside cuInit when CUDA_INJECTION64_PATH names
// this library. Returns 1 (success) even when capture could not start: the
// driver must go on either way.
__attribute__((visibility("default"))) int InitializeInjection(void) {
    vramscope::inject::initialize(vramscope::inject::EntryPath::CudaInjection);
    return 1;
}

// For programs that want a flush point (e.g. before a risky step).
__attribute__((visibility("default"))) void vramscope_flush(void) {
    vramscope::inject::recorder().flushRequested.store(true);
}

// A training-phase boundary (kind: format::PhaseKind — 1 step begin,
// 2 forward, 3 backward, 4 optimizer, 5 step end, 8/9 region begin/end with
// a name). Lock-free and allocation-free; find it with
// dlsym(RTLD_DEFAULT, "vramscope_phase"): absent when not traced.
__attribute__((visibility("default"))) void vramscope_phase(int kind, unsigned long long step, const char* name) {
    vramscope::inject::pushMarker(vramscope::inject::SideEvent::Kind::Phase, kind, step, name);
}

// A short message into the trace (Note, Info; first 95 bytes).
__attribute__((visibility("default"))) void vramscope_note(const char* text) {
    vramscope::inject::pushMarker(vramscope::inject::SideEvent::Kind::Note, 0, 0, text);
}

// One tensor-level allocator event (the PyTorch bridge calls this from
// inside the caching allocator, synchronously). action: format::TensorAction
// (1 alloc, 2 free requested, 3 free completed, 4/5 segment alloc/free,
// 6/7 segment map/unmap, 8 snapshot) or 9 = OOM (bytes = requested size,
// address = free bytes). timestampNs 0 = now, in CUPTI's clock. callsite: an
// id given to vramscope_callsite() before, 0 = none. Lock-free and
// allocation-free; returns 1 when queued, 0 when not traced or dropped.
// Version of this interface: vramscope_tensor_abi() == 2 (1 had no callsite).
__attribute__((visibility("default"))) int vramscope_tensor_event_at(int action, int device, unsigned long long address,
                                                                     unsigned long long bytes, unsigned long long stream,
                                                                     unsigned long long pool,
                                                                     unsigned long long timestampNs,
                                                                     unsigned int callsite) {
    using namespace vramscope::inject;
    if (recorder().state.load(std::memory_order_acquire) != static_cast<int>(RecorderState::Active)) return 0;
    if (recorder().pausedParts.load(std::memory_order_relaxed) & PauseTensors) return 0;  // VRAMSCOPE_TEST_PAUSE
    TensorEvent e;
    e.timestampNs = timestampNs ? timestampNs : cuptiTimestamp();
    e.action = static_cast<uint8_t>(action);
    e.deviceId = device < 0 ? 0u : static_cast<uint32_t>(device);
    e.address = address;
    e.bytes = bytes;
    e.streamId = stream;
    e.poolId = static_cast<uint32_t>(pool);
    e.callsiteId = callsite;
    return pushTensorEvent(e) ? 1 : 0;
}

// Interface version 1, without a callsite.
__attribute__((visibility("default"))) int vramscope_tensor_event(int action, int device, unsigned long long address,
                                                                  unsigned long long bytes, unsigned long long stream,
                                                                  unsigned long long pool,
                                                                  unsigned long long timestampNs) {
    return vramscope_tensor_event_at(action, device, address, bytes, stream, pool, timestampNs, 0);
}

// Defines callsite id (> 0) as one Python frame: file, function, line, and
// its caller's id (0 = outermost). Each id once, callers before callees; the
// strings are copied. Takes a short lock: call it once per new frame, not
// per event. Returns 1 when queued, 0 when not traced.
__attribute__((visibility("default"))) int vramscope_callsite(unsigned int id, unsigned int parentId, const char* file,
                                                              const char* function, unsigned int line) {
    using namespace vramscope::inject;
    if (recorder().state.load(std::memory_order_acquire) != static_cast<int>(RecorderState::Active)) return 0;
    return pushCallsite(id, parentId, file, function, line) ? 1 : 0;
}

__attribute__((visibility("default"))) int vramscope_tensor_abi(void) { return 2; }

// 1 while capture is on in this process (bridges and the Python hooks ask
// before installing anything).
__attribute__((visibility("default"))) int vramscope_active(void) {
    using namespace vramscope::inject;
    return recorder().state.load(std::memory_order_acquire) == static_cast<int>(RecorderState::Active) ? 1 : 0;
}

}

// Interposed (LD_PRELOAD only): a process that kills itself with a
// terminating signal whose action is the default dies without running exit
// handlers. CPython does exactly this after a KeyboardInterrupt (it restores
// SIG_DFL and kill(getpid(), SIGINT) so that its parent sees the signal), and
// it replaces our SIGINT handler at startup. Finishing the trace here keeps
// its footer in that case. Every other call passes straight through.
extern "C" __attribute__((visibility("default"))) int kill(pid_t pid, int sig) {
    using KillFn = int (*)(pid_t, int);
    static KillFn realKill = reinterpret_cast<KillFn>(dlsym(RTLD_NEXT, "kill"));
    if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) && pid == getpid()) {
        struct sigaction current {};
        if (sigaction(sig, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL)
            vramscope::inject::shutdown("self-kill");
    }
    return realKill ? realKill(pid, sig) : -1;
}
