// libFuzzer target: any bytes, fed to the live stream reader in any split,
// must end in chunks or a sentence within bounded memory; the chunks it gives
// grow a LiveModel (no reorder window, a checkpoint every 4 memory records:
// every late record rewinds) that must keep the model's promises and, when
// the stream was not refused, end equal to loadModel() of the same bytes.
// Built by the `fuzz` preset (clang); CI runs it for a bounded time.
#include "../analysis/model_compare.h"

#include "format/chunk_stream.h"
#include "model/live_model.h"
#include "model/model_builder.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vramscope;
    // The split comes from the input itself, so the fuzzer explores it too.
    uint64_t seed = 1469598103934665603ull;
    for (size_t i = 0; i < size && i < 64; ++i) seed = (seed ^ data[i]) * 1099511628211ull;
    model::LiveModel::Options options;
    options.reorderLagNs = 0;
    options.checkpointRecords = 4;
    model::LiveModel live(options);
    format::ChunkStream stream("fuzz");
    format::DecodedChunk chunk;
    std::string error;
    for (size_t at = 0; at < size;) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        const size_t n = std::min<size_t>(size - at, 1 + (seed >> 33) % 97);
        stream.feed(data + at, n);
        at += n;
        for (format::ChunkStream::Next next; (next = stream.next()) == format::ChunkStream::Next::Events;) {
            if (stream.chunk().compressedBytes + 40 > size) abort();  // a chunk the input cannot hold
            if (stream.decodeChunk(chunk, &error)) live.append(chunk, chunk.events);
        }
        if (stream.bufferedBytes() > size) abort();  // never more than what came
    }
    const bool refused = stream.failed();
    live.addProblems(stream.endOfInput());
    live.finish();
    if (!testing::checkModelInvariants(live.model(), 4).empty()) abort();
    if (refused) return 0;
    format::TraceReader reader;
    if (!reader.openMemory(std::vector<uint8_t>(data, data + size), &error)) return 0;
    model::TraceModel loaded;
    format::LoadOptions load;
    load.threads = 1;
    if (!model::loadModel(reader, loaded, load, &error)) return 0;
    const std::string diff = testing::compareModels(live.model(), loaded);
    if (!diff.empty()) {
        std::fprintf(stderr, "live model differs from loadModel: %s\n", diff.c_str());
        abort();
    }
    return 0;
}
