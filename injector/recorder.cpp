#include "recorder.h"

#include "activity_decoder.h"
#include "pm_sampler.h"
#include "tensor_events.h"

#include <format/writer.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

namespace vramscope::inject {

using namespace vramscope::format;

namespace {

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t realtimeNs() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void sleepMs(uint32_t ms) {
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

RecorderState stateOf(const Recorder& r) { return static_cast<RecorderState>(r.state.load(std::memory_order_acquire)); }

std::string readCommandLine() {
    std::string out;
    int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    for (ssize_t i = 0; i < n; ++i) out += buf[i] ? buf[i] : ' ';
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// When this process started, in Unix ns: /proc/self/stat field 22 (clock
// ticks since boot) plus the boot time (btime in /proc/stat). 0 when unknown.
uint64_t processStartUnixNs() {
    char buf[4096];
    int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char* p = std::strrchr(buf, ')');  // the command name may hold spaces and parentheses
    if (!p) return 0;
    unsigned long long startTicks = 0;
    // After ")": field 3 (state) … field 22 (starttime): skip 19 fields.
    int field = 2;
    for (const char* q = p + 1; *q; ++q) {
        if (*q == ' ') {
            ++field;
            if (field == 22) {
                startTicks = std::strtoull(q + 1, nullptr, 10);
                break;
            }
        }
    }
    fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !startTicks) {
        if (fd >= 0) ::close(fd);
        return 0;
    }
    std::string stat;
    char chunk[4096];
    while ((n = ::read(fd, chunk, sizeof chunk)) > 0 && stat.size() < (1u << 20)) stat.append(chunk, size_t(n));
    ::close(fd);
    const size_t at = stat.find("\nbtime ");
    if (at == std::string::npos) return 0;
    const unsigned long long bootSeconds = std::strtoull(stat.c_str() + at + 7, nullptr, 10);
    const long ticksPerSecond = sysconf(_SC_CLK_TCK);
    if (!bootSeconds || ticksPerSecond <= 0) return 0;
    return bootSeconds * 1000000000ull + startTicks * (1000000000ull / static_cast<unsigned long long>(ticksPerSecond));
}

std::string hostName() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

// Path of the shared object holding this code (for CUDA_INJECTION64_PATH checks).
std::string ownLibraryPath() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&ownLibraryPath), &info) && info.dli_fname) return info.dli_fname;
    return {};
}

bool sameFile(const std::string& a, const std::string& b) {
    if (a.empty() || b.empty()) return false;
    char ra[4096], rb[4096];
    if (!realpath(a.c_str(), ra) || !realpath(b.c_str(), rb)) return false;
    return std::strcmp(ra, rb) == 0;
}

void blockSignalsInThisThread() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

// -------------------------------------------------------------------------
// The writer thread: the only thread that decodes, encodes and writes.

struct WriterThread {
    Recorder& r;
    TraceWriter writer;
    ActivityDecoder decoder{writer};
    bool opened = false;
    bool openFailed = false;
    uint64_t reportedDrops = 0;

    // Drops are counted for the life of the process; a new trace (the next
    // attach) reports only its own.
    explicit WriterThread(Recorder& rec) : r(rec), reportedDrops(droppedSoFar()) {}

    uint64_t droppedSoFar() const {
        return r.cuptiDroppedRecords.load(std::memory_order_relaxed) + (r.side ? r.side->dropped() : 0) +
               tensorEventsDropped();
    }

    void open() {
        if (opened || openFailed) return;
        std::string error;
        if (!writer.open(r.outputPath, &error)) {
            openFailed = true;
            {
                std::lock_guard<std::mutex> lock(r.notesMutex);
                r.writerError = error;
            }
            r.traceClosed.store(true, std::memory_order_release);
            printLine(error + "; this process runs without a trace");
            return;
        }
        opened = true;
        ProcessInfo p;
        p.timestampNs = cuptiTimestamp();
        p.wallClockNs = realtimeNs();
        p.pid = static_cast<uint32_t>(r.identity.pid);
        p.hostnameId = writer.intern(r.identity.host);
        p.commandLineId = writer.intern(readCommandLine());
        p.rank = r.config.rank;
        p.localRank = r.config.localRank;
        p.captureStart = r.captureStart;
        p.attachIndex = r.attachIndex;
        p.processStartUnixNs = processStartUnixNs();
        writer.write(p);
        if (r.eagerOpen) commit();  // the live stream starts with the header and this record
        if (!r.config.quiet) printLine("tracing pid " + std::to_string(r.identity.pid) + " into " + r.outputPath);
    }

