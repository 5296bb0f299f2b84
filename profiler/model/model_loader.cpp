// loadModel: chunks decoded on every core, merged into a ModelBuilder in file order.
#include "model_builder.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

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
    uint64_t decodedCounts[256] = {};  // guarded by mergeMutex, as merged
    unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(n, 1)));

    // Decoding runs on every thread; merging into the builder needs file
    // order, so whichever thread finishes a chunk merges every chunk that is
    // ready in order, while the others keep decoding.
    std::vector<std::unique_ptr<DecodedChunk>> ready(n);
    std::vector<char> ok(n, 0);
    std::vector<std::string> errors(n);
    std::vector<std::unique_ptr<DecodedChunk>> spare;  // reused: no page faults after the first few
    std::mutex readyMutex, mergeMutex;
    std::atomic<size_t> next{0}, waiting{0};
    std::atomic<bool> cancelled{false};
    size_t merged = 0;  // guarded by mergeMutex
    std::vector<TraceProblem> problems = reader.problems();

    auto mergeReady = [&](bool wait) {
        std::unique_lock<std::mutex> lock(mergeMutex, std::defer_lock);
        if (wait) lock.lock();
        else if (!lock.try_lock()) return;
        for (;;) {
            std::unique_ptr<DecodedChunk> chunk;
            {
                std::lock_guard<std::mutex> g(readyMutex);
                if (merged >= n || !ready[merged]) break;
                chunk = std::move(ready[merged]);
            }
            --waiting;
            if (ok[merged]) {
                builder.add(*chunk, chunk->events);
                for (int t = 0; t < 256; ++t) decodedCounts[t] += chunk->countsByType[t];
            } else
                problems.push_back({TraceProblem::Kind::CorruptChunk, reader.chunks()[merged].offset, errors[merged]});
            ++merged;
            {
                std::lock_guard<std::mutex> g(readyMutex);
                spare.push_back(std::move(chunk));
            }
            if (options.progress && !options.progress(merged, n)) cancelled = true;
        }
    };
    auto work = [&] {
        for (size_t i; !cancelled && (i = next++) < n;) {
            std::unique_ptr<DecodedChunk> chunk;
            {
                std::lock_guard<std::mutex> g(readyMutex);
                if (!spare.empty()) {
                    chunk = std::move(spare.back());
                    spare.pop_back();
                }
            }
            if (!chunk) chunk = std::make_unique<DecodedChunk>();
            ok[i] = reader.decodeChunk(i, *chunk, &errors[i]);
            {
                std::lock_guard<std::mutex> g(readyMutex);
                ready[i] = std::move(chunk);
            }
            // Bound the backlog: past a few chunks per thread, wait to merge.
            mergeReady(++waiting > 4 * threads);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (!cancelled) mergeReady(true);
    if (cancelled) {
        if (error) *error = reader.name() + ": loading was cancelled";
        return false;
    }
    TraceProblem footer;
    const bool allDecoded = std::all_of(ok.begin(), ok.end(), [](char c) { return c != 0; });
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
