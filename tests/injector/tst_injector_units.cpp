// The injector's parts that need no GPU: configuration, output naming, the
// CUPTI buffer pool and the side-event queue.
#include "attach_request.h"
#include "buffer_pool.h"
#include "config.h"
#include "output_naming.h"
#include "side_queue.h"

#include <QTest>

#include <algorithm>
#include <cstring>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

using namespace vramscope::inject;

using namespace vramscope::inject::testing;

class TestInjectorUnits : public QObject {
    Q_OBJECT
private slots:
    void emptyEnvironmentGivesDefaults() {
        std::vector<std::string> warnings;
        InjectorConfig c = parse({}, &warnings);
        QVERIFY(c.enabled);
        QVERIFY(c.output.empty());
        QCOMPARE(c.bufferMegabytes, 64u);
        QCOMPARE(c.memInfoIntervalMs, 20u);
        QCOMPARE(c.flushIntervalMs, 100u);
        QVERIFY(c.kernels && c.copies && c.nvtx && c.driverCallbacks && c.runtimeCallbacks);
        QCOMPARE(c.rank, -1);
        QCOMPARE(c.rootPid, -1);
        QVERIFY(c.cuptiZeroedBuffers);  // our buffers come zeroed: CUPTI need not clear them on the app's thread
        QVERIFY(warnings.empty());
    }
    void everyVariableIsRead() {
        InjectorConfig c = parse({{"VRAMSCOPE_DISABLE", "yes"}, {"VRAMSCOPE_OUTPUT", "/tmp/x.vtrace"},
                                  {"VRAMSCOPE_BUFFER_MB", "16"}, {"VRAMSCOPE_MEMINFO_MS", "0"},
                                  {"VRAMSCOPE_FLUSH_MS", "50"}, {"VRAMSCOPE_KERNELS", "off"},
                                  {"VRAMSCOPE_COPIES", "0"}, {"VRAMSCOPE_NVTX", "false"},
                                  {"VRAMSCOPE_CALLBACKS", "no"}, {"VRAMSCOPE_QUIET", "1"},
                                  {"VRAMSCOPE_VERBOSE", "TRUE"}, {"RANK", "3"}, {"LOCAL_RANK", "1"},
                                  {"VRAMSCOPE_ROOT_PID", "4242"}, {"VRAMSCOPE_CUPTI_ZEROED_BUFFERS", "0"}});
        QVERIFY(!c.enabled);
        QVERIFY(!c.cuptiZeroedBuffers);
        QCOMPARE(c.output, std::string("/tmp/x.vtrace"));
        QCOMPARE(c.bufferMegabytes, 16u);
        QCOMPARE(c.memInfoIntervalMs, 0u);
        QCOMPARE(c.flushIntervalMs, 50u);
        QVERIFY(!c.kernels && !c.copies && !c.nvtx && !c.driverCallbacks);
        QVERIFY(!c.runtimeCallbacks);  // follows VRAMSCOPE_CALLBACKS unless set itself
        QVERIFY(c.quiet && c.verbose);
        QCOMPARE(c.rank, 3);
        QCOMPARE(c.localRank, 1);
        QCOMPARE(c.rootPid, 4242);
    }
    void invalidValuesKeepDefaultsAndWarn() {
        std::vector<std::string> warnings;
        InjectorConfig c = parse({{"VRAMSCOPE_BUFFER_MB", "lots"}, {"VRAMSCOPE_FLUSH_MS", "1000"},
                                  {"VRAMSCOPE_KERNELS", "maybe"}, {"VRAMSCOPE_MEMINFO_MS", "-5"}},
                                 &warnings);
        QCOMPARE(c.bufferMegabytes, 64u);
        QCOMPARE(c.flushIntervalMs, 100u);  // SIGKILL must lose at most 100 ms
        QVERIFY(c.kernels);
        QCOMPARE(c.memInfoIntervalMs, 20u);
        QCOMPARE(warnings.size(), size_t(4));
        QVERIFY(warnings[0].find("VRAMSCOPE_BUFFER_MB=lots") == 0);
    }
    void cuptiBufferNeverExceedsHalfTheBudget() {
        InjectorConfig c = parse({{"VRAMSCOPE_BUFFER_MB", "4"}, {"VRAMSCOPE_CUPTI_BUFFER_KB", "8192"}});
        QVERIFY(uint64_t(c.cuptiBufferKilobytes) * 1024 * 2 <= uint64_t(c.bufferMegabytes) << 20);
    }
    void parseHelpers() {
        bool b = false;
        QVERIFY(parseBool("On", &b) && b);
        QVERIFY(parseBool("0", &b) && !b);
        QVERIFY(!parseBool("2", &b));
        uint32_t v = 0;
        QVERIFY(parseUnsigned("42", 0, 100, &v) && v == 42);
        QVERIFY(!parseUnsigned("101", 0, 100, &v));
        QVERIFY(!parseUnsigned("4x", 0, 100, &v));
        QVERIFY(!parseUnsigned("", 0, 100, &v));
    }
    void testCuptiAttributesParseOrWarn() {
        InjectorConfig c = parse({{"VRAMSCOPE_TEST_CUPTI_ATTRS", "pinned=1,device_buffer_kb=32768,preallocate=8"}});
        QCOMPARE(c.testCuptiAttrs.pinned, 1);
        QCOMPARE(c.testCuptiAttrs.deviceBufferKb, 32768u);
        QCOMPARE(c.testCuptiAttrs.preallocate, 8u);
        QCOMPARE(c.testCuptiAttrs.perThread, -1);  // untouched: CUPTI's default
        QCOMPARE(c.testCuptiAttrs.poolLimit, 0u);
        std::vector<std::string> warnings;
        for (const char* bad : {"pinned=2", "preallocate=0", "colour=1", "pinned", "per_thread=0,"}) {
            warnings.clear();
            c = parse({{"VRAMSCOPE_TEST_CUPTI_ATTRS", bad}}, &warnings);
            QVERIFY2(warnings.size() == 1, bad);
            QCOMPARE(c.testCuptiAttrs.pinned, -1);  // a bad list sets nothing
            QCOMPARE(c.testCuptiAttrs.deviceBufferKb, 0u);
        }
    }

