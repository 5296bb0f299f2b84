// libFuzzer target: any bytes, loaded the way `vramscope summary` loads a
// .vtrace (TraceReader, then loadModel; here from memory, not a path), then
// summarized. Loading must open or fail with a sentence, the model must keep
// the promises of trace_model.h, and the summary must not crash, read out of
// bounds or hang. Seeds: tests/fuzz/corpus and the crafted footers of
// tests/fuzz/corpus_footer/traces.
// Built by the `fuzz` preset (clang); CI runs it for a bounded time.
#include "../analysis/model_compare.h"

#include "analysis/summary.h"
#include "format/reader.h"
#include "model/model_builder.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vramscope;
    format::TraceReader reader;
    std::string error;
    if (!reader.openMemory(std::vector<uint8_t>(data, data + size), &error)) {
        if (error.empty()) std::abort();  // refused without saying why
        return 0;
    }
    model::TraceModel m;
    format::LoadOptions options;
    options.threads = 1;
    if (!model::loadModel(reader, m, options, &error)) std::abort();  // only cancelling fails once open
    const std::string broken = testing::checkModelInvariants(m, 4);
    if (!broken.empty()) {
        std::fprintf(stderr, "fuzz_model: %s\n", broken.c_str());
        std::abort();
    }
    (void)analysis::summarize(m);
    return 0;
}
