// Turns CUPTI activity records and side events into .vtrace records.
//
// Runs on the writer thread only, so it keeps plain (unsynchronized) state:
// interned kernel names keyed by CUPTI's name pointer, NVTX ranges that are
// open, pool sizes, VMM handle sizes. It does no CUPTI call except
// cuptiActivityGetNextRecord in decodeBuffer(), so tests feed decodeRecord()
// hand-made records without a GPU.
#pragma once

#include "side_queue.h"

#include <format/writer.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>



namespace vramscope::inject {

struct DecoderStats {
    uint64_t activityRecords = 0;  // every CUPTI record seen
    uint64_t kernels = 0;
    uint64_t driverMemory = 0;     // DriverMemory records written (activity + VMM callbacks)
    uint64_t poolReserved = 0;
    uint64_t memcpys = 0;
    uint64_t memsets = 0;
    uint64_t ranges = 0;
    uint64_t marks = 0;
    uint64_t memInfo = 0;
    uint64_t phases = 0;
    uint64_t allocFailures = 0;
    uint64_t vmmDuplicatesSkipped = 0;  // MEMORY2 records of VMM calls already recorded by callbacks
    uint64_t unknownRecords = 0;        // activity kinds we did not ask for
    uint64_t lastTimestampNs = 0;
};

class ActivityDecoder {
public:
    explicit ActivityDecoder(format::TraceWriter& writer) : writer_(writer) {}

    // Every record in one completed CUPTI buffer.
    void decodeBuffer(uint8_t* buffer, size_t validBytes);
    void decodeRecord(const void* record);  // a CUpti_Activity*
    void handleSide(const SideEvent& event);
    // Closes NVTX ranges still open at endNs (the process ended inside them).
    void finish(uint64_t endNs);

    const DecoderStats& stats() const { return stats_; }
    // Device ordinals seen in ContextCreated events (DeviceInfo written).
    const std::unordered_set<uint32_t>& devicesDescribed() const { return devicesDescribed_; }

private:
    struct OpenRange {
        uint64_t startNs = 0;
        uint32_t nameId = 0;
        uint32_t domainId = 0;
        uint32_t threadId = 0;
    };
    uint32_t nameId(const char* name);
    void seen(uint64_t ns) { if (ns > stats_.lastTimestampNs) stats_.lastTimestampNs = ns; }
    void decodeMemory(const void* record);
    void decodeMemoryPool(const void* record);
    void decodeKernel(const void* record);
    void decodeMemcpy(const void* record);
    void decodeMemset(const void* record);
    void decodeMarker(const void* record);
    void closeRange(uint32_t markerId, uint64_t endNs);
    void poolSize(uint32_t deviceId, uint64_t poolAddress, uint64_t bytes, uint64_t ns);
    uint32_t deviceOfContext(uint32_t contextId) const;

    format::TraceWriter& writer_;
    DecoderStats stats_;
    struct CachedName {
        uint32_t id;
        std::string text;
    };
    std::unordered_map<const char*, CachedName> names_;
    std::unordered_map<uint32_t, OpenRange> openRanges_;               // by NVTX marker id
    std::unordered_map<uint32_t, std::vector<uint32_t>> rangeStacks_;  // thread → open push ids
    std::unordered_map<uint32_t, uint64_t> earlyEnds_;                 // END seen before its START
    std::unordered_map<uint64_t, uint64_t> poolBytes_;                 // pool address → last reserved
    std::unordered_map<uint64_t, uint64_t> vmmHandleBytes_;            // cuMemCreate handle → bytes
    std::unordered_set<uint32_t> vmmCorrelations_;                     // bounded: cleared past 65536
    std::unordered_map<uint32_t, uint32_t> contextDevice_;
    std::unordered_set<uint32_t> devicesDescribed_;
};

}  // namespace vramscope::inject
