// Snapshot frames → callsites; see snapshot_callsites.h.
#include "snapshot_callsites.h"

namespace vramscope::import {

bool isPythonFrame(std::string_view filename) {
    if (filename.empty()) return false;
    if (filename.front() == '<') return true;
    return filename.size() >= 3 && filename.substr(filename.size() - 3) == ".py";
}

// Innermost frames of a stacks="all" traceback that belong to recording it
// (torch 2.11: torch::unwind::unwind, CapturedTraceback::gather, gather_with_cpp)
// or to the caching allocator itself.
bool isAllocatorInternal(std::string_view function) {
    for (std::string_view prefix : {"torch::unwind::", "torch::CapturedTraceback::", "torch::cuda::(anonymous namespace)::gather",
                                    "c10::cuda::CUDACachingAllocator::"})
        if (function.substr(0, prefix.size()) == prefix) return true;
    return false;
}

uint32_t CallsiteTable::forFrames(PickleValue frames) {
    if (!frames.isSequence() || frames.size() == 0) return 0;
    auto cached = byFramesValue_.find(frames.index());
    if (cached != byFramesValue_.end()) return cached->second;
    std::vector<size_t> kept;
    collect(frames, !options_.keepCppFrames, kept);
    if (kept.empty() && !options_.keepCppFrames) {
        // No Python frame (the autograd engine's thread): C++ frames, without the
        // innermost ones that only record the stack or run the allocator.
        collect(frames, false, kept);
        size_t skip = 0;
        while (skip + 1 < kept.size() && isAllocatorInternal(frames.at(kept[skip]).get("name").text())) ++skip;
        kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(skip));
    }
    uint32_t parent = 0;
    for (size_t k = kept.size(); k-- > 0;) {  // outermost first
        const PickleValue f = frames.at(kept[k]);
        int64_t line = f.get("line").intOr(0);
        if (line < 0 || line > int64_t(UINT32_MAX)) line = 0;
        parent = intern(parent, f.get("filename").text(), f.get("name").text(), static_cast<uint32_t>(line));
    }
    byFramesValue_.emplace(frames.index(), parent);
    return parent;
}

void CallsiteTable::collect(PickleValue frames, bool pythonOnly, std::vector<size_t>& kept) const {
    kept.clear();
    for (size_t i = 0; i < frames.size() && kept.size() < options_.maxFramesPerStack; ++i) {
        const PickleValue f = frames.at(i);
        if (!f.isDict()) continue;
        if (pythonOnly && !isPythonFrame(f.get("filename").text())) continue;
        kept.push_back(i);
    }
}

uint32_t CallsiteTable::intern(uint32_t parent, std::string_view file, std::string_view function, uint32_t line) {
    std::string key = std::to_string(parent) + '\x1f' + std::to_string(line) + '\x1f';
    key.append(file).append(1, '\x1f').append(function);
    auto [it, added] = byKey_.try_emplace(std::move(key), static_cast<uint32_t>(defs_.size() + 1));
    if (added) defs_.push_back({parent, std::string(file), std::string(function), line});
    return it->second;
}

}  // namespace vramscope::import
