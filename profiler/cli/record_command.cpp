// `vramscope record`: environment for the injector, fork/exec, signal
// forwarding, then a summary read back from the trace. No Qt here: the same
// file builds the Qt-free `vramscope-record` tool for GPU machines.
#include "record_command.h"

#include <format/input_file.h>
#include <format/output_file.h>
#include <format/chunk_pipeline.h>
#include <format/reader.h>
#include <format/saturating.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <map>
#include <vector>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace vramscope::cli {

namespace {

constexpr const char* kLibraryName = "libvramscope_inject.so";

bool isFile(const std::string& path) {
    struct stat st {};
    return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool isDirectory(const std::string& path) {
    struct stat st {};
    return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string dirName(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string absolutePath(const std::string& path) {
    char buf[PATH_MAX];
    if (realpath(path.c_str(), buf)) return buf;
    return path;
}

std::string selfExecutable(const RecordOptions& o) {
    if (!o.selfPath.empty()) return absolutePath(o.selfPath);
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = 0;
    return buf;
}

std::string humanBytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) { bytes /= 1024; ++u; }
    char buf[64];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
    return buf;
}

// Signals arriving at `vramscope record` while the command runs.
std::atomic<pid_t> childPid{0};
struct sigaction previous[NSIG];

void forwardSignal(int sig, siginfo_t* info, void*) {
    pid_t child = childPid.load();
    if (child <= 0) return;
    // Ctrl-C / terminal signals reach the whole foreground process group, so
    // the child already has it: forwarding would deliver it twice. Forward
    // only what was sent to us alone (kill, timeout, a job scheduler).
    if (info && info->si_code == SI_KERNEL) return;
    kill(child, sig);
}

void installForwarding() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
        struct sigaction sa {};
        sa.sa_sigaction = forwardSignal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, &previous[sig]);
    }
}

void restoreSignals() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(sig, &previous[sig], nullptr);
}

// Writes the decimal value of v into buf (async-signal-safe, for the child).
void formatPid(char* buf, size_t size, long v) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = char('0' + v % 10); v /= 10; } while (v > 0 && n < 23);
    size_t i = 0;
    while (n > 0 && i + 1 < size) buf[i++] = tmp[--n];
    buf[i] = 0;
}

// "%p" → pid, as the injector expands it (output_naming.cpp).
std::string expandPid(const std::string& pattern, pid_t pid) {
    std::string out;
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'p') {
            out += std::to_string(pid);
            ++i;
        } else {
            out += pattern[i];
        }
    }
    return out;
}

// Traces written by other processes of the job next to the root trace:
// <base>.<host>.<pid>[.rank<R>].vtrace modified since the command started.
std::vector<std::string> siblingTraces(const std::string& rootTrace, time_t since) {
    std::vector<std::string> out;
    std::string dir = dirName(rootTrace), base = baseName(rootTrace);
    if (base.size() > 7 && base.compare(base.size() - 7, 7, ".vtrace") == 0) base.resize(base.size() - 7);
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() <= base.size() + 8 || name.compare(0, base.size() + 1, base + ".") != 0) continue;
        if (name.compare(name.size() - 7, 7, ".vtrace") != 0) continue;
        std::string path = dir == "." ? name : dir + "/" + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && st.st_mtime >= since && path != rootTrace) out.push_back(path);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// Traces in a directory output, modified since the command started.
std::vector<std::string> tracesInDirectory(const std::string& dir, time_t since) {
    std::vector<std::string> out;
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() < 8 || name.compare(name.size() - 7, 7, ".vtrace") != 0) continue;
        std::string path = dir + "/" + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && st.st_mtime >= since) out.push_back(path);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::string findPythonDir(const RecordOptions& o) {
    if (const char* env = getenv("VRAMSCOPE_PYTHON_PATH"); env) return *env ? absolutePath(env) : std::string();
    // The directory holding the vramscope package: installed under
    // share/vramscope/python, or python/ of the source tree above the build
    // directory the binary sits in (build/profiler/cli, build-gpu/injector).
    std::string binDir = dirName(selfExecutable(o));
    std::vector<std::string> candidates = {binDir + "/../share/vramscope/python"};
    std::string up = binDir;
    for (int i = 0; i < 4; ++i) {
        up += "/..";
        candidates.push_back(up + "/python");
    }
#ifdef VRAMSCOPE_SOURCE_DIR
    candidates.push_back(std::string(VRAMSCOPE_SOURCE_DIR) + "/python");  // build trees elsewhere
#endif
    for (const auto& c : candidates)
        if (isFile(c + "/vramscope/__init__.py") && isFile(c + "/vramscope/_boot/sitecustomize.py")) return absolutePath(c);
    return {};
}

