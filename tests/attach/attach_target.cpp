// A program the attach tests inject into. Its output is fully predictable,
// so the tests can tell whether an injection disturbed it.
//   attach_target lines N MS CODE   "line I" every MS ms (I = 0..N-1), while a thread
//                                   waits on a condition variable (futex) and another
//                                   blocks in read() on a pipe; then
//                                   "end reader=R waiter=1 usr1=U" (R = 1: read got its
//                                   byte, no EINTR; U: SIGUSR1s handled, SA_RESTART), exit CODE
//   attach_target timedwait N MS CODE  "line I" as above, while one thread waits in a raw
//                                   futex wait with a 1 h timeout (interrupted, it resumes
//                                   through restart_syscall); "end waiter=W usr1=U", W = how
//                                   often that futex call returned (1: only for the final wake)
//   attach_target regs              single thread: "ready", then known patterns in
//                                   rbx r8 r9 r10 r12 r13 r14 r15, xmm/ymm0-15 (zmm16-31
//                                   with AVX-512) and MXCSR,
//                                   a raw read(0, &b, 1) syscall; checks every register
//                                   and the byte; "ok" (exit 0) or "bad WHAT" (exit 1)
//   attach_target spin S CODE       single thread computing for S s, "tick I" every
//                                   100 ms and a poll(NULL, 0, 0) every 20 ms; "end", exit CODE
//   attach_target nosyscall S CODE  "ready", then S s of computing without any system
//                                   call (rdtsc clock); "end", exit CODE
//   attach_target nodump S          prctl(PR_SET_DUMPABLE, 0), "ready", sleeps S s
#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <linux/futex.h>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