    // Makes what was written so far visible to the live server: whole chunks only.
    void commit() {
        if (!opened) return;
        writer.flush();
        r.committedBytes.store(writer.bytesWritten(), std::memory_order_release);
    }

    void drainNotes() {
        std::vector<std::pair<int, std::string>> notes;
        {
            std::lock_guard<std::mutex> lock(r.notesMutex);
            notes.swap(r.notes);
        }
        if (notes.empty()) return;
        open();
        for (auto& [severity, text] : notes) {
            Note n;
            n.timestampNs = cuptiTimestamp();
            n.severity = static_cast<Severity>(severity);
            n.textId = writer.intern(text);
            writer.write(n);
        }
    }

    void drainSide() {
        SideEvent e;
        while (r.side->pop(e)) {
            open();
            decoder.handleSide(e);
        }
        // Tensor events from the framework bridge (tensor_events.h).
        drainTensorEvents(writer, [](void* self) { static_cast<WriterThread*>(self)->open(); }, this);
    }

    // Hardware-counter records from the sampler thread (pm_sampler.cpp).
    void drainCounters() {
        CounterQueue* q = counterQueue();
        if (!q) return;
        CounterEvent e;
        while (q->pop(e)) {
            open();
            if (e.kind == CounterEvent::Kind::Info) {
                CounterInfo c;
                c.timestampNs = e.timestampNs;
                c.counterId = e.counterId;
                c.deviceId = e.deviceId;
                c.metric = static_cast<CounterMetric>(e.metric);
                c.source = static_cast<CounterSource>(e.source);
                c.nameId = writer.intern(e.name);
                c.intervalNs = e.intervalNs;
                writer.write(c);
            } else {
                CounterSample c;
                c.timestampNs = e.timestampNs;
                c.counterId = e.counterId;
                c.valueMilli = e.valueMilli;
                writer.write(c);
            }
        }
    }

    void drainBuffers() {
        r.pool->drain([this](uint8_t* buffer, size_t validBytes) {
            if (validBytes == 0) return;
            open();
            decoder.decodeBuffer(buffer, validBytes);
        });
    }

    void reportDrops() {
        uint64_t refused = r.pool->refusedRequests();
        uint64_t total = droppedSoFar();
        if (total == reportedDrops) return;
        open();
        Dropped d;
        d.timestampNs = cuptiTimestamp();
        d.reason = refused ? DropReason::BufferFull : DropReason::CuptiDropped;
        d.count = total - reportedDrops;
        writer.write(d);
        reportedDrops = total;
    }

    void run() {
        // CUPTI hands over a buffer only when it is full or flushed. Flushing
        // CUPTI and then writing a chunk every half interval bounds what a
        // SIGKILL loses to one interval (100 ms by default). Paused alone in
        // GPT-2 small on an H200, the flush every 50 ms cost nothing
        // measurable (step period ratio 0.994, 0.983-1.005).
        const uint64_t periodNs = uint64_t(r.config.flushIntervalMs) * 1000000ull / 2;
        uint64_t lastFlush = monotonicNs();
        if (r.eagerOpen) open();
        while (!r.finalizeRequested.load(std::memory_order_acquire)) {
            sleepMs(5);
            uint64_t now = monotonicNs();
            bool flushNow = r.flushRequested.exchange(false) || now - lastFlush >= periodNs;
            if (r.config.testPauseOffMs) pauseCycle(now);
            if (flushNow && !(r.pausedParts.load(std::memory_order_relaxed) & PauseFlush)) flushCupti(false);
            drainNotes();
            drainSide();
            drainCounters();
            drainBuffers();
            reportDrops();
            if (flushNow) {
                commit();
                lastFlush = now;
            }
        }
        finish();
    }

