// libFuzzer target: any bytes given to the trace reader must open or fail
// cleanly, and decoding every chunk found must stay within bounds.
// Built by the `fuzz` preset (clang); CI runs it for a bounded time.
#include "format/reader.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vramscope::format;
    TraceReader reader;
    std::string error;
    if (!reader.openMemory(std::vector<uint8_t>(data, data + size), &error)) return 0;
    TraceContents contents;
    LoadOptions options;
    options.threads = 1;
    loadTrace(reader, contents, options, &error);
    // Touch what a front end would: strings by id.
    for (const auto& k : contents.get<Kernel>()) (void)contents.text(k.nameId);
    return 0;
}
