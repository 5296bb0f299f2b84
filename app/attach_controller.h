// Attach to Process in the app: the same steps as `vramscope attach`
// (profiler/cli/attach_command.h), run off the GUI thread, then the live
// view connects to the capture's socket. Detaching asks the capture to stop
// (footer written, the job runs on); the live stream then ends by itself.
#pragma once

#include <QFutureWatcher>
#include <QObject>
#include <QString>

#include <string>

namespace vramscope::app {

class AttachController : public QObject {
    Q_OBJECT
public:
    struct Options {
        int pid = 0;
        QString output;             // empty: vramscope.<name>.<pid>.attach<N>.vtrace in the working directory
        bool pythonStacks = false;  // Python file:line of each tensor allocation
        bool counters = false;      // hardware counters (PM sampling)
        QString injectorPath;       // empty: found next to the app
    };
    explicit AttachController(QObject* parent = nullptr);
    ~AttachController() override;

    // Starts attaching; attachedTo() or failed() follows. Ignored while busy.
    void attach(const Options& options);
    // Asks the capture to stop. wait: block until it has (at most 30 s),
    // for the window closing; otherwise off the GUI thread.
    void detach(bool wait = false);

    bool busy() const { return watcher_.isRunning(); }
    bool isAttached() const { return pid_ > 0; }
    int pid() const { return pid_; }
    const QString& output() const { return output_; }

signals:
    void progress(const QString& line);  // from the attaching thread
    void attachedTo(int pid, const QString& socketAddress, const QString& output, const QString& summary);
    void failed(const QString& sentence);
    void detached(int pid);

private:
    struct Result {
        bool ok = false;
        QString error, socketPath, output, summary;
    };
    void onFinished();
    QFutureWatcher<Result> watcher_;
    int pendingPid_ = 0;
    int pid_ = 0;
    std::string socketPath_;
    QString output_;
};

}  // namespace vramscope::app
