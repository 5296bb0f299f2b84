#include "live_feed.h"

#include <exception>
#include <new>

#include <time.h>

namespace vramscope::app {

namespace {
int64_t monotonicMs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
}  // namespace

LiveFeed::LiveFeed(SourceFactory factory, std::string name) : factory_(std::move(factory)), name_(std::move(name)) {}

LiveFeed::~LiveFeed() { stop(); }

void LiveFeed::start(std::function<void()> wake) {
    wake_ = std::move(wake);
    thread_ = std::thread([this] { run(); });
}

void LiveFeed::stop() {
    stopping_ = true;
    {
        std::lock_guard<std::mutex> g(sourceMutex_);
        if (source_) source_->interrupt();
    }
    room_.notify_all();
    if (thread_.joinable()) thread_.join();
}

LiveFeed::State LiveFeed::state() const {
    std::lock_guard<std::mutex> g(mutex_);
    return state_;
}

bool LiveFeed::complete() const {
    std::lock_guard<std::mutex> g(mutex_);
    return complete_;
}

std::string LiveFeed::message() const {
    std::lock_guard<std::mutex> g(mutex_);
    return message_;
}

LiveFeed::Taken LiveFeed::take(uint64_t maxEvents) {
    Taken out;
    {
        std::lock_guard<std::mutex> g(mutex_);
        uint64_t events = 0;
        while (!queue_.empty() && (out.chunks.empty() || events + queue_.front()->events <= maxEvents)) {
            events += queue_.front()->events;
            queuedEvents_ -= queue_.front()->events;
            out.chunks.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        out.more = !queue_.empty();
        // Problems belong after the chunks that came before them: hand them
        // over once the queue is empty.
        if (queue_.empty()) out.problems.swap(problems_);
    }
    room_.notify_all();
    return out;
}

void LiveFeed::finish(State state, std::string message, std::vector<format::TraceProblem> problems) {
    {
        std::lock_guard<std::mutex> g(mutex_);
        state_ = state;
        message_ = std::move(message);
        problems_.insert(problems_.end(), problems.begin(), problems.end());
    }
    if (wake_) wake_();
}

void LiveFeed::run() {
    // An exception leaving a std::thread ends the process: the stream fails instead.
    try {
        read();
    } catch (const std::bad_alloc&) {
        finish(State::Failed, "out of memory while reading the stream (is it damaged?); showing what arrived", {});
    } catch (const std::exception& e) {
        finish(State::Failed, std::string("stopped reading: ") + e.what() + "; showing what arrived", {});
    } catch (...) {
        finish(State::Failed, "stopped reading (internal error); showing what arrived", {});
    }
}

void LiveFeed::read() {
    std::string error;
    std::unique_ptr<ByteSource> source = factory_(&error);
    if (!source) {
        finish(State::Failed, error, {});
        return;
    }
    {
        std::lock_guard<std::mutex> g(sourceMutex_);
        source_ = std::move(source);
        if (stopping_) source_->interrupt();
    }
    {
        std::lock_guard<std::mutex> g(mutex_);
        state_ = State::Receiving;
    }
    lastDataMs_ = monotonicMs();
    if (wake_) wake_();

    format::ChunkStream stream(name_);
    std::vector<uint8_t> buffer(256 << 10);
    for (;;) {
        {
            // Back-pressure: wait for the GUI thread to take what is queued.
            std::unique_lock<std::mutex> lock(mutex_);
            room_.wait(lock, [&] { return stopping_ || queuedEvents_ < kMaxQueuedEvents; });
        }
        if (stopping_) {
            finish(State::Ended, "stopped by the user; showing what arrived", stream.endOfInput());
            return;
        }
        size_t got = 0;
        const ByteSource::Read read = source_->read(buffer.data(), buffer.size(), 200, &got, &error);
        if (read == ByteSource::Read::Idle) continue;
        if (read == ByteSource::Read::Closed || read == ByteSource::Read::Error) {
            std::vector<format::TraceProblem> lost = stream.endOfInput();
            if (stream.failed()) {
                finish(State::Failed, stream.error(), {});
            } else if (read == ByteSource::Read::Error) {
                finish(State::Failed, error + "; showing what arrived", std::move(lost));
            } else {
                finish(State::Ended,
                       stopping_ ? "stopped by the user; showing what arrived"
                                 : "the connection closed before the recording ended (no footer); showing what arrived",
                       std::move(lost));
            }
            return;
        }
        bytesRead_ += got;
        lastDataMs_ = monotonicMs();
        stream.feed(buffer.data(), got);
        bool queued = false;
        for (;;) {
            const format::ChunkStream::Next next = stream.next();
            if (next == format::ChunkStream::Next::Events) {
                auto chunk = std::make_unique<format::DecodedChunk>();
                std::string why;
                const bool ok = stream.decodeChunk(*chunk, &why);  // the expensive part, outside the lock
                std::lock_guard<std::mutex> g(mutex_);
                if (ok) {
                    queuedEvents_ += chunk->events;
                    queue_.push_back(std::move(chunk));
                    queued = true;
                } else {
                    problems_.push_back({format::TraceProblem::Kind::CorruptChunk, stream.chunk().offset, why});
                }
                continue;
            }
            if (next == format::ChunkStream::Next::Ended) {
                {
                    std::lock_guard<std::mutex> g(mutex_);
                    complete_ = true;
                }
                std::vector<format::TraceProblem> after;
                if (stream.bytesAfterEnd())
                    after.push_back({format::TraceProblem::Kind::TrailingBytes, stream.bytesFed(),
                                     std::to_string(stream.bytesAfterEnd()) + " bytes after the end of the trace were ignored"});
                finish(State::Ended, {}, std::move(after));
                return;
            }
            if (next == format::ChunkStream::Next::Failed) {
                finish(State::Failed, stream.error(), {});
                return;
            }
            break;  // NeedMore
        }
        if (queued && wake_) wake_();
    }
}

}  // namespace vramscope::app