    // VRAMSCOPE_TEST_PAUSE: capture runs ON ms, then the configured parts
    // pause for OFF ms; each pause is a region of the trace.
    uint64_t pauseMarkNs = 0;
    void pauseCycle(uint64_t now) {
        const uint32_t paused = r.pausedParts.load(std::memory_order_relaxed);
        if (!pauseMarkNs) pauseMarkNs = now;
        const uint64_t elapsedMs = (now - pauseMarkNs) / 1000000ull;
        // The region lies inside the pause: begun once everything is
        // paused, ended before anything resumes.
        if (!paused && elapsedMs >= r.config.testPauseOnMs) {
            pauseCuptiActivities(r.config.testPauseParts, true);
            r.pausedParts.store(r.config.testPauseParts, std::memory_order_seq_cst);
            pushMarker(SideEvent::Kind::Phase, int(PhaseKind::RegionBegin), 0, r.config.testPauseName.c_str());
            pauseMarkNs = now;
        } else if (paused && elapsedMs >= r.config.testPauseOffMs) {
            resumeAll();
            pauseMarkNs = now;
        }
    }
    void resumeAll() {
        if (!r.pausedParts.load(std::memory_order_relaxed)) return;
        pushMarker(SideEvent::Kind::Phase, int(PhaseKind::RegionEnd), 0, r.config.testPauseName.c_str());
        r.pausedParts.store(0, std::memory_order_seq_cst);
        pauseCuptiActivities(r.config.testPauseParts, false);
    }

    // The verbose statistics line (VRAMSCOPE_VERBOSE).
    std::string statsLine() const {
        const DecoderStats& s = decoder.stats();
        char line[512];
        std::snprintf(line, sizeof line,
                      "stats: activity=%llu kernels=%llu driverMemory=%llu poolReserved=%llu memcpy=%llu "
                      "memset=%llu ranges=%llu marks=%llu memInfo=%llu allocFailures=%llu vmmDuplicates=%llu "
                      "unknown=%llu droppedCupti=%llu refusedBuffers=%llu droppedSide=%llu tensorEvents=%llu "
                      "droppedTensorEvents=%llu callsites=%llu",
                      (unsigned long long)s.activityRecords, (unsigned long long)s.kernels,
                      (unsigned long long)s.driverMemory, (unsigned long long)s.poolReserved,
                      (unsigned long long)s.memcpys, (unsigned long long)s.memsets, (unsigned long long)s.ranges,
                      (unsigned long long)s.marks, (unsigned long long)s.memInfo,
                      (unsigned long long)s.allocFailures, (unsigned long long)s.vmmDuplicatesSkipped,
                      (unsigned long long)s.unknownRecords,
                      (unsigned long long)r.cuptiDroppedRecords.load(), (unsigned long long)r.pool->refusedRequests(),
                      (unsigned long long)r.side->dropped(), (unsigned long long)tensorEventsWritten(),
                      (unsigned long long)tensorEventsDropped(), (unsigned long long)callsitesWritten());
        return line;
    }

    void finish() {
        resumeAll();  // the last records of every kind, and the region closed
        flushCupti(true);
        drainNotes();
        drainSide();
        drainCounters();
        drainBuffers();
        reportDrops();
        uint64_t endNs = decoder.stats().lastTimestampNs;
        decoder.finish(endNs ? endNs : cuptiTimestamp());
        if (!opened && r.isRoot && r.outputExplicit) {
            open();
            Note n;
            n.timestampNs = cuptiTimestamp();
            n.severity = Severity::Info;
            n.textId = writer.intern(
                "this process created no CUDA context, so its trace is empty; processes it started write their "
                "own traces beside this file (<name>.<host>.<pid>[.rank<R>].vtrace)");
            writer.write(n);
        }
        // Attached, nothing goes to the job's stderr: the statistics go into
        // this trace, before its footer.
        const bool attached = r.captureStart == CaptureStart::Attach;
        if (r.config.verbose && attached && opened) {
            addNote(int(Severity::Info), statsLine());
            drainNotes();
        }
        if (opened) {
            uint64_t events = writer.eventsWritten();
            bool ok = writer.close();
            r.committedBytes.store(writer.bytesWritten(), std::memory_order_release);
            if (!ok) {
                std::lock_guard<std::mutex> lock(r.notesMutex);
                r.writerError = writer.error();
            }
            if (!ok) printLine(r.outputPath + ": " + writer.error());
            else if (!r.config.quiet)
                printLine("wrote " + r.outputPath + " (" + std::to_string(events) + " records)");
        }
        r.traceClosed.store(true, std::memory_order_release);
        if (r.config.verbose && !attached) printLine(statsLine());
    }
};

