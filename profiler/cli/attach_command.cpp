#include "attach_command.h"

#include "attach/process_inspect.h"
#include "attach/ptrace_inject.h"
#include "format/units.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace vramscope::cli {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

bool isDirectoryOwnedBy(const std::string& path, uint32_t uid) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string absoluteOutput(const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return path;
    return std::string(cwd) + "/" + path;
}

// A file name made of the process name: letters, digits, '-', '_', '.'.
std::string safeName(const std::string& name) {
    std::string out;
    for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
    return out.empty() ? "process" : out;
}

// vramscope.<name>.<pid>.attach<N>.vtrace in the working directory, N the
// first not taken: attaching again never overwrites the last trace.
std::string defaultOutput(const attach::ProcessFacts& facts) {
    for (int n = 1;; ++n) {
        std::string path = absoluteOutput("vramscope." + safeName(facts.name) + "." + std::to_string(facts.pid) +
                                          ".attach" + std::to_string(n) + ".vtrace");
        if (!exists(path) || n > 9999) return path;
    }
}

// The target's environment (NUL-separated, bounded): the bridge is built
// with the job's own Python, so it must see the same packages.
std::vector<std::string> targetEnvironment(int pid) {
    std::string text;
    attach::readSmallFile("/proc/" + std::to_string(pid) + "/environ", &text, 1 << 20);
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\0', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

uint32_t targetGid(int pid) {
    std::string status;
    if (!attach::readSmallFile("/proc/" + std::to_string(pid) + "/status", &status)) return 0;
    const std::string_view gid = attach::statusField(status, "Gid");
    return uint32_t(std::strtoul(std::string(gid).c_str(), nullptr, 10));
}

// Runs argv with envp (as uid/gid when we are root and they differ), its
// stdout returned, stderr passed through; at most timeoutSeconds.
bool runChild(const std::vector<std::string>& argv, const std::vector<std::string>& envp, uint32_t uid, uint32_t gid,
              int timeoutSeconds, std::string* stdoutText, int* exitCode) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return false;
    std::vector<char*> a, e;
    std::vector<std::string> argvCopy = argv, envCopy = envp;
    for (auto& s : argvCopy) a.push_back(s.data());
    a.push_back(nullptr);
    for (auto& s : envCopy) e.push_back(s.data());
    e.push_back(nullptr);
    const pid_t child = fork();
    if (child < 0) return false;
    if (child == 0) {
        dup2(out[1], STDOUT_FILENO);
        if (geteuid() == 0 && uid != 0 && (setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
        execve(a[0], a.data(), e.data());
        _exit(127);
    }
    close(out[1]);
    const auto deadline = Clock::now() + std::chrono::seconds(timeoutSeconds);
    char buf[4096];
    for (;;) {
        pollfd p{out[0], POLLIN, 0};
        const int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (left <= 0) {
            kill(child, SIGKILL);
            break;
        }
        if (poll(&p, 1, std::min(left, 1000)) <= 0) continue;
        const ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0) break;
        if (stdoutText->size() < (1u << 20)) stdoutText->append(buf, size_t(n));
    }
    close(out[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    *exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return true;
}

// The job's own interpreter as it was started: argv[0] resolved the way the
// job's shell did (its PATH, its working directory), when that is the same
// file as /proc/PID/exe. A virtual environment is found from that path
// (pyvenv.cfg beside it), so /proc/PID/exe itself (the base interpreter)
// would not see the job's packages.
std::string jobInterpreter(const attach::ProcessFacts& facts, const std::vector<std::string>& env) {
    const std::string argv0 = facts.commandLine.substr(0, facts.commandLine.find(' '));
    auto sameAsExe = [&](const std::string& candidate) {
        char a[PATH_MAX], b[PATH_MAX];
        return realpath(candidate.c_str(), a) && realpath(facts.exePath.c_str(), b) && std::strcmp(a, b) == 0;
    };
    std::vector<std::string> candidates;
    if (argv0.find('/') != std::string::npos) {
        candidates.push_back(argv0[0] == '/' ? argv0 : "/proc/" + std::to_string(facts.pid) + "/cwd/" + argv0);
    } else if (!argv0.empty()) {
        for (const std::string& kv : env) {
            if (kv.rfind("PATH=", 0) != 0) continue;
            std::string path = kv.substr(5);
            size_t start = 0;
            while (start <= path.size()) {
                size_t end = path.find(':', start);
                if (end == std::string::npos) end = path.size();
                if (end > start) candidates.push_back(path.substr(start, end - start) + "/" + argv0);
                start = end + 1;
            }
        }
    }
    for (const std::string& c : candidates) {
        if (!sameAsExe(c)) continue;
        if (c.rfind("/proc/", 0) != 0) return c;
        char resolved[PATH_MAX];  // a relative argv[0]: its directory, not the link's target
        const std::string dir = c.substr(0, c.find_last_of('/'));
        if (realpath(dir.c_str(), resolved)) return std::string(resolved) + c.substr(c.find_last_of('/'));
    }
    return facts.exePath;
}

// The site-packages directory torch was loaded from (its mapped libc10_cuda.so):
// put on the path too, for interpreters found by other means (conda, shims).
std::string torchSitePackages(const attach::ProcessFacts& facts) {
    const attach::Mapping* c10 = attach::findLibrary(facts, "libc10_cuda.so");
    if (!c10) return {};
    const std::string suffix = "/torch/lib/";
    const size_t at = c10->path.rfind(suffix);
    return at == std::string::npos ? std::string() : c10->path.substr(0, at);
}

// The PyTorch bridge for the job's torch, found or compiled by the job's own
// interpreter in a separate process (python/vramscope/_bridge.py). "" with a
// reason in *why when there is none.
std::string prebuildBridge(const attach::ProcessFacts& facts, const std::string& pythonDir, const std::string& injector,
                           const std::function<void(const std::string&)>& say, std::string* why) {
    if (facts.exePath.empty()) {
        *why = "the job's Python executable cannot be read";
        return {};
    }
    const std::vector<std::string> jobEnv = targetEnvironment(facts.pid);
    std::vector<std::string> env;
    std::string pythonPath = pythonDir;
    if (const std::string site = torchSitePackages(facts); !site.empty()) pythonPath += ":" + site;
    for (const std::string& kv : jobEnv) {
        const std::string key = kv.substr(0, kv.find('='));
        if (key == "LD_PRELOAD" || key == "CUDA_INJECTION64_PATH" || key.rfind("VRAMSCOPE_", 0) == 0) continue;
        if (key == "PYTHONPATH") {
            pythonPath += ":" + kv.substr(11);
            continue;
        }
        env.push_back(kv);
    }
    env.push_back("PYTHONPATH=" + pythonPath);
    env.push_back("VRAMSCOPE_INJECTOR=" + injector);
    const std::string code = "import torch\n"
                             "from vramscope import _bridge\n"
                             "lib = _bridge.find(torch)\n"
                             "print('VRAMSCOPE_BRIDGE=' + (lib._name if lib else ''))\n";
    const std::string interpreter = jobInterpreter(facts, jobEnv);
    say("PyTorch job: preparing the PyTorch bridge with its own Python (" + interpreter + ")");
    std::string output;
    int exitCode = -1;
    if (!runChild({interpreter, "-c", code}, env, facts.uid, targetGid(facts.pid), 600, &output, &exitCode)) {
        *why = "cannot run " + interpreter;
        return {};
    }
    const size_t at = output.rfind("VRAMSCOPE_BRIDGE=");
    if (exitCode != 0 || at == std::string::npos) {
        *why = interpreter + " could not import torch and vramscope's bridge (exit " + std::to_string(exitCode) + ")";
        return {};
    }
    std::string path = output.substr(at + 17);
    while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
    if (path.empty()) *why = "the bridge could not be built for this torch (see the lines above)";
    return path;
}

std::string requestText(const AttachOptions& o, const std::string& output, const std::string& socketPath,
                        const std::string& pythonDir, const std::string& bridgePath) {
    std::string text = "output=" + output + "\nsocket=" + socketPath + "\n";
    if (!pythonDir.empty()) text += "python_dir=" + pythonDir + "\n";
    if (o.tcp) text += "tcp=1\n";
    for (const auto& [key, value] : captureEnvironment(o.capture)) text += key + "=" + value + "\n";
    if (!o.bridge) text += "VRAMSCOPE_TORCH_BRIDGE=0\n";
    else if (!bridgePath.empty()) text += "VRAMSCOPE_TORCH_BRIDGE=" + bridgePath + "\n";
    if (!o.phaseHooks) text += "VRAMSCOPE_PYTHON_HOOKS=0\n";
    // Settings for tests and cost measurements (VRAMSCOPE_TEST_NO_CUPTI: no
    // GPU, CUPTI never touched; VRAMSCOPE_TEST_PAUSE, …) pass through as given.
    for (char** e = environ; e && *e; ++e) {
        const std::string kv = *e;
        if (kv.rfind("VRAMSCOPE_TEST_", 0) == 0 && kv.find('\n') == std::string::npos) text += kv + "\n";
    }
    return text;
}

const char* entryError(long long rc) {
    switch (rc) {
    case -1: return "a vramscope capture is already running in this process";
    case -2: return "the capture library refused the request (a bug: please report it)";
    case -3: return "the capture library could not open its control socket";
    case -4: return "the capture library could not start its thread";
    default: return "the capture library could not start";
    }
}

std::atomic<int> stopSignal{0};
void onStopSignal(int sig) { stopSignal.store(sig); }

}  // namespace

std::string controlSocketPath(int pid, uint32_t uid) {
    // The job's own $XDG_RUNTIME_DIR (the same answer for every later
    // --stop/--status), when it is a directory of that user; else the usual
    // /run/user/UID; else a private directory in /tmp.
    std::string runtime;
    for (const std::string& kv : targetEnvironment(pid))
        if (kv.rfind("XDG_RUNTIME_DIR=", 0) == 0) runtime = kv.substr(16);
    if (runtime.empty() || runtime[0] != '/' || runtime.find('\n') != std::string::npos || !isDirectoryOwnedBy(runtime, uid))
        runtime = "/run/user/" + std::to_string(uid);
    const std::string dir =
        isDirectoryOwnedBy(runtime, uid) ? runtime + "/vramscope" : "/tmp/vramscope-" + std::to_string(uid);
    return dir + "/" + std::to_string(pid) + ".sock";
}

bool controlRequest(const std::string& socketPath, const std::string& command, int timeoutMs,
                    std::vector<std::string>* lines, std::string* error) {
    lines->clear();
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd < 0 || socketPath.size() >= sizeof addr.sun_path) {
        if (fd >= 0) close(fd);
        *error = "cannot use " + socketPath;
        return false;
    }
    std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        *error = std::strerror(errno);
        close(fd);
        return false;
    }
    const std::string line = command + "\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size())) {
        *error = std::strerror(errno);
        close(fd);
        return false;
    }
    std::string pending;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    char buf[4096];
    bool ended = false;
    while (!ended) {
        const int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (left <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0) continue;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        pending.append(buf, size_t(n));
        size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
            std::string l = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            if (l == "end") ended = true;
            else if (lines->size() < 256) lines->push_back(l);
        }
        if (pending.size() > 65536) break;
    }
    close(fd);
    if (!lines->empty() && lines->front().rfind("error ", 0) == 0) {
        *error = lines->front().substr(6);
        return false;
    }
    return true;
}

