// The reader thread of a live document: bytes from a ByteSource
// (live_source.h) into a ChunkStream, every complete chunk decoded there —
// off the GUI thread — and queued for the one who appends it to the model
// (LiveSession, on the GUI thread). Qt-free, so tests run it without a window.
//
// Back-pressure: once kMaxQueuedEvents decoded events wait to be taken, the
// thread stops reading until take() makes room. Following a recording that
// has run for hours then holds a bounded backlog in memory (decoded records
// take ~10x their compressed size) while the GUI thread catches up.
#pragma once

#include "live_source.h"

#include "format/chunk_stream.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vramscope::app {

class LiveFeed {
public:
    using SourceFactory = std::function<std::unique_ptr<ByteSource>(std::string* error)>;
    enum class State {
        Connecting,  // opening the file or connecting
        Receiving,   // reading; chunks arrive
        Ended,       // the source ended: complete() says whether with its footer
        Failed,      // could not start, or the stream broke: message() says why
    };
    static constexpr uint64_t kMaxQueuedEvents = 4'000'000;

    // factory opens the source on the reader thread (a connect may wait);
    // name prefixes the stream's sentences.
    LiveFeed(SourceFactory factory, std::string name);
    ~LiveFeed();  // stops and joins
    LiveFeed(const LiveFeed&) = delete;
    LiveFeed& operator=(const LiveFeed&) = delete;

    // Starts the reader thread. wake() is called from it whenever there is
    // something new to take or the state changed (keep it cheap: post an event).
    void start(std::function<void()> wake);
    // Stops reading; what was queued can still be taken.
    void stop();

    struct Taken {
        std::vector<std::unique_ptr<format::DecodedChunk>> chunks;  // in stream order
        std::vector<format::TraceProblem> problems;  // corrupt chunks; at the end, what was lost
        bool more = false;  // chunks still queued beyond maxEvents
    };
    // Takes queued chunks, about maxEvents' worth (at least one chunk).
    Taken take(uint64_t maxEvents = UINT64_MAX);

    State state() const;
    bool complete() const;       // Ended with the footer: the whole recording arrived
    std::string message() const; // why it failed or how it ended early
    uint64_t bytesRead() const { return bytesRead_.load(); }
    int64_t lastDataMs() const { return lastDataMs_.load(); }  // CLOCK_MONOTONIC ms of the last bytes

private:
    void run();         // the reader thread: read() guarded, so nothing thrown ends the app
    void read();
    void finish(State state, std::string message, std::vector<format::TraceProblem> problems);

    SourceFactory factory_;
    std::string name_;
    std::function<void()> wake_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> bytesRead_{0};
    std::atomic<int64_t> lastDataMs_{0};
    std::unique_ptr<ByteSource> source_;  // owned by the reader thread once made
    std::mutex sourceMutex_;              // guards source_ for stop()'s interrupt

    mutable std::mutex mutex_;
    std::condition_variable room_;
    std::deque<std::unique_ptr<format::DecodedChunk>> queue_;
    uint64_t queuedEvents_ = 0;
    std::vector<format::TraceProblem> problems_;
    State state_ = State::Connecting;
    bool complete_ = false;
    std::string message_;
};

}  // namespace vramscope::app
