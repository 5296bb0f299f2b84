// The live view as a user meets it: follow a recording while a writer thread
// still writes it, or read a job's live socket (here a fake server serving a
// fixture slowly); the model grows, follow mode keeps the head in view until
// the user zooms, and at the end the model equals loadModel() of the file. A
// broken stream keeps what arrived and says why.
#include "../analysis/model_compare.h"
#include "../analysis/trace_rewriter.h"

#include "live_session.h"
#include "live_source.h"
#include "main_window.h"
#include "timeline_canvas.h"

#include "model/model_builder.h"
#include "synth/synth.h"

#include <QLabel>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>

#include <arpa/inet.h>
#include <atomic>
#include <fstream>
#include <iterator>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace vramscope;
using namespace vramscope::app;

namespace {

std::vector<uint8_t> fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

model::TraceModel loaded(const std::string& path) {
    model::TraceModel m;
    std::string error;
    if (!model::loadModel(path, m, {}, &error)) qFatal("%s", error.c_str());
    return m;
}

// A stand-in for the injector's live socket: one client, checks the request
// (and the token over TCP), answers `ok`, then serves `bytes` in pieces with
// a pause between them, and closes (or answers `error …`).
class FakeServer {
public:
    std::string requiredToken;   // TCP: the token the client must send
    std::string refusal;         // non-empty: answer `error <refusal>`
    std::string answer = "ok";   // what a well-behaved server says
    size_t piece = 4096;
    int pauseMs = 3;
    std::atomic<bool> sawStream{false};

    bool listenUnix(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
        return fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 1) == 0;
    }
    // Binds 127.0.0.1 on a free port; returns it (0 on failure).
    uint16_t listenTcp() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 1) != 0 ||
            getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length) != 0)
            return 0;
        return ntohs(a.sin_port);
    }
    void serve(std::vector<uint8_t> bytes) {
        thread_ = std::thread([this, bytes = std::move(bytes)] {
            const int client = ::accept(fd_, nullptr, nullptr);
            if (client < 0) return;
            std::string request;
            char c;
            const size_t lines = requiredToken.empty() ? 1 : 2;
            while (size_t(std::count(request.begin(), request.end(), '\n')) < lines && ::recv(client, &c, 1, 0) == 1)
                request += c;
            sawStream = request.find("stream\n") != std::string::npos;
            std::string reply = answer + "\n";
            if (!refusal.empty()) reply = "error " + refusal + "\n";
            else if (!requiredToken.empty() && request.rfind("token " + requiredToken + "\n", 0) != 0)
                reply = "error the token does not match; copy it from `vramscope attach`\n";
            ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
            if (reply.rfind("ok", 0) == 0) {
                for (size_t at = 0; at < bytes.size() && !stop_; at += piece) {
                    const size_t n = std::min(piece, bytes.size() - at);
                    if (::send(client, bytes.data() + at, n, MSG_NOSIGNAL) != ssize_t(n)) break;
                    if (pauseMs) std::this_thread::sleep_for(std::chrono::milliseconds(pauseMs));
                }
            }
            ::close(client);
        });
    }
    ~FakeServer() {
        stop_ = true;
        if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) ::close(fd_);
    }

private:
    int fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};
};

bool waitEnded(LiveSession* session, int ms = 60000) {
    return QTest::qWaitFor([&] { return session->ended() && !session->analysisRunning(); }, ms);
}

}  // namespace

