#include "live_server.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

namespace vramscope::inject {

namespace {

constexpr size_t kMaxCommandBytes = 256;
constexpr size_t kStreamSliceBytes = 256 * 1024;  // what one client may hold in flight
constexpr int kPollMs = 50;
constexpr uint64_t kLingerNs = 5000000000ull;     // a failed start stays readable this long

uint64_t monotonicNs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::string parentOf(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
}

void setNonBlocking(int fd) {
    const int flags = fcntl(fd, F_GETFL, 0);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

std::string randomToken() {
    unsigned char bytes[16] = {};
    size_t got = 0;
    while (got < sizeof bytes) {
        const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return {};
        }
        got += size_t(n);
    }
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

// A socket file left by a capture whose process died: nobody accepts on it.
bool staleSocket(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    const bool refused = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

}  // namespace

bool ensurePrivateDirectory(const std::string& dir, std::string* error) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        *error = "cannot create " + dir + ": " + std::strerror(errno);
        return false;
    }
    struct stat st {};
    if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        *error = dir + " is not a directory";
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        *error = dir + " is not private to this user (owner " + std::to_string(st.st_uid) + ", mode " +
                 std::to_string(st.st_mode & 0777) + "); remove it and attach again";
        return false;
    }
    return true;
}

struct LiveServer::Client {
    enum class Mode { Command, Reply, Streaming, StopWait };
    int fd = -1;
    bool tcp = false;
    bool authed = false;
    bool closing = false;  // close once `out` is sent
    Mode mode = Mode::Command;
    std::string in, out;
    unsigned long long offset = 0;  // stream: file bytes sent
};

struct LiveServer::ClientList {
    std::vector<Client> items;
};

bool LiveServer::open(const std::string& socketPath, bool tcp, Hooks hooks, std::string* error) {
    hooks_ = std::move(hooks);
    socketPath_ = socketPath;
    if (socketPath.size() >= sizeof(sockaddr_un::sun_path)) {
        *error = "the socket path " + socketPath + " is too long";
        return false;
    }
    if (!ensurePrivateDirectory(parentOf(socketPath), error)) return false;
    struct stat st {};
    if (lstat(socketPath.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode) || !staleSocket(socketPath)) {
            *error = "another vramscope capture is attached to this process (" + socketPath + " answers)";
            return false;
        }
        unlink(socketPath.c_str());
    }
    unixFd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size());
    // The directory is already 0700; the socket gets 0600 before anyone can
    // reach it through that directory.
    const mode_t oldMask = umask(077);
    const bool bound = unixFd_ >= 0 && bind(unixFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    umask(oldMask);
    if (!bound || chmod(socketPath.c_str(), 0600) != 0 || listen(unixFd_, 8) != 0) {
        *error = "cannot listen on " + socketPath + ": " + std::strerror(errno);
        if (unixFd_ >= 0) close(unixFd_);
        unixFd_ = -1;
        return false;
    }
    setNonBlocking(unixFd_);
    if (tcp) {
        token_ = randomToken();
        tcpFd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only: ssh -L reaches it, the network does not
        in.sin_port = 0;
        socklen_t len = sizeof in;
        if (token_.empty() || tcpFd_ < 0 || bind(tcpFd_, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 ||
            listen(tcpFd_, 8) != 0 || getsockname(tcpFd_, reinterpret_cast<sockaddr*>(&in), &len) != 0) {
            *error = std::string("cannot listen on loopback TCP: ") + std::strerror(errno);
            if (tcpFd_ >= 0) close(tcpFd_);
            tcpFd_ = -1;
            close(unixFd_);
            unlink(socketPath.c_str());
            unixFd_ = -1;
            return false;
        }
        tcpPort_ = ntohs(in.sin_port);
        setNonBlocking(tcpFd_);
    }
    clients_ = new ClientList;
    return true;
}

bool LiveServer::acceptOn(int listenFd, bool tcp) {
    const int fd = accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return false;
    if (!tcp) {
        ucred peer{};
        socklen_t len = sizeof peer;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || (peer.uid != geteuid() && peer.uid != 0)) {
            static const char refusal[] = "error only the user who runs this process (or root) may use this socket\n";
            ssize_t ignored = send(fd, refusal, sizeof refusal - 1, MSG_NOSIGNAL);
            (void)ignored;
            close(fd);
            return true;
        }
    }
    if (static_cast<int>(clients_->items.size()) >= kMaxClients) {
        static const char busy[] = "error too many clients\n";
        ssize_t ignored = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
        (void)ignored;
        close(fd);
        return true;
    }
    Client c;
    c.fd = fd;
    c.tcp = tcp;
    c.authed = !tcp;
    clients_->items.push_back(std::move(c));
    return true;
}

std::string LiveServer::statusText() {
    std::string out;
    for (const auto& [key, value] : hooks_.status()) out += key + "=" + value + "\n";
    if (tcpPort_) out += "tcp=127.0.0.1:" + std::to_string(tcpPort_) + "\n";
    return out;
}