std::string statusValue(const std::vector<std::string>& lines, const std::string& key) {
    for (const std::string& l : lines)
        if (l.size() > key.size() && l.compare(0, key.size(), key) == 0 && l[key.size()] == '=')
            return l.substr(key.size() + 1);
    return {};
}

bool startAttach(const AttachOptions& o, AttachStarted* started, std::string* error,
                 const std::function<void(const std::string&)>& progress) {
    auto say = [&](const std::string& text) {
        if (progress) progress(text);
    };
    const bool testWithoutCuda = getenv("VRAMSCOPE_TEST_NO_CUPTI") != nullptr;
    attach::ProcessFacts facts;
    std::string why;
    if (o.pid <= 0 || !attach::readProcess(o.pid, &facts, &why) || !facts.exists) {
        *error = "there is no process " + std::to_string(o.pid);
        return false;
    }
    started->processName = facts.name;
    if (facts.mapsReadable && !testWithoutCuda && !attach::findLibrary(facts, "libcuda.so")) {
        *error = "process " + std::to_string(o.pid) + " (" + facts.name +
                 ") has not loaded the CUDA driver (libcuda.so): it is not a CUDA process, or it has not used the GPU "
                 "yet; attach once it has";
        return false;
    }
    const std::string socketPath = controlSocketPath(o.pid, facts.uid);
    {
        std::vector<std::string> lines;
        std::string ignored;
        if (controlRequest(socketPath, "status", 2000, &lines, &ignored) && statusValue(lines, "state") == "active") {
            *error = "a vramscope capture is already attached to process " + std::to_string(o.pid) + " (writing " +
                     statusValue(lines, "output") + "); stop it first with `vramscope attach --stop " +
                     std::to_string(o.pid) + "`";
            return false;
        }
    }
    if (!o.capture.output.empty()) {  // the same rule as record -o: only an earlier recording is replaced
        bool replacing = false;
        const std::string program = "/proc/" + std::to_string(o.pid) + "/exe";
        if (!checkRecordingOutput(absoluteOutput(o.capture.output), {program}, &replacing, error)) return false;
        if (replacing) say("replacing the earlier recording " + absoluteOutput(o.capture.output));
    }
    std::string searched;
    const std::string injector = findInjector(o.capture, &searched);
    if (injector.empty()) {
        *error = "cannot find libvramscope_inject.so (looked in " + searched + "); set VRAMSCOPE_INJECTOR or pass --injector";
        return false;
    }
    const std::string pythonDir = findPythonDir(o.capture);
    std::string bridgePath;
    if (const char* given = getenv("VRAMSCOPE_TORCH_BRIDGE"); given && *given && o.bridge) {
        bridgePath = given;  // a bridge built for this job's torch already: no build step
    } else if (o.bridge && !pythonDir.empty() && facts.mapsReadable && attach::findLibrary(facts, "libc10_cuda.so")) {
        bridgePath = prebuildBridge(facts, pythonDir, injector, say, &why);
        if (bridgePath.empty()) say("no PyTorch bridge: " + why + "; tensor-level events will be missing");
    }
    const std::string output = o.capture.output.empty() ? defaultOutput(facts) : absoluteOutput(o.capture.output);

    attach::InjectRequest request;
    request.pid = o.pid;
    request.libraryPath = injector;
    request.entrySymbol = "vramscope_attach_start";
    request.argument = requestText(o, output, socketPath, pythonDir, bridgePath);
    attach::InjectReport report;
    if (!attach::injectLibrary(request, &report)) {
        *error = report.error;
        return false;
    }
    started->stoppedMs = report.stoppedMs;
    started->mainThread = report.mainThread;
    started->thread = report.how;
    if (report.entryResult != 0) {
        *error = std::string(entryError(report.entryResult)) + " (process " + std::to_string(o.pid) + ")";
        return false;
    }
    started->output = output;
    started->socketPath = socketPath;

    // The capture starts on its own thread: wait until it runs or says why not.
    std::vector<std::string> lines;
    const auto begun = Clock::now();
    std::string state;
    while (msSince(begun) < 15000) {
        std::string ignored;
        if (controlRequest(socketPath, "status", 2000, &lines, &ignored)) {
            state = statusValue(lines, "state");
            if (state != "starting") break;
        }
        if (kill(o.pid, 0) != 0 && errno == ESRCH) {
            *error = "process " + std::to_string(o.pid) + " ended while the capture was starting";
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (state == "failed") {
        *error = "capture could not start in process " + std::to_string(o.pid) + ": " + statusValue(lines, "reason");
        return false;
    }
    if (state != "active") {
        *error = "the capture library loaded into process " + std::to_string(o.pid) +
                 " but did not report running within 15 s";
        return false;
    }
    // Python's part runs when the interpreter's main thread next runs Python.
    std::string python = statusValue(lines, "python");
    if (python == "scheduled") {
        say("waiting for the job's Python main thread to install the phase hooks and the bridge");
        while (msSince(begun) < 20000 && python == "scheduled") {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            std::string ignored;
            if (controlRequest(socketPath, "status", 2000, &lines, &ignored)) python = statusValue(lines, "python");
        }
        if (python == "scheduled")
            say("the job's main thread has not run Python code for a while (it may be in a long native call); "
                "tensor events and phases start when it does");
    }
    started->tcpAddress = statusValue(lines, "tcp");
    started->token = statusValue(lines, "token");
    started->status = lines;
    return true;
}

namespace {

void printStarted(const AttachOptions& o, const AttachStarted& s) {
    std::printf("vramscope attach: attached to process %d (%s); its %s%s was held %.2f ms\n", o.pid,
                s.processName.c_str(), s.thread.c_str(), s.mainThread ? " (the main thread)" : "", s.stoppedMs);
    std::printf("  recording into %s\n", s.output.c_str());
    const std::string python = statusValue(s.status, "python");
    const std::string bridge = statusValue(s.status, "bridge");
    if (python == "ready") {
        std::printf("  PyTorch %s: phases %s, tensor-level events %s\n", statusValue(s.status, "torch").c_str(),
                    statusValue(s.status, "phases").empty() ? "off" : statusValue(s.status, "phases").c_str(),
                    bridge.c_str());
        const std::string blocks = statusValue(s.status, "seeded_blocks");
        if (!blocks.empty())
            std::printf("  at the attach PyTorch held %s live blocks, %s (torch.cuda.memory_allocated() %s), in %s "
                        "segments, %s\n",
                        blocks.c_str(), formatBytes(std::atof(statusValue(s.status, "seeded_bytes").c_str())).c_str(),
                        formatBytes(std::atof(statusValue(s.status, "torch_memory_allocated").c_str())).c_str(),
                        statusValue(s.status, "seeded_segments").c_str(),
                        formatBytes(std::atof(statusValue(s.status, "seeded_segment_bytes").c_str())).c_str());
        if (const std::string tags = statusValue(s.status, "tags"); !tags.empty())
            std::printf("  parameters, gradients and optimizer state found: %s (on the job's main thread)\n", tags.c_str());
    } else if (python == "no-torch") {
        std::printf("  a Python process without torch: driver-level capture only\n");
    } else if (python == "none") {
        std::printf("  not a Python process: driver-level capture only (kernels, copies, allocations; no phases)\n");
    } else if (python.rfind("error", 0) == 0) {
        std::printf("  Python hooks not installed (%s): driver-level capture only\n", python.c_str());
    }
    std::printf("  watch it live: vramscope-gui --connect unix:%s\n", s.socketPath.c_str());
    if (!s.tcpAddress.empty())
        std::printf("  or over loopback TCP: vramscope-gui --connect tcp:%s --token %s\n", s.tcpAddress.c_str(),
                    s.token.c_str());
    if (o.noWait)
        std::printf("  the capture runs on; stop it with: vramscope attach --stop %d\n", o.pid);
    else if (o.durationSeconds > 0)
        std::printf("  detaching after %.0f s (Ctrl-C detaches now); the job runs on\n", o.durationSeconds);
    else
        std::printf("  Ctrl-C detaches; the job runs on\n");
    std::fflush(stdout);
}

uint64_t unixNs() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count());
}

int finishStop(int pid, const std::string& socketPath, bool quiet, bool summary, bool verbose = false,
               const std::string& knownOutput = {}) {
    std::vector<std::string> lines;
    std::string error;
    if (!controlRequest(socketPath, "stop", 60000, &lines, &error)) {
        std::fprintf(stderr, "vramscope attach: no vramscope capture is attached to process %d\n", pid);
        return 1;
    }
    if (verbose) std::printf("capture_stopped_unix_ns %llu\n", static_cast<unsigned long long>(unixNs()));
    // The job may end while it detaches (its exit writes the footer); then
    // the reply is cut short and the path we started with is the one.
    std::string output = statusValue(lines, "output");
    if (!knownOutput.empty()) output = knownOutput;
    if (statusValue(lines, "state") != "stopped" && kill(pid, 0) != 0 && errno == ESRCH && !quiet)
        std::printf("vramscope attach: process %d ended while detaching\n", pid);
    if (quiet) return 0;
    std::printf("vramscope attach: detached from process %d; wrote %s\n", pid, output.c_str());
    if (summary && !output.empty()) {
        std::string text;
        if (summarizeTrace(output, &text, &error)) std::fputs(text.c_str(), stdout);
        else std::printf("  cannot read it: %s\n", error.c_str());
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace

int runAttach(const AttachOptions& o) {
    AttachStarted started;
    std::string error;
    auto progress = [&](const std::string& line) {
        if (!o.capture.quiet) std::fprintf(stderr, "vramscope attach: %s\n", line.c_str());
    };
    if (!startAttach(o, &started, &error, progress)) {
        std::fprintf(stderr, "vramscope attach: %s\n", error.c_str());
        return error.rfind("cannot find libvramscope_inject.so", 0) == 0 ? 125 : 1;
    }
    if (!o.capture.quiet) printStarted(o, started);
    // When the capture ran, for measurements that compare a job's own step
    // log with and without it (injector/tools/attach_steps.py).
    if (o.capture.verbose) std::printf("capture_started_unix_ns %llu\n", static_cast<unsigned long long>(unixNs()));
    std::fflush(stdout);
    if (o.noWait) return 0;

    // Ctrl-C, a terminal hang-up or a kill end the wait, never the job.
    struct sigaction sa {}, previous[3];
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    const int signals[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; ++i) sigaction(signals[i], &sa, &previous[i]);
    const auto begun = Clock::now();
    bool processEnded = false, captureEnded = false;
    int polls = 0;
    while (!stopSignal.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (o.durationSeconds > 0 && msSince(begun) >= o.durationSeconds * 1000) break;
        if (kill(o.pid, 0) != 0 && errno == ESRCH) {
            processEnded = true;
            break;
        }
        if (++polls % 10 == 0) {  // once a second: is the capture still on (disk full, the writer failed)?
            std::vector<std::string> lines;
            std::string ignored;
            if (controlRequest(started.socketPath, "status", 2000, &lines, &ignored) &&
                statusValue(lines, "state") != "active") {
                captureEnded = true;
                break;
            }
        }
    }
    for (int i = 0; i < 3; ++i) sigaction(signals[i], &previous[i], nullptr);
    if (processEnded || captureEnded) {
        if (!o.capture.quiet) {
            std::printf("vramscope attach: %s; trace %s\n",
                        processEnded ? "the process ended" : "the capture ended", started.output.c_str());
            std::string text;
            if (o.capture.summary && summarizeTrace(started.output, &text, &error)) std::fputs(text.c_str(), stdout);
        }
        return 0;
    }
    return finishStop(o.pid, started.socketPath, o.capture.quiet, o.capture.summary, o.capture.verbose, started.output);
}

int runAttachStop(int pid, bool quiet) {
    attach::ProcessFacts facts;
    std::string error;
    if (!attach::readProcess(pid, &facts, &error) || !facts.exists) {
        std::fprintf(stderr, "vramscope attach: there is no process %d\n", pid);
        return 1;
    }
    return finishStop(pid, controlSocketPath(pid, facts.uid), quiet, true);
}

int runAttachStatus(int pid) {
    attach::ProcessFacts facts;
    std::string error;
    if (!attach::readProcess(pid, &facts, &error) || !facts.exists) {
        std::fprintf(stderr, "vramscope attach: there is no process %d\n", pid);
        return 1;
    }
    std::vector<std::string> lines;
    if (!controlRequest(controlSocketPath(pid, facts.uid), "status", 5000, &lines, &error)) {
        std::printf("no vramscope capture is attached to process %d\n", pid);
        return 1;
    }
    for (const std::string& l : lines) std::printf("%s\n", l.c_str());
    return 0;
}

}  // namespace vramscope::cli
