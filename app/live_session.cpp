#include "live_session.h"

#include "cli/path_bytes.h"

#include <QFileInfo>
#include <QtConcurrent/QtConcurrent>

#include <time.h>

namespace vramscope::app {

namespace {

int64_t monotonicMs() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Appending runs in slices of about this long, so that a backlog (a job that
// ran for hours before it was followed) keeps the window responsive: ~12M
// events/s are appended (docs/benchmarks.md), i.e. ~300k per slice.
constexpr qint64 kAppendSliceMs = 25;
constexpr uint64_t kTakeEvents = 100'000;

}  // namespace

LiveSession* LiveSession::followFile(const QString& path, QObject* parent) {
    const std::string file = cli::pathBytes(path);  // the bytes of the name, UTF-8 or not
    auto factory = [file](std::string* error) -> std::unique_ptr<ByteSource> {
        auto tail = std::make_unique<FileTail>();
        if (!tail->open(file, error)) return nullptr;
        return tail;
    };
    return new LiveSession(QFileInfo(path).fileName(), path, factory, parent);
}

LiveSession* LiveSession::connectSocket(const QString& address, const QString& tokenHex, QObject* parent) {
    const std::string where = address.toStdString(), token = tokenHex.toStdString();
    auto factory = [where, token](std::string* error) -> std::unique_ptr<ByteSource> {
        LiveAddress parsed;
        if (!parseLiveAddress(where, parsed, error)) return nullptr;
        auto socket = std::make_unique<SocketSource>();
        if (!socket->connect(parsed, token, 5000, error)) return nullptr;
        return socket;
    };
    return new LiveSession(address, QString(), factory, parent);
}

LiveSession::LiveSession(const QString& displayName, const QString& path, LiveFeed::SourceFactory factory, QObject* parent)
    : QObject(parent), doc_(std::make_shared<TraceDocument>()) {
    doc_->path = path;
    doc_->displayName = displayName;
    doc_->live = true;
    doc_->analyzedUntilNs = 0;
    doc_->model.name = displayName.toStdString();
    live_ = std::make_unique<model::LiveModel>(doc_->model, model::LiveModel::Options{});
    feed_ = std::make_unique<LiveFeed>(std::move(factory), displayName.toStdString());
    connect(&analysis_, &QFutureWatcher<Analysis>::finished, this, &LiveSession::analysisDone);
    analysisTimer_.setSingleShot(true);
    connect(&analysisTimer_, &QTimer::timeout, this, &LiveSession::maybeAnalyze);
    connect(&statusTimer_, &QTimer::timeout, this, &LiveSession::updateStatus);
    statusTimer_.start(1000);
    sinceAnalysis_.start();
    status_ = tr("live: opening %1…").arg(displayName);
    feed_->start([this] { wake(); });
}

LiveSession::~LiveSession() {
    feed_->stop();  // no wake() after this
    analysis_.waitForFinished();
}

bool LiveSession::complete() const { return feed_->complete(); }

QString LiveSession::errorText() const {
    if (!failure_.isEmpty()) return failure_;
    return feed_->state() == LiveFeed::State::Failed ? QString::fromStdString(feed_->message()) : QString();
}

void LiveSession::failLive(const QString& why) {
    feed_->stop();
    failure_ = why;
    ended_ = true;
    doc_->warning = doc_->warning.isEmpty() ? why : doc_->warning + "\n" + why;
    status_ = tr("live: %1 (%2 events kept)").arg(why).arg(doc_->model.events);
    statusTimer_.stop();
    emit statusChanged(status_);
    if (!endedEmitted_) {
        endedEmitted_ = true;
        emit finished(false);
    }
}

void LiveSession::stop() { feed_->stop(); }

void LiveSession::wake() {
    // From the reader thread: one queued drain() however often it wakes us.
    if (wakePending_.exchange(true)) return;
    QMetaObject::invokeMethod(this, [this] { drain(); }, Qt::QueuedConnection);
}

void LiveSession::drain() {
    wakePending_ = false;
    if (!failure_.isEmpty()) return;
    // The analysis reads the model right now: appends wait (analysisDone() drains).
    if (analysisPending_) return;
    QElapsedTimer slice;
    slice.start();
    bool appended = false, more = false;
    // An exception may not leave an event handler (Qt aborts): what a damaged
    // stream makes the model throw stops following instead.
    try {
        for (;;) {
            LiveFeed::Taken taken = feed_->take(kTakeEvents);
            for (const auto& chunk : taken.chunks) live_->append(*chunk, chunk->events);
            if (!taken.problems.empty()) live_->addProblems(taken.problems);
            appended |= !taken.chunks.empty() || !taken.problems.empty();
            more = taken.more;
            if (!more || slice.elapsed() >= kAppendSliceMs) break;
        }
    } catch (const std::exception& e) {
        failLive(tr("stopped following: %1").arg(QString::fromLocal8Bit(e.what())));
        return;
    } catch (...) {
        failLive(tr("stopped following (internal error)"));
        return;
    }
    const LiveFeed::State state = feed_->state();
    if (!more && !ended_ && (state == LiveFeed::State::Ended || state == LiveFeed::State::Failed)) {
        // Problems that arrived with the end (what was lost) are taken now.
        LiveFeed::Taken last = feed_->take();
        for (const auto& chunk : last.chunks) live_->append(*chunk, chunk->events);
        live_->addProblems(last.problems);
        live_->finish();
        ended_ = true;
        appended = true;
        QStringList problems;
        for (const auto& p : doc_->model.problems) problems << QString::fromStdString(p.message);
        doc_->warning = problems.join("\n");
    }
    if (appended) {
        lastChanges_ = live_->takeChanges();
        updateDocumentIndexes(*doc_, lastChanges_.firstKernel, lastChanges_.firstRange);
        stale_ = true;
    }
    appendNs_ += slice.nsecsElapsed();
    if (appended) emit grew();
    if (more) wake();  // the rest after the event loop had its turn
    updateStatus();
    if (ended_ && !endedEmitted_) {
        endedEmitted_ = true;
        emit finished(complete());
    }
    maybeAnalyze();
}

void LiveSession::maybeAnalyze() {
    if (!stale_ || analysisPending_ || doc_->model.events == 0) return;
    const qint64 wait = analysisIntervalMs_ - sinceAnalysis_.elapsed();
    if (!ended_ && analysisRuns_ > 0 && wait > 0) {
        if (!analysisTimer_.isActive()) analysisTimer_.start(int(wait));
        return;
    }
    stale_ = false;
    analysisPending_ = true;
    sinceAnalysis_.restart();
    ++analysisRuns_;
    std::shared_ptr<const TraceDocument> doc = doc_;
    analysis_.setFuture(QtConcurrent::run([doc] {
        Analysis a;
        // Nothing thrown may stay in the future: result() would rethrow it on the GUI thread.
        try {
            a.summary = analysis::summarize(doc->model);
            a.categoryCurves = analysis::buildCategoryCurves(doc->model, a.summary.categories);
            a.untilNs = doc->model.lastNs;
        } catch (...) {
            a = Analysis{};
            a.ok = false;
        }
        return a;
    }));
}

void LiveSession::analysisDone() {
    analysisPending_ = false;
    Analysis a = analysis_.result();
    if (!a.ok) {
        failLive(tr("the analysis of the live trace failed (out of memory, or a damaged stream)"));
        return;
    }
    doc_->summary = std::move(a.summary);
    doc_->categoryCurves = std::move(a.categoryCurves);
    doc_->analyzedUntilNs = ended_ && !stale_ ? UINT64_MAX : a.untilNs;
    buildPhaseSpans(*doc_);
    emit analysisUpdated();
    drain();  // what arrived meanwhile
}

void LiveSession::updateStatus() {
    if (!failure_.isEmpty()) return;  // failLive() said why
    const auto& m = doc_->model;
    QString text;
    const LiveFeed::State state = feed_->state();
    if (state == LiveFeed::State::Connecting) {
        text = doc_->path.isEmpty() ? tr("live: connecting to %1…").arg(doc_->displayName)
                                    : tr("live: opening %1…").arg(doc_->displayName);
    } else if (!ended_) {
        text = tr("live: %1 events, receiving").arg(m.events);
        const int64_t quiet = (monotonicMs() - feed_->lastDataMs()) / 1000;
        if (quiet >= 5) text += tr(" (no new data for %1 s)").arg(quiet);
    } else if (state == LiveFeed::State::Failed) {
        text = tr("live: %1 (%2 events kept)").arg(QString::fromStdString(feed_->message())).arg(m.events);
    } else if (complete()) {
        text = tr("live: ended (%1 events)").arg(m.events);
    } else {
        text = tr("live: ended: %1 (%2 events)").arg(QString::fromStdString(feed_->message())).arg(m.events);
    }
    if (ended_) statusTimer_.stop();
    if (text == status_) return;
    status_ = text;
    emit statusChanged(status_);
}

}  // namespace vramscope::app
