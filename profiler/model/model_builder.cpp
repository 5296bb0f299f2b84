#include "model_builder.h"

#include "column_merge.h"
#include "memory_replay.h"
#include "record_collector.h"

#include <algorithm>

namespace vramscope::model {

using namespace vramscope::format;

namespace {

template <class V> void trimVector(V& v) {
    if (v.capacity() > v.size() + v.size() / 10 + 64) v.shrink_to_fit();
}

void trim(BlockColumns& b) {
    trimVector(b.allocNs);
    trimVector(b.freeNs);
    trimVector(b.bytes);
    trimVector(b.address);
    trimVector(b.callsiteId);
    trimVector(b.memoryKind);
}

}  // namespace

struct ModelBuilder::State {
    uint64_t events = 0;
    // Everything decoded so far: columns in file order, memory records
    // waiting to be matched. finish() matches them in time order: file order
    // is not time order (the injector flushes per-thread buffers, and CUPTI
    // delivers frees in later buffers than their allocations; measured on a
    // PyTorch run without caching: 797 of 3087 cudaMallocs reused an address
    // whose free came later in the file).
    RecordCollector c;

    void finish(TraceModel& out) {
        TraceModel& o = c.m;
        o.events = events;
        o.tensorEvents = c.tensorEvents;
        o.driverEvents = c.driverEvents;
        o.droppedEvents = c.droppedEvents;
        o.firstNs = c.firstNs == UINT64_MAX ? 0 : c.firstNs;
        o.lastNs = c.lastNs;

        // Match allocations and frees in time order (stable: same-ns records keep file order).
        auto byTime = [](const RawMemory& a, const RawMemory& b) { return a.timeNs < b.timeNs; };
        if (!std::is_sorted(c.tensor.begin(), c.tensor.end(), byTime))
            std::stable_sort(c.tensor.begin(), c.tensor.end(), byTime);
        std::vector<RawMemory> driver;  // pool sizes first: at one nanosecond they replay first
        driver.reserve(c.pool.size() + c.driver.size());
        driver.insert(driver.end(), c.pool.begin(), c.pool.end());
        driver.insert(driver.end(), c.driver.begin(), c.driver.end());
        std::vector<RawMemory>().swap(c.pool);
        std::vector<RawMemory>().swap(c.driver);
        if (!std::is_sorted(driver.begin(), driver.end(), driverReplayBefore))
            std::stable_sort(driver.begin(), driver.end(), driverReplayBefore);

        // A PyTorch block is one alloc, one free_requested and one free_completed;
        // segment events are tensor records too but not blocks: 1% more is plenty.
        const size_t tensorRecords = c.tensor.size();
        BlockColumns tensorBlocks;
        const size_t blocks = tensorRecords / 3 + tensorRecords / 300 + 1024;
        for (auto* v : {&tensorBlocks.allocNs, &tensorBlocks.freeNs, &tensorBlocks.bytes, &tensorBlocks.address})
            v->reserve(blocks);
        tensorBlocks.callsiteId.reserve(blocks);
        tensorBlocks.memoryKind.reserve(blocks);
        MemoryCurve tensorAllocated, segments;
        std::vector<uint32_t> tensorPointBlocks;
        tensorAllocated.reserve(tensorRecords * 2 / 3 + 16);
        tensorPointBlocks.reserve(tensorRecords * 2 / 3 + 16);
        TensorReplay({&tensorBlocks, &tensorAllocated, &tensorPointBlocks, &segments, nullptr})
            .replay(c.tensor.data(), c.tensor.data() + c.tensor.size());
        std::vector<RawMemory>().swap(c.tensor);

        // Driver level: the reserved curve, or everything for a plain CUDA program.
        BlockColumns driverBlocks;
        MemoryCurve driverAllocated, driverReserved;
        std::vector<uint32_t> driverPointBlocks;
        DriverReplay({&driverBlocks, &driverAllocated, &driverPointBlocks, &driverReserved, nullptr})
            .replay(driver.data(), driver.data() + driver.size());
        std::vector<RawMemory>().swap(driver);
        for (MemoryCurve* curve : {&tensorAllocated, &segments, &driverAllocated, &driverReserved}) curve->finish();
        const bool hasDriverDeviceMemory = !driverReserved.empty();

        if (!tensorBlocks.allocNs.empty()) {
            o.allocationLevel = AllocationLevel::Tensor;
            o.allocated = std::move(tensorAllocated);
            o.blocks = std::move(tensorBlocks);
            o.allocatedEventBlocks = std::move(tensorPointBlocks);
        } else if (!driverAllocated.empty()) {
            o.allocationLevel = AllocationLevel::Driver;
            o.allocated = std::move(driverAllocated);
            o.blocks = driverBlocks;
            o.allocatedEventBlocks = std::move(driverPointBlocks);
        }
        o.driverBlocks = std::move(driverBlocks);
        trim(o.blocks);
        o.reserved = hasDriverDeviceMemory ? std::move(driverReserved) : std::move(segments);
        trimVector(o.allocatedEventBlocks);

        auto& k = o.kernels;
        if (!k.queuedLeadNs.empty()) k.queuedLeadNs.resize(k.startNs.size(), 0);
        if (!std::is_sorted(k.startNs.begin(), k.startNs.end())) {
            const std::vector<uint32_t> order = sortOrder(k.startNs);
            if (!k.queuedLeadNs.empty()) permute(k.queuedLeadNs, order);
            permute(k.startNs, order);
            permute(k.durationNs, order);
            permute(k.nameId, order);
            permute(k.streamId, order);
            permute(k.deviceId, order);
        }
        for (CopyColumns* cc : {&o.memcpys, &o.memsets}) {
            if (std::is_sorted(cc->startNs.begin(), cc->startNs.end())) continue;
            const std::vector<uint32_t> order = sortOrder(cc->startNs);
            permute(cc->startNs, order);
            permute(cc->durationNs, order);
            permute(cc->bytes, order);
            permute(cc->streamId, order);
            permute(cc->copyKind, order);
        }
        std::stable_sort(o.phases.begin(), o.phases.end(),
                         [](const Phase& a, const Phase& b) { return a.timestampNs < b.timestampNs; });
        addRegionRanges(o.phases, nvtxRowsAfter(0, o.ranges, 0), o.lastNs, o.ranges);
        for (auto& s : o.counters) {
            if (std::is_sorted(s.timesNs.begin(), s.timesNs.end())) continue;
            const std::vector<uint32_t> order = sortOrder(s.timesNs);
            permute(s.timesNs, order);
            permute(s.valuesMilli, order);
        }
        if (!std::is_sorted(c.memInfoTimes.begin(), c.memInfoTimes.end())) {
            const std::vector<uint32_t> order = sortOrder(c.memInfoTimes);
            permute(c.memInfoTimes, order);
            permute(c.memInfoValues, order);
        }
        o.deviceUsed.assign(std::move(c.memInfoTimes), std::move(c.memInfoValues));
        trimVector(k.startNs);
        trimVector(k.durationNs);
        trimVector(k.nameId);
        trimVector(k.streamId);
        trimVector(k.deviceId);
        trimVector(k.queuedLeadNs);
        o.buildIndexes();
        o.problems = c.sizes.problems();
        out = std::move(o);
    }
};

ModelBuilder::ModelBuilder() : s_(std::make_unique<State>()) {}
ModelBuilder::~ModelBuilder() = default;

void ModelBuilder::reserve(const uint64_t countsByType[256]) {
    auto& c = s_->c;
    const size_t kernels = countsByType[static_cast<int>(RecordType::Kernel)];
    auto& k = c.m.kernels;
    k.startNs.reserve(kernels);
    k.durationNs.reserve(kernels);
    k.nameId.reserve(kernels);
    k.streamId.reserve(kernels);
    k.deviceId.reserve(kernels);
    c.tensor.reserve(countsByType[static_cast<int>(RecordType::TensorMemory)]);
    c.driver.reserve(countsByType[static_cast<int>(RecordType::DriverMemory)]);
}

void ModelBuilder::add(const RecordLists& records, uint64_t events) {
    s_->events += events;
    s_->c.add(records);
}

void ModelBuilder::finish(TraceModel& out) {
    s_->finish(out);
    s_ = std::make_unique<State>();
}

void buildModel(const TraceContents& contents, TraceModel& out) {
    ModelBuilder builder;
    builder.reserve(contents.countsByType);
    builder.add(contents, contents.events);
    builder.finish(out);
    out.problems.insert(out.problems.begin(), contents.problems.begin(), contents.problems.end());
}

}  // namespace vramscope::model
