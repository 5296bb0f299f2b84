#include "attach_controller.h"

#include "attach_command.h"

#include <QCoreApplication>
#include <QtConcurrent>

namespace vramscope::app {

AttachController::AttachController(QObject* parent) : QObject(parent) {
    connect(&watcher_, &QFutureWatcher<Result>::finished, this, &AttachController::onFinished);
}

AttachController::~AttachController() {
    watcher_.waitForFinished();
    if (isAttached()) detach(true);  // never leave a capture running that nobody watches
}

void AttachController::attach(const Options& options) {
    if (busy()) return;
    pendingPid_ = options.pid;
    cli::AttachOptions o;
    o.pid = options.pid;
    o.capture.output = options.output.toStdString();
    o.capture.injectorPath = options.injectorPath.toStdString();
    o.capture.selfPath = QCoreApplication::applicationFilePath().toStdString();
    o.capture.pythonStacks = options.pythonStacks ? 1 : -1;
    if (options.counters) o.capture.counters = "pm";
    watcher_.setFuture(QtConcurrent::run([this, o] {
        Result r;
        cli::AttachStarted started;
        std::string error;
        try {  // nothing thrown may stay in the future: result() would rethrow it on the GUI thread
            r.ok = cli::startAttach(o, &started, &error, [this](const std::string& line) {
                emit progress(QString::fromStdString(line));  // queued to the GUI thread's receivers
            });
        } catch (const std::exception& e) {
            r.ok = false;
            error = std::string("attaching stopped: ") + e.what();
        }
        r.error = QString::fromStdString(error);
        r.socketPath = QString::fromStdString(started.socketPath);
        r.output = QString::fromStdString(started.output);
        const std::string torch = cli::statusValue(started.status, "torch");
        const std::string blocks = cli::statusValue(started.status, "seeded_blocks");
        r.summary = QString("attached to %1 (%2); its thread was held %3 ms")
                        .arg(o.pid)
                        .arg(QString::fromStdString(started.processName))
                        .arg(started.stoppedMs, 0, 'f', 2);
        if (!torch.empty())
            r.summary += QString("; PyTorch %1, %2 live blocks at the attach")
                             .arg(QString::fromStdString(torch), QString::fromStdString(blocks.empty() ? "no" : blocks));
        return r;
    }));
}

void AttachController::onFinished() {
    const Result r = watcher_.result();
    if (!r.ok) {
        emit failed(r.error);
        return;
    }
    pid_ = pendingPid_;
    socketPath_ = r.socketPath.toStdString();
    output_ = r.output;
    emit attachedTo(pid_, "unix:" + r.socketPath, r.output, r.summary);
}

void AttachController::detach(bool wait) {
    if (!isAttached()) return;
    const int pid = pid_;
    const std::string socket = socketPath_;
    pid_ = 0;
    auto stop = [socket] {
        std::vector<std::string> lines;
        std::string error;
        cli::controlRequest(socket, "stop", 30000, &lines, &error);
    };
    if (wait) {
        stop();
        emit detached(pid);
        return;
    }
    auto* w = new QFutureWatcher<void>(this);
    connect(w, &QFutureWatcher<void>::finished, this, [this, w, pid] {
        w->deleteLater();
        emit detached(pid);
    });
    w->setFuture(QtConcurrent::run(stop));
}

}  // namespace vramscope::app
