#include "trace_model.h"

#include <algorithm>
#include <string_view>

namespace vramscope::model {

namespace {
template <class V> size_t capacityBytes(const V& v) { return v.capacity() * sizeof(typename V::value_type); }
}  // namespace

size_t BlockColumns::memoryBytes() const {
    return capacityBytes(allocNs) + capacityBytes(freeNs) + capacityBytes(bytes) + capacityBytes(address) +
           capacityBytes(callsiteId) + capacityBytes(memoryKind);
}

size_t KernelColumns::memoryBytes() const {
    return capacityBytes(startNs) + capacityBytes(durationNs) + capacityBytes(nameId) + capacityBytes(streamId) +
           capacityBytes(deviceId) + capacityBytes(queuedLeadNs);
}

size_t CopyColumns::memoryBytes() const {
    return capacityBytes(startNs) + capacityBytes(durationNs) + capacityBytes(bytes) + capacityBytes(streamId) +
           capacityBytes(copyKind);
}

size_t RangeColumns::memoryBytes() const {
    return capacityBytes(startNs) + capacityBytes(endNs) + capacityBytes(nameId) + capacityBytes(domainId) +
           capacityBytes(threadId) + capacityBytes(depth);
}

const std::string& TraceModel::text(uint32_t id) const {
    static const std::string empty;
    auto it = strings.find(id);
    return it == strings.end() ? empty : it->second;
}

uint64_t TraceModel::deviceTotalBytes() const { return devices.empty() ? 0 : devices.front().totalMemoryBytes; }

namespace {

// Installed packages, the standard library and generated pseudo-files:
// where a user does not go to change an allocation.
bool isLibraryFile(std::string_view file) {
    return file.find("/site-packages/") != std::string_view::npos ||
           file.find("/dist-packages/") != std::string_view::npos ||
           file.find("/lib/python3") != std::string_view::npos || file.rfind("<frozen", 0) == 0;
}

std::string_view baseName(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string TraceModel::frameText(const format::CallsiteDef& c, bool shortFile) const {
    std::string s(shortFile ? baseName(text(c.fileId)) : std::string_view(text(c.fileId)));
    if (c.line) {
        s += ':';
        s += std::to_string(c.line);
    }
    const std::string& function = text(c.functionId);
    if (!function.empty()) {
        if (!s.empty()) s += ' ';
        s += function;
    }
    return s;
}

std::string TraceModel::callsiteText(uint32_t callsiteId) const {
    auto it = callsites.find(callsiteId);
    if (it == callsites.end()) return {};
    const format::CallsiteDef& innermost = it->second;
    if (!isLibraryFile(text(innermost.fileId))) return frameText(innermost, false);
    // Walk out to the first frame of the user's own code (bounded: a damaged
    // trace may hold a parent cycle).
    const format::CallsiteDef* c = &innermost;
    for (int hops = 0; hops < 256 && c->parentId; ++hops) {
        auto parent = callsites.find(c->parentId);
        if (parent == callsites.end()) break;
        c = &parent->second;
        if (!isLibraryFile(text(c->fileId))) return frameText(*c, false) + " \u2192 " + frameText(innermost, true);
    }
    return frameText(innermost, false);
}

std::vector<std::string> TraceModel::callsiteStack(uint32_t callsiteId) const {
    std::vector<std::string> frames;
    for (auto it = callsites.find(callsiteId); it != callsites.end() && frames.size() < 256;
         it = callsites.find(it->second.parentId)) {
        frames.push_back(frameText(it->second, false));
        if (!it->second.parentId) break;
    }
    return frames;
}

void TraceModel::buildIndexes() {
    lanes_.clear();
    freeMaxLevels_.clear();
    refreshKernelIndex(0);
    refreshBlockIndex(0, {});
}

namespace {
// Grows v's capacity geometrically to hold n: a lane extended chunk after
// chunk must not reallocate on every chunk.
template <class V> void reserveFor(V& v, size_t n) {
    if (n > v.capacity()) v.reserve(std::max(n, v.capacity() + v.capacity() / 2));
}
}  // namespace

void TraceModel::refreshKernelIndex(size_t from) {
    // Kernels are in start order, so each lane's list is too, and the
    // entries from `from` on are the tail of every lane.
    for (KernelLane& lane : lanes_) {
        const size_t keep = size_t(std::lower_bound(lane.kernels.begin(), lane.kernels.end(), uint32_t(std::min<size_t>(from, UINT32_MAX))) - lane.kernels.begin());
        lane.kernels.resize(keep);
        lane.busyPrefixNs.resize(keep + 1);
    }
    const size_t n = kernels.size();
    if (from >= n) return;
    // Lanes ordered by (device, stream). New ones first, so positions stay put below.
    auto keyLess = [](const KernelLane& lane, std::pair<uint32_t, uint32_t> key) {
        return std::make_pair(lane.deviceId, lane.streamId) < key;
    };
    auto laneAt = [&](uint32_t device, uint32_t stream) {
        return std::lower_bound(lanes_.begin(), lanes_.end(), std::make_pair(device, stream), keyLess);
    };
    uint32_t lastDevice = UINT32_MAX, lastStream = UINT32_MAX;
    for (size_t i = from; i < n; ++i) {
        if (kernels.deviceId[i] == lastDevice && kernels.streamId[i] == lastStream) continue;
        lastDevice = kernels.deviceId[i];
        lastStream = kernels.streamId[i];
        auto it = laneAt(lastDevice, lastStream);
        if (it != lanes_.end() && it->deviceId == lastDevice && it->streamId == lastStream) continue;
        KernelLane lane;
        lane.deviceId = lastDevice;
        lane.streamId = lastStream;
        lane.busyPrefixNs.push_back(0);
        lanes_.insert(it, std::move(lane));
    }
    // Two passes (count, then fill) so each lane grows once.
    std::vector<uint32_t> laneOfKernel(n - from);
    std::vector<size_t> counts(lanes_.size(), 0);
    lastDevice = lastStream = UINT32_MAX;
    uint32_t lastLane = 0;
    for (size_t i = from; i < n; ++i) {
        if (kernels.deviceId[i] != lastDevice || kernels.streamId[i] != lastStream) {
            lastDevice = kernels.deviceId[i];
            lastStream = kernels.streamId[i];
            lastLane = uint32_t(laneAt(lastDevice, lastStream) - lanes_.begin());
        }
        laneOfKernel[i - from] = lastLane;
        ++counts[lastLane];
    }
    for (size_t l = 0; l < lanes_.size(); ++l) {
        reserveFor(lanes_[l].kernels, lanes_[l].kernels.size() + counts[l]);
        reserveFor(lanes_[l].busyPrefixNs, lanes_[l].busyPrefixNs.size() + counts[l]);
    }
    for (size_t i = from; i < n; ++i) {
        KernelLane& lane = lanes_[laneOfKernel[i - from]];
        lane.kernels.push_back(static_cast<uint32_t>(i));
        lane.busyPrefixNs.push_back(lane.busyPrefixNs.back() + kernels.durationNs[i]);
    }
}

void TraceModel::refreshBlockIndex(size_t from, const std::vector<uint32_t>& changedBlocks) {
    // Level k's group g is the latest free among level k-1's entries
    // [g·16, g·16 + 16). Stale: the groups over rows from `from` on, and the
    // groups over each changed row below it.
    std::vector<size_t> dirty;
    for (uint32_t i : changedBlocks)
        if (i < from) dirty.push_back(i);
    std::sort(dirty.begin(), dirty.end());
    size_t below = blocks.freeNs.size();
    size_t k = 0;
    for (; below > kLiveFanout; ++k) {
        const size_t groups = (below + kLiveFanout - 1) / kLiveFanout;
        const bool created = freeMaxLevels_.size() <= k;
        if (created) freeMaxLevels_.emplace_back();
        std::vector<uint64_t>& level = freeMaxLevels_[k];
        const std::vector<uint64_t>& lower = k == 0 ? blocks.freeNs : freeMaxLevels_[k - 1];
        level.resize(groups);
        const size_t groupFrom = created ? 0 : std::min(from / kLiveFanout, groups);
        auto recompute = [&](size_t g) {
            uint64_t latest = 0;
            for (size_t i = g * kLiveFanout, e = std::min(below, i + kLiveFanout); i < e; ++i)
                latest = std::max(latest, lower[i]);
            level[g] = latest;
        };
        std::vector<size_t> next;
        for (size_t d : dirty) {
            const size_t g = d / kLiveFanout;
            if (g < groupFrom && (next.empty() || next.back() != g)) next.push_back(g);
        }
        for (size_t g : next) recompute(g);
        for (size_t g = groupFrom; g < groups; ++g) recompute(g);
        dirty.swap(next);
        from = groupFrom;
        below = groups;
    }
    freeMaxLevels_.resize(k);
}

std::vector<uint32_t> TraceModel::liveBlocksAt(uint64_t timeNs) const {
    std::vector<uint32_t> out;
    // Candidates: blocks allocated at or before timeNs, i.e. indices [0, end).
    const size_t end =
        static_cast<size_t>(std::upper_bound(blocks.allocNs.begin(), blocks.allocNs.end(), timeNs) - blocks.allocNs.begin());
    if (end == 0) return out;
    if (freeMaxLevels_.empty()) {
        for (size_t i = 0; i < end; ++i)
            if (blocks.freeNs[i] > timeNs) out.push_back(static_cast<uint32_t>(i));
        return out;
    }
    // Depth-first, left to right, into groups whose latest free is after timeNs.
    auto maxAt = [&](size_t level, size_t i) { return level == 0 ? blocks.freeNs[i] : freeMaxLevels_[level - 1][i]; };
    auto countAt = [&](size_t level) { return level == 0 ? blocks.freeNs.size() : freeMaxLevels_[level - 1].size(); };
    std::vector<size_t> spans(freeMaxLevels_.size() + 1, 1);
    for (size_t l = 1; l < spans.size(); ++l) spans[l] = spans[l - 1] * kLiveFanout;
    auto visit = [&](auto& self, size_t level, size_t group) -> void {
        if (level == 0) {
            out.push_back(static_cast<uint32_t>(group));
            return;
        }
        const size_t first = group * kLiveFanout, last = std::min(countAt(level - 1), first + kLiveFanout);
        for (size_t c = first; c < last && c * spans[level - 1] < end; ++c)
            if (maxAt(level - 1, c) > timeNs) self(self, level - 1, c);
    };
    const size_t top = freeMaxLevels_.size();
    for (size_t g = 0; g < countAt(top) && g * spans[top] < end; ++g)
        if (maxAt(top, g) > timeNs) visit(visit, top, g);
    return out;
}

std::vector<uint32_t> TraceModel::topLiveBlocksAt(uint64_t timeNs, size_t n) const {
    std::vector<uint32_t> live = liveBlocksAt(timeNs);
    auto larger = [&](uint32_t a, uint32_t b) {
        return blocks.bytes[a] != blocks.bytes[b] ? blocks.bytes[a] > blocks.bytes[b] : a < b;
    };
    if (live.size() > n) {
        std::partial_sort(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(n), live.end(), larger);
        live.resize(n);
    } else {
        std::sort(live.begin(), live.end(), larger);
    }
    return live;
}

std::pair<size_t, size_t> TraceModel::kernelsIn(uint64_t t0, uint64_t t1) const {
    const uint64_t from = t0 > kernels.maxDurationNs ? t0 - kernels.maxDurationNs : 0;
    auto first = std::lower_bound(kernels.startNs.begin(), kernels.startNs.end(), from);
    auto last = std::lower_bound(first, kernels.startNs.end(), t1);
    return {static_cast<size_t>(first - kernels.startNs.begin()), static_cast<size_t>(last - kernels.startNs.begin())};
}

std::vector<LaneBucket> TraceModel::laneQuery(size_t laneIndex, uint64_t t0, uint64_t t1, size_t buckets) const {
    std::vector<LaneBucket> out;
    if (laneIndex >= lanes_.size() || buckets == 0 || t1 <= t0) return out;
    const KernelLane& lane = lanes_[laneIndex];
    auto firstFrom = [&](uint64_t t) {
        return static_cast<size_t>(std::lower_bound(lane.kernels.begin(), lane.kernels.end(), t,
                                                    [&](uint32_t k, uint64_t time) { return kernels.startNs[k] < time; }) -
                                   lane.kernels.begin());
    };
    out.reserve(buckets);
    const double width = static_cast<double>(t1 - t0) / static_cast<double>(buckets);
    size_t a = firstFrom(t0);
    for (size_t k = 0; k < buckets; ++k) {
        LaneBucket b;
        b.startNs = t0 + static_cast<uint64_t>(width * static_cast<double>(k));
        b.endNs = k + 1 == buckets ? t1 : t0 + static_cast<uint64_t>(width * static_cast<double>(k + 1));
        const size_t e = firstFrom(b.endNs);
        b.kernels = static_cast<uint32_t>(e - a);
        b.busyNs = lane.busyPrefixNs[e] - lane.busyPrefixNs[a];
        if (e > a) b.firstKernel = lane.kernels[a];
        out.push_back(b);
        a = e;
    }
    return out;
}

size_t TraceModel::firstBlockAllocatedFrom(uint64_t timeNs) const {
    return static_cast<size_t>(std::lower_bound(blocks.allocNs.begin(), blocks.allocNs.end(), timeNs) -
                               blocks.allocNs.begin());
}

size_t TraceModel::memoryBytes() const {
    size_t bytes = sizeof(*this);
    bytes += allocated.memoryBytes() + reserved.memoryBytes() + deviceUsed.memoryBytes();
    bytes += blocks.memoryBytes() + driverBlocks.memoryBytes();
    bytes += capacityBytes(allocatedEventBlocks);
    bytes += kernels.memoryBytes() + memcpys.memoryBytes() + memsets.memoryBytes() + ranges.memoryBytes();
    bytes += capacityBytes(phases) + capacityBytes(allocFailures) + capacityBytes(notes) + capacityBytes(marks);
    for (const auto& c : counters) bytes += sizeof(c) + capacityBytes(c.timesNs) + capacityBytes(c.valuesMilli);
    for (const auto& l : freeMaxLevels_) bytes += capacityBytes(l);
    for (const auto& l : lanes_) bytes += sizeof(l) + capacityBytes(l.kernels) + capacityBytes(l.busyPrefixNs);
    for (const auto& [id, s] : strings) bytes += sizeof(id) + sizeof(s) + s.capacity() + 16;
    bytes += callsites.size() * (sizeof(format::CallsiteDef) + 16);
    return bytes;
}

const char* counterMetricName(format::CounterMetric metric, bool shortForm) {
    switch (metric) {
    case format::CounterMetric::SmThroughputPct: return shortForm ? "SM %" : "SM throughput %";
    case format::CounterMetric::DramThroughputPct: return shortForm ? "DRAM %" : "DRAM throughput %";
    case format::CounterMetric::TensorPipePct: return shortForm ? "tensor %" : "tensor pipe %";
    default: return nullptr;
    }
}

}  // namespace vramscope::model
