// A live document: a recording followed while it is written (--follow FILE)
// or read from a running job's live socket (--connect ADDRESS), growing as
// the job runs. When the source ends it is an ordinary document; when it
// breaks, what arrived stays open (truncated: no footer).
//
// Threads, and who owns what:
// - The reader thread (LiveFeed) reads bytes, cuts them into chunks
//   (ChunkStream) and decodes them. It never touches the model.
// - The GUI thread owns the document and its LiveModel. It takes decoded
//   chunks and appends them (in slices of at most ~25 ms so the window stays
//   responsive while a long recording catches up), brings the document's own
//   indexes along (updateDocumentIndexes), and signals grew(). The views read
//   the model on that same thread, between appends, so they never see it
//   half-changed, and no lock is needed for drawing.
// - The analysis (summarize, categories, phase spans) runs on a worker
//   thread, at most every analysisIntervalMs (1.5 s) and never two at once.
//   While it runs, the GUI thread holds appends back — the reader keeps
//   reading and decoding, the view keeps drawing — so the model itself is the
//   analysis' consistent snapshot: no copy (a 10M-event model is ~300 MB;
//   summarize reads it for ~0.2 s of the 1.5 s). The results are installed
//   on the GUI thread. Pausing the view (follow mode off) pauses nothing.
#pragma once

#include "live_feed.h"
#include "trace_document.h"

#include "model/live_model.h"

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QTimer>

#include <atomic>
#include <memory>

namespace vramscope::app {

class LiveSession : public QObject {
    Q_OBJECT
public:
    // Starts reading at once; the document is there (empty) from the start.
    static LiveSession* followFile(const QString& path, QObject* parent = nullptr);
    static LiveSession* connectSocket(const QString& address, const QString& tokenHex, QObject* parent = nullptr);
    ~LiveSession() override;

    std::shared_ptr<const TraceDocument> document() const { return doc_; }
    const model::LiveModel& liveModel() const { return *live_; }
    // What the last grew() changed (rows from which views must re-read).
    const model::LiveModel::Changes& lastChanges() const { return lastChanges_; }

    bool ended() const { return ended_; }        // the source ended or broke; the document is final
    bool complete() const;                        // ended with the recording's footer
    QString statusText() const { return status_; }  // "live: N events, receiving", "live: ended", the error
    QString errorText() const;                    // why it broke, "" when it did not

    // Stops reading; what arrived stays (the document ends truncated).
    void stop();
    void setAnalysisIntervalMs(int ms) { analysisIntervalMs_ = ms; }
    int analysisRuns() const { return analysisRuns_; }
    // Time the GUI thread spent appending (the benchmark's throughput).
    double appendSeconds() const { return double(appendNs_) / 1e9; }
    // An analysis started whose results are not installed yet.
    bool analysisRunning() const { return analysisPending_; }

signals:
    void grew();             // new rows (lastChanges()); redraw
    void analysisUpdated();  // summary, categories, phase spans recomputed
    void statusChanged(const QString& text);
    void finished(bool complete);  // once: the model is final (equal to the file's)

private:
    LiveSession(const QString& displayName, const QString& path, LiveFeed::SourceFactory factory, QObject* parent);
    void wake();     // any thread: schedule drain() once
    void drain();    // GUI thread: append what arrived
    void maybeAnalyze();
    void analysisDone();
    void updateStatus();

    struct Analysis {
        analysis::TraceSummary summary;
        analysis::CategoryCurves categoryCurves;
        uint64_t untilNs = 0;
        bool ok = true;  // false: the analysis threw; the previous results stay
    };
    void failLive(const QString& why);  // stop following: what arrived stays

    std::shared_ptr<TraceDocument> doc_;
    std::unique_ptr<model::LiveModel> live_;
    std::unique_ptr<LiveFeed> feed_;
    model::LiveModel::Changes lastChanges_;
    QFutureWatcher<Analysis> analysis_;
    QElapsedTimer sinceAnalysis_;
    QTimer analysisTimer_;  // the refresh that waits out the interval
    QTimer statusTimer_;    // "no data for N s" while a job is quiet
    std::atomic<bool> wakePending_{false};
    bool ended_ = false;
    bool endedEmitted_ = false;
    bool stale_ = false;  // appended since the last analysis started
    bool analysisPending_ = false;
    int analysisRuns_ = 0;
    int analysisIntervalMs_ = 1500;
    qint64 appendNs_ = 0;
    QString status_;
    QString failure_;  // why following stopped on this side (not the feed's)
};

}  // namespace vramscope::app
