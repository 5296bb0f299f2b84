// Reading a .vtrace while it arrives: a recording still being written
// (`vramscope-gui --follow`), or the same bytes from the live socket
// (`--connect`). Feed it bytes in any split, down to one byte at a time;
// take out the file header's version, each complete events chunk, and the
// end (footer + trailer).
//
// It checks what TraceReader checks, through the same functions (reader.h:
// parseFileHeader, loadChunkHeader, decodeChunkPayload, decodeFooter), so a
// chunk decodes to the same records whichever way it came. It differs in one
// thing: it never looks back. A damaged chunk header cannot be skipped
// without the bytes after it (the file reader resynchronises by searching
// forward), so the stream stops there with a sentence; everything before it
// stays usable.
//
// Memory is bounded by the format, not by the input: a chunk header's sizes
// are checked (≤ 64 MiB, docs/trace-format.md) before a byte of its payload
// is kept, and the buffer holds at most the chunk being completed plus what
// the last feed() brought. Feed what one read() returned, then call next()
// until it says NeedMore. Bytes after the end are counted, not kept.
//
// Not thread-safe; one reader thread owns it (app/live_feed.h).
#pragma once

#include "reader.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::format {

class ChunkStream {
public:
    enum class Next {
        NeedMore,  // feed more bytes
        Events,    // an events chunk: chunk(), payload(), decodeChunk()
        Ended,     // the footer and trailer arrived: the recording is complete
        Failed,    // not a trace, or damaged beyond what a stream can skip: error()
    };

    explicit ChunkStream(std::string name = "stream");

    // Appends bytes as they arrive. Invalidates payload().
    void feed(const uint8_t* data, size_t size);
    // The next complete piece of the trace, or NeedMore. After Ended or
    // Failed it keeps answering the same.
    Next next();

    // The events chunk the last next() returned: its place and size (offset
    // counts from the stream's first byte, like a file offset), and its
    // payload, valid until the next feed() or next().
    const ChunkIndexEntry& chunk() const { return chunk_; }
    const uint8_t* payload() const { return buf_.data() + head_ + kHeaderBytes; }
    // Its index among the stream's events chunks (0 for the first).
    size_t chunkIndex() const { return chunksRead_ ? chunksRead_ - 1 : 0; }
    // Decodes it, as TraceReader::decodeChunk does a file's chunk: false with
    // a sentence naming the chunk when its payload is damaged (the stream
    // goes on: the next chunk is independent).
    bool decodeChunk(DecodedChunk& out, std::string* error) const;

    // The file header, once next() has read it.
    bool headerRead() const { return headerRead_; }
    const FileHeaderInfo& header() const { return header_; }
    // The footer, once next() returned Ended.
    const FooterInfo& footer() const { return footer_; }
    bool ended() const { return state_ == State::Ended; }
    bool failed() const { return state_ == State::Failed; }
    const std::string& error() const { return error_; }

    // The source closed (end of file that will not grow, socket closed).
    // Returns what was lost, as TraceReader reports a file cut at this point:
    // a chunk cut off, no footer; nothing when the trace ended cleanly.
    // Afterwards next() answers Ended (or Failed).
    std::vector<TraceProblem> endOfInput();

    uint64_t bytesFed() const { return bytesFed_; }
    uint64_t chunksRead() const { return chunksRead_; }
    uint64_t eventsAnnounced() const { return eventsAnnounced_; }  // by the chunk headers read
    uint64_t bytesAfterEnd() const { return bytesAfterEnd_; }
    size_t bufferedBytes() const { return buf_.size() - head_; }

private:
    enum class State { FileHeader, Chunks, Trailer, Ended, Failed };
    static constexpr size_t kHeaderBytes = 40;  // codec.h kChunkHeaderBytes
    Next fail(std::string message);
    void release();  // drops the piece the last next() returned

    std::string name_;
    State state_ = State::FileHeader;
    std::vector<uint8_t> buf_;
    size_t head_ = 0;       // first unread byte in buf_
    size_t taken_ = 0;      // bytes of the piece returned last, dropped by the next call
    uint64_t bufBase_ = 0;  // stream offset of buf_[0]
    bool headerRead_ = false;
    FileHeaderInfo header_;
    ChunkIndexEntry chunk_;
    FooterInfo footer_;
    std::string error_;
    uint64_t bytesFed_ = 0, chunksRead_ = 0, eventsAnnounced_ = 0, bytesAfterEnd_ = 0;
};

}  // namespace vramscope::format
