// Python frames of a PyTorch memory snapshot → CallsiteDef chains, deduplicated
// by (file, line, function, parent) and cached per frames list (PyTorch shares
// one list between entries with the same stack, and the pickle memo keeps that).
#pragma once

#include "pickle_reader.h"
#include "snapshot_import.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vramscope::import {

// Python frames are .py files or <...> pseudo files (<frozen runpy>,
// <eval_with_key>.3); C++ frames (stacks="all") name .cpp/.h files or "??".
bool isPythonFrame(std::string_view filename);
// Frames that record the traceback or run the caching allocator (dropped from
// the inner end of C++-only stacks).
bool isAllocatorInternal(std::string_view function);

class CallsiteTable {
public:
    struct Def {
        uint32_t parent = 0;  // 0 = outermost
        std::string file, function;
        uint32_t line = 0;
    };

    explicit CallsiteTable(const ImportOptions& options) : options_(options) {}

    // Innermost callsite id of a frames list (innermost first, as PyTorch
    // writes it), 0 when it has none. Ids are index + 1 into defs().
    uint32_t forFrames(PickleValue frames);
    const std::vector<Def>& defs() const { return defs_; }

private:
    void collect(PickleValue frames, bool pythonOnly, std::vector<size_t>& kept) const;
    uint32_t intern(uint32_t parent, std::string_view file, std::string_view function, uint32_t line);

    const ImportOptions& options_;
    std::vector<Def> defs_;
    std::unordered_map<std::string, uint32_t> byKey_;
    std::unordered_map<uint32_t, uint32_t> byFramesValue_;  // frames list value index → callsite
};

}  // namespace vramscope::import