void* writerMain(void*) {
    blockSignalsInThisThread();
    Recorder& r = recorder();
    try {
        auto* w = new WriterThread(r);  // never deleted: the process may be exiting under it
        w->run();
    } catch (...) {
        printLine("the trace writer failed; the trace may lack its footer");
    }
    r.writerRunning.store(false, std::memory_order_release);
    r.finalizeDone.store(true, std::memory_order_release);
    return nullptr;
}

// -------------------------------------------------------------------------
// The sampler thread: device memory used/free every memInfoIntervalMs.
//
// cuMemGetInfo needs a current context. The sampler retains the device's
// primary context only when it is already active (the application created
// it: cudart and PyTorch use primary contexts), so it never creates one.
void* samplerMain(void*) {
    blockSignalsInThisThread();
    Recorder& r = recorder();
    void* retained[kMaxDevices] = {};
    const uint32_t interval = r.config.memInfoIntervalMs;
    uint32_t waited = 0;
    while (!r.samplerStop.load(std::memory_order_acquire)) {
        sleepMs(5);
        waited += 5;
        if (waited < interval) continue;
        waited = 0;
        if (r.pausedParts.load(std::memory_order_relaxed) & PauseMemInfo) continue;
        uint64_t devices = r.devicesSeen.load(std::memory_order_acquire);
        for (int d = 0; d < kMaxDevices && devices; ++d) {
            if (!(devices & (1ull << d))) continue;
            devices &= ~(1ull << d);
            int dev = 0;
            if (r.driver.deviceGet(&dev, d) != 0) continue;
            unsigned flags = 0;
            int active = 0;
            if (r.driver.primaryCtxGetState(dev, &flags, &active) != 0 || !active) continue;
            if (!retained[d] && r.driver.primaryCtxRetain(&retained[d], dev) != 0) {
                retained[d] = nullptr;
                continue;
            }
            if (r.driver.ctxSetCurrent(retained[d]) != 0) continue;
            sampleDeviceMemory(static_cast<uint32_t>(d));
        }
    }
    r.samplerRunning.store(false, std::memory_order_release);
    return nullptr;
}

bool startThread(void* (*main)(void*)) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, main, nullptr);
    pthread_attr_destroy(&attr);
    return rc == 0;
}

// -------------------------------------------------------------------------
// A trace for a process where capture could not start: header, ProcessInfo,
// the reason as a Note, footer. Written at exit by the root process only, so
// `vramscope record` can say why the trace is empty.
void writeEmptyTrace(Recorder& r, Severity severity, const std::string& why) {
    if (!r.isRoot || !r.outputExplicit || r.outputPath.empty()) return;
    TraceWriter w;
    if (!w.open(r.outputPath, nullptr)) return;
    uint64_t now = realtimeNs();  // CUPTI's clock may be unavailable here
    ProcessInfo p;
    p.timestampNs = now;
    p.wallClockNs = now;
    p.pid = static_cast<uint32_t>(r.identity.pid);
    p.hostnameId = w.intern(r.identity.host);
    p.commandLineId = w.intern(readCommandLine());
    p.rank = r.config.rank;
    p.localRank = r.config.localRank;
    w.write(p);
    Note n;
    n.timestampNs = now;
    n.severity = severity;
    n.textId = w.intern(why);
    w.write(n);
    w.close();
}

// -------------------------------------------------------------------------
// Signals: SIGINT/SIGTERM finish the trace (footer) before the process dies.

struct sigaction previousActions[NSIG];
bool handlerInstalled[NSIG] = {};
std::atomic<bool> inSignalHandler{false};

void waitFlag(const std::atomic<bool>& flag, uint32_t maxMs) {
    for (uint32_t i = 0; i < maxMs && !flag.load(std::memory_order_acquire); ++i) {
        timespec ts{0, 1000000L};
        nanosleep(&ts, nullptr);  // async-signal-safe
    }
}

