// Sizes no device can hold. A record is outside data: a damaged or crafted
// trace (or PyTorch snapshot) can say a block holds 2^63 bytes, and one such
// block turns every sum after it into nonsense (a peak of 0 B, activations of
// 8388608 TiB). Memory records whose size is beyond the device's memory are
// left out of the model, its sums and curves, and reported as one problem
// per kind of record (format::TraceProblem::Kind::ImplausibleSize), which
// `summary`, `info` and the app show.
//
// The bound is the memory of the record's device (DeviceInfo.totalMemoryBytes)
// for device memory. Host memory (pinned, pageable) and managed memory may
// exceed the device's (managed memory oversubscribes it), and a device whose
// memory is unknown gives no bound: those are held to format::kMaxPlausibleBytes.
#pragma once

#include "format/reader.h"
#include "format/records.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace vramscope::model {

class SizeCheck {
public:
    // Learns a device's memory. A device claiming more than
    // format::kMaxPlausibleBytes has its total set to 0 (unknown), and is counted.
    void checkDevice(format::DeviceInfo& device);

    // The largest size a record on deviceId of memory kind `kind` can have.
    uint64_t limit(uint32_t deviceId, format::MemoryKind kind) const;

    // Whether a memory record can be real; one that cannot is counted. Only
    // the sizes a replay adds are checked: an allocation's, not a free's
    // (the replay subtracts the block's own size).
    bool keep(const format::TensorMemory& r);
    bool keep(const format::DriverMemory& r);
    bool keep(const format::PoolReserved& r);
    bool keep(const format::MemInfo& r);

    // Every device and memory record of a decoded trace, for `info`, which
    // builds no model: check.problems() then says what a model leaves out.
    void checkAll(const format::RecordLists& records);

    bool anyLeftOut() const { return leftOutTotal_ > 0; }
    // One problem per kind of record left out, in the order of What.
    std::vector<format::TraceProblem> problems() const;

private:
    // What was left out, for the problem's sentence.
    enum class What : uint8_t { TensorBlock, TensorSegment, DriverAllocation, PoolReserved, MemInfo, Device, Count };
    bool keep(What what, uint64_t bytes, uint32_t deviceId, format::MemoryKind kind);
    struct LeftOut {
        uint64_t count = 0;
        uint64_t firstBytes = 0, firstLimit = 0;
    };
    std::unordered_map<uint32_t, uint64_t> deviceBytes_;  // device id → memory, known and plausible
    LeftOut leftOut_[static_cast<int>(What::Count)];
    uint64_t leftOutTotal_ = 0;
};

}  // namespace vramscope::model
