// `vramscope attach`: capture started inside a process that is already
// running. The attaching tool (profiler/attach) loads this library with
// dlopen on one of the target's threads and calls vramscope_attach_start()
// there; everything slow happens afterwards on a thread of our own, so the
// borrowed thread is back in its own code within a millisecond:
//
//   vramscope_attach_start   parse the request, bind the control socket,
//                            start the attach thread                (borrowed thread)
//   attach thread            start CUPTI late, describe the running contexts,
//                            start the writer; ask Python (if any) to install
//                            the phase hooks and the PyTorch bridge; then serve
//                            the control/live socket until the capture is over
//   Python                   runs on the interpreter's own main thread with the
//                            GIL held, through Py_AddPendingCall (which may be
//                            called from any thread): never from a foreign thread
//
// The library is never unloaded: after a detach it stays idle, and the next
// attach starts a new trace file in the same process.
#include "attach_request.h"
#include "live_server.h"
#include "recorder.h"
#include "tensor_events.h"

#include <format/records.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <mutex>
#include <pthread.h>
#include <signal.h>
#include <string>

namespace vramscope::inject {

namespace {

// What `status` reports: set by this file and by the Python side
// (vramscope_attach_report). Small and bounded. Never destroyed: the server
// thread may still answer while the job exits and runs static destructors.
std::mutex& statusMutex = *new std::mutex;
std::map<std::string, std::string>& statusValues = *new std::map<std::string, std::string>;
constexpr size_t kMaxStatusKeys = 64;
constexpr size_t kMaxStatusText = 512;

void setStatus(const std::string& key, const std::string& value) {
    std::lock_guard<std::mutex> lock(statusMutex);
    if (statusValues.size() >= kMaxStatusKeys && !statusValues.count(key)) return;
    statusValues[key.substr(0, 64)] = value.substr(0, kMaxStatusText);
}

std::map<std::string, std::string> statusCopy() {
    std::lock_guard<std::mutex> lock(statusMutex);
    return statusValues;
}

std::atomic<bool> sessionRunning{false};  // an attach thread exists (socket open)
std::atomic<bool> captureFailed{false};

// ---- Python -----------------------------------------------------------------
// The CPython functions used, found in the process (python3 exports them; a
// program embedding a static libpython without -rdynamic does not, and then
// the capture runs without Python's part). All part of the stable ABI.
struct PythonApi {
    int (*isInitialized)() = nullptr;
    int (*addPendingCall)(int (*)(void*), void*) = nullptr;
    int (*runString)(const char*, void*) = nullptr;  // PyRun_SimpleStringFlags(code, NULL)
    bool load() {
        isInitialized = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "Py_IsInitialized"));
        addPendingCall = reinterpret_cast<int (*)(int (*)(void*), void*)>(dlsym(RTLD_DEFAULT, "Py_AddPendingCall"));
        runString = reinterpret_cast<int (*)(const char*, void*)>(dlsym(RTLD_DEFAULT, "PyRun_SimpleStringFlags"));
        return isInitialized && addPendingCall && runString;
    }
};
PythonApi python;

// Runs on the interpreter's main thread, GIL held, between two bytecodes.
int runPendingPython(void* arg) {
    auto* code = static_cast<std::string*>(arg);
    if (python.runString) python.runString(code->c_str(), nullptr);  // exceptions are caught in the code itself
    delete code;
    return 0;
}

// A Python string literal of text.
std::string pythonQuoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\\') out += "\\\\";
        else if (c == '\'') out += "\\'";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out + "'";
}

