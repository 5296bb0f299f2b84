#include "chunk_pipeline.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vramscope::format {

bool decodeChunksInOrder(const TraceReader& reader, unsigned threads, const ChunkConsumer& consume) {
    const size_t n = reader.chunks().size();
    threads = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(n, 1)));

    // Decoding runs on every thread; consuming needs file order, so whichever
    // thread finishes a chunk consumes every chunk that is ready in order,
    // while the others keep decoding.
    std::vector<std::unique_ptr<DecodedChunk>> ready(n);
    std::vector<char> ok(n, 0);
    std::vector<std::string> errors(n);
    std::vector<std::unique_ptr<DecodedChunk>> spare;  // reused: no page faults after the first few
    std::mutex readyMutex, consumeMutex;
    std::atomic<size_t> next{0}, waiting{0};
    std::atomic<bool> stopped{false};
    size_t consumed = 0;  // guarded by consumeMutex

    auto consumeReady = [&](bool wait) {
        std::unique_lock<std::mutex> lock(consumeMutex, std::defer_lock);
        if (wait) lock.lock();
        else if (!lock.try_lock()) return;
        while (!stopped) {
            std::unique_ptr<DecodedChunk> chunk;
            {
                std::lock_guard<std::mutex> g(readyMutex);
                if (consumed >= n || !ready[consumed]) break;
                chunk = std::move(ready[consumed]);
            }
            --waiting;
            if (!consume(consumed, *chunk, ok[consumed] != 0, errors[consumed])) stopped = true;
            std::string().swap(errors[consumed]);
            ++consumed;
            chunk->clear();
            std::lock_guard<std::mutex> g(readyMutex);
            spare.push_back(std::move(chunk));
        }
    };
    auto work = [&] {
        for (size_t i; !stopped && (i = next++) < n;) {
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
            // Bound the backlog: past a few chunks per thread, wait to consume.
            consumeReady(++waiting > 4 * threads);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (!stopped) consumeReady(true);
    return !stopped;
}

}  // namespace vramscope::format