    void attachRequestCarriesOutputSocketAndSettings() {
        vramscope::inject::AttachRequest r;
        std::string error;
        std::vector<std::string> warnings;
        const char* text = "output=/tmp/a.vtrace\nsocket=/run/user/1000/vramscope/42.sock\npython_dir=/opt/vramscope/python\n"
                           "tcp=1\nVRAMSCOPE_KERNELS=0\nVRAMSCOPE_COUNTERS=pm\nVRAMSCOPE_DISABLE=1\nsurprise=1\n";
        QVERIFY2(vramscope::inject::parseAttachRequest(text, &r, &error, &warnings), error.c_str());
        QCOMPARE(r.output, std::string("/tmp/a.vtrace"));
        QCOMPARE(r.socketPath, std::string("/run/user/1000/vramscope/42.sock"));
        QCOMPARE(r.pythonDir, std::string("/opt/vramscope/python"));
        QVERIFY(r.tcp);
        QCOMPARE(warnings.size(), size_t(1));  // the unknown setting, named
        QVERIFY(warnings[0].find("surprise") != std::string::npos);
        const InjectorConfig c = vramscope::inject::attachConfig(r, &warnings);
        QCOMPARE(c.output, std::string("/tmp/a.vtrace"));
        QVERIFY(!c.kernels);
        QCOMPARE(c.counters, CounterMode::Pm);
        QVERIFY(c.enabled);  // asking to attach is asking to trace
    }

    void attachRequestRefusesWhatItCannotUse() {
        vramscope::inject::AttachRequest r;
        std::string error;
        QVERIFY(!vramscope::inject::parseAttachRequest(nullptr, &r, &error, nullptr));
        QVERIFY(!vramscope::inject::parseAttachRequest("output=relative.vtrace\nsocket=/tmp/s.sock\n", &r, &error, nullptr));
        QVERIFY(error.find("absolute") != std::string::npos);
        QVERIFY(!vramscope::inject::parseAttachRequest("output=/tmp/a.vtrace\n", &r, &error, nullptr));
        const std::string longSocket = "output=/tmp/a\nsocket=/" + std::string(200, 's') + "\n";
        QVERIFY(!vramscope::inject::parseAttachRequest(longSocket.c_str(), &r, &error, nullptr));
        QVERIFY(!vramscope::inject::parseAttachRequest("output=/tmp/a\x01b\nsocket=/tmp/s\n", &r, &error, nullptr));
        const std::string huge(vramscope::inject::kMaxAttachRequestBytes + 10, 'x');
        QVERIFY(!vramscope::inject::parseAttachRequest(huge.c_str(), &r, &error, nullptr));
        QVERIFY(vramscope::inject::parseAttachRequest("output=/tmp/a\r\nsocket=/tmp/s\r\n", &r, &error, nullptr));
        QCOMPARE(r.output, std::string("/tmp/a"));
    }

