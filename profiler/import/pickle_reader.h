// A pickle reader for plain data only: the subset of Python's pickle format
// that torch.cuda.memory._dump_snapshot() files use (dicts, lists, tuples,
// str, bytes, int, float, bool, None, with memo references and framing, pickle
// protocols 2 to 5). It executes nothing: opcodes that would import or call
// Python code (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, ...) are
// refused with an error naming the opcode and its offset.
//
// The input is treated as hostile: every length is bounds checked, the stack,
// the memo and container nesting are capped, and errors are sentences with the
// byte offset. Values live in one arena (PickleDocument) and refer to each
// other by index, so shared references (the memo) cost nothing and nothing is
// freed recursively.
//
// Plain C++ with no dependency, so the fuzz target can build it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vramscope::import {

enum class PickleKind : uint8_t { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict };

const char* pickleKindName(PickleKind kind);

struct PickleLimits {
    // Snapshots of long runs with deep stacks reach a few GB.
    uint64_t maxInputBytes = 16ull << 30;
    // Items on the unpickler's stack at once (a flat list of N items being
    // built holds N items before APPENDS).
    uint64_t maxStackItems = 1ull << 27;
    // Memo entries (strings, containers) and the largest memo index accepted.
    uint64_t maxMemoEntries = 1ull << 28;
    // Containers nested in containers. Snapshots nest 5 deep
    // (dict > list > list > dict > list > dict); Python's own unpickler
    // recursion limit is about 1000.
    uint32_t maxNesting = 100;
    // MARKs open at once.
    uint32_t maxMarks = 100;
};

class PickleDocument;

// A read-only view of one value in a document. Cheap to copy.
class PickleValue {
public:
    PickleValue() = default;
    PickleValue(const PickleDocument* doc, uint32_t index) : doc_(doc), index_(index) {}

    bool valid() const { return doc_ != nullptr; }
    uint32_t index() const { return index_; }  // stable id of the value (memo references share it)
    PickleKind kind() const;  // None for an invalid value

    bool isNone() const { return valid() && kind() == PickleKind::None; }
    bool isInt() const { return valid() && kind() == PickleKind::Int; }
    bool isString() const { return valid() && kind() == PickleKind::String; }
    bool isList() const { return valid() && kind() == PickleKind::List; }
    bool isTuple() const { return valid() && kind() == PickleKind::Tuple; }
    bool isDict() const { return valid() && kind() == PickleKind::Dict; }
    bool isSequence() const { return isList() || isTuple(); }

    // Numbers. toInt64/toUInt64 fail (false) for values out of range or of
    // another kind; Bool converts to 0/1.
    bool toInt64(int64_t* out) const;
    bool toUInt64(uint64_t* out) const;
    bool toDouble(double* out) const;  // Int or Float
    bool toBool(bool* out) const;
    // Convenience: the number, or fallback when absent or not convertible.
    int64_t intOr(int64_t fallback) const;
    uint64_t uintOr(uint64_t fallback) const;

    // String (UTF-8 as written) or Bytes; empty view for other kinds.
    std::string_view text() const;

    // List, Tuple: items; Dict: entries (key, value) in insertion order.
    size_t size() const;
    PickleValue at(size_t i) const;           // List/Tuple item; invalid when out of range
    PickleValue keyAt(size_t i) const;        // Dict entry key
    PickleValue valueAt(size_t i) const;      // Dict entry value
    // Dict lookup by string key (the last entry wins, as in Python); invalid
    // when absent or not a dict. O(log n) for large dicts.
    PickleValue get(std::string_view key) const;

private:
    const PickleDocument* doc_ = nullptr;
    uint32_t index_ = 0;
};

struct PickleStats {
    uint32_t protocol = 0;       // from PROTO, 0 when absent
    uint64_t opcodes = 0;
    uint64_t values = 0;         // nodes in the arena
    uint64_t memoEntries = 0;
    uint64_t trailingBytes = 0;  // bytes after STOP (ignored)
};

class PickleDocument {
public:
    PickleValue root() const { return PickleValue(this, root_); }
    const PickleStats& stats() const { return stats_; }
    size_t valueCount() const { return nodes_.size(); }
    void clear();

private:
    friend class PickleValue;
    friend class PickleParser;

    struct Node {
        PickleKind kind = PickleKind::None;
        uint8_t intRange = 0;   // Int: 0 fits int64, 1 fits uint64 only, 2 neither
        uint16_t depth = 0;     // containers: nesting below (at the time items were added)
        uint32_t aux = 0;       // String/Bytes: length; containers: index into children_
        union {
            int64_t i;
            double f;
            uint64_t offset;    // String/Bytes: offset into text_
        };
        Node() : i(0) {}
    };

    std::vector<Node> nodes_;
    std::string text_;                               // all string and bytes payloads
    std::vector<std::vector<uint32_t>> children_;    // per container; dicts: k0, v0, k1, v1, ...
    // For dicts with many entries, entry indices sorted by string key (built by finish()).
    std::unordered_map<uint32_t, std::vector<uint32_t>> dictIndex_;
    uint32_t root_ = 0;
    PickleStats stats_;
};

// Parses one pickle (up to its STOP opcode) from memory. On failure returns
// false with a sentence in *error ("offset 1234: ...") and leaves doc empty.
bool parsePickle(const uint8_t* data, size_t size, PickleDocument& doc, std::string* error,
                 const PickleLimits& limits = {});

// The name of an opcode byte ("SHORT_BINUNICODE"), or nullptr when unknown.
const char* pickleOpcodeName(uint8_t opcode);

}  // namespace vramscope::import
