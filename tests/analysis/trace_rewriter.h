// Re-writes a trace's records through a TraceWriter in another arrival order,
// in chunks of a given span of arrival time: what the injector's per-thread
// buffers (flushed every 50–100 ms) and CUPTI's late buffers do to a real
// recording. The live-model and live-app tests feed the result to LiveModel
// and to loadModel() and compare; the follow test writes it slowly from a
// thread, as a recording grows.
#pragma once

#include "format/reader.h"
#include "format/writer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace vramscope::testing {

struct RewriteOptions {
    uint64_t chunkSpanNs = 50'000'000;  // a flush per this much arrival time
    // Arrival delay of the i-th timed record with time key t (ns); 0 = on time.
    std::function<uint64_t(uint64_t index, uint64_t timeNs)> delayNs;
    // Called after each flush with the records written so far (the follow
    // test sleeps here so that a reader sees the file grow).
    std::function<void(uint64_t events)> afterFlush;
    bool close = true;  // false: leave it without footer, as a killed job
};

// Records of `source` (every type the writer knows), written to `path` in
// order of (time key + delay). Definitions (strings, callsites, processes,
// devices, counter infos) come first, strings re-interned to the same ids.
// False with *error on failure.
inline bool rewriteTrace(const std::string& source, const std::string& path, const RewriteOptions& options,
                         std::string* error) {
    using namespace vramscope::format;
    TraceReader reader;
    if (!reader.open(source, error)) return false;
    TraceContents all;
    if (!loadTrace(reader, all, {}, error)) return false;
    WriterOptions wo;
    wo.chunkRawBytes = 64u << 20;  // chunks end only where the arrival clock says so
    TraceWriter w(wo);
    if (!w.open(path, error)) return false;
    // Strings in id order so that intern() gives back the same ids.
    auto defs = all.get<StringDef>();
    std::sort(defs.begin(), defs.end(), [](const StringDef& a, const StringDef& b) { return a.id < b.id; });
    for (const StringDef& s : defs) {
        if (w.intern(s.text) != s.id) {
            if (error) *error = "string ids of " + source + " are not 1, 2, 3…: cannot re-intern them";
            return false;
        }
    }
    for (const auto& r : all.get<CallsiteDef>()) w.write(r);
    for (const auto& r : all.get<ProcessInfo>()) w.write(r);
    for (const auto& r : all.get<DeviceInfo>()) w.write(r);
    for (const auto& r : all.get<CounterInfo>()) w.write(r);

    struct Item {
        uint64_t arrivalNs;
        uint64_t order;
        std::function<void(TraceWriter&)> write;
    };
    std::vector<Item> items;
    uint64_t index = 0;
    auto add = [&](const auto& list, auto timeOf) {
        for (const auto& r : list) {
            const uint64_t t = timeOf(r);
            const uint64_t delay = options.delayNs ? options.delayNs(index, t) : 0;
            items.push_back({t + delay, index++, [r](TraceWriter& writer) { writer.write(r); }});
        }
    };
    auto at = [](const auto& r) { return r.timestampNs; };
    auto start = [](const auto& r) { return r.startNs; };
    add(all.get<TensorMemory>(), at);
    add(all.get<DriverMemory>(), at);
    add(all.get<PoolReserved>(), at);
    add(all.get<Kernel>(), start);
    add(all.get<Memcpy>(), start);
    add(all.get<Memset>(), start);
    add(all.get<Range>(), [](const Range& r) { return r.endNs; });  // a range is written when it closes
    add(all.get<Mark>(), at);
    add(all.get<Phase>(), at);
    add(all.get<CounterSample>(), at);
    add(all.get<MemInfo>(), at);
    add(all.get<AllocFailure>(), at);
    add(all.get<Note>(), at);
    add(all.get<Dropped>(), at);
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
        return a.arrivalNs != b.arrivalNs ? a.arrivalNs < b.arrivalNs : a.order < b.order;
    });
    uint64_t chunkEnd = items.empty() ? 0 : items.front().arrivalNs + options.chunkSpanNs;
    for (const Item& item : items) {
        if (item.arrivalNs >= chunkEnd) {
            w.flush();
            if (options.afterFlush) options.afterFlush(w.eventsWritten());
            chunkEnd = item.arrivalNs + options.chunkSpanNs;
        }
        item.write(w);
    }
    w.flush();
    if (options.afterFlush) options.afterFlush(w.eventsWritten());
    const uint64_t eventsEnd = w.bytesWritten();
    if (!w.close()) {
        if (error) *error = w.error();
        return false;
    }
    // A killed job leaves no footer: cut the file where the footer began.
    if (!options.close && ::truncate(path.c_str(), off_t(eventsEnd)) != 0) {
        if (error) *error = path + ": cannot cut off the footer";
        return false;
    }
    return true;
}

// A delay that sends a fraction of records up to maxDelayNs late (a
// deterministic stream for a seed), the rest on time.
inline std::function<uint64_t(uint64_t, uint64_t)> someLate(double fraction, uint64_t maxDelayNs, uint64_t seed) {
    auto rng = std::make_shared<std::mt19937_64>(seed);
    return [=](uint64_t, uint64_t) -> uint64_t {
        std::uniform_real_distribution<double> u(0, 1);
        if (u(*rng) >= fraction) return 0;
        return uint64_t(u(*rng) * double(maxDelayNs));
    };
}

}  // namespace vramscope::testing