void onTerminatingSignal(int sig, siginfo_t* info, void* context) {
    int savedErrno = errno;
    Recorder& r = recorder();
    const struct sigaction& prev = previousActions[sig];
    bool previousIsDefault = !(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_DFL;
    if (getpid() == r.ownerPid && stateOf(r) == RecorderState::Active && !inSignalHandler.exchange(true)) {
        if (previousIsDefault) {
            // The process is about to die: let the writer thread (signals
            // blocked there) flush CUPTI and write the footer. Bounded wait:
            // if this thread holds a lock CUPTI needs, we give up after 3 s
            // and the trace is still readable up to its last chunk.
            r.samplerStop.store(true);
            r.finalizeRequested.store(true, std::memory_order_release);
            waitFlag(r.finalizeDone, 3000);
            r.state.store(static_cast<int>(RecorderState::Finished));
        } else {
            r.flushRequested.store(true);  // the application handles it and may go on
        }
        inSignalHandler.store(false);
    }
    errno = savedErrno;
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler == SIG_DFL) {
        sigaction(sig, &prev, nullptr);  // restore the default and re-raise:
        raise(sig);                      // delivered when this handler returns
    } else if (prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
    }
}

void installSignalHandlers() {
    for (int sig : {SIGINT, SIGTERM}) {
        struct sigaction current {};
        if (sigaction(sig, nullptr, &current) != 0) continue;
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) continue;  // ignored: keep it so
        struct sigaction ours {};
        ours.sa_sigaction = onTerminatingSignal;
        ours.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&ours.sa_mask);
        previousActions[sig] = current;
        if (sigaction(sig, &ours, nullptr) == 0) handlerInstalled[sig] = true;
    }
}

// -------------------------------------------------------------------------
// fork: the child gets a copy of our memory but none of our threads, and
// CUPTI's state in it is not usable. A child of an Active parent therefore
// runs untraced (callbacks see ForkedOff and return at once; its exit
// handler sees a foreign ownerPid). A child of a parent that had not started
// capture yet (deferred to cuInit) initializes on its own, into its own file.
// After a detach: our handlers go, the application's come back, unless
// someone installed another handler over ours meanwhile (then it stays, and
// ours is never called again since the state is no longer Active).
void restoreSignalHandlers() {
    for (int sig = 0; sig < NSIG; ++sig) {
        if (!handlerInstalled[sig]) continue;
        struct sigaction current {};
        if (sigaction(sig, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
            current.sa_sigaction == onTerminatingSignal)
            sigaction(sig, &previousActions[sig], nullptr);
        handlerInstalled[sig] = false;
    }
}

void onForkChild() {
    Recorder& r = recorder();
    int s = r.state.load();
    if (s == static_cast<int>(RecorderState::Active)) r.state.store(static_cast<int>(RecorderState::ForkedOff));
    for (int sig = 0; sig < NSIG; ++sig)
        if (handlerInstalled[sig]) {  // our handler must not act for the child
            sigaction(sig, &previousActions[sig], nullptr);
            handlerInstalled[sig] = false;
        }
}

void onExit() { shutdown("exit"); }

// Called pre-main from the constructor only, where setenv is safe. CUPTI
// implements NVTX injection itself (InitializeInjectionNvtx2); the NVTX
// loader reads the variable at the program's first NVTX call.
void exportNvtxInjection(const Recorder& r) {
    if (!r.config.nvtx || getenv("NVTX_INJECTION64_PATH")) return;
    std::string cupti = cuptiLibraryPath();
    if (!cupti.empty()) setenv("NVTX_INJECTION64_PATH", cupti.c_str(), 0);
}

// Before an attach's trace begins: what the last capture left queued after
// its footer (tensor events of its last instants, buffers CUPTI completed
// while it was finalised) belongs to no trace. Nothing pushes meanwhile:
// the state is not Active and CUPTI is not subscribed.
void discardLeftovers(Recorder& r) {
    if (r.pool) r.pool->drain([](uint8_t*, size_t) {});
    SideEvent e;
    if (r.side)
        while (r.side->pop(e)) {}
    discardTensorEvents();
    if (CounterQueue* q = counterQueue()) {
        CounterEvent c;
        while (q->pop(c)) {}
    }
}

std::atomic<int> preparedPid{0};
std::atomic<bool> initializing{false};
std::atomic<bool> forkHandlerRegistered{false};
std::atomic<bool> exitHandlerRegistered{false};

// Per-process settings: cheap, no CUDA. Runs again in a forked child.
void prepare(EntryPath path, std::vector<std::string>* warnings) {
    Recorder& r = recorder();
    int pid = static_cast<int>(getpid());
    if (preparedPid.load() == pid) return;
    r.config = configFromEnvironment(warnings);
    r.identity.pid = pid;
    r.identity.host = hostName();
    r.identity.rank = r.config.rank;
    r.ownerPid = pid;
    r.isRoot = r.config.rootPid < 0 || r.config.rootPid == pid;
    r.outputExplicit = !r.config.output.empty();
    if (path == EntryPath::Preload) {
        // Pre-main and single-threaded: the one moment setenv is safe. Children
        // inherit both, so exec'd workers know they are not the root and
        // NVTX calls reach CUPTI.
        if (r.config.rootPid < 0) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%d", pid);
            setenv("VRAMSCOPE_ROOT_PID", buf, 1);
        }
    }
    r.outputPath = resolveOutputPathOnDisk(r.config.output, r.identity, r.isRoot);
    preparedPid.store(pid);
}

}  // namespace

