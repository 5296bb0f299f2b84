#include "chrome_trace.h"

#include "format/utf8.h"

#include <cstdio>
#include <set>
#include <string>

namespace vramscope::exporting {

using model::TraceModel;

void writeJsonString(std::ostream& out, std::string_view text) {
    const bool cut = text.size() > kMaxExportedTextBytes;
    if (cut) text = text.substr(0, format::utf8PrefixBytes(text, kMaxExportedTextBytes));
    out << '"';
    for (size_t i = 0; i < text.size();) {
        // JSON is UTF-8: a byte that starts no well-formed sequence becomes U+FFFD.
        const size_t n = format::utf8SequenceAt(text, i);
        if (n == 0) {
            out << "\\ufffd";
            ++i;
            continue;
        }
        if (n > 1) {
            out << text.substr(i, n);
            i += n;
            continue;
        }
        const char ch = text[i++];
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out << "\\\""; break;
        case '\\': out << "\\\\"; break;
        case '\n': out << "\\n"; break;
        case '\r': out << "\\r"; break;
        case '\t': out << "\\t"; break;
        default:
            if (c < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                out << buffer;
            } else {
                out << ch;
            }
        }
    }
    if (cut) out << "\xE2\x80\xA6";  // …
    out << '"';
}

namespace {

// Process ids of the tracks.
constexpr int kMemoryPid = 1, kGpuPid = 2, kHostPid = 3, kTrainingPid = 4;

class Writer {
public:
    Writer(std::ostream& out, uint64_t originNs) : out_(out), originNs_(originNs) {}

    void begin() { out_ << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"; }
    void end() { out_ << "\n]}\n"; }

    void metadata(int pid, int tid, const char* what, std::string_view name) {
        separator();
        out_ << "{\"ph\":\"M\",\"pid\":" << pid << ",\"tid\":" << tid << ",\"name\":\"" << what << "\",\"args\":{\"name\":";
        writeJsonString(out_, name);
        out_ << "}}";
    }
    void counter(int pid, const char* name, uint64_t timeNs, uint64_t bytes) {
        separator();
        out_ << "{\"ph\":\"C\",\"pid\":" << pid << ",\"name\":\"" << name << "\",\"ts\":" << micros(timeNs)
             << ",\"args\":{\"bytes\":" << bytes << "}}";
    }
    // A hardware counter sample: percent of peak with three decimals.
    void percent(int pid, std::string_view name, uint64_t timeNs, uint32_t valueMilli) {
        separator();
        out_ << "{\"ph\":\"C\",\"pid\":" << pid << ",\"name\":";
        writeJsonString(out_, name);
        char value[32];
        std::snprintf(value, sizeof value, "%u.%03u", valueMilli / 1000, valueMilli % 1000);
        out_ << ",\"ts\":" << micros(timeNs) << ",\"args\":{\"percent\":" << value << "}}";
    }
    void slice(int pid, uint64_t tid, std::string_view name, const char* category, uint64_t startNs, uint64_t endNs) {
        separator();
        out_ << "{\"ph\":\"X\",\"pid\":" << pid << ",\"tid\":" << tid << ",\"cat\":\"" << category << "\",\"name\":";
        writeJsonString(out_, name.empty() ? std::string_view("(unnamed)") : name);
        out_ << ",\"ts\":" << micros(startNs) << ",\"dur\":" << durationMicros(startNs, endNs) << "}";
    }

private:
    void separator() {
        if (!first_) out_ << ",\n";
        first_ = false;
    }
    std::string micros(uint64_t timeNs) const {
        const uint64_t t = timeNs > originNs_ ? timeNs - originNs_ : 0;
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%llu.%03llu", static_cast<unsigned long long>(t / 1000),
                      static_cast<unsigned long long>(t % 1000));
        return buffer;
    }
    static std::string durationMicros(uint64_t startNs, uint64_t endNs) {
        const uint64_t d = endNs > startNs ? endNs - startNs : 0;
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%llu.%03llu", static_cast<unsigned long long>(d / 1000),
                      static_cast<unsigned long long>(d % 1000));
        return buffer;
    }
    std::ostream& out_;
    uint64_t originNs_;
    bool first_ = true;
};

void writeCurve(Writer& w, const model::MemoryCurve& curve, const char* name, size_t maxPoints) {
    if (curve.empty()) return;
    const auto& times = curve.timesNs();
    const auto& values = curve.values();
    if (maxPoints == 0 || curve.size() <= maxPoints) {
        for (size_t i = 0; i < curve.size(); ++i) w.counter(kMemoryPid, name, times[i], values[i]);
        return;
    }
    // Two points per bucket (its max, then its min) keep every spike visible.
    const auto buckets = curve.query(curve.firstNs(), curve.lastNs() + 1, std::max<size_t>(1, maxPoints / 2));
    for (const auto& b : buckets) {
        w.counter(kMemoryPid, name, b.startNs, b.maxBytes);
        if (b.minBytes != b.maxBytes) w.counter(kMemoryPid, name, b.startNs + (b.endNs - b.startNs) / 2, b.minBytes);
    }
}

}  // namespace

