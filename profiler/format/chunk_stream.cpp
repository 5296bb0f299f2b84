#include "chunk_stream.h"

#include "codec.h"

#include <algorithm>
#include <cstring>

namespace vramscope::format {

static_assert(kChunkHeaderBytes == 40, "ChunkStream::kHeaderBytes follows the format");

ChunkStream::ChunkStream(std::string name) : name_(std::move(name)) {}

void ChunkStream::release() {
    head_ += taken_;
    taken_ = 0;
}

void ChunkStream::feed(const uint8_t* data, size_t size) {
    bytesFed_ += size;
    if (state_ == State::Ended) {
        bytesAfterEnd_ += size;
        return;
    }
    if (state_ == State::Failed || size == 0) return;
    release();
    // Drop what was read once it is at least half the buffer: each byte is
    // moved O(1) times on average, whatever the split of the feeds.
    if (head_ > 0 && head_ * 2 >= buf_.size()) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
        bufBase_ += head_;
        head_ = 0;
    }
    buf_.insert(buf_.end(), data, data + size);
}

ChunkStream::Next ChunkStream::fail(std::string message) {
    state_ = State::Failed;
    error_ = std::move(message);
    std::vector<uint8_t>().swap(buf_);
    head_ = taken_ = 0;
    return Next::Failed;
}

ChunkStream::Next ChunkStream::next() {
    release();
    const uint8_t* p = buf_.data() + head_;
    size_t available = buf_.size() - head_;
    const uint64_t offset = bufBase_ + head_;
    switch (state_) {
    case State::FileHeader: {
        if (available == 0) return Next::NeedMore;
        // Refuse garbage as soon as its first bytes differ from the magic,
        // rather than waiting for 32 of them.
        if (std::memcmp(p, kFileMagic, std::min<size_t>(available, 8)) != 0 || available >= kFileHeaderBytes) {
            if (!parseFileHeader(p, available, header_, name_, &error_)) return fail(error_);
            head_ += kFileHeaderBytes;
            headerRead_ = true;
            state_ = State::Chunks;
            return next();
        }
        return Next::NeedMore;
    }
    case State::Chunks: {
        if (available >= 4 && loadLe32(p) != kChunkMagic)
            return fail(name_ + ": the data at offset " + offsetText(offset) +
                        " is not a chunk of a vramscope trace; stopped reading there (what came before is kept)");
        if (available < kChunkHeaderBytes) return Next::NeedMore;
        ChunkHeader h;
        if (!loadChunkHeader(p, h))
            return fail(name_ + ": damaged chunk header at offset " + offsetText(offset) +
                        "; a live stream cannot skip it, so reading stopped there (what came before is kept)");
        // Sizes are bounded (≤ 64 MiB) by loadChunkHeader: now it is safe to wait for them.
        const size_t need = kChunkHeaderBytes + h.compressedBytes;
        if (available < need) {
            buf_.reserve(head_ + need);
            return Next::NeedMore;
        }
        if (h.kind == ChunkKind::Events) {
            chunk_ = {offset, h.compressedBytes, h.rawBytes, h.eventCount, h.firstNs, h.lastNs};
            ++chunksRead_;
            eventsAnnounced_ += h.eventCount;
            taken_ = need;
            return Next::Events;
        }
        std::string why;
        if (!decodeFooter(p + kChunkHeaderBytes, h.compressedBytes, h.rawBytes, footer_, &why))
            return fail(name_ + ": the footer at offset " + offsetText(offset) + " is damaged (" + why +
                        "); every chunk before it was read");
        head_ += need;
        state_ = State::Trailer;
        return next();
    }
    case State::Trailer: {
        if (available < kTrailerBytes) return Next::NeedMore;
        if (loadLe32(p + 8) != kTrailerMagic)
            return fail(name_ + ": the 16 bytes after the footer at offset " + offsetText(offset) +
                        " are not the trailer; every chunk before them was read");
        bytesAfterEnd_ += available - kTrailerBytes;
        state_ = State::Ended;
        std::vector<uint8_t>().swap(buf_);
        head_ = 0;
        return Next::Ended;
    }
    case State::Ended: return Next::Ended;
    case State::Failed: return Next::Failed;
    }
    return Next::Failed;
}

bool ChunkStream::decodeChunk(DecodedChunk& out, std::string* error) const {
    std::string why;
    if (state_ == State::Chunks && taken_ && decodeChunkPayload(chunk_, payload(), out, &why)) return true;
    if (why.empty()) why = "no chunk was returned";
    if (error)
        *error = name_ + ": chunk " + std::to_string(chunkIndex()) + " at offset " + offsetText(chunk_.offset) +
                 " is corrupt (" + why + "); its " + std::to_string(chunk_.eventCount) + " events were skipped";
    return false;
}

std::vector<TraceProblem> ChunkStream::endOfInput() {
    release();
    std::vector<TraceProblem> problems;
    const size_t available = buf_.size() - head_;
    const uint64_t offset = bufBase_ + head_;
    const uint64_t end = bufBase_ + buf_.size();
    switch (state_) {
    case State::FileHeader:
        fail(name_ + ": the stream ended after " + std::to_string(end) +
             " bytes, before a whole file header; nothing was recorded");
        return problems;
    case State::Chunks:
        if (available > 0 && available < kChunkHeaderBytes) {
            problems.push_back({TraceProblem::Kind::Truncated, offset,
                                "the trace is cut off at byte " + std::to_string(end) + " inside a chunk header; " +
                                    std::to_string(available) + " bytes lost"});
        } else if (available > 0) {
            ChunkHeader h;
            const uint32_t events = loadChunkHeader(buf_.data() + head_, h) ? h.eventCount : 0;
            problems.push_back({TraceProblem::Kind::Truncated, offset,
                                "the trace is cut off inside the chunk at offset " + offsetText(offset) + ": " +
                                    std::to_string(events) + " events (" + std::to_string(available) + " bytes) lost"});
        }
        problems.push_back({TraceProblem::Kind::MissingFooter, end,
                            "the trace has no footer: the recording did not finish cleanly (killed or still running); "
                            "showing what was written"});
        break;
    case State::Trailer:
        // As the file reader: a trailer cut short is worth a word, a missing one is not.
        if (available > 0)
            problems.push_back({TraceProblem::Kind::TrailingBytes, offset,
                                "the trace's last 16 bytes (trailer) are cut off; no events were lost"});
        break;
    case State::Ended:
    case State::Failed: return problems;
    }
    state_ = State::Ended;
    std::vector<uint8_t>().swap(buf_);
    head_ = 0;
    return problems;
}

}  // namespace vramscope::format