    void rootProcessWritesTheFileAsNamed() {
        ProcessIdentity id{1234, "node-a", -1};
        QCOMPARE(resolveOutputPath("out/run.vtrace", id, true, false), std::string("out/run.vtrace"));
    }
    void otherProcessesGetHostPidRankSuffix() {
        ProcessIdentity id{1234, "node-a", -1};
        QCOMPARE(resolveOutputPath("out/run.vtrace", id, false, false), std::string("out/run.node-a.1234.vtrace"));
        id.rank = 7;
        QCOMPARE(resolveOutputPath("out/run.vtrace", id, false, false), std::string("out/run.node-a.1234.rank7.vtrace"));
        QCOMPARE(resolveOutputPath("run", id, false, false), std::string("run.node-a.1234.rank7.vtrace"));
    }
    void directoryOutputNamesEveryProcess() {
        ProcessIdentity id{99, "h", 2};
        QCOMPARE(resolveOutputPath("traces/", id, true, false), std::string("traces/vramscope.h.99.rank2.vtrace"));
        QCOMPARE(resolveOutputPath("traces", id, false, true), std::string("traces/vramscope.h.99.rank2.vtrace"));
        QCOMPARE(resolveOutputPath("traces///", id, true, false), std::string("traces/vramscope.h.99.rank2.vtrace"));
    }
    void patternsExpand() {
        ProcessIdentity id{99, "h", -1};
        QCOMPARE(resolveOutputPath("t.%h.%p.%r.vtrace", id, false, false), std::string("t.h.99.norank.vtrace"));
        QCOMPARE(resolveOutputPath("100%%-%p.vtrace", id, true, false), std::string("100%-99.vtrace"));
        QCOMPARE(resolveOutputPath("%x.vtrace", id, true, false), std::string("%x.vtrace"));
        // Without %p two processes could share a file: non-root ones get the suffix.
        QCOMPARE(resolveOutputPath("r%r.vtrace", id, false, false), std::string("rnorank.h.99.vtrace"));
    }
    void unsetOutputUsesWorkingDirectory() {
        ProcessIdentity id{5, "box", -1};
        QCOMPARE(resolveOutputPath("", id, true, false), std::string("vramscope.box.5.vtrace"));
    }
    void hostNamesAreMadeSafe() {
        QCOMPARE(sanitizeHostName("a/b\nc"), std::string("a_b_c"));
        QCOMPARE(sanitizeHostName(""), std::string("localhost"));
    }

