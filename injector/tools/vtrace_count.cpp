// vtrace_count FILE [--dump driver_memory|phase|range [N]]: prints "type count" per record type,
// then summary lines (duration, peaks). Qt-free, so it builds on the GPU
// machines where the vramscope CLI (Qt) does not.
#include <format/reader.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace vramscope::format;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: vtrace_count FILE [--dump TYPE [N]]\n");
        return 2;
    }
    TraceReader reader;
    std::string error;
    if (!reader.open(argv[1], &error)) {
        std::fprintf(stderr, "vtrace_count: %s\n", error.c_str());
        return 1;
    }
    TraceContents t;
    if (!loadTrace(reader, t, LoadOptions{}, &error)) {
        std::fprintf(stderr, "vtrace_count: %s\n", error.c_str());
        return 1;
    }
    std::printf("file %s\n", argv[1]);
    std::printf("footer %d\n", reader.footer().present ? 1 : 0);
    std::printf("truncated %d\n", reader.truncated() ? 1 : 0);
    std::printf("chunks %zu\n", reader.chunks().size());
    for (int i = 1; i < kRecordTypeCount; ++i)
        if (t.countsByType[i]) std::printf("count.%s %" PRIu64 "\n", recordTypeName(RecordType(i)), t.countsByType[i]);
    // Derived figures the samples print too.
    const auto& mem = t.get<DriverMemory>();
    uint64_t allocs = 0, frees = 0, vmmCreate = 0, vmmMap = 0, vmmUnmap = 0, vmmRelease = 0;
    std::map<uint64_t, uint64_t> live;  // address → bytes (Device + Pool)
    int64_t liveBytes = 0, peakBytes = 0;
    std::map<int, uint64_t> allocsByKind;
    for (const auto& m : mem) {
        switch (m.op) {
        case DriverMemoryOp::Alloc:
            ++allocs;
            ++allocsByKind[int(m.kind)];
            if (m.kind == MemoryKind::Device || m.kind == MemoryKind::Pool) {
                live[m.address] = m.bytes;
                liveBytes += int64_t(m.bytes);
            }
            break;
        case DriverMemoryOp::Existing:  // seeded at attach: live, but not an allocation seen
            if (m.kind == MemoryKind::Device || m.kind == MemoryKind::Pool) {
                live[m.address] = m.bytes;
                liveBytes += int64_t(m.bytes);
            }
            break;
        case DriverMemoryOp::Free: {
            ++frees;
            auto it = live.find(m.address);
            if (it != live.end()) { liveBytes -= int64_t(it->second); live.erase(it); }
            break;
        }
        case DriverMemoryOp::VmmCreate: ++vmmCreate; liveBytes += int64_t(m.bytes); break;
        case DriverMemoryOp::VmmRelease: ++vmmRelease; liveBytes -= int64_t(m.bytes); break;
        case DriverMemoryOp::VmmMap: ++vmmMap; break;
        case DriverMemoryOp::VmmUnmap: ++vmmUnmap; break;
        }
        peakBytes = std::max(peakBytes, liveBytes);
    }
    std::printf("allocs %" PRIu64 "\nfrees %" PRIu64 "\n", allocs, frees);
    for (auto& [k, n] : allocsByKind) std::printf("allocs.kind%d %" PRIu64 "\n", k, n);
    std::printf("vmm_create %" PRIu64 "\nvmm_map %" PRIu64 "\nvmm_unmap %" PRIu64 "\nvmm_release %" PRIu64 "\n", vmmCreate,
                vmmMap, vmmUnmap, vmmRelease);
    std::printf("live_bytes_at_end %" PRId64 "\npeak_live_bytes %" PRId64 "\n", liveBytes, peakBytes);
    uint64_t first = UINT64_MAX, last = 0;
    for (const auto& k : t.get<Kernel>()) { first = std::min(first, k.startNs); last = std::max(last, k.endNs); }
    for (const auto& m : mem) { first = std::min(first, m.timestampNs); last = std::max(last, m.timestampNs); }
    if (last > first) std::printf("duration_ns %" PRIu64 "\n", last - first);
    // Launch times (--launch-times): how many kernels carry one, and how far
    // behind the CPU the GPU started them (median and 99th percentile).
    std::vector<uint64_t> leads;
    for (const auto& k : t.get<Kernel>())
        if (k.queuedLeadNs) leads.push_back(k.queuedLeadNs);
    if (!leads.empty()) {
        std::sort(leads.begin(), leads.end());
        std::printf("kernel_launch_times %zu\nkernel_lead_ns_median %" PRIu64 "\nkernel_lead_ns_p99 %" PRIu64 "\n",
                    leads.size(), leads[leads.size() / 2], leads[std::min(leads.size() - 1, leads.size() * 99 / 100)]);
    }
    std::map<std::string, uint64_t> kernelNames;
    for (const auto& k : t.get<Kernel>()) ++kernelNames[t.text(k.nameId)];
    for (auto& [n, c] : kernelNames) std::printf("kernel %" PRIu64 " %.80s\n", c, n.c_str());
    std::map<std::string, uint64_t> rangeNames;
    for (const auto& r : t.get<Range>()) ++rangeNames[t.text(r.nameId)];
    for (auto& [n, c] : rangeNames) std::printf("range %" PRIu64 " %s\n", c, n.c_str());
    uint64_t peakPool = 0;
    for (const auto& p : t.get<PoolReserved>()) peakPool = std::max(peakPool, p.reservedBytes);
    std::printf("peak_pool_reserved %" PRIu64 "\n", peakPool);
    uint64_t peakUsed = 0;
    for (const auto& m : t.get<MemInfo>()) peakUsed = std::max(peakUsed, m.usedBytes);
    std::printf("peak_meminfo_used %" PRIu64 "\n", peakUsed);
    for (const auto& d : t.get<DeviceInfo>())
        std::printf("device %u %s mem=%" PRIu64 " sms=%u cc=%u bw=%" PRIu64 " flops=%" PRIu64 "\n", d.deviceId,
                    t.text(d.nameId).c_str(), d.totalMemoryBytes, d.smCount, d.computeCapability,
                    d.peakDramBytesPerSec, d.peakFlopsPerSec);
    for (const auto& f : t.get<AllocFailure>())
        std::printf("alloc_failure requested=%" PRIu64 " free=%" PRIu64 "\n", f.requestedBytes, f.freeBytes);
    for (const auto& n : t.get<Note>()) std::printf("note %d %s\n", int(n.severity), t.text(n.textId).c_str());
    for (const auto& p : t.get<ProcessInfo>())
        std::printf("process pid=%u rank=%d cmd=%s\n", p.pid, p.rank, t.text(p.commandLineId).c_str());
    // Counters: the median of each one's samples while kernels ran (from the
    // first kernel's start to the last one's end), to set beside ncu.
    for (const auto& info : t.get<CounterInfo>()) {
        std::vector<uint32_t> values;
        for (const auto& c : t.get<CounterSample>())
            if (c.counterId == info.counterId && c.timestampNs >= first && c.timestampNs <= last)
                values.push_back(c.valueMilli);
        if (values.empty()) continue;
        std::sort(values.begin(), values.end());
        std::printf("counter_median metric=%d %.3f %zu %s\n", int(info.metric), values[values.size() / 2] / 1000.0,
                    values.size(), t.text(info.nameId).c_str());
    }
    std::printf("dropped %" PRIu64 "\n", t.droppedEvents);
    for (const auto& p : t.problems) std::printf("problem %s\n", p.message.c_str());

    if (argc >= 4 && std::strcmp(argv[2], "--dump") == 0) {
        int n = argc >= 5 ? std::atoi(argv[4]) : 20;
        std::string type = argv[3];
        if (type == "driver_memory")
            for (const auto& m : mem) {
                if (n-- <= 0) break;
                std::printf("dm t=%" PRIu64 " op=%d kind=%d dev=%u addr=0x%" PRIx64 " bytes=%" PRIu64 " stream=%" PRIu64 "\n",
                            m.timestampNs, int(m.op), int(m.kind), m.deviceId, m.address, m.bytes, m.streamId);
            }
        // One line per phase marker, for tools without the Qt library
        // (injector/tools/duty_cost.py --vtrace-count): time, kind, name.
        if (type == "phase")
            for (const auto& ph : t.get<Phase>()) {
                if (n-- <= 0) break;
                std::printf("phase %" PRIu64 " %d %s\n", ph.timestampNs, int(ph.kind), t.text(ph.nameId).c_str());
            }
        if (type == "range")
            for (const auto& r : t.get<Range>()) {
                if (n-- <= 0) break;
                std::printf("range %s kind=%d depth=%u dur=%" PRIu64 " tid=%u\n", t.text(r.nameId).c_str(), int(r.kind),
                            r.depth, r.endNs - r.startNs, r.threadId);
            }
    }
    return 0;
}