std::string findInjector(const RecordOptions& o, std::string* searched) {
    std::vector<std::string> candidates;
    if (!o.injectorPath.empty()) candidates.push_back(o.injectorPath);
    else if (const char* env = getenv("VRAMSCOPE_INJECTOR"); env && *env) candidates.push_back(env);
    else {
        std::string binDir = dirName(selfExecutable(o));
        candidates.push_back(binDir + "/" + kLibraryName);                           // next to it
        candidates.push_back(binDir + "/../injector/" + kLibraryName);               // build tree (vramscope-record)
        candidates.push_back(binDir + "/../../injector/" + kLibraryName);            // build tree (profiler/cli/vramscope)
        candidates.push_back(binDir + "/../lib/vramscope/" + kLibraryName);          // installed
        candidates.push_back(binDir + "/../lib64/vramscope/" + kLibraryName);
        candidates.push_back(binDir + "/../lib/x86_64-linux-gnu/vramscope/" + kLibraryName);
    }
    for (const auto& c : candidates)
        if (isFile(c)) return absolutePath(c);
    if (searched) {
        searched->clear();
        for (const auto& c : candidates) *searched += (searched->empty() ? "" : ", ") + c;
    }
    return {};
}

// One pass over the chunks as they decode (format/chunk_pipeline.h): what is
// held is the live allocations, the pools and the strings, never the
// records, so the summary of a day-long recording needs no more memory than
// that of a minute.
bool summarizeTrace(const std::string& path, std::string* text, std::string* error) {
    using namespace vramscope::format;
    TraceReader reader;
    if (!reader.open(path, error)) return false;
    uint64_t first = UINT64_MAX, last = 0;
    auto span = [&](uint64_t a, uint64_t b) { first = std::min(first, a); last = std::max(last, b); };
    uint64_t events = 0, kernels = 0, copies = 0, ranges = 0, failures = 0, dropped = 0, peakUsed = 0;
    std::map<uint32_t, std::string> strings;
    std::vector<uint32_t> notes;
    // Driver-level reserved memory: plain allocations + VMM physical memory +
    // stream-ordered pools (their reserved size where CUPTI reported it: a
    // pool's size applies from its time on, even when it arrives in a later chunk).
    std::map<uint64_t, uint64_t> live, poolReserved;
    std::vector<PoolReserved> pools;  // not yet applied, in file order
    size_t pi = 0;
    int64_t device = 0, vmm = 0, poolAllocs = 0, poolTotal = 0, peak = 0;
    uint64_t allocations = 0;
    decodeChunksInOrder(reader, 0, [&](size_t, const DecodedChunk& t, bool ok, const std::string&) {
        if (!ok) return true;  // a damaged chunk: its events are not counted
        events += t.events;
        kernels += t.get<Kernel>().size();
        copies += t.get<Memcpy>().size();
        ranges += t.get<Range>().size();
        failures += t.get<AllocFailure>().size();
        for (const auto& d : t.get<StringDef>()) strings[d.id] = d.text;
        for (const auto& n : t.get<Note>()) notes.push_back(n.textId);
        for (const auto& d : t.get<Dropped>()) dropped = saturatingAdd(dropped, d.count);
        for (const auto& k : t.get<Kernel>()) span(k.startNs, k.endNs);
        for (const auto& m : t.get<DriverMemory>()) span(m.timestampNs, m.timestampNs);
        for (const auto& m : t.get<MemInfo>()) {
            span(m.timestampNs, m.timestampNs);
            peakUsed = std::max(peakUsed, m.usedBytes);
        }
        for (const auto& r : t.get<Range>()) span(r.startNs, r.endNs);
        pools.erase(pools.begin(), pools.begin() + static_cast<ptrdiff_t>(pi));
        pi = 0;
        pools.insert(pools.end(), t.get<PoolReserved>().begin(), t.get<PoolReserved>().end());
        for (const auto& m : t.get<DriverMemory>()) {
            while (pi < pools.size() && pools[pi].timestampNs <= m.timestampNs) {
                poolTotal += int64_t(pools[pi].reservedBytes) - int64_t(poolReserved[pools[pi].poolAddress]);
                poolReserved[pools[pi].poolAddress] = pools[pi].reservedBytes;
                ++pi;
            }
            bool isPool = m.kind == MemoryKind::Pool;
            const bool opens = m.op == DriverMemoryOp::Alloc || m.op == DriverMemoryOp::Existing;
            if (opens && (m.kind == MemoryKind::Device || isPool)) {
                allocations += m.op == DriverMemoryOp::Alloc;
                live[m.address] = m.bytes;
                (isPool ? poolAllocs : device) += int64_t(m.bytes);
            } else if (m.op == DriverMemoryOp::Free) {
                auto it = live.find(m.address);
                if (it != live.end()) {
                    (isPool ? poolAllocs : device) -= int64_t(it->second);
                    live.erase(it);
                }
            } else if (m.op == DriverMemoryOp::VmmCreate) {
                ++allocations;
                vmm += int64_t(m.bytes);
            } else if (m.op == DriverMemoryOp::VmmRelease) {
                vmm -= int64_t(m.bytes);
            }
            // Without pool sizes poolTotal stays 0: the pools count what is allocated from them.
            peak = std::max(peak, device + vmm + std::max(poolTotal, poolAllocs));
        }
        return true;
    });
    char buf[1024];
    double seconds = last > first ? double(last - first) / 1e9 : 0.0;
    std::snprintf(buf, sizeof buf,
                  "  %.3f s, %" PRIu64 " events: %" PRIu64 " kernels, %" PRIu64 " allocations, %" PRIu64
                  " copies, %" PRIu64 " NVTX ranges\n"
                  "  peak reserved %s (driver allocations)%s%s\n",
                  seconds, events, kernels, allocations, copies, ranges, humanBytes(double(peak)).c_str(),
                  peakUsed ? ", peak device memory used " : "", peakUsed ? humanBytes(double(peakUsed)).c_str() : "");
    *text = buf;
    if (failures) *text += "  " + std::to_string(failures) + " failed allocation(s) (out of memory)\n";
    for (uint32_t id : notes) {
        auto it = strings.find(id);
        *text += "  note: " + (it == strings.end() ? std::string() : it->second) + "\n";
    }
    if (dropped) *text += "  " + std::to_string(dropped) + " events were dropped during capture\n";
    if (reader.truncated()) *text += "  the trace is cut off (no footer): the process was killed\n";
    return true;
}