bool namedAtStartup() {
    const std::string own = ownLibraryPath();
    if (const char* injection = getenv("CUDA_INJECTION64_PATH"); injection && sameFile(injection, own)) return true;
    const char* preload = getenv("LD_PRELOAD");
    if (!preload) return false;
    const std::string ownName = own.substr(own.find_last_of('/') + 1);
    // ld.so splits LD_PRELOAD on spaces and colons; a bare name is searched
    // for on the library path.
    std::string entry;
    for (const char* p = preload;; ++p) {
        if (*p && *p != ':' && *p != ' ') {
            entry += *p;
            continue;
        }
        if (!entry.empty() && (sameFile(entry, own) || (entry.find('/') == std::string::npos && entry == ownName)))
            return true;
        entry.clear();
        if (!*p) return false;
    }
}

Recorder& recorder() {
    static Recorder* r = new Recorder;  // never destroyed: callbacks may run during exit
    return *r;
}

// Attached to someone else's running job, the library writes nothing on the
// job's stderr (it may be a log, a closed descriptor or a pipe whose reader
// is gone): its lines go into the trace and to `vramscope attach` instead.
namespace {
std::atomic<bool> silentLines{false};
}  // namespace

void printLine(const std::string& text) {
    if (silentLines.load(std::memory_order_relaxed)) {
        addNote(static_cast<int>(Severity::Warning), text);
        return;
    }
    std::string line = "vramscope: " + text + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

void addNote(int severity, const std::string& text) {
    Recorder& r = recorder();
    std::lock_guard<std::mutex> lock(r.notesMutex);
    if (r.notes.size() < 256) r.notes.emplace_back(severity, text);
}

bool sampleDeviceMemory(uint32_t device) {
    Recorder& r = recorder();
    size_t freeBytes = 0, totalBytes = 0;
    if (!r.side || r.driver.memGetInfo(&freeBytes, &totalBytes) != 0) return false;
    if (device < kMaxDevices) r.lastFreeBytes[device].store(freeBytes, std::memory_order_relaxed);
    SideEvent e;
    e.kind = SideEvent::Kind::MemInfo;
    e.timestampNs = cuptiTimestamp();
    e.deviceId = device;
    e.freeBytes = freeBytes;
    e.usedBytes = totalBytes >= freeBytes ? totalBytes - freeBytes : 0;
    return r.side->push(e);
}

void pushMarker(SideEvent::Kind kind, int phaseKind, uint64_t step, const char* text) {
    Recorder& r = recorder();
    if (stateOf(r) != RecorderState::Active || !r.side) return;
    SideEvent e;
    e.kind = kind;
    e.phaseKind = static_cast<uint8_t>(phaseKind);
    e.bytes = step;
    e.timestampNs = cuptiTimestamp();
    if (text) {
        size_t n = strnlen(text, sizeof e.deviceName - 1);
        std::memcpy(e.deviceName, text, n);
    }
    r.side->push(e);
}

bool startThreads() {
    Recorder& r = recorder();
    r.writerRunning.store(true);
    if (!startThread(writerMain)) {
        r.writerRunning.store(false);
        return false;
    }
    startCounterSampler(r);  // off unless VRAMSCOPE_COUNTERS allows; failures only turn it off
    if (r.config.memInfoIntervalMs > 0) {
        r.samplerRunning.store(true);
        if (!startThread(samplerMain)) r.samplerRunning.store(false);
    }
    return true;
}

void initialize(EntryPath path) {
    try {
        Recorder& r = recorder();
        if (!forkHandlerRegistered.exchange(true)) pthread_atfork(nullptr, nullptr, onForkChild);
        std::vector<std::string> warnings;
        prepare(path, &warnings);
        for (const auto& w : warnings) printLine(w);
        if (stateOf(r) != RecorderState::Uninitialized) return;
        if (!r.config.enabled) return;
        if (path == EntryPath::Preload) {
            // With CUDA_INJECTION64_PATH naming this library too, start inside
            // cuInit instead: processes that never use CUDA (shells, launchers)
            // then never load CUPTI, and a fork before cuInit can still trace.
            const char* injection = getenv("CUDA_INJECTION64_PATH");
            if (injection && sameFile(injection, ownLibraryPath())) {
                exportNvtxInjection(r);
                // If cuInit never comes, the root still leaves a trace saying so.
                if (r.isRoot && r.outputExplicit && !exitHandlerRegistered.exchange(true)) atexit(onExit);
                return;
            }
        }
        if (initializing.exchange(true)) return;
        if (!exitHandlerRegistered.exchange(true)) atexit(onExit);
        std::string error;
        bool ok = r.config.testWithoutCupti || r.driver.load(&error);
        if (!ok) {
            r.failure = error;
        } else {
            r.pool = new BufferPool(size_t(r.config.bufferMegabytes) << 20, size_t(r.config.cuptiBufferKilobytes) << 10);
            r.side = new SideQueue;
            if (r.config.testWithoutCupti) r.config.memInfoIntervalMs = 0;  // no driver to ask
            else ok = r.cuptiStarted = startCupti();  // sets r.failure
        }
        if (ok && !startThreads()) {
            ok = false;
            r.failure = "could not start the trace writer thread";
        }
        if (!ok) {
            r.state.store(static_cast<int>(RecorderState::Failed));
            // One line per job, not per process: a shell or launcher under
            // LD_PRELOAD may start dozens of processes. Pre-main (constructor),
            // setenv is safe and the children inherit the mark.
            bool alreadyWarned = getenv("VRAMSCOPE_WARNED") != nullptr;
            if (!alreadyWarned || r.config.verbose) printLine(r.failure + "; the program runs without GPU tracing");
            if (path == EntryPath::Preload && !alreadyWarned) setenv("VRAMSCOPE_WARNED", "1", 1);
            initializing.store(false);
            return;
        }
        for (const auto& w : warnings) addNote(static_cast<int>(Severity::Warning), w);
        if (r.config.testPauseOffMs)
            addNote(static_cast<int>(Severity::Warning),
                    "VRAMSCOPE_TEST_PAUSE: every " + std::to_string(r.config.testPauseOnMs) + " ms of capture, " +
                        r.config.testPauseName + " for " + std::to_string(r.config.testPauseOffMs) +
                        " ms (a cost measurement: those records are missing in the pauses)");
        r.state.store(static_cast<int>(RecorderState::Active), std::memory_order_release);
        installSignalHandlers();
        if (path == EntryPath::Preload) exportNvtxInjection(r);
        initializing.store(false);
    } catch (...) {
        printLine("initialization failed; the program runs without GPU tracing");
        recorder().state.store(static_cast<int>(RecorderState::Failed));
    }
}

bool startAttachedCapture(const InjectorConfig& config, std::string* error) {
    Recorder& r = recorder();
    const RecorderState s = stateOf(r);
    if (s == RecorderState::Active) {
        *error = "this process is already being traced by vramscope into " + r.outputPath;
        return false;
    }
    if (s == RecorderState::ForkedOff) {
        *error = "this process was forked from a traced one; vramscope cannot trace it";
        return false;
    }
    if (initializing.exchange(true)) {
        *error = "another attach is starting in this process";
        return false;
    }
    try {
        if (!forkHandlerRegistered.exchange(true)) pthread_atfork(nullptr, nullptr, onForkChild);
        silentLines.store(true);
        const int pid = static_cast<int>(getpid());
        r.config = config;
        r.config.quiet = true;
        r.identity.pid = pid;
        r.identity.host = hostName();
        r.identity.rank = config.rank;
        r.ownerPid = pid;
        r.isRoot = true;
        r.outputExplicit = true;
        r.outputPath = config.output;  // absolute, named by the user: no per-process suffix
        preparedPid.store(pid);
        r.captureStart = CaptureStart::Attach;
        if (++r.attachIndex > 1) replayCallsites();
        r.eagerOpen = true;
        r.failure.clear();
        {
            std::lock_guard<std::mutex> lock(r.notesMutex);
            r.writerError.clear();
            r.notes.clear();  // whatever came after the last trace's footer is not this trace's
        }
        r.finalizeRequested.store(false);
        r.finalizeDone.store(false);
        r.flushRequested.store(false);
        r.samplerStop.store(false);
        r.pausedParts.store(0);
        r.committedBytes.store(0);
        r.traceClosed.store(false);
        discardLeftovers(r);
        bool ok = r.config.testWithoutCupti || r.driver.loaded() || r.driver.load(&r.failure);
        if (ok) {
            if (!r.pool)
                r.pool = new BufferPool(size_t(r.config.bufferMegabytes) << 20, size_t(r.config.cuptiBufferKilobytes) << 10);
            if (!r.side) r.side = new SideQueue;
            if (r.config.testWithoutCupti) r.config.memInfoIntervalMs = 0;
            else ok = r.cuptiStarted = startCupti();
        }
        // State first: the running contexts' descriptions go through the
        // side queue, which refuses nothing, but callbacks check Active.
        if (ok) {
            r.state.store(static_cast<int>(RecorderState::Active), std::memory_order_release);
            if (r.cuptiStarted) seedRunningContexts();
            resetCounterSampler();
            if (!startThreads()) {
                r.state.store(static_cast<int>(RecorderState::Failed), std::memory_order_release);
                if (r.cuptiStarted) detachCupti();
                r.failure = "could not start the trace writer thread";
                ok = false;
            }
        }
        if (!ok) {
            if (stateOf(r) != RecorderState::Failed) r.state.store(static_cast<int>(RecorderState::Failed));
            *error = r.failure;
            initializing.store(false);
            return false;
        }
        if (!exitHandlerRegistered.exchange(true)) atexit(onExit);
        installSignalHandlers();
        initializing.store(false);
        return true;
    } catch (...) {
        *error = "out of memory while starting capture";
        recorder().state.store(static_cast<int>(RecorderState::Failed));
        initializing.store(false);
        return false;
    }
}

namespace {

// The end of a capture, at exit or at a detach: the samplers stop, the
// writer flushes CUPTI and writes the footer. Bounded: a writer stuck in
// CUPTI must not hang the exit or the detach.
void finishCapture(Recorder& r) {
    r.samplerStop.store(true, std::memory_order_release);
    for (int i = 0; i < 1000 && r.samplerRunning.load(); ++i) sleepMs(1);
    stopCounterSampler();
    r.finalizeRequested.store(true, std::memory_order_release);
    for (int i = 0; i < 10000 && !r.finalizeDone.load(std::memory_order_acquire); ++i) sleepMs(1);
    r.state.store(static_cast<int>(RecorderState::Finished), std::memory_order_release);
}

}  // namespace

std::string stopAttachedCapture() {
    Recorder& r = recorder();
    static std::atomic<bool> stopping{false};
    if (stateOf(r) != RecorderState::Active || stopping.exchange(true)) return {};
    std::string how;
    try {
        finishCapture(r);
        restoreSignalHandlers();
        if (r.cuptiStarted) {
            r.cuptiStarted = false;  // cuptiTimestamp must not wake CUPTI up again
            how = detachCupti();
        }
    } catch (...) {
    }
    stopping.store(false);
    return how;
}

void shutdown(const char* why) {
    (void)why;
    try {
        Recorder& r = recorder();
        if (static_cast<int>(getpid()) != r.ownerPid) return;
        static std::atomic<bool> done{false};
        RecorderState s = stateOf(r);
        if (s == RecorderState::Failed) {
            if (!done.exchange(true))
                writeEmptyTrace(r, Severity::Error, "the trace is empty because capture could not start: " + r.failure);
            return;
        }
        if (s == RecorderState::Uninitialized) {
            if (!done.exchange(true))
                writeEmptyTrace(r, Severity::Info,
                                "this process never initialized CUDA (cuInit was not called), so its trace is empty; "
                                "processes it started write their own traces beside this file "
                                "(<name>.<host>.<pid>[.rank<R>].vtrace)");
            return;
        }
        if (s != RecorderState::Active || done.exchange(true)) return;
        finishCapture(r);
    } catch (...) {
    }
}

}  // namespace vramscope::inject
