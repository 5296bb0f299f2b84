// String ids as dense indices, for per-name tables. A trace's writer numbers
// its strings 1, 2, 3, ..., so a table indexed by id is a plain vector, which
// beats a hash map on 10M kernels. But an id is whatever the file says: one
// kernel named by id 4294967295 made a table of 4 G entries (bad_alloc, or
// gigabytes zeroed before the out-of-memory). DenseIds numbers the ids a
// column uses from 0, directly by id when the ids are as compact as a
// writer makes them, through a hash map when they are not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace vramscope::analysis {

class DenseIds {
public:
    static constexpr uint32_t kNone = UINT32_MAX;

    DenseIds() = default;
    explicit DenseIds(const std::vector<uint32_t>& ids) {
        uint32_t maxId = 0;
        for (uint32_t id : ids) maxId = id > maxId ? id : maxId;
        // Direct when the id table costs no more than a few entries per
        // element of the column (or 1 MiB): always so for real traces.
        direct_ = !ids.empty() && size_t(maxId) < 4 * ids.size() + (1u << 18);
        if (direct_) byId_.assign(size_t(maxId) + 1, kNone);
        for (uint32_t id : ids) {
            if (of(id) != kNone) continue;
            const uint32_t dense = uint32_t(idOf_.size());
            if (direct_) byId_[id] = dense;
            else map_.emplace(id, dense);
            idOf_.push_back(id);
        }
    }

    // How many distinct ids the column holds.
    size_t size() const { return idOf_.size(); }
    // The dense index of id, kNone when the column does not hold it.
    uint32_t of(uint32_t id) const {
        if (direct_) return id < byId_.size() ? byId_[id] : kNone;
        const auto it = map_.find(id);
        return it == map_.end() ? kNone : it->second;
    }
    // The id of a dense index, in order of first appearance.
    uint32_t idAt(uint32_t dense) const { return idOf_[dense]; }

private:
    bool direct_ = false;
    std::vector<uint32_t> byId_;
    std::unordered_map<uint32_t, uint32_t> map_;
    std::vector<uint32_t> idOf_;
};

}  // namespace vramscope::analysis