std::map<std::string, std::string> captureEnvironment(const RecordOptions& o) {
    std::map<std::string, std::string> set;
    if (o.bufferMegabytes) set["VRAMSCOPE_BUFFER_MB"] = std::to_string(o.bufferMegabytes);
    if (o.memInfoIntervalMs >= 0) set["VRAMSCOPE_MEMINFO_MS"] = std::to_string(o.memInfoIntervalMs);
    if (!o.kernels) set["VRAMSCOPE_KERNELS"] = "0";
    if (o.launchTimes) set["VRAMSCOPE_LAUNCH_TIMES"] = "1";
    if (!o.counters.empty()) set["VRAMSCOPE_COUNTERS"] = o.counters;
    if (o.counterIntervalUs) set["VRAMSCOPE_COUNTER_INTERVAL_US"] = std::to_string(o.counterIntervalUs);
    if (!o.counterDuty.empty()) set["VRAMSCOPE_COUNTER_DUTY"] = o.counterDuty;
    if (!o.copies) set["VRAMSCOPE_COPIES"] = "0";
    if (!o.nvtx) set["VRAMSCOPE_NVTX"] = "0";
    if (!o.callbacks) set["VRAMSCOPE_CALLBACKS"] = "0";
    if (o.pythonStacks >= 0) set["VRAMSCOPE_PYTHON_STACKS"] = o.pythonStacks ? "1" : "0";
    if (o.pythonStackDepth > 0) set["VRAMSCOPE_PYTHON_STACK_DEPTH"] = std::to_string(o.pythonStackDepth);
    if (o.quiet) set["VRAMSCOPE_QUIET"] = "1";
    if (o.verbose) set["VRAMSCOPE_VERBOSE"] = "1";
    return set;
}