class TestLiveApp : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string synth_;  // a synth training run in 20 ms chunks

    std::string path(const char* name) const { return dir_.filePath(name).toStdString(); }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QCoreApplication::setOrganizationName("vramscope-tests");
        qputenv("VRAMSCOPE_INDEX_CACHE", dir_.path().toUtf8());  // no index cache beside the fixtures
        synth::SynthOptions o;
        o.iterations = 24;
        o.leakBytesPerIteration = 8 << 20;
        std::string error;
        QVERIFY(synth::writeSynthTrace(path("synth.vtrace"), o, nullptr, &error));
        testing::RewriteOptions chunks;
        chunks.chunkSpanNs = 20'000'000;
        synth_ = path("synth-chunks.vtrace");
        QVERIFY2(testing::rewriteTrace(path("synth.vtrace"), synth_, chunks, &error), error.c_str());
    }

    // A writer thread writes the recording, flushing every few ms like the
    // injector; the window follows the file. It grows, follow mode keeps the
    // head in view, a zoom turns follow off (the view then stays while data
    // keeps arriving), End turns it back on, and at the end the model equals
    // loadModel() of the file and the docks show its analysis.
    void followedRecordingGrowsAndEndsEqualToTheFile() {
        const std::string file = path("followed.vtrace");
        { std::ofstream(file, std::ios::binary); }  // there before the writer starts, as with `vramscope record`
        std::atomic<int> flushes{0};
        std::thread writer([&] {
            testing::RewriteOptions slow;
            slow.chunkSpanNs = 20'000'000;
            slow.afterFlush = [&](uint64_t) {
                ++flushes;
                std::this_thread::sleep_for(std::chrono::milliseconds(40));
            };
            std::string error;
            testing::rewriteTrace(synth_, file, slow, &error);
        });
        MainWindow w;
        w.setInteractive(false);
        w.resize(1400, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.followTrace(QString::fromStdString(file));
        LiveSession* session = w.liveSession();
        QVERIFY(session);
        session->setAnalysisIntervalMs(300);
        TimelineCanvas* canvas = w.canvas();
        QVERIFY(canvas->following());
        auto doc = w.document(0);
        QVERIFY(doc && doc->live);

        // Growing, with the head in view.
        std::vector<uint64_t> sizes;
        QObject::connect(session, &LiveSession::grew, [&] { sizes.push_back(doc->model.events); });
        QVERIFY(QTest::qWaitFor([&] { return sizes.size() >= 5 && doc->model.kernels.size() > 100; }, 20000));
        QVERIFY(!session->ended());
        QVERIFY(std::is_sorted(sizes.begin(), sizes.end()) && sizes.front() < sizes.back());
        canvas->renderFrameNow();
        QVERIFY(canvas->viewStartNs() <= double(doc->lastNs()) && double(doc->lastNs()) <= canvas->viewEndNs());
        QVERIFY(canvas->lastLaneStats().kernelItems > 0);
        QVERIFY2(w.statusBar()->findChildren<QLabel*>().size() > 0, "status label");
        QVERIFY(session->statusText().contains("events, receiving"));

        // The user zooms: follow is off and the view stays while data keeps arriving.
        canvas->setFocus();
        QTest::keyClick(canvas, Qt::Key_W);
        QVERIFY(!canvas->following());
        const double a = canvas->viewStartNs(), b = canvas->viewEndNs();
        const uint64_t eventsThen = doc->model.events;
        QVERIFY(QTest::qWaitFor([&] { return doc->model.events > eventsThen; }, 20000));
        canvas->renderFrameNow();
        QCOMPARE(canvas->viewStartNs(), a);
        QCOMPARE(canvas->viewEndNs(), b);
        // End: back to the head.
        QTest::keyClick(canvas, Qt::Key_End);
        QVERIFY(canvas->following());
        canvas->renderFrameNow();
        QVERIFY(double(doc->lastNs()) <= canvas->viewEndNs() && double(doc->lastNs()) >= canvas->viewStartNs());

        QVERIFY(QTest::qWaitFor([&] { return session->ended(); }, 60000));
        writer.join();
        QVERIFY(waitEnded(session));
        QVERIFY(session->complete());
        QVERIFY2(session->statusText().startsWith("live: ended"), qPrintable(session->statusText()));
        QVERIFY(flushes > 20);
        const std::string diff = testing::compareModels(doc->model, loaded(file));
        QVERIFY2(diff.empty(), diff.c_str());
        QVERIFY(testing::checkModelInvariants(doc->model).empty());
        // The document's own indexes are those a loaded document builds.
        QString error;
        auto whole = loadDocument(QString::fromStdString(file), {}, nullptr, &error);
        QVERIFY(whole);
        QCOMPARE(doc->streams.size(), whole->streams.size());
        for (size_t s = 0; s < doc->streams.size(); ++s) QVERIFY(doc->streams[s].kernels == whole->streams[s].kernels);
        QVERIFY(doc->rangesByDepth == whole->rangesByDepth);
        QCOMPARE(doc->firstRegionRow, whole->firstRegionRow);
        // And the analysis of the whole run reached the docks.
        QVERIFY(session->analysisRuns() >= 2);
        QCOMPARE(doc->summary.perIteration.size(), whole->summary.perIteration.size());
        QCOMPARE(doc->analyzedUntilNs, UINT64_MAX);
        QCOMPARE(w.summaryModel()->valueOf("Iterations"), QString::number(whole->summary.iterations.size()));
        QVERIFY(w.leakModel()->rowCount() > 0);
    }

    // The socket protocol against a stand-in server: ok, then the fixture's
    // bytes in pieces; the model grows and ends equal to the file's.
    void socketClientGrowsAndEndsEqualToTheFile() {
        const std::string sock = path("live.sock");
        FakeServer server;
        QVERIFY(server.listenUnix(sock));
        server.piece = 8192;
        server.serve(fileBytes(synth_));
        std::unique_ptr<LiveSession> session(LiveSession::connectSocket(QString::fromStdString("unix:" + sock), {}));
        auto doc = session->document();
        int grew = 0;
        QObject::connect(session.get(), &LiveSession::grew, [&] { ++grew; });
        QVERIFY(waitEnded(session.get()));
        QVERIFY(server.sawStream);
        QVERIFY2(session->complete(), qPrintable(session->statusText()));
        QVERIFY(grew >= 3);
        const std::string diff = testing::compareModels(doc->model, loaded(synth_));
        QVERIFY2(diff.empty(), diff.c_str());
    }

    // TCP sends the token first; the right one streams, a wrong one is refused
    // with the server's sentence.
    void tcpSendsTheTokenAndShowsARefusal() {
        {
            FakeServer server;
            server.requiredToken = "00c0ffee";
            const uint16_t port = server.listenTcp();
            QVERIFY(port);
            server.piece = 1 << 20;
            server.serve(fileBytes(synth_));
            std::unique_ptr<LiveSession> session(
                LiveSession::connectSocket(QString("tcp:127.0.0.1:%1").arg(port), "00c0ffee"));
            QVERIFY(waitEnded(session.get()));
            QVERIFY2(session->complete(), qPrintable(session->statusText()));
            QCOMPARE(session->document()->model.events, loaded(synth_).events);
        }
        {
            FakeServer server;
            server.requiredToken = "00c0ffee";
            const uint16_t port = server.listenTcp();
            server.serve(fileBytes(synth_));
            std::unique_ptr<LiveSession> session(LiveSession::connectSocket(QString("tcp:127.0.0.1:%1").arg(port), "bad0"));
            QVERIFY(waitEnded(session.get()));
            QVERIFY(!session->complete());
            QVERIFY2(session->errorText().contains("the job refused: the token does not match"), qPrintable(session->errorText()));
            QVERIFY2(session->statusText().contains("token does not match"), qPrintable(session->statusText()));
            QCOMPARE(session->document()->model.events, uint64_t(0));
        }
        // No token for TCP: said before connecting.
        std::unique_ptr<LiveSession> session(LiveSession::connectSocket("tcp:127.0.0.1:9", {}));
        QVERIFY(waitEnded(session.get()));
        QVERIFY2(session->errorText().contains("needs its token"), qPrintable(session->errorText()));
    }

    // A stream that turns to garbage halfway stops there with a sentence and
    // keeps every chunk that came before; one cut off keeps them too and says
    // the recording has no footer.
    void brokenStreamKeepsWhatArrivedAndSaysWhy() {
        const std::vector<uint8_t> bytes = fileBytes(synth_);
        format::TraceReader reader;
        std::string error;
        QVERIFY(reader.open(synth_, &error));
        const size_t half = reader.chunks().size() / 2;
        const uint64_t garbageAt = reader.chunks()[half].offset;
        {
            std::vector<uint8_t> broken(bytes.begin(), bytes.begin() + std::ptrdiff_t(garbageAt));
            broken.insert(broken.end(), 5000, 0x5A);
            FakeServer server;
            QVERIFY(server.listenUnix(path("broken.sock")));
            server.serve(broken);
            std::unique_ptr<LiveSession> session(LiveSession::connectSocket(QString::fromStdString(path("broken.sock")), {}));
            QVERIFY(waitEnded(session.get()));
            QVERIFY(!session->complete());
            QVERIFY2(session->errorText().contains("is not a chunk of a vramscope trace"), qPrintable(session->errorText()));
            QVERIFY2(session->statusText().contains("events kept"), qPrintable(session->statusText()));
            // What came before the garbage: the file cut there.
            std::vector<uint8_t> before(bytes.begin(), bytes.begin() + std::ptrdiff_t(garbageAt));
            std::ofstream(path("before.vtrace"), std::ios::binary).write(reinterpret_cast<const char*>(before.data()), std::streamsize(before.size()));
            const std::string diff = testing::compareModels(session->document()->model, loaded(path("before.vtrace")));
            QVERIFY2(diff.empty(), diff.c_str());
        }
        {
            const size_t cut = bytes.size() * 6 / 10;
            FakeServer server;
            QVERIFY(server.listenUnix(path("cut.sock")));
            server.serve(std::vector<uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(cut)));
            MainWindow w;
            w.setInteractive(false);
            w.show();
            QSignalSpy ended(&w, &MainWindow::liveEnded);
            w.connectTrace(QString::fromStdString("unix:" + path("cut.sock")));
            QVERIFY(ended.wait(30000));
            QCOMPARE(ended.takeFirst().at(0).toBool(), false);
            auto doc = w.document(0);
            QVERIFY(doc->model.events > 0);
            QVERIFY2(doc->warning.contains("no footer"), qPrintable(doc->warning));
            QVERIFY2(w.liveSession()->statusText().contains("closed before the recording ended"),
                     qPrintable(w.liveSession()->statusText()));
            std::ofstream(path("cut.vtrace"), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(cut));
            const std::string diff = testing::compareModels(doc->model, loaded(path("cut.vtrace")));
            QVERIFY2(diff.empty(), diff.c_str());
        }
    }

    void notAVramscopeServerOrNoServerIsSaid() {
        {
            FakeServer server;
            server.answer = "HTTP/1.1 400 Bad Request";
            QVERIFY(server.listenUnix(path("http.sock")));
            server.serve({});
            std::unique_ptr<LiveSession> session(LiveSession::connectSocket(QString::fromStdString(path("http.sock")), {}));
            QVERIFY(waitEnded(session.get()));
            QVERIFY2(session->errorText().contains("not a vramscope live socket"), qPrintable(session->errorText()));
        }
        std::unique_ptr<LiveSession> none(LiveSession::connectSocket(QString::fromStdString(path("nobody.sock")), {}));
        QVERIFY(waitEnded(none.get()));
        QVERIFY2(none->errorText().contains("cannot connect"), qPrintable(none->errorText()));
        std::unique_ptr<LiveSession> missing(LiveSession::followFile(QString::fromStdString(path("missing.vtrace"))));
        QVERIFY(waitEnded(missing.get()));
        QVERIFY2(missing->errorText().contains("cannot open"), qPrintable(missing->errorText()));
    }

    // Stopping keeps what arrived; the document stays open.
    void stoppingKeepsWhatArrived() {
        FakeServer server;
        QVERIFY(server.listenUnix(path("slow.sock")));
        server.piece = 2048;
        server.pauseMs = 20;
        server.serve(fileBytes(synth_));
        std::unique_ptr<LiveSession> session(LiveSession::connectSocket(QString::fromStdString(path("slow.sock")), {}));
        QVERIFY(QTest::qWaitFor([&] { return session->document()->model.events > 0; }, 20000));
        session->stop();
        QVERIFY(waitEnded(session.get()));
        QVERIFY(!session->complete());
        QVERIFY(session->document()->model.events > 0);
        QVERIFY(testing::checkModelInvariants(session->document()->model).empty());
    }
};

QTEST_MAIN(TestLiveApp)
#include "tst_live_app.moc"
