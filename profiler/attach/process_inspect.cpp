#include "process_inspect.h"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vramscope::attach {

namespace {

// A PyTorch + CUDA process maps ~5,000 regions (~600 KiB of maps text); the
// cap only stops a hostile or runaway process from making us read forever.
constexpr size_t kMaxMapsBytes = 64u << 20;
constexpr size_t kMaxMapsLines = 1u << 20;
constexpr size_t kMaxCommandLine = 4096;

bool readBounded(const std::string& path, std::string* text, size_t maxBytes, int* err) {
    text->clear();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err) *err = errno;
        return false;
    }
    char buf[16384];
    bool ok = true;
    while (text->size() < maxBytes) {
        ssize_t n = ::read(fd, buf, std::min(sizeof buf, maxBytes - text->size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (err) *err = errno;
            ok = false;
            break;
        }
        if (n == 0) break;
        text->append(buf, size_t(n));
    }
    ::close(fd);
    return ok;
}

bool parseHex(std::string_view s, uint64_t* out) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    if (s.empty() || s.size() > 16) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 16);
    return ec == std::errc() && p == s.data() + s.size();
}

template <class T> bool parseDec(std::string_view s, T* out) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
    if (s.empty() || s.size() > 24) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 10);
    return ec == std::errc() && p == s.data() + s.size();
}

// Next space-separated token of s (consumed), skipping runs of spaces.
std::string_view nextToken(std::string_view* s) {
    while (!s->empty() && s->front() == ' ') s->remove_prefix(1);
    size_t end = s->find(' ');
    std::string_view tok = s->substr(0, end);
    s->remove_prefix(end == std::string_view::npos ? s->size() : end);
    return tok;
}

std::string_view baseName(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// First field of a "Uid:\t0\t0\t0\t0" style line.
template <class T> bool firstNumber(std::string_view field, T* out) {
    std::string_view rest = field;
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    size_t end = rest.find_first_of(" \t");
    return parseDec(rest.substr(0, end), out);
}

void readElfIdentity(int pid, ProcessFacts* f) {
    int fd = ::open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    unsigned char h[64] = {};
    ssize_t n = ::pread(fd, h, sizeof h, 0);
    ::close(fd);
    // e_ident[EI_CLASS] at 4 and e_machine at 18 have the same place in ELF32 and ELF64.
    if (n < 20 || std::memcmp(h, ELFMAG, SELFMAG) != 0) return;
    f->elfClass = h[EI_CLASS];
    f->elfMachine = uint16_t(h[18] | (h[19] << 8));  // x86 hosts are little-endian (EI_DATA 1)
    if (h[EI_DATA] != ELFDATA2LSB) f->elfMachine = uint16_t((h[18] << 8) | h[19]);
}

void readMaps(const std::string& path, ProcessFacts* f) {
    std::string text;
    int err = 0;
    if (!readBounded(path, &text, kMaxMapsBytes, &err)) {
        f->mapsErrno = err ? err : EIO;
        return;
    }
    f->mapsReadable = true;
    std::string_view rest = text;
    while (!rest.empty() && f->maps.size() < kMaxMapsLines) {
        size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        Mapping m;
        if (parseMapsLine(line, &m)) f->maps.push_back(std::move(m));
    }
}

}  // namespace

bool readSmallFile(const std::string& path, std::string* text, size_t maxBytes, int* err) {
    return readBounded(path, text, maxBytes, err);
}

bool parseMapsLine(std::string_view line, Mapping* out) {
    if (line.size() > 8192) return false;  // PATH_MAX plus the fixed fields
    std::string_view s = line;
    std::string_view range = nextToken(&s), perms = nextToken(&s), offset = nextToken(&s);
    std::string_view dev = nextToken(&s), inode = nextToken(&s);
    size_t dash = range.find('-');
    if (dash == std::string_view::npos || perms.size() != 4 || dev.find(':') == std::string_view::npos) return false;
    if (!parseHex(range.substr(0, dash), &out->start) || !parseHex(range.substr(dash + 1), &out->end) ||
        !parseHex(offset, &out->offset) || !parseDec(inode, &out->inode) || out->end < out->start)
        return false;
    out->perms.assign(perms);
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    out->path.assign(s);
    return true;
}

bool parseStatLine(std::string_view text, std::string* comm, char* state) {
    size_t open = text.find('(');
    size_t close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open || close + 2 >= text.size())
        return false;
    comm->assign(text.substr(open + 1, std::min<size_t>(close - open - 1, 64)));
    *state = text[close + 2];
    return std::isalpha(static_cast<unsigned char>(*state)) != 0;
}

bool parseSyscallLine(std::string_view text, ThreadFacts* out) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    out->syscallKnown = false;
    out->running = false;
    out->syscallNr = -1;
    if (text == "running") {
        out->running = out->syscallKnown = true;
        return true;
    }
    std::string_view s = text;
    long nr = 0;
    if (!parseDec(nextToken(&s), &nr) || nr < -1 || nr > 4096) return false;
    if (nr >= 0) {
        for (uint64_t& a : out->args)
            if (!parseHex(nextToken(&s), &a)) return false;
    }
    if (!parseHex(nextToken(&s), &out->sp) || !parseHex(nextToken(&s), &out->pc) || !nextToken(&s).empty()) return false;
    out->syscallNr = nr;
    out->syscallKnown = true;
    return true;
}