void LiveServer::handleLine(Client& c, const std::string& line) {
    if (!c.authed) {
        if (line == "token " + token_) {
            c.authed = true;
            return;
        }
        c.out = "error wrong token\n";
        c.closing = true;
        return;
    }
    if (line == "status") {
        std::string text = statusText();
        if (!c.tcp && !token_.empty()) text += "token=" + token_ + "\n";  // the owner may pass it to a viewer
        c.out = text + "end\n";
        c.mode = Client::Mode::Reply;
        c.closing = true;
    } else if (line == "stop") {
        c.out = "stopping\n";
        c.mode = Client::Mode::StopWait;
        hooks_.stop();
    } else if (line == "stream") {
        c.out = "ok\n";
        c.mode = Client::Mode::Streaming;
    } else {
        c.out = "error unknown command (status, stop or stream)\n";
        c.closing = true;
    }
}

void LiveServer::readCommand(Client& c) {
    char buf[512];
    for (;;) {
        const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n == 0) {
            // The client closed its side: a streaming viewer went away.
            if (c.mode != Client::Mode::StopWait) c.closing = true, c.out.clear();
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c.closing = true, c.out.clear();
            return;
        }
        if (c.mode != Client::Mode::Command) continue;  // nothing more is read once a command is taken
        c.in.append(buf, size_t(n));
        size_t nl;
        while (c.mode == Client::Mode::Command && !c.closing && (nl = c.in.find('\n')) != std::string::npos) {
            std::string line = c.in.substr(0, nl);
            c.in.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            handleLine(c, line);
        }
        if (c.in.size() > kMaxCommandBytes) {
            c.out = "error command too long\n";
            c.closing = true;
        }
    }
}

void LiveServer::pump(Client& c) {
    for (;;) {
        if (c.out.empty() && c.mode == Client::Mode::Streaming && !c.closing) {
            const unsigned long long committed = hooks_.committedBytes();
            if (c.offset < committed) {
                if (traceFd_ < 0) traceFd_ = ::open(hooks_.tracePath().c_str(), O_RDONLY | O_CLOEXEC);
                if (traceFd_ < 0) return;
                const size_t want = size_t(std::min<unsigned long long>(committed - c.offset, kStreamSliceBytes));
                c.out.resize(want);
                const ssize_t n = pread(traceFd_, c.out.data(), want, off_t(c.offset));
                if (n <= 0) {
                    c.out.clear();
                    return;
                }
                c.out.resize(size_t(n));
                c.offset += static_cast<unsigned long long>(n);
            } else if (hooks_.captureOver()) {
                c.closing = true;  // everything, footer included, is sent
            }
        }
        if (c.out.empty()) return;
        const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                c.out.clear();
                c.closing = true;
            }
            return;
        }
        c.out.erase(0, size_t(n));
        if (!c.out.empty()) return;  // the socket is full: later
    }
}

void LiveServer::run() {
    auto& clients = clients_->items;
    uint64_t overSinceNs = 0;
    bool anyServed = false;
    for (;;) {
        std::vector<pollfd> fds;
        fds.push_back({unixFd_, POLLIN, 0});
        if (tcpFd_ >= 0) fds.push_back({tcpFd_, POLLIN, 0});
        const size_t firstClient = fds.size();
        for (const Client& c : clients)
            fds.push_back({c.fd, short(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
        poll(fds.data(), fds.size(), kPollMs);
        if (fds[0].revents & POLLIN) while (acceptOn(unixFd_, false)) anyServed = true;
        if (tcpFd_ >= 0 && (fds[1].revents & POLLIN)) while (acceptOn(tcpFd_, true)) anyServed = true;
        const bool over = hooks_.captureOver();
        for (size_t i = 0; i < clients.size(); ++i) {
            Client& c = clients[i];
            const size_t slot = firstClient + i;
            if (slot < fds.size() && (fds[slot].revents & (POLLIN | POLLHUP | POLLERR))) readCommand(c);
            if (c.mode == Client::Mode::StopWait && over && c.out.empty()) {
                stopClients_.push_back(c.fd);  // answered once the session is over (answerStops)
                c.fd = -1;
                c.closing = true;
                continue;
            }
            pump(c);
        }
        for (size_t i = clients.size(); i-- > 0;) {
            if (clients[i].closing && (clients[i].out.empty() || clients[i].fd < 0)) {
                if (clients[i].fd >= 0) close(clients[i].fd);
                clients.erase(clients.begin() + long(i));
            }
        }
        if (over) {
            if (!overSinceNs) overSinceNs = monotonicNs();
            // Done once every client has what it asked for; a capture that
            // ended before anyone asked stays answerable a little while.
            if (clients.empty() && (anyServed || monotonicNs() - overSinceNs > kLingerNs)) break;
        }
    }
    close(unixFd_);
    if (tcpFd_ >= 0) close(tcpFd_);
    if (traceFd_ >= 0) close(traceFd_);
    unlink(socketPath_.c_str());
    unixFd_ = tcpFd_ = traceFd_ = -1;
}

void LiveServer::answerStops() {
    const std::string text = statusText() + "end\n";
    for (int fd : stopClients_) {
        size_t sent = 0;
        for (int waits = 0; sent < text.size() && waits < 10;) {
            const ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += size_t(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                pollfd p{fd, POLLOUT, 0};
                poll(&p, 1, kPollMs);
                ++waits;
            } else {
                break;  // the client went away
            }
        }
        close(fd);
    }
    stopClients_.clear();
}

}  // namespace vramscope::inject