namespace {

// Where execvp() finds the program: itself when it has a '/', else the first
// executable of that name on $PATH.
std::string programFile(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (size_t start = 0; start <= dirs.size();) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = (end > start ? dirs.substr(start, end - start) : std::string(".")) + "/" + program;
        if (isFile(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

}  // namespace

bool checkRecordingOutput(const std::string& output, const std::vector<std::string>& command, bool* replacing,
                          std::string* error) {
    *replacing = false;
    if (output.find('%') != std::string::npos) return true;  // a name per process, made later
    struct stat st {};
    if (::stat(output.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return true;  // new, a folder, or a device
    std::vector<std::string> files(command.begin(), command.end());
    if (!command.empty()) files.push_back(programFile(command[0]));
    for (const std::string& file : files) {
        if (!file.empty() && format::sameFile(output, file)) {
            *error = output + " is the same file as " + file +
                     " (named in the command); recording into it would destroy it, choose another -o FILE";
            return false;
        }
    }
    // An earlier recording (or an empty file) is replaced; anything else is
    // someone's data that a slip in -o must not destroy.
    static constexpr char kTraceMagic[8] = {'V', 'R', 'A', 'M', 'S', 'C', 'O', 'P'};  // docs/trace-format.md
    char head[sizeof kTraceMagic] = {};
    ssize_t n = 0;
    if (const int fd = format::openRegularFile(output, nullptr); fd >= 0) {
        n = ::read(fd, head, sizeof head);
        ::close(fd);
    }
    if (st.st_size == 0 || (n == ssize_t(sizeof head) && std::memcmp(head, kTraceMagic, sizeof head) == 0)) {
        *replacing = st.st_size > 0;
        return true;
    }
    *error = output + " exists and is not a vramscope trace; a recording would overwrite it (remove it first, or "
                      "choose another -o FILE)";
    return false;
}

int runRecord(const RecordOptions& o, std::vector<std::string> command) {
    if (command.empty()) {
        std::fprintf(stderr, "vramscope record: no command given (usage: vramscope record [-o FILE] -- CMD ARGS...)\n");
        return 2;
    }
    std::string searched;
    std::string injector = findInjector(o, &searched);
    if (injector.empty()) {
        std::fprintf(stderr,
                     "vramscope record: cannot find %s (looked in %s); set VRAMSCOPE_INJECTOR or pass --injector\n",
                     kLibraryName, searched.c_str());
        return 125;
    }

    // The output: an explicit path, or vramscope.<program>.%p.vtrace (the
    // injector expands %p to the root process's pid, which is the child's).
    std::string output = o.output;
    if (output.empty()) output = "vramscope." + baseName(command[0]) + ".%p.vtrace";
    bool outputIsDirectory = isDirectory(output) || output.back() == '/';
    bool replacing = false;
    std::string refusal;
    if (!outputIsDirectory && !checkRecordingOutput(output, command, &replacing, &refusal)) {
        std::fprintf(stderr, "vramscope record: %s\n", refusal.c_str());
        return 2;
    }
    if (replacing && !o.quiet) std::fprintf(stderr, "vramscope record: replacing the earlier recording %s\n", output.c_str());
    if (outputIsDirectory && !isDirectory(output)) ::mkdir(output.c_str(), 0755);

    // The child's environment, built before fork: after fork only
    // async-signal-safe work is allowed (the CLI may have threads).
    std::map<std::string, std::string> set;
    std::string preload = injector;
    if (const char* p = getenv("LD_PRELOAD"); p && *p) preload += std::string(":") + p;
    set["LD_PRELOAD"] = preload;
    if (o.startAtCuInit) {
        const char* existing = getenv("CUDA_INJECTION64_PATH");
        if (existing && *existing && std::string(existing) != injector)
            std::fprintf(stderr, "vramscope record: CUDA_INJECTION64_PATH is already set (%s); starting at preload instead\n",
                         existing);
        else set["CUDA_INJECTION64_PATH"] = injector;
    }
    set["VRAMSCOPE_OUTPUT"] = output;
    for (const auto& [key, value] : captureEnvironment(o)) set[key] = value;
    // Python processes: vramscope's sitecustomize (first on PYTHONPATH)
    // installs phase hooks and the allocator bridge when torch is imported;
    // processes that never import torch only pay for one import hook.
    if (std::string py = findPythonDir(o); !py.empty()) {
        std::string path = py + "/vramscope/_boot:" + py;
        if (const char* p = getenv("PYTHONPATH"); p && *p) path += std::string(":") + p;
        set["PYTHONPATH"] = path;
    }
    std::vector<std::string> envStrings;
    for (char** e = environ; e && *e; ++e) {
        std::string entry = *e;
        std::string key = entry.substr(0, entry.find('='));
        if (set.count(key) || key == "VRAMSCOPE_ROOT_PID" || key == "VRAMSCOPE_WARNED") continue;
        envStrings.push_back(entry);
    }
    for (const auto& [k, v] : set) envStrings.push_back(k + "=" + v);
    // Filled in by the child with its own pid: it is the root process.
    envStrings.push_back("VRAMSCOPE_ROOT_PID=" + std::string(24, '0'));
    std::vector<char*> envp;
    for (auto& s : envStrings) envp.push_back(s.data());
    envp.push_back(nullptr);
    char* rootPidValue = envStrings.back().data() + std::strlen("VRAMSCOPE_ROOT_PID=");
    std::vector<char*> argv;
    for (auto& a : command) argv.push_back(a.data());
    argv.push_back(nullptr);

    installForwarding();
    auto started = std::chrono::steady_clock::now();
    time_t startedWall = time(nullptr) - 1;
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        restoreSignals();
        std::fprintf(stderr, "vramscope record: cannot start %s: %s\n", command[0].c_str(), std::strerror(errno));
        return 127;
    }
    if (pid == 0) {
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(sig, &previous[sig], nullptr);
        formatPid(rootPidValue, 25, static_cast<long>(getpid()));
        execvpe(argv[0], argv.data(), envp.data());
        const char* why = std::strerror(errno);
        ssize_t ignored = write(STDERR_FILENO, "vramscope record: cannot run ", 29);
        ignored = write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
        ignored = write(STDERR_FILENO, ": ", 2);
        ignored = write(STDERR_FILENO, why, std::strlen(why));
        ignored = write(STDERR_FILENO, "\n", 1);
        (void)ignored;
        _exit(127);
    }
    childPid.store(pid);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    childPid.store(0);
    restoreSignals();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    if (WIFEXITED(status) && exitCode == 127) return exitCode;  // could not run: nothing was traced

    if (o.quiet || !o.summary) return exitCode;
    std::vector<std::string> traces;
    if (outputIsDirectory) {
        traces = tracesInDirectory(output.back() == '/' ? output.substr(0, output.size() - 1) : output, startedWall);
    } else {
        std::string root = expandPid(output, pid);
        if (isFile(root)) traces.push_back(root);
        for (auto& s : siblingTraces(root, startedWall)) traces.push_back(s);
    }
    std::printf("vramscope record: %s %s after %.2f s\n", command[0].c_str(),
                WIFSIGNALED(status) ? ("was killed by signal " + std::to_string(WTERMSIG(status))).c_str()
                                    : ("exited with code " + std::to_string(exitCode)).c_str(),
                seconds);
    if (traces.empty()) {
        std::printf("vramscope record: no trace was written (see the vramscope: lines above)\n");
        return exitCode;
    }
    for (const auto& path : traces) {
        std::string text, error;
        std::printf("trace: %s\n", path.c_str());
        if (summarizeTrace(path, &text, &error)) std::fputs(text.c_str(), stdout);
        else std::printf("  cannot read it: %s\n", error.c_str());
    }
    std::fflush(stdout);
    return exitCode;
}

}  // namespace vramscope::cli