// The Python side of an attach or detach, as one statement that binds
// nothing in the program's __main__: it runs in a private namespace, loads
// the vramscope package from python_dir without touching sys.path (unless
// the program imported vramscope itself), and reports what happened through
// vramscope_attach_report.
std::string pythonCode(const std::string& pythonDir, const std::string& call) {
    const std::string body =
        "import sys, ctypes\n"
        "lib = ctypes.CDLL(None)\n"
        "def report(key, value):\n"
        "    try:\n"
        "        lib.vramscope_attach_report(str(key).encode(), str(value).encode('utf-8', 'replace')[:500])\n"
        "    except Exception:\n"
        "        pass\n"
        "try:\n"
        "    if 'vramscope' not in sys.modules:\n"
        "        import importlib.util, os\n"
        "        root = " + pythonQuoted(pythonDir) + "\n"
        "        spec = importlib.util.spec_from_file_location('vramscope', os.path.join(root, 'vramscope', '__init__.py'),"
        " submodule_search_locations=[os.path.join(root, 'vramscope')])\n"
        "        module = importlib.util.module_from_spec(spec)\n"
        "        sys.modules['vramscope'] = module\n"
        "        try:\n"
        "            spec.loader.exec_module(module)\n"
        "        except BaseException:\n"
        "            del sys.modules['vramscope']\n"
        "            raise\n"
        "    from vramscope import _attach\n"
        "    _attach." + call + "\n"
        "except BaseException as e:\n"
        "    report('python', 'error: %s: %s' % (type(e).__name__, e))\n";
    return "exec(compile(" + pythonQuoted(body) + ", '<vramscope attach>', 'exec'), {'__name__': '__vramscope_attach__'})";
}

// Queues code for the main thread. CPython's queue of pending calls is
// short (32 entries before 3.12): retry briefly when it is full.
bool schedulePython(const std::string& code) {
    if (!python.isInitialized || !python.isInitialized()) return false;
    auto* copy = new std::string(code);
    for (int i = 0; i < 100; ++i) {
        if (python.addPendingCall(runPendingPython, copy) == 0) return true;
        timespec ts{0, 10000000L};
        nanosleep(&ts, nullptr);
    }
    delete copy;
    return false;
}

// ---- the session ------------------------------------------------------------

struct Session {
    AttachRequest request;
    InjectorConfig config;
    std::vector<std::string> warnings;
    LiveServer server;
};

void* stopMain(void*) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    setStatus("state", "stopping");
    if (python.isInitialized) schedulePython(pythonCode(statusCopy()["python_dir"], "stop(report)"));
    const std::string cupti = stopAttachedCapture();
    if (!cupti.empty()) setStatus("cupti", cupti);
    setStatus("state", "stopped");
    return nullptr;
}

void startStopThread() {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, stopMain, nullptr) != 0) stopMain(nullptr);
    pthread_attr_destroy(&attr);
}

bool captureOver() {
    const Recorder& r = recorder();
    const int state = r.state.load(std::memory_order_acquire);
    if (captureFailed.load()) return true;
    if (state == static_cast<int>(RecorderState::Active)) return false;
    return r.traceClosed.load(std::memory_order_acquire);
}

void* attachMain(void* arg) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    auto* session = static_cast<Session*>(arg);  // never freed: the server's hooks refer to it
    Recorder& r = recorder();
    std::string error;
    if (!startAttachedCapture(session->config, &error)) {
        captureFailed.store(true);
        setStatus("state", "failed");
        setStatus("reason", error);
    } else {
        for (const std::string& w : session->warnings) addNote(int(format::Severity::Warning), w);
        addNote(int(format::Severity::Info),
                "attached to this running process (attach " + std::to_string(r.attachIndex) +
                    "): kernels, copies and allocations from before the attach are not in this trace; memory in use "
                    "at the attach is: the device's (cuMemGetInfo) and, for PyTorch, the caching allocator's segments "
                    "and live blocks from its own snapshot, entered as existing at that instant. NVTX ranges are not "
                    "captured after an attach (NVTX picks its tool when the program first uses it).");
        setStatus("state", "active");
        setStatus("attach_index", std::to_string(r.attachIndex));
        const bool havePython = python.load();
        if (!havePython) {
            setStatus("python", "none");
        } else if (session->request.pythonDir.empty()) {
            setStatus("python", "error: vramscope's Python package was not found beside the tool");
        } else {
            setStatus("python_dir", session->request.pythonDir);
            // The Python side's own settings, as `vramscope record` passes them in the environment.
            const auto& env = session->request.environment;
            auto value = [&](const char* key) {
                auto it = env.find(key);
                return it == env.end() ? std::string() : it->second;
            };
            const std::string call = "start(report, stacks=" + pythonQuoted(value("VRAMSCOPE_PYTHON_STACKS")) +
                                     ", stack_depth=" + pythonQuoted(value("VRAMSCOPE_PYTHON_STACK_DEPTH")) +
                                     ", bridge=" + pythonQuoted(value("VRAMSCOPE_TORCH_BRIDGE")) +
                                     ", phase_hooks=" + pythonQuoted(value("VRAMSCOPE_PYTHON_HOOKS")) + ")";
            setStatus("python", schedulePython(pythonCode(session->request.pythonDir, call))
                                    ? "scheduled"
                                    : "error: the interpreter refused the pending call");
        }
    }
    session->server.run();
    sessionRunning.store(false, std::memory_order_release);
    session->server.answerStops();  // after: whoever stopped it may attach again at once
    return nullptr;
}

}  // namespace

}  // namespace vramscope::inject

