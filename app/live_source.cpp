#include "live_source.h"

#include "format/input_file.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

namespace vramscope::app {

namespace {

int64_t nowMs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string errnoText() { return std::strerror(errno); }

bool sendAll(int fd, const std::string& text) {
    size_t sent = 0;
    while (sent < text.size()) {
        const ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += size_t(n);
    }
    return true;
}

}  // namespace

// ---- ByteSource ---------------------------------------------------------------

ByteSource::ByteSource() : wakeFd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ByteSource::~ByteSource() {
    if (wakeFd_ >= 0) ::close(wakeFd_);
}

void ByteSource::interrupt() {
    const uint64_t one = 1;
    if (wakeFd_ >= 0 && ::write(wakeFd_, &one, sizeof one) < 0) {
        // The counter is full: a wake-up is pending already.
    }
}

bool ByteSource::waitReadable(int fd, int timeoutMs, bool* interrupted) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    const int count = fd >= 0 ? 2 : 1;
    pollfd* first = fd >= 0 ? fds : fds + 1;
    for (;;) {
        const int n = ::poll(first, nfds_t(count), timeoutMs);
        if (n < 0 && errno == EINTR) continue;
        if (fds[1].revents & POLLIN) {
            *interrupted = true;
            return false;
        }
        return n > 0 && fd >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR));
    }
}

// ---- FileTail -------------------------------------------------------------------

FileTail::~FileTail() {
    if (fd_ >= 0) ::close(fd_);
}

bool FileTail::open(const std::string& path, std::string* error) {
    path_ = path;
    // A FIFO or device is refused without waiting on it.
    std::string why;
    fd_ = format::openRegularFile(path, &why);
    if (fd_ >= 0) return true;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) why += " (a live socket is shown with --connect)";
    if (error) *error = why;
    return false;
}

ByteSource::Read FileTail::read(uint8_t* buffer, size_t size, int timeoutMs, size_t* got, std::string* error) {
    *got = 0;
    const int64_t deadline = nowMs() + timeoutMs;
    for (;;) {
        const ssize_t n = ::pread(fd_, buffer, size, off_t(offset_));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (error) *error = path_ + ": cannot read: " + errnoText();
            return Read::Error;
        }
        if (n > 0) {
            offset_ += uint64_t(n);
            *got = size_t(n);
            return Read::Data;
        }
        // At the end of what was written: a file that shrank was replaced.
        struct stat st {};
        if (fstat(fd_, &st) == 0 && uint64_t(st.st_size) < offset_) {
            if (error)
                *error = path_ + ": the file shrank to " + std::to_string(st.st_size) + " bytes after " +
                         std::to_string(offset_) + " were read (overwritten by another recording?); stopped following it";
            return Read::Error;
        }
        const int64_t left = deadline - nowMs();
        if (left <= 0) return Read::Idle;
        bool interrupted = false;
        waitReadable(-1, int(std::min<int64_t>(left, pollMs_)), &interrupted);
        if (interrupted) return Read::Closed;
    }
}

// ---- addresses and sockets ----------------------------------------------------------

bool parseLiveAddress(const std::string& text, LiveAddress& out, std::string* error) {
    out = LiveAddress{};
    if (text.rfind("tcp:", 0) == 0) {
        const std::string rest = text.substr(4);
        const size_t colon = rest.rfind(':');
        char* end = nullptr;
        const unsigned long port = colon == std::string::npos ? 0 : std::strtoul(rest.c_str() + colon + 1, &end, 10);
        if (colon == std::string::npos || colon == 0 || !end || *end || port == 0 || port > 65535) {
            if (error) *error = "'" + text + "' is not a TCP address: write tcp:HOST:PORT, e.g. tcp:127.0.0.1:7070";
            return false;
        }
        out.kind = LiveAddress::Kind::Tcp;
        out.host = rest.substr(0, colon);
        if (out.host == "localhost") out.host = "127.0.0.1";
        in_addr probe{};
        if (inet_pton(AF_INET, out.host.c_str(), &probe) != 1) {
            if (error) *error = "'" + out.host + "' is not an IPv4 address: the live socket listens on loopback (tcp:127.0.0.1:PORT)";
            return false;
        }
        out.port = uint16_t(port);
        return true;
    }
    out.kind = LiveAddress::Kind::Unix;
    out.path = text.rfind("unix:", 0) == 0 ? text.substr(5) : text;
    if (out.path.empty() || out.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        if (error) *error = "'" + text + "' is not a socket path (unix:/path/to.sock, at most 107 bytes)";
        return false;
    }
    return true;
}