bool writeChromeTrace(const TraceModel& m, const analysis::IterationSet& iterations, std::ostream& out,
                      const ChromeTraceOptions& options) {
    Writer w(out, m.firstNs);
    w.begin();
    const std::string device = m.devices.empty() ? std::string("GPU") : m.text(m.devices.front().nameId);
    w.metadata(kMemoryPid, 0, "process_name", "Memory (" + device + ")");
    w.metadata(kGpuPid, 0, "process_name", "GPU " + device);
    w.metadata(kHostPid, 0, "process_name", "Host (NVTX ranges)");
    w.metadata(kTrainingPid, 0, "process_name", "Training");
    w.metadata(kTrainingPid, 1, "thread_name", "iterations");
    w.metadata(kTrainingPid, 2, "thread_name", "phases");
    w.metadata(kTrainingPid, 3, "thread_name", "recompute");

    writeCurve(w, m.allocated, "allocated", options.maxCounterPoints);
    writeCurve(w, m.reserved, "reserved", options.maxCounterPoints);
    writeCurve(w, m.deviceUsed, "device used", options.maxCounterPoints);
    if (const uint64_t total = m.deviceTotalBytes(); total && !m.allocated.empty()) {
        w.counter(kMemoryPid, "device total", m.firstNs, total);
        w.counter(kMemoryPid, "device total", m.lastNs, total);
    }

    // Hardware counters as counter tracks of the GPU, each value at the end
    // of its sampled interval.
    for (const model::CounterSeries& c : m.counters) {
        const char* label = model::counterMetricName(c.info.metric);
        const std::string name = label ? label : m.text(c.info.nameId);
        for (size_t i = 0; i < c.timesNs.size(); ++i) w.percent(kGpuPid, name, c.timesNs[i], c.valuesMilli[i]);
    }

    if (options.kernels) {
        std::set<uint32_t> streams;
        const auto& k = m.kernels;
        for (size_t i = 0; i < k.size(); ++i) {
            streams.insert(k.streamId[i]);
            w.slice(kGpuPid, k.streamId[i], m.text(k.nameId[i]), "kernel", k.startNs[i], k.endNs(i));
        }
        for (size_t i = 0; i < m.memcpys.size(); ++i) {
            streams.insert(m.memcpys.streamId[i]);
            w.slice(kGpuPid, m.memcpys.streamId[i], "memcpy " + std::to_string(m.memcpys.bytes[i]) + " B", "memcpy",
                    m.memcpys.startNs[i], m.memcpys.endNs(i));
        }
        for (size_t i = 0; i < m.memsets.size(); ++i) {
            streams.insert(m.memsets.streamId[i]);
            w.slice(kGpuPid, m.memsets.streamId[i], "memset " + std::to_string(m.memsets.bytes[i]) + " B", "memset",
                    m.memsets.startNs[i], m.memsets.endNs(i));
        }
        for (uint32_t s : streams) w.metadata(kGpuPid, static_cast<int>(s), "thread_name", "stream " + std::to_string(s));
    }

    std::set<uint32_t> threads;
    bool regions = false;
    for (size_t i = 0; i < m.ranges.size(); ++i) {
        if (m.ranges.domainId[i] == model::TraceModel::kRegionDomain) {  // vramscope.region(): no thread recorded
            regions = true;
            w.slice(kTrainingPid, 4, m.text(m.ranges.nameId[i]), "region", m.ranges.startNs[i], m.ranges.endNs[i]);
            continue;
        }
        threads.insert(m.ranges.threadId[i]);
        w.slice(kHostPid, m.ranges.threadId[i], m.text(m.ranges.nameId[i]), "nvtx", m.ranges.startNs[i], m.ranges.endNs[i]);
    }
    if (regions) w.metadata(kTrainingPid, 4, "thread_name", "regions");
    for (uint32_t t : threads) w.metadata(kHostPid, static_cast<int>(t), "thread_name", "thread " + std::to_string(t));

    for (size_t i = 0; i < iterations.iterations.size(); ++i) {
        const auto& it = iterations.iterations[i];
        w.slice(kTrainingPid, 1, "step " + std::to_string(it.step), "iteration", it.span.startNs, it.span.endNs);
        for (int p = 0; p < analysis::kPhaseCount; ++p) {
            const auto& span = it.phases[static_cast<size_t>(p)];
            if (span.valid())
                w.slice(kTrainingPid, 2, analysis::phaseLabel(iterations, static_cast<analysis::PhaseName>(p)), "phase",
                        span.startNs, span.endNs);
        }
        for (const auto& r : it.recomputes) w.slice(kTrainingPid, 3, "recompute", "phase", r.startNs, r.endNs);
    }
    w.end();
    out.flush();
    return static_cast<bool>(out);
}

}  // namespace vramscope::exporting
