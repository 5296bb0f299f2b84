#include "record_collector.h"

#include "format/record_fields.h"
#include "format/saturating.h"

#include <algorithm>
#include <cstdlib>
#include <cxxabi.h>

namespace vramscope::model {

using namespace vramscope::format;

namespace {

// CUPTI reports kernel names as the compiler mangled them
// ("_ZN2at6native29vectorized_elementwise_kernel..."); people read them
// demangled, as Nsight and the PyTorch profiler show them. Strings that are
// not mangled names come back unchanged.
std::string demangledName(const std::string& text) {
    if (text.size() < 3 || text[0] != '_' || text[1] != 'Z') return text;
    int status = 0;
    char* out = abi::__cxa_demangle(text.c_str(), nullptr, nullptr, &status);
    std::string result = (status == 0 && out) ? std::string(out) : text;
    std::free(out);
    return result;
}

void appendCopy(CopyColumns& c, uint64_t start, uint64_t end, uint64_t bytes, uint32_t stream, uint8_t kind) {
    c.startNs.push_back(start);
    c.durationNs.push_back(static_cast<uint32_t>(std::min<uint64_t>(end > start ? end - start : 0, UINT32_MAX)));
    c.bytes.push_back(bytes);
    c.streamId.push_back(stream);
    c.copyKind.push_back(kind);
}

}  // namespace

CounterSeries& RecordCollector::series(uint32_t counterId) {
    auto [it, added] = counterIndex_.try_emplace(counterId, m.counters.size());
    if (added) {
        m.counters.emplace_back();
        m.counters.back().info.counterId = counterId;
    }
    return m.counters[it->second];
}

void RecordCollector::clearRows() {
    // Emptied in place: the next chunk reuses the capacity.
    auto clearAll = [](auto&... v) { (v.clear(), ...); };
    clearAll(m.strings, m.callsites, m.processes, m.devices, m.kernels.startNs, m.kernels.durationNs, m.kernels.nameId,
             m.kernels.streamId, m.kernels.deviceId, m.kernels.queuedLeadNs, m.ranges.startNs, m.ranges.endNs,
             m.ranges.nameId, m.ranges.domainId, m.ranges.threadId, m.ranges.depth, m.phases, m.counters,
             m.allocFailures, m.notes, m.marks, tensor, driver, pool, memInfoTimes, memInfoValues, counterIndex_);
    for (CopyColumns* c : {&m.memcpys, &m.memsets})
        clearAll(c->startNs, c->durationNs, c->bytes, c->streamId, c->copyKind);
    m.kernels.maxDurationNs = 0;
    tensorEvents = driverEvents = droppedEvents = 0;
    firstNs = UINT64_MAX;
    lastNs = 0;
}

void RecordCollector::add(const RecordLists& r) {
    for (const auto& s : r.get<StringDef>()) m.strings[s.id] = demangledName(s.text);
    for (const auto& c : r.get<CallsiteDef>()) m.callsites[c.id] = c;
    for (const auto& p : r.get<ProcessInfo>()) m.processes.push_back(p);
    for (DeviceInfo d : r.get<DeviceInfo>()) {
        sizes.checkDevice(d);
        m.devices.push_back(d);
    }
    // A record left out for its size is not seen at all: its time may be as
    // wrong as its size.
    for (const auto& t : r.get<TensorMemory>()) {
        if (!sizes.keep(t)) continue;
        seen(t.timestampNs);
        tensor.push_back({t.timestampNs, t.address, t.bytes, t.callsiteId, static_cast<uint8_t>(t.action), 0});
    }
    tensorEvents += r.get<TensorMemory>().size();
    for (const auto& d : r.get<DriverMemory>()) {
        if (!sizes.keep(d)) continue;
        seen(d.timestampNs);
        driver.push_back({d.timestampNs, d.address, d.bytes, 0, static_cast<uint8_t>(d.op), static_cast<uint8_t>(d.kind)});
    }
    driverEvents += r.get<DriverMemory>().size();
    for (const auto& p : r.get<PoolReserved>()) {
        if (!sizes.keep(p)) continue;
        seen(p.timestampNs);
        pool.push_back({p.timestampNs, p.poolAddress, p.reservedBytes, 0, 0, 0, true});
    }
    auto& k = m.kernels;
    for (const auto& e : r.get<Kernel>()) {
        const uint64_t duration = std::min<uint64_t>(e.endNs > e.startNs ? e.endNs - e.startNs : 0, UINT32_MAX);
        k.startNs.push_back(e.startNs);
        k.durationNs.push_back(static_cast<uint32_t>(duration));
        k.nameId.push_back(e.nameId);
        k.streamId.push_back(e.streamId);
        k.deviceId.push_back(static_cast<uint16_t>(e.deviceId));
        k.maxDurationNs = std::max(k.maxDurationNs, duration);
        // The column starts with the first kernel that has a launch time (0 for those before).
        if (e.queuedLeadNs && k.queuedLeadNs.empty()) k.queuedLeadNs.assign(k.startNs.size() - 1, 0);
        if (e.queuedLeadNs || !k.queuedLeadNs.empty())
            k.queuedLeadNs.push_back(static_cast<uint32_t>(std::min<uint64_t>(e.queuedLeadNs, UINT32_MAX)));
    }
    // Every start and end (an end can wrap below its start in a damaged
    // record: the span still covers the start, however the file is chunked).
    for (const auto& e : r.get<Kernel>()) lastNs = std::max(lastNs, std::max(e.startNs, e.endNs));
    for (const auto& e : r.get<Kernel>()) firstNs = std::min(firstNs, e.startNs);
    for (const auto& c : r.get<Memcpy>()) {
        seen(c.startNs);
        seen(c.endNs);
        appendCopy(m.memcpys, c.startNs, c.endNs, c.bytes, c.streamId, uint8_t(c.copyKind));
    }
    for (const auto& c : r.get<Memset>()) {
        seen(c.startNs);
        seen(c.endNs);
        appendCopy(m.memsets, c.startNs, c.endNs, c.bytes, c.streamId, 0);
    }
    for (const auto& g : r.get<Range>()) {
        seen(g.startNs);
        seen(g.endNs);
        m.ranges.startNs.push_back(g.startNs);
        m.ranges.endNs.push_back(g.endNs);
        m.ranges.nameId.push_back(g.nameId);
        m.ranges.domainId.push_back(g.domainId);
        m.ranges.threadId.push_back(g.threadId);
        m.ranges.depth.push_back(static_cast<uint16_t>(std::min<uint32_t>(g.depth, UINT16_MAX)));
    }
    for (const auto& p : r.get<Phase>()) {
        seen(p.timestampNs);
        m.phases.push_back(p);
    }
    for (const auto& c : r.get<CounterInfo>()) series(c.counterId).info = c;
    const auto& samples = r.get<CounterSample>();
    for (size_t i = 0; i < samples.size();) {
        // Samples of one counter come in runs per chunk only loosely; look the series up per run.
        CounterSeries& s = series(samples[i].counterId);
        const uint32_t id = samples[i].counterId;
        for (; i < samples.size() && samples[i].counterId == id; ++i) {
            s.timesNs.push_back(samples[i].timestampNs);
            s.valuesMilli.push_back(samples[i].valueMilli);
        }
    }
    if (!samples.empty()) {
        seen(samples.front().timestampNs);
        seen(samples.back().timestampNs);
    }
    for (const auto& mi : r.get<MemInfo>()) {
        if (memInfoDevice == UINT32_MAX) memInfoDevice = mi.deviceId;
        if (mi.deviceId != memInfoDevice) continue;  // the first device's only
        if (!sizes.keep(mi)) continue;
        memInfoTimes.push_back(mi.timestampNs);
        memInfoValues.push_back(mi.usedBytes);
    }
    for (const auto& f : r.get<AllocFailure>()) {
        seen(f.timestampNs);  // an out-of-memory is often the trace's last moment: the span must reach it
        m.allocFailures.push_back(f);
    }
    for (const auto& n : r.get<Note>()) m.notes.push_back(n);
    for (const auto& mk : r.get<Mark>()) m.marks.push_back(mk);
    for (const auto& d : r.get<Dropped>()) droppedEvents = saturatingAdd(droppedEvents, d.count);
}

uint16_t nvtxRowsAfter(uint16_t rows, const RangeColumns& r, size_t from) {
    for (size_t i = from; i < r.size(); ++i) rows = std::max<uint16_t>(rows, uint16_t(r.depth[i] + 1));
    return rows;
}

void addRegionRanges(const std::vector<Phase>& phases, uint16_t nvtxRows, uint64_t lastNs, RangeColumns& ranges) {
    struct Open {
        uint64_t startNs;
        uint16_t depth;
    };
    // Open regions per name (a trace is outside data: linear in its markers
    // however they pair), and how many are open in all.
    std::unordered_map<uint32_t, std::vector<Open>> open;
    size_t openCount = 0;
    auto add = [&](uint32_t nameId, const Open& o, uint64_t endNs) {
        ranges.startNs.push_back(o.startNs);
        ranges.endNs.push_back(std::max(endNs, o.startNs));
        ranges.nameId.push_back(nameId);
        ranges.domainId.push_back(TraceModel::kRegionDomain);
        ranges.threadId.push_back(0);
        ranges.depth.push_back(uint16_t(std::min<uint32_t>(uint32_t(nvtxRows) + o.depth, UINT16_MAX)));
    };
    for (const Phase& p : phases) {
        if (p.kind == PhaseKind::RegionBegin) {
            open[p.nameId].push_back({p.timestampNs, uint16_t(std::min<size_t>(openCount, UINT16_MAX))});
            ++openCount;
        } else if (p.kind == PhaseKind::RegionEnd) {
            auto it = open.find(p.nameId);
            if (it == open.end() || it->second.empty()) continue;
            add(p.nameId, it->second.back(), p.timestampNs);
            it->second.pop_back();
            --openCount;
        }
    }
    std::vector<std::pair<uint32_t, Open>> unclosed;  // in time order, whatever the map's order
    for (const auto& [nameId, stack] : open)
        for (const Open& o : stack) unclosed.push_back({nameId, o});
    std::sort(unclosed.begin(), unclosed.end(),
              [](const auto& a, const auto& b) { return a.second.startNs < b.second.startNs; });
    for (const auto& [nameId, o] : unclosed) add(nameId, o, lastNs);
}

}  // namespace vramscope::model
