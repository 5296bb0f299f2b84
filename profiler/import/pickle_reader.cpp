// Plain-data pickle reader; see pickle_reader.h. The opcode semantics follow
// Python's Lib/pickle.py (_Unpickler) and pickletools' documentation, for the
// opcodes that pickle.dump() of dicts/lists/tuples/str/bytes/int/float/bool/None
// emits at protocols 2 to 5; everything else is refused, never executed.
#include "pickle_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace vramscope::import {

namespace {

struct OpcodeName {
    uint8_t code;
    const char* name;
};

// Every opcode of protocols 0 to 5, so that refusals can name them.
constexpr OpcodeName kOpcodeNames[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
    {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
    {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
    {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
    {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
    {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
    {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
    {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

constexpr uint32_t kNoMemo = std::numeric_limits<uint32_t>::max();

std::string hexByte(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

}  // namespace

const char* pickleOpcodeName(uint8_t opcode) {
    for (const auto& o : kOpcodeNames)
        if (o.code == opcode) return o.name;
    return nullptr;
}

const char* pickleKindName(PickleKind kind) {
    switch (kind) {
    case PickleKind::None: return "None";
    case PickleKind::Bool: return "bool";
    case PickleKind::Int: return "int";
    case PickleKind::Float: return "float";
    case PickleKind::String: return "str";
    case PickleKind::Bytes: return "bytes";
    case PickleKind::List: return "list";
    case PickleKind::Tuple: return "tuple";
    case PickleKind::Dict: return "dict";
    }
    return "?";
}

void PickleDocument::clear() {
    nodes_.clear();
    text_.clear();
    children_.clear();
    dictIndex_.clear();
    root_ = 0;
    stats_ = {};
}

// ---------------------------------------------------------------------------
// The parser: Python's unpickler stack machine, restricted to plain data.

class PickleParser {
public:
    PickleParser(const uint8_t* data, size_t size, PickleDocument& doc, const PickleLimits& limits)
        : p_(data), size_(size), doc_(doc), limits_(limits) {}

    bool run(std::string* error);

private:
    using Node = PickleDocument::Node;

    bool fail(const std::string& message) {
        error_ = "offset " + std::to_string(opOffset_) + ": " + message;
        return false;
    }
    std::string opName() const {
        const char* n = pickleOpcodeName(op_);
        return n ? std::string(n) : "opcode " + hexByte(op_);
    }
    bool need(uint64_t n) {
        if (n <= size_ - pos_) return true;
        return fail("the file ends in the middle of " + opName() + " (it needs " + std::to_string(n) +
                    " more bytes, " + std::to_string(size_ - pos_) + " are left): the pickle is truncated");
    }
    uint64_t readLE(int bytes) {
        uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v |= uint64_t(p_[pos_ + i]) << (8 * i);
        pos_ += bytes;
        return v;
    }

    bool newNode(PickleKind kind, uint32_t* index) {
        if (doc_.nodes_.size() >= std::numeric_limits<uint32_t>::max() - 1)
            return fail("more than 4 billion values; vramscope cannot hold this pickle");
        *index = static_cast<uint32_t>(doc_.nodes_.size());
        doc_.nodes_.emplace_back();
        doc_.nodes_.back().kind = kind;
        if (kind == PickleKind::List || kind == PickleKind::Tuple || kind == PickleKind::Dict) {
            doc_.nodes_.back().aux = static_cast<uint32_t>(doc_.children_.size());
            doc_.nodes_.back().depth = 1;
            doc_.children_.emplace_back();
        }
        return true;
    }
    bool push(uint32_t index) {
        if (stack_.size() >= limits_.maxStackItems)
            return fail("more than " + std::to_string(limits_.maxStackItems) +
                        " values on the unpickler's stack; this is not a memory snapshot");
        stack_.push_back(index);
        return true;
    }
    bool pushNew(PickleKind kind, uint32_t* index = nullptr) {
        uint32_t i = 0;
        if (!newNode(kind, &i) || !push(i)) return false;
        if (index) *index = i;
        return true;
    }
    size_t frameBottom() const { return marks_.empty() ? 0 : marks_.back(); }
    bool pop(uint32_t* index) {
        if (stack_.size() <= frameBottom()) return fail(opName() + " needs a value but the stack is empty");
        *index = stack_.back();
        stack_.pop_back();
        return true;
    }
    bool top(uint32_t* index) {
        if (stack_.size() <= frameBottom()) return fail(opName() + " needs a value but the stack is empty");
        *index = stack_.back();
        return true;
    }
    // Items pushed since the last MARK, removing them and the mark.
    bool popMark(std::vector<uint32_t>* items) {
        if (marks_.empty()) return fail(opName() + " without a preceding MARK");
        const size_t bottom = marks_.back();
        marks_.pop_back();
        if (items) items->assign(stack_.begin() + static_cast<std::ptrdiff_t>(bottom), stack_.end());
        stack_.resize(bottom);
        return true;
    }

    // Adds child to container (updates the nesting depth, enforcing the limit).
    bool addChild(uint32_t container, uint32_t child) {
        Node& c = doc_.nodes_[container];
        const uint16_t childDepth = doc_.nodes_[child].depth;
        if (childDepth + 1u > c.depth) {
            if (childDepth + 1u > limits_.maxNesting)
                return fail("values nested more than " + std::to_string(limits_.maxNesting) +
                            " levels deep; a memory snapshot nests 6 levels");
            c.depth = static_cast<uint16_t>(childDepth + 1);
        }
        doc_.children_[c.aux].push_back(child);
        return true;
    }
    bool requireKind(uint32_t index, PickleKind kind) {
        if (doc_.nodes_[index].kind == kind) return true;
        return fail(opName() + " expects a " + pickleKindName(kind) + " below its operands, found a " +
                    pickleKindName(doc_.nodes_[index].kind));
    }
    bool checkKey(uint32_t key) {
        const PickleKind k = doc_.nodes_[key].kind;
        if (k == PickleKind::List || k == PickleKind::Dict)
            return fail(std::string("a dict key is a ") + pickleKindName(k) + ", which Python cannot hash");
        return true;
    }
    bool setItems(uint32_t dict, const uint32_t* items, size_t n) {
        if (n % 2) return fail(opName() + " with an odd number of values (a key without a value)");
        for (size_t i = 0; i < n; i += 2)
            if (!checkKey(items[i]) || !addChild(dict, items[i]) || !addChild(dict, items[i + 1])) return false;
        return true;
    }

    bool memoPut(uint64_t key) {
        uint32_t value = 0;
        if (!top(&value)) return false;
        if (key >= limits_.maxMemoEntries)
            return fail("memo index " + std::to_string(key) + " is beyond the limit of " +
                        std::to_string(limits_.maxMemoEntries));
        bool added = false;
        if (key < memo_.size()) {
            added = memo_[key] == kNoMemo;
            memo_[key] = value;
        } else if (key == memo_.size() && !sparseMemo_.count(key)) {
            memo_.push_back(value);
            added = true;
        } else {
            added = sparseMemo_.insert_or_assign(key, value).second;
        }
        if (added && ++memoCount_ > limits_.maxMemoEntries)
            return fail("more than " + std::to_string(limits_.maxMemoEntries) + " memo entries");
        return true;
    }
    bool memoGet(uint64_t key) {
        uint32_t value = kNoMemo;
        if (key < memo_.size()) value = memo_[key];
        if (value == kNoMemo) {
            auto it = sparseMemo_.find(key);
            if (it != sparseMemo_.end()) value = it->second;
        }
        if (value == kNoMemo)
            return fail(opName() + " refers to memo entry " + std::to_string(key) + ", which was never stored");
        return push(value);
    }

    bool pushText(PickleKind kind, uint64_t length) {
        if (!need(length)) return false;
        if (length > std::numeric_limits<uint32_t>::max())
            return fail("a string of " + std::to_string(length) + " bytes; longer than 4 GiB is not supported");
        uint32_t i = 0;
        if (!pushNew(kind, &i)) return false;
        Node& n = doc_.nodes_[i];
        n.offset = doc_.text_.size();
        n.aux = static_cast<uint32_t>(length);
        doc_.text_.append(reinterpret_cast<const char*>(p_ + pos_), length);
        pos_ += length;
        return true;
    }
    bool pushInt(int64_t v, uint8_t range = 0) {
        uint32_t i = 0;
        if (!pushNew(PickleKind::Int, &i)) return false;
        doc_.nodes_[i].i = v;
        doc_.nodes_[i].intRange = range;
        return true;
    }
    // LONG1/LONG4 payload: little-endian two's complement of n bytes.
    bool pushLong(uint64_t n) {
        if (!need(n)) return false;
        const uint8_t* b = p_ + pos_;
        pos_ += n;
        if (n == 0) return pushInt(0);
        const bool negative = b[n - 1] & 0x80;
        const uint8_t extension = negative ? 0xff : 0x00;
        // Bytes beyond the 8th must be pure sign extension for the value to fit 64 bits.
        bool fits64 = true;
        for (uint64_t k = 8; k < n; ++k)
            if (b[k] != extension) { fits64 = false; break; }
        uint64_t low = 0;
        for (uint64_t k = 0; k < std::min<uint64_t>(n, 8); ++k) low |= uint64_t(b[k]) << (8 * k);
        if (n < 8 && negative) low |= ~uint64_t(0) << (8 * n);  // sign-extend
        if (!fits64) return pushInt(negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max(), 2);
        const bool topBit = low >> 63;
        if (topBit && !negative) return pushInt(static_cast<int64_t>(low), 1);  // 2^63 .. 2^64-1
        if (!topBit && negative) return pushInt(std::numeric_limits<int64_t>::min(), 2);
        return pushInt(static_cast<int64_t>(low));
    }
    bool makeTuple(const uint32_t* items, size_t n) {
        uint32_t t = 0;
        if (!newNode(PickleKind::Tuple, &t)) return false;
        for (size_t k = 0; k < n; ++k)
            if (!addChild(t, items[k])) return false;
        return push(t);
    }

    bool refuse(const std::string& why) {
        return fail(opName() + " (" + hexByte(op_) + ") " + why +
                    "; vramscope reads only plain data (dicts, lists, strings, numbers) and executes nothing");
    }
    bool refuseGlobal() {
        // GLOBAL's operands are "module\nname\n"; name them when readable.
        std::string what;
        size_t q = pos_;
        for (int part = 0; part < 2 && q < size_; ++part) {
            size_t start = q;
            while (q < size_ && p_[q] != '\n' && q - start < 200) ++q;
            if (part) what += '.';
            for (size_t k = start; k < q; ++k) what += (p_[k] >= 0x20 && p_[k] < 0x7f) ? char(p_[k]) : '?';
            ++q;
        }
        return refuse("would import the Python object '" + what + "'");
    }

    bool step();

    const uint8_t* p_;
    size_t size_;
    size_t pos_ = 0;
    size_t opOffset_ = 0;
    uint8_t op_ = 0;
    PickleDocument& doc_;
    const PickleLimits& limits_;
    std::vector<uint32_t> stack_;
    std::vector<size_t> marks_;
    std::vector<uint32_t> memo_;
    std::unordered_map<uint64_t, uint32_t> sparseMemo_;
    uint64_t memoCount_ = 0;
    std::vector<uint32_t> scratch_;
    bool stopped_ = false;

public:
    std::string error_;
    void finishDicts();
};

bool PickleParser::step() {
    opOffset_ = pos_;
    op_ = p_[pos_++];
    ++doc_.stats_.opcodes;
    uint32_t a = 0, b = 0, c = 0;
    switch (op_) {
    case 0x80: {  // PROTO
        if (!need(1)) return false;
        const uint8_t v = p_[pos_++];
        if (v > 5) return fail("pickle protocol " + std::to_string(v) + " is newer than 5, the newest this reader knows");
        doc_.stats_.protocol = v;
        return true;
    }
    case 0x95: {  // FRAME: a length hint for buffered reading; the opcodes follow inline
        if (!need(8)) return false;
        const uint64_t frameBytes = readLE(8);
        if (frameBytes > size_ - pos_)
            return fail("FRAME announces " + std::to_string(frameBytes) + " bytes but only " +
                        std::to_string(size_ - pos_) + " are left: the pickle is truncated");
        return true;
    }
    case '.':  // STOP
        if (!marks_.empty()) return fail("STOP with a MARK still open");
        if (stack_.size() != 1)
            return fail("STOP with " + std::to_string(stack_.size()) + " values on the stack instead of 1");
        doc_.root_ = stack_.back();
        stopped_ = true;
        return true;
    case '(':  // MARK
        if (marks_.size() >= limits_.maxMarks)
            return fail("more than " + std::to_string(limits_.maxMarks) + " MARKs open at once");
        marks_.push_back(stack_.size());
        return true;
    case '0':  // POP: the top value, or the topmost mark when no value is above it
        if (stack_.size() > frameBottom()) { stack_.pop_back(); return true; }
        return popMark(nullptr);
    case '1':  // POP_MARK
        return popMark(nullptr);
    case 'N': return pushNew(PickleKind::None);
    case 0x88:
    case 0x89:
        if (!pushNew(PickleKind::Bool, &a)) return false;
        doc_.nodes_[a].i = op_ == 0x88 ? 1 : 0;
        return true;
    case 'K':  // BININT1
        if (!need(1)) return false;
        return pushInt(static_cast<int64_t>(readLE(1)));
    case 'M':  // BININT2
        if (!need(2)) return false;
        return pushInt(static_cast<int64_t>(readLE(2)));
    case 'J':  // BININT: signed 32-bit
        if (!need(4)) return false;
        return pushInt(static_cast<int32_t>(static_cast<uint32_t>(readLE(4))));
    case 0x8a:  // LONG1
        if (!need(1)) return false;
        return pushLong(readLE(1));
    case 0x8b: {  // LONG4 (signed length)
        if (!need(4)) return false;
        const int32_t n = static_cast<int32_t>(static_cast<uint32_t>(readLE(4)));
        if (n < 0) return fail("LONG4 with a negative length");
        return pushLong(static_cast<uint64_t>(n));
    }
    case 'G': {  // BINFLOAT: big-endian IEEE 754 double
        if (!need(8)) return false;
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[pos_ + k];
        pos_ += 8;
        double d;
        std::memcpy(&d, &bits, sizeof d);
        if (!pushNew(PickleKind::Float, &a)) return false;
        doc_.nodes_[a].f = d;
        return true;
    }
    case 0x8c:  // SHORT_BINUNICODE
        if (!need(1)) return false;
        return pushText(PickleKind::String, readLE(1));
    case 'X':  // BINUNICODE
        if (!need(4)) return false;
        return pushText(PickleKind::String, readLE(4));
    case 0x8d:  // BINUNICODE8
        if (!need(8)) return false;
        return pushText(PickleKind::String, readLE(8));
    case 'U':  // SHORT_BINSTRING (Python 2 str; Python 3 decodes it to str)
        if (!need(1)) return false;
        return pushText(PickleKind::String, readLE(1));
    case 'T': {  // BINSTRING (signed length)
        if (!need(4)) return false;
        const int32_t n = static_cast<int32_t>(static_cast<uint32_t>(readLE(4)));
        if (n < 0) return fail("BINSTRING with a negative length");
        return pushText(PickleKind::String, static_cast<uint64_t>(n));
    }
    case 'C':  // SHORT_BINBYTES
        if (!need(1)) return false;
        return pushText(PickleKind::Bytes, readLE(1));
    case 'B':  // BINBYTES
        if (!need(4)) return false;
        return pushText(PickleKind::Bytes, readLE(4));
    case 0x8e:  // BINBYTES8
        if (!need(8)) return false;
        return pushText(PickleKind::Bytes, readLE(8));
    case '}': return pushNew(PickleKind::Dict);
    case ']': return pushNew(PickleKind::List);
    case ')': return pushNew(PickleKind::Tuple);
    case 0x85:  // TUPLE1
        if (!pop(&a)) return false;
        scratch_ = {a};
        return makeTuple(scratch_.data(), 1);
    case 0x86:  // TUPLE2
        if (!pop(&b) || !pop(&a)) return false;
        scratch_ = {a, b};
        return makeTuple(scratch_.data(), 2);
    case 0x87:  // TUPLE3
        if (!pop(&c) || !pop(&b) || !pop(&a)) return false;
        scratch_ = {a, b, c};
        return makeTuple(scratch_.data(), 3);
    case 't':  // TUPLE
        if (!popMark(&scratch_)) return false;
        return makeTuple(scratch_.data(), scratch_.size());
    case 'l':  // LIST
        if (!popMark(&scratch_) || !newNode(PickleKind::List, &a)) return false;
        for (uint32_t item : scratch_)
            if (!addChild(a, item)) return false;
        return push(a);
    case 'd':  // DICT
        if (!popMark(&scratch_) || !newNode(PickleKind::Dict, &a)) return false;
        if (!setItems(a, scratch_.data(), scratch_.size())) return false;
        return push(a);
    case 'a':  // APPEND
        if (!pop(&b) || !top(&a) || !requireKind(a, PickleKind::List)) return false;
        return addChild(a, b);
    case 'e':  // APPENDS
        if (!popMark(&scratch_) || !top(&a) || !requireKind(a, PickleKind::List)) return false;
        for (uint32_t item : scratch_)
            if (!addChild(a, item)) return false;
        return true;
    case 's':  // SETITEM
        if (!pop(&c) || !pop(&b) || !top(&a) || !requireKind(a, PickleKind::Dict)) return false;
        scratch_ = {b, c};
        return setItems(a, scratch_.data(), 2);
    case 'u':  // SETITEMS
        if (!popMark(&scratch_) || !top(&a) || !requireKind(a, PickleKind::Dict)) return false;
        return setItems(a, scratch_.data(), scratch_.size());
    case 0x94:  // MEMOIZE
        return memoPut(memoCount_);
    case 'q':  // BINPUT
        if (!need(1)) return false;
        return memoPut(readLE(1));
    case 'r':  // LONG_BINPUT
        if (!need(4)) return false;
        return memoPut(readLE(4));
    case 'h':  // BINGET
        if (!need(1)) return false;
        return memoGet(readLE(1));
    case 'j':  // LONG_BINGET
        if (!need(4)) return false;
        return memoGet(readLE(4));
    // Opcodes that import or call Python code: refused, never executed.
    case 'c': return refuseGlobal();
    case 0x93: return refuse("would import a Python object named on the stack");
    case 'R': return refuse("would call a Python object");
    case 'b': return refuse("would set an object's state by calling into Python");
    case 'i':
    case 'o':
    case 0x81:
    case 0x92: return refuse("would construct an instance of a Python class");
    case 0x82:
    case 0x83:
    case 0x84: return refuse("would import a registered extension object");
    case 'P':
    case 'Q': return refuse("refers to a persistent object outside the pickle (torch.save files use it)");
    case 0x96:
    case 0x97:
    case 0x98: return refuse("is an out-of-band buffer, which memory snapshots do not contain");
    default: break;
    }
    const char* name = pickleOpcodeName(op_);
    if (name)
        return fail(std::string(name) + " (" + hexByte(op_) +
                    ") is not used by PyTorch memory snapshots (protocol 2 or newer); this reader does not support it");
    return fail("byte " + hexByte(op_) + " is not a pickle opcode: the file is not a pickle or is corrupt");
}

void PickleParser::finishDicts() {
    // Large dicts get a sorted index of their string keys for get().
    constexpr size_t kIndexFrom = 12;
    for (uint32_t n = 0; n < doc_.nodes_.size(); ++n) {
        const Node& node = doc_.nodes_[n];
        if (node.kind != PickleKind::Dict) continue;
        const auto& items = doc_.children_[node.aux];
        const size_t entries = items.size() / 2;
        if (entries < kIndexFrom) continue;
        std::vector<uint32_t> order;
        order.reserve(entries);
        for (uint32_t e = 0; e < entries; ++e)
            if (doc_.nodes_[items[2 * e]].kind == PickleKind::String) order.push_back(e);
        auto keyOf = [&](uint32_t e) { return PickleValue(&doc_, items[2 * e]).text(); };
        std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return keyOf(x) < keyOf(y); });
        doc_.dictIndex_[n] = std::move(order);
    }
}

bool PickleParser::run(std::string* error) {
    if (size_ > limits_.maxInputBytes) {
        error_ = "the pickle is " + std::to_string(size_) + " bytes, more than the limit of " +
                 std::to_string(limits_.maxInputBytes);
    } else if (size_ == 0) {
        error_ = "the file is empty";
    } else {
        while (!stopped_) {
            if (pos_ >= size_) {
                opOffset_ = pos_;
                fail("the file ends before the pickle's STOP opcode: the pickle is truncated");
                break;
            }
            if (!step()) break;
        }
    }
    if (!stopped_) {
        if (error) *error = error_;
        doc_.clear();
        return false;
    }
    doc_.stats_.values = doc_.nodes_.size();
    doc_.stats_.memoEntries = memoCount_;
    doc_.stats_.trailingBytes = size_ - pos_;
    finishDicts();
    return true;
}

bool parsePickle(const uint8_t* data, size_t size, PickleDocument& doc, std::string* error, const PickleLimits& limits) {
    doc.clear();
    PickleParser parser(data, size, doc, limits);
    return parser.run(error);
}

// ---------------------------------------------------------------------------
// PickleValue

PickleKind PickleValue::kind() const { return doc_ ? doc_->nodes_[index_].kind : PickleKind::None; }

bool PickleValue::toInt64(int64_t* out) const {
    if (!valid()) return false;
    const auto& n = doc_->nodes_[index_];
    if ((n.kind == PickleKind::Int && n.intRange == 0) || n.kind == PickleKind::Bool) {
        *out = n.i;
        return true;
    }
    return false;
}

bool PickleValue::toUInt64(uint64_t* out) const {
    if (!valid()) return false;
    const auto& n = doc_->nodes_[index_];
    if (n.kind == PickleKind::Bool || (n.kind == PickleKind::Int && n.intRange == 0 && n.i >= 0) ||
        (n.kind == PickleKind::Int && n.intRange == 1)) {
        *out = static_cast<uint64_t>(n.i);
        return true;
    }
    return false;
}

bool PickleValue::toDouble(double* out) const {
    if (!valid()) return false;
    const auto& n = doc_->nodes_[index_];
    if (n.kind == PickleKind::Float) { *out = n.f; return true; }
    if (n.kind == PickleKind::Int || n.kind == PickleKind::Bool) {
        *out = n.intRange == 1 ? double(static_cast<uint64_t>(n.i)) : double(n.i);
        return true;
    }
    return false;
}

bool PickleValue::toBool(bool* out) const {
    if (!valid()) return false;
    const auto& n = doc_->nodes_[index_];
    if (n.kind == PickleKind::Bool || n.kind == PickleKind::Int) { *out = n.i != 0; return true; }
    return false;
}

int64_t PickleValue::intOr(int64_t fallback) const {
    int64_t v;
    return toInt64(&v) ? v : fallback;
}

uint64_t PickleValue::uintOr(uint64_t fallback) const {
    uint64_t v;
    return toUInt64(&v) ? v : fallback;
}

std::string_view PickleValue::text() const {
    if (!valid()) return {};
    const auto& n = doc_->nodes_[index_];
    if (n.kind != PickleKind::String && n.kind != PickleKind::Bytes) return {};
    return std::string_view(doc_->text_).substr(n.offset, n.aux);
}

size_t PickleValue::size() const {
    if (!valid()) return 0;
    const auto& n = doc_->nodes_[index_];
    switch (n.kind) {
    case PickleKind::List:
    case PickleKind::Tuple: return doc_->children_[n.aux].size();
    case PickleKind::Dict: return doc_->children_[n.aux].size() / 2;
    default: return 0;
    }
}

PickleValue PickleValue::at(size_t i) const {
    if (!isSequence()) return {};
    const auto& items = doc_->children_[doc_->nodes_[index_].aux];
    return i < items.size() ? PickleValue(doc_, items[i]) : PickleValue();
}

PickleValue PickleValue::keyAt(size_t i) const {
    if (!isDict()) return {};
    const auto& items = doc_->children_[doc_->nodes_[index_].aux];
    return 2 * i < items.size() ? PickleValue(doc_, items[2 * i]) : PickleValue();
}

PickleValue PickleValue::valueAt(size_t i) const {
    if (!isDict()) return {};
    const auto& items = doc_->children_[doc_->nodes_[index_].aux];
    return 2 * i + 1 < items.size() ? PickleValue(doc_, items[2 * i + 1]) : PickleValue();
}

PickleValue PickleValue::get(std::string_view key) const {
    if (!isDict()) return {};
    const auto& items = doc_->children_[doc_->nodes_[index_].aux];
    auto keyText = [&](uint32_t e) -> std::string_view {
        const PickleValue k(doc_, items[2 * e]);
        return k.isString() ? k.text() : std::string_view();
    };
    auto indexed = doc_->dictIndex_.find(index_);
    if (indexed != doc_->dictIndex_.end()) {
        const auto& order = indexed->second;
        auto it = std::upper_bound(order.begin(), order.end(), key,
                                   [&](std::string_view k, uint32_t e) { return k < keyText(e); });
        if (it == order.begin()) return {};
        --it;  // the last entry with this key (stable sort keeps insertion order)
        if (keyText(*it) != key) return {};
        return PickleValue(doc_, items[2 * *it + 1]);
    }
    for (size_t e = items.size() / 2; e-- > 0;) {
        const PickleValue k(doc_, items[2 * e]);
        if (k.isString() && k.text() == key) return PickleValue(doc_, items[2 * e + 1]);
    }
    return {};
}

}  // namespace vramscope::import