using namespace vramscope::inject;

extern "C" {

// Starts an attached capture; called by `vramscope attach` on a borrowed
// thread of the target. Returns at once: 0 started (progress and errors then
// come through the control socket), -1 a capture is already running in this
// process, -2 the request is unusable, -3 the control socket could not be
// opened, -4 no thread could be started. Never throws, never blocks.
__attribute__((visibility("default"))) int vramscope_attach_start(const char* requestText) {
    try {
        if (recorder().state.load() == static_cast<int>(RecorderState::Active) || sessionRunning.load()) return -1;
        auto* session = new Session;
        std::string error;
        if (!parseAttachRequest(requestText, &session->request, &error, &session->warnings)) {
            setStatus("reason", error);
            delete session;
            return -2;
        }
        session->config = attachConfig(session->request, &session->warnings);
        {
            std::lock_guard<std::mutex> lock(statusMutex);
            statusValues.clear();
        }
        captureFailed.store(false);
        setStatus("state", "starting");
        setStatus("output", session->request.output);
        setStatus("pid", std::to_string(getpid()));
        LiveServer::Hooks hooks;
        hooks.status = [] { return statusCopy(); };
        hooks.stop = [] { startStopThread(); };
        hooks.captureOver = [] { return captureOver(); };
        hooks.tracePath = [session] { return session->request.output; };
        hooks.committedBytes = [] { return static_cast<unsigned long long>(recorder().committedBytes.load()); };
        if (!session->server.open(session->request.socketPath, session->request.tcp, hooks, &error)) {
            delete session;
            return -3;
        }
        if (session->server.tcpPort()) setStatus("tcp_token", session->server.token());
        sessionRunning.store(true);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        const int rc = pthread_create(&thread, &attr, attachMain, session);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            sessionRunning.store(false);
            return -4;
        }
        return 0;
    } catch (...) {
        return -4;
    }
}

// The Python side's progress for `status` (python=ready, torch=2.11.0, …).
__attribute__((visibility("default"))) void vramscope_attach_report(const char* key, const char* value) {
    if (!key || !value) return;
    try {
        setStatus(std::string(key, strnlen(key, 64)), std::string(value, strnlen(value, kMaxStatusText)));
    } catch (...) {
    }
}

// A note into the trace longer than vramscope_note's 95 bytes (the Python
// side's account of the attach). Takes a short lock: rare messages only.
__attribute__((visibility("default"))) void vramscope_attach_note(const char* text) {
    if (!text || recorder().state.load(std::memory_order_acquire) != static_cast<int>(RecorderState::Active)) return;
    try {
        addNote(int(vramscope::format::Severity::Info), std::string(text, strnlen(text, 2000)));
    } catch (...) {
    }
}

// An allocation that already existed at the attach (the PyTorch bridge's
// seed from the allocator's segments): written as DriverMemory op Existing.
// memoryKind: format::MemoryKind. timestampNs 0 = now. 1 when queued.
__attribute__((visibility("default"))) int vramscope_existing_allocation(int device, unsigned long long address,
                                                                         unsigned long long bytes, int memoryKind,
                                                                         unsigned long long timestampNs) {
    Recorder& r = recorder();
    if (r.state.load(std::memory_order_acquire) != static_cast<int>(RecorderState::Active) || !r.side) return 0;
    SideEvent e;
    e.kind = SideEvent::Kind::Existing;
    e.timestampNs = timestampNs ? timestampNs : cuptiTimestamp();
    e.deviceId = device < 0 ? 0u : static_cast<uint32_t>(device);
    e.address = address;
    e.bytes = bytes;
    e.handle = static_cast<uint64_t>(memoryKind);
    return r.side->push(e) ? 1 : 0;
}

// Now, in the trace's clock (CUPTI's while capture runs).
__attribute__((visibility("default"))) unsigned long long vramscope_timestamp(void) { return cuptiTimestamp(); }

}  // extern "C"
