// Dynamic symbols of an ELF64 shared object, and where they sit in a process.
//
// The injector needs the address of dlopen/dlsym/dlerror inside the target's
// own libc. Reading the symbol from the file the target mapped and adding the
// load bias of that mapping gives it without running anything in the target.
// The file is hostile input (a process may map anything): every offset, size
// and count is checked against the file, a damaged file yields an error.
#pragma once

#include "process_inspect.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vramscope::attach {

struct ElfSymbol {
    uint64_t value = 0;         // st_value: an address relative to the object's load bias
    uint64_t size = 0;
    unsigned char type = 0;     // STT_FUNC, STT_OBJECT, ...
    std::string version;        // "GLIBC_2.34"; empty for unversioned symbols
    bool hiddenVersion = false; // only a non-default (name@VERSION) definition exists
};

// The defined dynamic symbol `name` of an ELF64 object. When a symbol is
// versioned more than once (glibc 2.34+ has dlopen@@GLIBC_2.34 and the hidden
// compatibility dlopen@GLIBC_2.2.5), the default version wins, as it does for
// the dynamic linker resolving an unversioned reference. Indirect functions
// (STT_GNU_IFUNC) are refused: their value is a resolver, not the function.
bool findDynamicSymbol(const std::string& filePath, std::string_view name, ElfSymbol* out, std::string* error);
bool findDynamicSymbolInMemory(const uint8_t* data, size_t size, std::string_view name, ElfSymbol* out,
                               std::string* error);

// The virtual address of the PT_LOAD segment that starts at file offset 0,
// rounded down to a page: the load bias of a mapping with offset 0 is
// mapping.start minus this.
bool firstLoadAddress(const uint8_t* data, size_t size, uint64_t* vaddr, std::string* error);

// The address of `name` inside process facts.pid, whose library mapping (offset 0)
// is `library`. Opens the file as the target sees it: /proc/PID/map_files/…
// for a replaced (" (deleted)") file, then /proc/PID/root/<path> (the target's
// mount namespace: containers), then <path>. Checks that the address lands in
// an executable mapping of the same file when the symbol is a function.
bool symbolAddress(const ProcessFacts& facts, const Mapping& library, std::string_view name, uint64_t* address,
                   std::string* error, ElfSymbol* info = nullptr);

}  // namespace vramscope::attach