    void poolRefusesBeyondBudgetAndCounts() {
        BufferPool pool(64 << 10, 16 << 10);
        QCOMPARE(pool.slotCount(), size_t(4));
        std::vector<uint8_t*> got;
        for (int i = 0; i < 4; ++i) {
            uint8_t* b = pool.acquire();
            QVERIFY(b);
            QCOMPARE(reinterpret_cast<uintptr_t>(b) % BufferPool::kAlignment, uintptr_t(0));
            got.push_back(b);
        }
        QVERIFY(pool.acquire() == nullptr);
        QVERIFY(pool.acquire() == nullptr);
        QCOMPARE(pool.refusedRequests(), uint64_t(2));
        QVERIFY(pool.complete(got[0], 100));
        QCOMPARE(pool.drain([](uint8_t*, size_t) {}), size_t(1));
        QVERIFY(pool.acquire() == got[0]);  // memory is reused, not reallocated
    }
    // CUPTI may be told our buffers come zeroed (VRAMSCOPE_CUPTI_ZEROED_BUFFERS):
    // every buffer handed out is all zero, reused ones included.
    void poolHandsOutZeroedBuffers() {
        BufferPool pool(32 << 10, 16 << 10);
        auto allZero = [&](const uint8_t* b) {
            return std::all_of(b, b + pool.bufferBytes(), [](uint8_t v) { return v == 0; });
        };
        uint8_t* a = pool.acquire();
        uint8_t* b = pool.acquire();
        QVERIFY(a && b && allZero(a) && allZero(b));
        std::memset(a, 0xAB, 1000);
        std::memset(b, 0xCD, 500);
        QVERIFY(pool.complete(a, 1000));
        pool.drain([](uint8_t* data, size_t n) {
            QCOMPARE(n, size_t(1000));
            QCOMPARE(data[999], uint8_t(0xAB));  // the writer reads what CUPTI wrote...
        });
        pool.release(b, 500);  // ...and a buffer given back unread is cleared too
        uint8_t* again1 = pool.acquire();
        uint8_t* again2 = pool.acquire();
        QVERIFY(again1 && again2);
        QVERIFY(allZero(again1) && allZero(again2));
    }
    void poolDrainsInCompletionOrder() {
        BufferPool pool(64 << 10, 16 << 10);
        uint8_t* a = pool.acquire();
        uint8_t* b = pool.acquire();
        uint8_t* c = pool.acquire();
        pool.complete(c, 3);
        pool.complete(a, 1);
        pool.complete(b, 2);
        std::vector<size_t> order;
        pool.drain([&](uint8_t*, size_t n) { order.push_back(n); });
        QCOMPARE(order, (std::vector<size_t>{3, 1, 2}));
        QCOMPARE(pool.slotsInUse(), size_t(0));
    }
    void poolIgnoresForeignBuffers() {
        BufferPool pool(64 << 10, 16 << 10);
        uint8_t foreign[64];
        QVERIFY(!pool.complete(foreign, 10));
        pool.release(foreign);
        QCOMPARE(pool.slotsInUse(), size_t(0));
    }
    void poolIsSafeUnderConcurrentProducers() {
        BufferPool pool(32 << 16, 1 << 16);
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> produced{0};
        std::vector<std::thread> producers;
        for (int t = 0; t < 4; ++t)
            producers.emplace_back([&, t] {
                while (!stop) {
                    if (uint8_t* b = pool.acquire()) {
                        b[0] = uint8_t(t);
                        pool.complete(b, 1 + t);
                        produced.fetch_add(1);
                    }
                }
            });
        uint64_t consumed = 0;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
        while (std::chrono::steady_clock::now() < until)
            consumed += pool.drain([](uint8_t* b, size_t n) { QVERIFY(size_t(b[0]) + 1 == n); });
        stop = true;
        for (auto& p : producers) p.join();
        consumed += pool.drain([](uint8_t*, size_t) {});
        QCOMPARE(consumed, produced.load());
        QVERIFY(consumed > 0);
    }

    void sideQueueDropsWhenFullAndCounts() {
        auto* q = new BoundedQueue<int, 8>;
        for (int i = 0; i < 8; ++i) QVERIFY(q->push(i));
        QVERIFY(!q->push(99));
        QCOMPARE(q->dropped(), uint64_t(1));
        int v = -1;
        for (int i = 0; i < 8; ++i) {
            QVERIFY(q->pop(v));
            QCOMPARE(v, i);
        }
        QVERIFY(!q->pop(v));
        delete q;
    }
    void sideQueueLosesNothingUnderManyProducers() {
        auto* q = new BoundedQueue<uint64_t, 1024>;
        constexpr int kThreads = 4, kEach = 50000;
        std::vector<std::thread> producers;
        for (int t = 0; t < kThreads; ++t)
            producers.emplace_back([q, t] {
                for (int i = 0; i < kEach; ++i)
                    while (!q->push(uint64_t(t) << 32 | uint64_t(i))) std::this_thread::yield();
            });
        std::vector<int> next(kThreads, 0);
        int received = 0;
        uint64_t v;
        while (received < kThreads * kEach) {
            if (!q->pop(v)) continue;
            int t = int(v >> 32), i = int(v & 0xffffffff);
            QCOMPARE(i, next[t]);  // per-producer order is kept
            ++next[t];
            ++received;
        }
        for (auto& p : producers) p.join();
        delete q;
    }
};

QTEST_GUILESS_MAIN(TestInjectorUnits)
#include "tst_injector_units.moc"
