// Where the bytes of a live recording come from: a .vtrace still being
// written (vramscope-gui --follow FILE), or a running job's live socket
// (--connect ADDRESS). Plain POSIX, no Qt: the reader thread of live_feed.h
// reads them, and tests drive them against a fake server.
//
// The live protocol (the injector's side serves it):
//   ADDRESS is `unix:/path/to.sock` (or a plain path) or `tcp:HOST:PORT`.
//   The client connects; over TCP it first sends `token <hex>\n`; then
//   `stream\n`. The server answers one line: `ok\n` followed by the raw bytes
//   of the .vtrace from offset 0 (file header, then chunks as the job runs),
//   and closes after the footer and trailer when the recording ends; or
//   `error <a sentence>\n` and closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vramscope::app {

class ByteSource {
public:
    enum class Read {
        Data,    // *got > 0 bytes were read
        Idle,    // nothing new within the timeout
        Closed,  // the source ended (the server closed the connection)
        Error,   // *error says what went wrong
    };
    virtual ~ByteSource();
    // Waits up to timeoutMs for bytes.
    virtual Read read(uint8_t* buffer, size_t size, int timeoutMs, size_t* got, std::string* error) = 0;
    // Wakes a read() waiting on another thread; later reads return Closed.
    void interrupt();

protected:
    ByteSource();
    // Waits for fd to be readable or interrupt(); false on interrupt or timeout.
    bool waitReadable(int fd, int timeoutMs, bool* interrupted);
    int wakeFd_ = -1;  // an eventfd that interrupt() signals
};

// A recording that is still being written: what is in the file now, then
// whatever is appended, found by polling the size every pollMs (50 ms: the
// injector flushes every 50–100 ms). It never ends by itself: the trace's own
// footer says when the recording is complete (ChunkStream::Ended).
class FileTail : public ByteSource {
public:
    ~FileTail() override;
    bool open(const std::string& path, std::string* error);
    Read read(uint8_t* buffer, size_t size, int timeoutMs, size_t* got, std::string* error) override;
    void setPollMs(int ms) { pollMs_ = ms; }

private:
    std::string path_;
    int fd_ = -1;
    uint64_t offset_ = 0;
    int pollMs_ = 50;
};

struct LiveAddress {
    enum class Kind { Unix, Tcp } kind = Kind::Unix;
    std::string path;  // Unix
    std::string host;  // Tcp: a numeric IPv4 address or "localhost"
    uint16_t port = 0;
};
// "unix:/run/x.sock", "/run/x.sock", "tcp:127.0.0.1:7070". False with a sentence.
bool parseLiveAddress(const std::string& text, LiveAddress& out, std::string* error);

// The client side of the live protocol.
class SocketSource : public ByteSource {
public:
    ~SocketSource() override;
    // Connects, sends the token (TCP) and `stream`, and reads the server's
    // answer. False with a sentence: cannot connect, refused (the server's
    // own sentence), or not a vramscope server.
    bool connect(const LiveAddress& address, const std::string& tokenHex, int timeoutMs, std::string* error);
    Read read(uint8_t* buffer, size_t size, int timeoutMs, size_t* got, std::string* error) override;

private:
    int fd_ = -1;
    std::string early_;  // trace bytes that came with the answer line
};

}  // namespace vramscope::app