SocketSource::~SocketSource() {
    if (fd_ >= 0) ::close(fd_);
}

bool SocketSource::connect(const LiveAddress& address, const std::string& tokenHex, int timeoutMs, std::string* error) {
    const std::string where = address.kind == LiveAddress::Kind::Tcp
                                  ? "tcp:" + address.host + ":" + std::to_string(address.port)
                                  : "unix:" + address.path;
    auto fail = [&](const std::string& message) {
        if (error) *error = where + ": " + message;
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        return false;
    };
    if (address.kind == LiveAddress::Kind::Tcp) {
        if (tokenHex.empty()) return fail("a TCP live socket needs its token (--token HEX, as `vramscope attach` printed it)");
        for (char c : tokenHex)
            if (!std::isxdigit(static_cast<unsigned char>(c))) return fail("the token must be hexadecimal digits");
    }
    const int family = address.kind == LiveAddress::Kind::Tcp ? AF_INET : AF_UNIX;
    fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return fail("cannot create a socket: " + errnoText());
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(address.port);
        inet_pton(AF_INET, address.host.c_str(), &in->sin_addr);
        length = sizeof *in;
        const int one = 1;
        setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
        auto* un = reinterpret_cast<sockaddr_un*>(&storage);
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, address.path.c_str(), address.path.size() + 1);
        length = socklen_t(offsetof(sockaddr_un, sun_path) + address.path.size() + 1);
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            return fail("cannot connect: " + errnoText() + " (is the job running with a live socket?)");
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, timeoutMs) <= 0) return fail("no answer to the connection within " + std::to_string(timeoutMs) + " ms");
        int so = 0;
        socklen_t soLength = sizeof so;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so, &soLength);
        if (so != 0) return fail("cannot connect: " + std::string(std::strerror(so)) + " (is the job running with a live socket?)");
    }
    if ((address.kind == LiveAddress::Kind::Tcp && !sendAll(fd_, "token " + tokenHex + "\n")) || !sendAll(fd_, "stream\n"))
        return fail("the connection closed before the request was sent");
    // One answer line; a sane one is short.
    std::string line;
    const int64_t deadline = nowMs() + timeoutMs;
    for (;;) {
        const size_t newline = line.find('\n');
        if (newline != std::string::npos) {
            early_ = line.substr(newline + 1);
            line.resize(newline);
            break;
        }
        if (line.size() > 1024) return fail("not a vramscope live socket (its answer is not one short line)");
        const int64_t left = deadline - nowMs();
        bool interrupted = false;
        if (left <= 0 || !waitReadable(fd_, int(left), &interrupted))
            return fail(interrupted ? "stopped" : "no answer within " + std::to_string(timeoutMs) + " ms");
        char buffer[4096];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return fail(line.empty() ? "the server closed the connection without answering" : "the server's answer was cut off");
        line.append(buffer, size_t(n));
    }
    if (line == "ok") return true;
    if (line.rfind("error ", 0) == 0) return fail("the job refused: " + line.substr(6));
    std::string shown = line.substr(0, 60);
    for (char& c : shown)
        if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
    return fail("not a vramscope live socket (it answered '" + shown + "')");
}

ByteSource::Read SocketSource::read(uint8_t* buffer, size_t size, int timeoutMs, size_t* got, std::string* error) {
    *got = 0;
    if (!early_.empty()) {
        const size_t n = std::min(size, early_.size());
        std::memcpy(buffer, early_.data(), n);
        early_.erase(0, n);
        *got = n;
        return Read::Data;
    }
    if (fd_ < 0) return Read::Closed;
    bool interrupted = false;
    if (!waitReadable(fd_, timeoutMs, &interrupted)) return interrupted ? Read::Closed : Read::Idle;
    for (;;) {
        const ssize_t n = ::recv(fd_, buffer, size, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return Read::Idle;
        if (n < 0) {
            if (error) *error = "the connection broke: " + errnoText();
            return Read::Error;
        }
        if (n == 0) return Read::Closed;
        *got = size_t(n);
        return Read::Data;
    }
}

}  // namespace vramscope::app