namespace {

void say(const char* text) {
    std::fputs(text, stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::atomic<int> usr1Count{0};
void onUsr1(int) { ++usr1Count; }

int linesMode(int lines, int intervalMs, int code) {
    struct sigaction sa{};
    sa.sa_handler = onUsr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::atomic<int> waiterDone{0}, readerResult{-1};
    int fds[2];
    if (pipe(fds) != 0) return 3;
    std::thread waiter([&] {
        pthread_setname_np(pthread_self(), "waiter");
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return done; });
        waiterDone = 1;
    });
    std::thread reader([&] {
        pthread_setname_np(pthread_self(), "reader");
        char c = 0;
        // No EINTR retry on purpose: an injection must be invisible to it.
        ssize_t n = read(fds[0], &c, 1);
        readerResult = n == 1 && c == 'x' ? 1 : 0;
    });
    for (int i = 0; i < lines; ++i) {
        std::printf("line %d\n", i);
        std::fflush(stdout);
        std::this_thread::sleep_for(std::chrono::milliseconds(intervalMs));
    }
    {
        std::lock_guard<std::mutex> lock(m);
        done = true;
    }
    cv.notify_all();
    if (write(fds[1], "x", 1) != 1) return 3;
    waiter.join();
    reader.join();
    std::printf("end reader=%d waiter=%d usr1=%d\n", readerResult.load(), waiterDone.load(), usr1Count.load());
    return code;
}

int timedWaitMode(int lines, int intervalMs, int code) {
    struct sigaction sa{};
    sa.sa_handler = onUsr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    std::atomic<uint32_t> done{0};
    std::atomic<int> returns{0};
    std::thread waiter([&] {
        pthread_setname_np(pthread_self(), "waiter");
        timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 3600;
        while (true) {
            syscall(SYS_futex, &done, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0u, &until, nullptr, FUTEX_BITSET_MATCH_ANY);
            ++returns;
            if (done.load()) break;
        }
    });
    for (int i = 0; i < lines; ++i) {
        std::printf("line %d\n", i);
        std::fflush(stdout);
        std::this_thread::sleep_for(std::chrono::milliseconds(intervalMs));
    }
    done = 1;
    syscall(SYS_futex, &done, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr, 0);
    waiter.join();
    std::printf("end waiter=%d usr1=%d\n", returns.load(), usr1Count.load());
    return code;
}

#define LOADX(n) "movdqu " #n "*16(%%r15), %%xmm" #n "\n"
#define SAVEX(n) "movdqu %%xmm" #n ", 512+" #n "*16(%%r15)\n"
#define LOADY(n) "vmovdqu " #n "*32(%%r15), %%ymm" #n "\n"
#define SAVEY(n) "vmovdqu %%ymm" #n ", 512+" #n "*32(%%r15)\n"
#define ALL16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
// zmm16-31 at [1024, 2048) in and [2048, 3072) out: glibc's EVEX string
// functions (used on AVX-512 CPUs) work in ymm16-31, which only the XSAVE
// area holds, so they show whether the full extended state came back.
#define LOADZ(n) "vmovdqu64 1024+(" #n "-16)*64(%%r15), %%zmm" #n "\n"
#define SAVEZ(n) "vmovdqu64 %%zmm" #n ", 2048+(" #n "-16)*64(%%r15)\n"
#define HIGH16(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)
#define GP_OPERANDS                                                                                                   \
    : "+a"(rax), "+b"(rbx), "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15), "+D"(rdi), \
      "+S"(rsi), "+d"(rdx)                                                                                          \
    :
#define LOW_CLOBBERS                                                                                              \
    "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

struct Registers {
    uint64_t rax, rbx, r8, r9, r10, r12, r13, r14, r15, rdi, rsi, rdx;
};

#define PATTERN(n) (0x0123456789abcdefULL * (n) + 0x1111111111111111ULL * (n))
#define BLOCKING_READ(ASM, ...)                                                                    \
    register uint64_t r8 asm("r8") = PATTERN(2);                                                 \
    register uint64_t r9 asm("r9") = PATTERN(3);                                                 \
    register uint64_t r10 asm("r10") = PATTERN(4);                                               \
    register uint64_t r12 asm("r12") = PATTERN(5);                                               \
    register uint64_t r13 asm("r13") = PATTERN(6);                                               \
    register uint64_t r14 asm("r14") = PATTERN(7);                                               \
    register uint64_t r15 asm("r15") = reinterpret_cast<uint64_t>(area);                         \
    register uint64_t rax asm("rax") = 0; /* SYS_read */                                         \
    register uint64_t rdi asm("rdi") = 0;                                                        \
    register uint64_t rsi asm("rsi") = reinterpret_cast<uint64_t>(byte);                         \
    register uint64_t rdx asm("rdx") = 1;                                                        \
    uint64_t rbx = PATTERN(1);                                                                   \
    asm volatile(ASM GP_OPERANDS __VA_ARGS__);                                                    \
    return Registers{rax, rbx, r8, r9, r10, r12, r13, r14, r15, rdi, rsi, rdx};

__attribute__((noinline)) Registers readWithXmm(uint8_t* area, char* byte) {
    BLOCKING_READ(ALL16(LOADX) "syscall\n" ALL16(SAVEX), : LOW_CLOBBERS)
}
__attribute__((noinline)) Registers readWithYmm(uint8_t* area, char* byte) {
    BLOCKING_READ(ALL16(LOADY) "syscall\n" ALL16(SAVEY), : LOW_CLOBBERS)
}
__attribute__((noinline, target("avx512f"))) Registers readWithZmm(uint8_t* area, char* byte) {
    BLOCKING_READ(ALL16(LOADY) HIGH16(LOADZ) "syscall\n" ALL16(SAVEY) HIGH16(SAVEZ),
                  : LOW_CLOBBERS, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
                    "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31")
}

// The test writes the byte only after the injection, so the thread is
// interrupted inside this read and must come back into it with every register
// as it left it.
int regsMode() {
    alignas(64) static uint8_t area[3072];  // [0, 512) xmm/ymm in, [512, 1024) out; zmm16-31 above
    for (int i = 0; i < 3072; ++i) area[i] = uint8_t(i * 37 + 11);
    const bool avx = __builtin_cpu_supports("avx"), avx512 = __builtin_cpu_supports("avx512f");
    const unsigned mxcsr = 0x1f80 | 0x6000;  // all exceptions masked, round toward zero
    _mm_setcsr(mxcsr);
    say("ready");
    char byte = 0;
    const Registers r = avx512 ? readWithZmm(area, &byte) : avx ? readWithYmm(area, &byte) : readWithXmm(area, &byte);
    const unsigned mxcsrAfter = _mm_getcsr();
    std::string bad;
    const uint64_t got[] = {r.rbx, r.r8, r.r9, r.r10, r.r12, r.r13, r.r14};
    const char* names[] = {"rbx", "r8", "r9", "r10", "r12", "r13", "r14"};
    for (int i = 0; i < 7; ++i)
        if (got[i] != PATTERN(i + 1)) bad += std::string(" ") + names[i];
    if (r.r15 != reinterpret_cast<uint64_t>(area)) bad += " r15";
    if (r.rdi != 0 || r.rsi != reinterpret_cast<uint64_t>(&byte) || r.rdx != 1) bad += " args";
    if (r.rax != 1 || byte != 'z') bad += " read(rax=" + std::to_string(int64_t(r.rax)) + ")";
    const int width = avx ? 32 : 16;
    for (int i = 0; i < 16; ++i)
        if (std::memcmp(area + i * width, area + 512 + i * width, size_t(width)) != 0)
            bad += std::string(avx ? " ymm" : " xmm") + std::to_string(i);
    for (int i = 0; avx512 && i < 16; ++i)
        if (std::memcmp(area + 1024 + i * 64, area + 2048 + i * 64, 64) != 0) bad += " zmm" + std::to_string(16 + i);
    if (mxcsrAfter != mxcsr) bad += " mxcsr";
    if (!bad.empty()) {
        std::printf("bad%s\n", bad.c_str());
        return 1;
    }
    say(avx512 ? "ok zmm" : avx ? "ok ymm" : "ok xmm");
    return 0;
}

double nowSeconds() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

int spinMode(double seconds, int code) {
    const double start = nowSeconds();
    double nextPoll = start, nextTick = start;
    int tick = 0;
    volatile uint64_t work = 1;
    for (double t = start; t - start < seconds; t = nowSeconds()) {
        for (int i = 0; i < 2000; ++i) work = work * 6364136223846793005ULL + 1442695040888963407ULL;
        if (t >= nextPoll) {
            poll(nullptr, 0, 0);
            nextPoll += 0.020;
        }
        if (t >= nextTick) {
            std::printf("tick %d\n", tick++);
            std::fflush(stdout);
            nextTick += 0.100;
        }
    }
    say("end");
    return code;
}

int noSyscallMode(double seconds, int code) {
    // TSC rate from a 50 ms sleep; the spin itself reads only the TSC.
    const double t0 = nowSeconds();
    const uint64_t c0 = __rdtsc();
    usleep(50000);
    const double perSecond = double(__rdtsc() - c0) / (nowSeconds() - t0);
    say("ready");
    const uint64_t end = __rdtsc() + uint64_t(perSecond * seconds);
    volatile uint64_t work = 1;
    while (__rdtsc() < end)
        for (int i = 0; i < 1000; ++i) work = work * 6364136223846793005ULL + 1442695040888963407ULL;
    say("end");
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    const std::string mode = argv[1];
    auto arg = [&](int i, double fallback) { return argc > i ? std::atof(argv[i]) : fallback; };
    if (mode == "lines") return linesMode(int(arg(2, 100)), int(arg(3, 10)), int(arg(4, 0)));
    if (mode == "timedwait") return timedWaitMode(int(arg(2, 100)), int(arg(3, 10)), int(arg(4, 0)));
    if (mode == "regs") return regsMode();
    if (mode == "spin") return spinMode(arg(2, 2), int(arg(3, 0)));
    if (mode == "nosyscall") return noSyscallMode(arg(2, 3), int(arg(3, 0)));
    if (mode == "nodump") {
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        say("ready");
        sleep(unsigned(arg(2, 10)));
        return 0;
    }
    return 2;
}
