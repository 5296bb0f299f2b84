// loadModel: chunks decoded on every core, merged into a ModelBuilder in file order.
#include "model_builder.h"

#include "format/chunk_pipeline.h"

namespace vramscope::model {

using namespace vramscope::format;

bool loadModel(const TraceReader& reader, TraceModel& out, const LoadOptions& options, std::string* error) {
    const size_t n = reader.chunks().size();
    ModelBuilder builder;
    // The footer's counts size the columns only as far as the file can back
    // them (TraceReader::footerCountHint): a crafted footer claiming 2^64
    // records must not become a reserve() of 2^64.
    uint64_t hints[256] = {};
    for (int t = 0; t < 256; ++t) hints[t] = reader.footerCountHint(static_cast<RecordType>(t));
    builder.reserve(hints);
    uint64_t decodedCounts[256] = {};
    std::vector<TraceProblem> problems = reader.problems();
    bool allDecoded = true;
    const bool finished = decodeChunksInOrder(reader, options.threads, [&](size_t i, const DecodedChunk& chunk, bool ok,
                                                                            const std::string& why) {
        if (ok) {
            builder.add(chunk, chunk.events);
            for (int t = 0; t < 256; ++t) decodedCounts[t] += chunk.countsByType[t];
        } else {
            allDecoded = false;
            problems.push_back({TraceProblem::Kind::CorruptChunk, reader.chunks()[i].offset, why});
        }
        return !options.progress || options.progress(i + 1, n);
    });
    if (!finished) {
        if (error) *error = reader.name() + ": loading was cancelled";
        return false;
    }
    TraceProblem footer;
    if (allDecoded && footerCountsProblem(reader, decodedCounts, &footer)) problems.push_back(footer);
    builder.finish(out);
    out.name = reader.name();
    // The builder's problems (records left out) come after the file's.
    problems.insert(problems.end(), out.problems.begin(), out.problems.end());
    out.problems = std::move(problems);
    return true;
}

bool loadModel(const std::string& path, TraceModel& out, const LoadOptions& options, std::string* error) {
    TraceReader reader;
    if (!reader.open(path, error)) return false;
    return loadModel(reader, out, options, error);
}

}  // namespace vramscope::model
