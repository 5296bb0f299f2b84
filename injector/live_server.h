// The control and live-stream socket of an attached capture.
//
// One Unix stream socket that only the same user (or root) may use — its
// directory is 0700, the socket 0600, and every peer's uid is checked with
// SO_PEERCRED — and, on request, one on 127.0.0.1 with a random token. Never
// anything but loopback. A client sends one line:
//   status   → "key=value" lines (state, output, python, …), then "end"
//   stop     → "stopping", then once the footer is written the status lines and "end"
//   stream   → "ok", then the bytes of the trace file from offset 0 — the very
//              chunks the file holds, growing as the job runs — and the
//              connection closes after the footer and trailer
// Over TCP the first line must be "token <hex>". A refusal is "error <sentence>".
//
// The stream is read back from the file the writer thread writes (pread up
// to the bytes it has committed as whole chunks), so a viewer that connects
// late gets everything from the start and a slow one costs the job no memory.
// The server runs on its own thread inside the training process: it polls
// every 50 ms, never blocks on a client (non-blocking sockets), and serves
// at most kMaxClients at once.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace vramscope::inject {

class LiveServer {
public:
    static constexpr int kMaxClients = 16;

    struct Hooks {
        // Current "key=value" status, in a stable order.
        std::function<std::map<std::string, std::string>()> status;
        // A client asked to stop: starts the detach (must not block).
        std::function<void()> stop;
        // Whether the capture is over (footer written or capture failed).
        std::function<bool()> captureOver;
        // The trace path and the bytes of it that form whole chunks now.
        std::function<std::string()> tracePath;
        std::function<unsigned long long()> committedBytes;
    };

    // Creates the socket's directory (0700, owned by us, not a link) and binds
    // the Unix socket (0600), and with tcp a loopback socket on a free port.
    // False with a sentence in *error.
    bool open(const std::string& socketPath, bool tcp, Hooks hooks, std::string* error);
    // Serves until the capture is over and every client has what it asked
    // for; then closes and removes the socket. Call on a dedicated thread.
    // The clients that asked to stop are answered by answerStops(), not here.
    void run();
    // Sends each `stop` client its final status and "end", then closes it
    // (at most about a second each). Called once run() returned and the
    // session is marked over: a `vramscope attach --stop` that has its answer
    // can attach again at once (it was refused as "already running" while the
    // old session was still closing its socket).
    void answerStops();

    int tcpPort() const { return tcpPort_; }
    const std::string& token() const { return token_; }

private:
    struct Client;
    bool acceptOn(int listenFd, bool tcp);
    void readCommand(Client& c);
    void handleLine(Client& c, const std::string& line);
    void pump(Client& c);  // sends what is pending; false-free: errors close the client
    std::string statusText();

    Hooks hooks_;
    std::string socketPath_;
    int unixFd_ = -1, tcpFd_ = -1, tcpPort_ = 0;
    std::string token_;
    int traceFd_ = -1;
    std::vector<int> stopClients_;  // answered by answerStops()
    struct ClientList;
    ClientList* clients_ = nullptr;
};

// Creates dir (mode 0700) if missing; true when it is a real directory owned
// by this process's uid with no access for others. *error otherwise.
bool ensurePrivateDirectory(const std::string& dir, std::string* error);

}  // namespace vramscope::inject
