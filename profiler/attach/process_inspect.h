// What /proc says about a process and its threads, for `vramscope attach`:
// owner, state, tracer, architecture, mappings, and what each thread is doing.
//
// Everything under /proc/PID can change between two reads and some of it is
// chosen by the process itself (comm, cmdline, mapped file names), so every
// parser here treats its text as hostile: lines and fields are bounded, numbers
// are range-checked, odd content yields "unknown", never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vramscope::attach {

// One line of /proc/PID/maps.
struct Mapping {
    uint64_t start = 0, end = 0, offset = 0;
    std::string perms;  // "r-xp"
    uint64_t inode = 0;
    std::string path;   // "/usr/lib/x86_64-linux-gnu/libc.so.6", "[stack]", "" (anonymous);
                        // a replaced file keeps its " (deleted)" suffix
};

struct ProcessFacts {
    int pid = 0;
    bool exists = false;
    uint32_t uid = 0;          // real uid (first field of "Uid:")
    uint32_t effectiveUid = 0;
    uint32_t procOwnerUid = 0; // owner of /proc/PID/status: root when the process is not dumpable
    std::string name;          // comm, at most 15 bytes, chosen by the process
    std::string commandLine;   // argv joined with spaces, capped at 4 KiB
    std::string exePath;       // readlink /proc/PID/exe; empty when not allowed
    char state = '?';          // R S D Z X T t ... from /proc/PID/stat
    int tracerPid = 0;         // TracerPid: 0 when nobody traces it
    int threadCount = 0;
    uint16_t elfMachine = 0;   // e_machine of the executable (EM_X86_64 = 62); 0 = unknown
    uint8_t elfClass = 0;      // ELFCLASS64 = 2, ELFCLASS32 = 1; 0 = unknown
    uint64_t ignoredSignals = 0;  // SigIgn, bit (n-1) for signal n
    bool mapsReadable = false;
    int mapsErrno = 0;         // why /proc/PID/maps could not be read (EACCES: another user / not dumpable)
    std::vector<Mapping> maps;
};

// Reads /proc/PID. False only when the process does not exist (exists=false)
// or /proc is unusable; a process whose maps or exe are not readable by us
// still returns true with mapsReadable=false / exePath empty.
bool readProcess(int pid, ProcessFacts* facts, std::string* error);

// The mapping with file offset 0 of the first shared object whose file name
// (the part after the last '/') starts with sonamePrefix: "libc.so.6",
// "libcuda.so", "libpython". nullptr when none is mapped.
const Mapping* findLibrary(const ProcessFacts& facts, std::string_view sonamePrefix);
// The mapping that contains address, or nullptr.
const Mapping* mappingAt(const ProcessFacts& facts, uint64_t address);

// What one thread is doing, from /proc/PID/task/TID/{stat,status,syscall,comm}.
struct ThreadFacts {
    int tid = 0;
    std::string name;           // comm of the thread (pthread_setname_np)
    char state = '?';
    uint64_t blockedSignals = 0;  // SigBlk of this thread
    bool syscallKnown = false;  // /proc/.../syscall was readable and parsed
    bool running = false;       // "running": on a CPU in user space or kernel, no syscall snapshot
    long syscallNr = -1;        // the system call it is blocked in; -1: in the kernel, not in a syscall
    uint64_t args[6] = {};
    uint64_t sp = 0, pc = 0;    // user stack pointer and instruction pointer at the syscall
};

// The thread ids under /proc/PID/task, ascending; empty when the process is gone.
std::vector<int> threadIds(int pid);
bool readThread(int pid, int tid, ThreadFacts* facts);

// A process the "Attach to Process…" dialog can offer.
struct CudaProcess {
    int pid = 0;
    uint32_t uid = 0;
    std::string name;
    std::string commandLine;
};
// Every process of the caller's real uid (every process when the caller is
// root) whose mappings include libcuda.so. Skips processes that vanish or
// whose maps cannot be read. Excludes the caller.
std::vector<CudaProcess> listCudaProcesses();

// Parsers, exposed for the unit tests. Each returns false on text it cannot
// trust, leaving *out in an unspecified but valid state.
bool parseMapsLine(std::string_view line, Mapping* out);
// /proc/PID/stat: the comm sits between the first '(' and the LAST ')'
// because a process may put ')' and spaces in its own name.
bool parseStatLine(std::string_view text, std::string* comm, char* state);
// /proc/PID/task/TID/syscall: "running", "-1 SP PC", or "NR A1..A6 SP PC" in hex.
bool parseSyscallLine(std::string_view text, ThreadFacts* out);
// "Key:\tvalue" of /proc/PID/status; empty when absent.
std::string_view statusField(std::string_view statusText, std::string_view key);

// A whole small /proc file (stat, status, cmdline, syscall), at most maxBytes.
bool readSmallFile(const std::string& path, std::string* text, size_t maxBytes = 64 * 1024, int* err = nullptr);

}  // namespace vramscope::attach
