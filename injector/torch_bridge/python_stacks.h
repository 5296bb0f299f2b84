// Python callsites of tensor allocations, read without the GIL.
//
// The caching allocator calls the bridge inside an ATen op, and PyTorch's
// Python bindings release the GIL around every op: the allocating thread does
// not hold it, and taking it there (under the allocator's lock) could
// deadlock against a thread that holds the GIL and frees a tensor. So the
// frames are read the way a sampling profiler reads them, but from the
// thread's own stack: the allocating thread is blocked in C++ inside the op,
// its Python frames cannot change, and each frame holds its code object
// alive. Nothing here allocates Python objects, touches reference counts or
// calls an API that needs the GIL; only PyCode_Addr2Line (a pure read of the
// code object's line table) and the string/type macros are used.
//
// Frames are reached through CPython's internal frame layout (3.11+), which
// changes between minor versions; the bridge is compiled against the user's
// own Python headers, and versions outside 3.10–3.13 compile to "no stacks".
//
// CallsiteInterner turns a list of frames into a CallsiteDef chain id: a
// whole-stack cache (hash of every code object and offset → innermost id)
// answers the steady state with one lookup per allocation; a miss walks
// (parent id, code object, instruction offset) → id frame by frame. A code object can be freed and its address reused by
// another: each entry keeps the code's identity (CodeIdentity: its name
// strings' objects, lengths and last bytes, its first line), and a hit whose
// code no longer matches it is treated as a miss.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
#define VRAMSCOPE_PYSTACK_SUPPORTED 1
#elif PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#define VRAMSCOPE_PYSTACK_SUPPORTED 1
#else
#define VRAMSCOPE_PYSTACK_SUPPORTED 0
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace vramscope::pystack {

struct RawFrame {
    PyCodeObject* code = nullptr;
    int byteOffset = 0;  // of the executing instruction, for PyCode_Addr2Line
};

constexpr int kMaxDepth = 64;

inline bool supported() { return VRAMSCOPE_PYSTACK_SUPPORTED != 0; }

// The calling thread's Python frames, innermost first, at most max; 0 when
// the thread has none (a C++ worker such as the autograd engine's) or Python
// is not running.
inline int captureFrames(RawFrame* out, int max) {
#if VRAMSCOPE_PYSTACK_SUPPORTED
    if (max <= 0 || !Py_IsInitialized()) return 0;
    PyThreadState* ts = PyGILState_GetThisThreadState();
    if (!ts) return 0;
    int n = 0;
    int guard = 0;  // a damaged chain must not loop forever
#if PY_VERSION_HEX >= 0x030D0000
    for (_PyInterpreterFrame* f = ts->current_frame; f && n < max && guard < 4096; f = f->previous, ++guard) {
        if (f->owner == FRAME_OWNED_BY_CSTACK) continue;
        PyObject* executable = f->f_executable;
        if (!executable || !PyCode_Check(executable)) continue;
        if (_PyFrame_IsIncomplete(f)) continue;
        out[n++] = {reinterpret_cast<PyCodeObject*>(executable),
                    static_cast<int>(_PyInterpreterFrame_LASTI(f) * sizeof(_Py_CODEUNIT))};
    }
#elif PY_VERSION_HEX >= 0x030B0000
    _PyInterpreterFrame* f = ts->cframe ? ts->cframe->current_frame : nullptr;
    for (; f && n < max && guard < 4096; f = f->previous, ++guard) {
#if PY_VERSION_HEX >= 0x030C0000
        if (f->owner == FRAME_OWNED_BY_CSTACK) continue;
#endif
        if (!f->f_code || !PyCode_Check(reinterpret_cast<PyObject*>(f->f_code))) continue;
        if (_PyFrame_IsIncomplete(f)) continue;
        out[n++] = {f->f_code, static_cast<int>(_PyInterpreterFrame_LASTI(f) * sizeof(_Py_CODEUNIT))};
    }
#else
    for (PyFrameObject* f = ts->frame; f && n < max && guard < 4096; f = f->f_back, ++guard) {
        if (!f->f_code) continue;
        out[n++] = {f->f_code, static_cast<int>(f->f_lasti * sizeof(_Py_CODEUNIT))};
    }
#endif
    return n;
#else
    (void)out;
    (void)max;
    return 0;
#endif
}

// UTF-8 of a str object by reading its storage (PyUnicode_AsUTF8 may
// allocate a cached copy, which needs the GIL).
inline std::string utf8Of(PyObject* s) {
    std::string out;
    if (!s || !PyUnicode_Check(s)) return out;
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(s)) return out;
#endif
    const Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    const int kind = PyUnicode_KIND(s);
    const void* data = PyUnicode_DATA(s);
    if (PyUnicode_IS_ASCII(s)) return std::string(static_cast<const char*>(data), static_cast<size_t>(n));
    out.reserve(static_cast<size_t>(n) + 8);
    for (Py_ssize_t i = 0; i < n; ++i) {
        const uint32_t c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            if (c >= 0xD800 && c <= 0xDFFF) {  // lone surrogate (surrogateescape file names)
                out += '?';
                continue;
            }
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

// What tells a code object from another that took its freed address: the
// str objects of its file and function names (freed and reused as well, as
// generated code comes and goes), their lengths and last 8 bytes, and its
// first line. A few loads per frame; no GIL needed.
struct CodeIdentity {
    const void* file = nullptr;
    const void* name = nullptr;
    uint64_t fileTail = 0, nameTail = 0;
    uint32_t fileLength = 0, nameLength = 0;
    int firstLine = 0;
    bool operator==(const CodeIdentity& o) const {  // C++17: the bridge may be built with -std=c++17
        return file == o.file && name == o.name && fileTail == o.fileTail && nameTail == o.nameTail &&
               fileLength == o.fileLength && nameLength == o.nameLength && firstLine == o.firstLine;
    }
};

inline uint64_t strTail(PyObject* s, uint32_t* length) {
    *length = 0;
    if (!s || !PyUnicode_Check(s)) return 0;
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(s)) return 0;
#endif
    const size_t n = static_cast<size_t>(PyUnicode_GET_LENGTH(s));
    const size_t bytes = n * static_cast<size_t>(PyUnicode_KIND(s));
    const size_t take = bytes < 8 ? bytes : 8;
    uint64_t tail = 0;
    std::memcpy(&tail, static_cast<const char*>(PyUnicode_DATA(s)) + bytes - take, take);
    *length = static_cast<uint32_t>(n);
    return tail;
}

inline PyObject* codeName(PyCodeObject* code) {
#if PY_VERSION_HEX >= 0x030B0000
    return code->co_qualname ? code->co_qualname : code->co_name;
#else
    return code->co_name;
#endif
}

inline CodeIdentity identityOf(PyCodeObject* code) {
    CodeIdentity id;
    id.file = code->co_filename;
    id.name = codeName(code);
    id.fileTail = strTail(code->co_filename, &id.fileLength);
    id.nameTail = strTail(codeName(code), &id.nameLength);
    id.firstLine = code->co_firstlineno;
    return id;
}

// Receives each new chain link once: id > 0, parent 0 = outermost kept frame.
using DefineCallsite = void (*)(uint32_t id, uint32_t parentId, const char* file, const char* function, uint32_t line,
                                void* context);

class CallsiteInterner {
public:
    CallsiteInterner(DefineCallsite define, void* context) : define_(define), context_(context) {}

    // Innermost callsite id of frames[0..n) (innermost first), 0 for none.
    // Thread-safe. Allocates only for frames never seen before.
    uint32_t intern(const RawFrame* frames, int n) {
        if (n <= 0) return 0;
        uint64_t h = 0x84222325CBF29CE4ull ^ uint64_t(n);
        for (int i = 0; i < n; ++i) {
            h = (h ^ reinterpret_cast<uintptr_t>(frames[i].code)) * 0x100000001B3ull;
            h = (h ^ uint64_t(uint32_t(frames[i].byteOffset))) * 0x100000001B3ull;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        auto hit = byStack_.find(h);
        if (hit != byStack_.end() && sameStack(hit->second, frames, n)) return hit->second.id;
        uint32_t parent = 0;
        for (int i = n - 1; i >= 0; --i) parent = link(parent, frames[i]);
        if (byStack_.size() >= kMaxStacks) byStack_.clear();  // bounded: a job with endless distinct stacks
        Stack& stack = byStack_[h];
        stack.id = parent;
        stack.frames.clear();
        for (int i = 0; i < n; ++i) stack.frames.push_back({frames[i].code, frames[i].byteOffset, identityOf(frames[i].code)});
        return parent;
    }

private:
    static constexpr size_t kMaxStacks = 1 << 16;

    struct StackFrame {
        const void* code;
        int byteOffset;
        CodeIdentity identity;  // against code-object reuse
    };
    struct Stack {
        uint32_t id = 0;
        std::vector<StackFrame> frames;
    };

    static bool sameStack(const Stack& s, const RawFrame* frames, int n) {
        if (s.frames.size() != size_t(n)) return false;
        for (int i = 0; i < n; ++i) {
            const StackFrame& f = s.frames[size_t(i)];
            if (f.code != frames[i].code || f.byteOffset != frames[i].byteOffset || !(f.identity == identityOf(frames[i].code)))
                return false;
        }
        return true;
    }

    struct FrameKey {
        uint32_t parent;
        int byteOffset;
        const void* code;
        bool operator==(const FrameKey& o) const {
            return parent == o.parent && byteOffset == o.byteOffset && code == o.code;
        }
    };
    struct FrameKeyHash {
        size_t operator()(const FrameKey& k) const {
            uint64_t h = reinterpret_cast<uintptr_t>(k.code) * 0x9E3779B97F4A7C15ull;
            h ^= (uint64_t(k.parent) << 32 | uint32_t(k.byteOffset)) + 0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
            return static_cast<size_t>(h);
        }
    };
    struct Entry {
        uint32_t id;
        CodeIdentity identity;  // against code-object reuse
    };
    struct TextKey {
        uint32_t parent;
        uint32_t line;
        std::string file, function;
        bool operator==(const TextKey& o) const {
            return parent == o.parent && line == o.line && file == o.file && function == o.function;
        }
    };
    struct TextKeyHash {
        size_t operator()(const TextKey& k) const {
            return std::hash<std::string>()(k.file) ^ (std::hash<std::string>()(k.function) * 31) ^
                   (size_t(k.parent) * 0x9E3779B97F4A7C15ull) ^ (size_t(k.line) << 17);
        }
    };

    uint32_t link(uint32_t parent, const RawFrame& f) {
        const FrameKey key{parent, f.byteOffset, f.code};
        const CodeIdentity identity = identityOf(f.code);
        auto it = byFrame_.find(key);
        if (it != byFrame_.end() && it->second.identity == identity) return it->second.id;
        // New frame (or a reused code address): resolve it to text.
        const int line = PyCode_Addr2Line(f.code, f.byteOffset);
        TextKey text{parent, line > 0 ? static_cast<uint32_t>(line) : 0u, utf8Of(f.code->co_filename),
                     utf8Of(codeName(f.code))};
        auto [textIt, added] = byText_.try_emplace(std::move(text), 0);
        if (added) {
            textIt->second = ++lastId_;
            if (define_)
                define_(textIt->second, parent, textIt->first.file.c_str(), textIt->first.function.c_str(),
                        textIt->first.line, context_);
        }
        byFrame_[key] = Entry{textIt->second, identity};
        return textIt->second;
    }

    DefineCallsite define_;
    void* context_;
    mutable std::mutex mutex_;
    uint32_t lastId_ = 0;
    std::unordered_map<FrameKey, Entry, FrameKeyHash> byFrame_;
    std::unordered_map<TextKey, uint32_t, TextKeyHash> byText_;
    std::unordered_map<uint64_t, Stack> byStack_;
};

}  // namespace vramscope::pystack