std::string_view statusField(std::string_view text, std::string_view key) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':')
            return line.substr(key.size() + 1);
    }
    return {};
}

bool readProcess(int pid, ProcessFacts* f, std::string* error) {
    *f = ProcessFacts{};
    f->pid = pid;
    if (pid <= 0) {
        if (error) *error = "there is no process with PID " + std::to_string(pid);
        return false;
    }
    const std::string dir = "/proc/" + std::to_string(pid);
    std::string stat, status;
    struct stat st{};
    if (::stat((dir + "/status").c_str(), &st) != 0 || !readBounded(dir + "/stat", &stat, 4096, nullptr) ||
        !readBounded(dir + "/status", &status, 64 * 1024, nullptr)) {
        if (error) *error = "there is no process with PID " + std::to_string(pid);
        return false;
    }
    f->exists = true;
    f->procOwnerUid = st.st_uid;
    parseStatLine(stat, &f->name, &f->state);
    std::string_view uidLine = statusField(status, "Uid");
    firstNumber(uidLine, &f->uid);
    {
        std::string_view rest = uidLine;
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
        size_t tab = rest.find_first_of(" \t");
        if (tab != std::string_view::npos) firstNumber(rest.substr(tab), &f->effectiveUid);
    }
    firstNumber(statusField(status, "TracerPid"), &f->tracerPid);
    firstNumber(statusField(status, "Threads"), &f->threadCount);
    std::string_view sigIgn = statusField(status, "SigIgn");
    while (!sigIgn.empty() && (sigIgn.front() == '\t' || sigIgn.front() == ' ')) sigIgn.remove_prefix(1);
    parseHex(sigIgn, &f->ignoredSignals);

    std::string cmdline;
    if (readBounded(dir + "/cmdline", &cmdline, kMaxCommandLine, nullptr)) {
        while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        f->commandLine = std::move(cmdline);
    }
    char exe[4096];
    ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof exe - 1);
    if (n > 0) f->exePath.assign(exe, size_t(n));
    readElfIdentity(pid, f);
    readMaps(dir + "/maps", f);
    return true;
}

const Mapping* findLibrary(const ProcessFacts& facts, std::string_view sonamePrefix) {
    for (const Mapping& m : facts.maps) {
        if (m.offset != 0 || m.path.empty() || m.path[0] != '/') continue;
        if (baseName(m.path).substr(0, sonamePrefix.size()) == sonamePrefix) return &m;
    }
    return nullptr;
}

const Mapping* mappingAt(const ProcessFacts& facts, uint64_t address) {
    for (const Mapping& m : facts.maps)
        if (address >= m.start && address < m.end) return &m;
    return nullptr;
}

std::vector<int> threadIds(int pid) {
    std::vector<int> tids;
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
    if (!d) return tids;
    while (dirent* e = ::readdir(d)) {
        int tid = 0;
        if (parseDec(std::string_view(e->d_name), &tid) && tid > 0) tids.push_back(tid);
        if (tids.size() > 1'000'000) break;
    }
    ::closedir(d);
    std::sort(tids.begin(), tids.end());
    return tids;
}

bool readThread(int pid, int tid, ThreadFacts* t) {
    *t = ThreadFacts{};
    t->tid = tid;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid);
    std::string stat, status, syscall;
    if (!readBounded(dir + "/stat", &stat, 4096, nullptr) || !parseStatLine(stat, &t->name, &t->state)) return false;
    if (readBounded(dir + "/status", &status, 64 * 1024, nullptr)) {
        std::string_view blk = statusField(status, "SigBlk");
        while (!blk.empty() && (blk.front() == '\t' || blk.front() == ' ')) blk.remove_prefix(1);
        parseHex(blk, &t->blockedSignals);
    }
    // Reading syscall needs ptrace-attach permission; without it the thread
    // simply has no known syscall state.
    if (readBounded(dir + "/syscall", &syscall, 512, nullptr)) parseSyscallLine(syscall, t);
    return true;
}

std::vector<CudaProcess> listCudaProcesses() {
    std::vector<CudaProcess> out;
    const uid_t me = ::getuid();
    const int self = ::getpid();
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        int pid = 0;
        if (!parseDec(std::string_view(e->d_name), &pid) || pid <= 0 || pid == self) continue;
        const std::string dir = "/proc/" + std::string(e->d_name);
        std::string status;
        uint32_t uid = 0;
        if (!readBounded(dir + "/status", &status, 64 * 1024, nullptr) || !firstNumber(statusField(status, "Uid"), &uid))
            continue;
        if (me != 0 && uid != me) continue;
        std::string maps;
        if (!readBounded(dir + "/maps", &maps, kMaxMapsBytes, nullptr)) continue;
        // "/libcuda.so" matches libcuda.so.1 and libcuda.so.<driver version>.
        if (maps.find("/libcuda.so") == std::string::npos) continue;
        CudaProcess p;
        p.pid = pid;
        p.uid = uid;
        std::string stat;
        char state = '?';
        if (readBounded(dir + "/stat", &stat, 4096, nullptr)) parseStatLine(stat, &p.name, &state);
        std::string cmdline;
        if (readBounded(dir + "/cmdline", &cmdline, kMaxCommandLine, nullptr)) {
            while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
            std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
            p.commandLine = std::move(cmdline);
        }
        out.push_back(std::move(p));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const CudaProcess& a, const CudaProcess& b) { return a.pid < b.pid; });
    return out;
}

}  // namespace vramscope::attach
