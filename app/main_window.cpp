#include "main_window.h"

#include "attach_dialog.h"
#include "display_text.h"

#include "format_text.h"
#include "timeline_canvas.h"

#include <imgui.h>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include "cli/path_bytes.h"
#include "export/chrome_trace.h"
#include "export/csv_export.h"
#include "format/output_file.h"

#include <cstdio>
#include <fstream>

namespace vramscope::app {

namespace {
constexpr int kMaxRecentFiles = 10;
const char* kFileFilter = "vramscope traces (*.vtrace);;PyTorch memory snapshots (*.pickle *.pkl);;All files (*)";

QTableView* makeTable(QAbstractItemModel* model, QWidget* parent) {
    auto* proxy = new QSortFilterProxyModel(parent);
    proxy->setSourceModel(model);
    proxy->setSortRole(kSortRole);
    auto* view = new QTableView(parent);
    view->setModel(proxy);
    view->setSortingEnabled(true);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setAlternatingRowColors(true);
    view->verticalHeader()->hide();
    view->verticalHeader()->setDefaultSectionSize(20);
    view->horizontalHeader()->setStretchLastSection(true);
    view->setWordWrap(false);
    return view;
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle("vramscope");
    setAcceptDrops(true);
    canvas_ = new TimelineCanvas(this);
    setCentralWidget(canvas_);
    summaryModel_ = new KeyValueModel(this);
    liveSetModel_ = new LiveSetModel(this);
    kernelModel_ = new KernelTableModel(this);
    leakModel_ = new LeakTableModel(this);
    diffModel_ = new DiffTableModel(this);
    createMenus();
    createDocks();

    progress_ = new QProgressBar(this);
    progress_->setRange(0, 1000);
    progress_->setMaximumWidth(240);
    progress_->hide();
    cancel_ = new QPushButton(tr("Cancel"), this);
    cancel_->hide();
    liveStatus_ = new QLabel(this);
    liveStatus_->hide();
    statusBar()->addPermanentWidget(liveStatus_);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(cancel_);
    connect(cancel_, &QPushButton::clicked, this, [this] { cancelLoad_ = true; });
    statusBar()->showMessage(tr("Open a trace with File > Open, or drop one on the window"));

    connect(&loadWatcher_, &QFutureWatcher<std::shared_ptr<TraceDocument>>::finished, this, &MainWindow::onLoaded);
    connect(canvas_, &TimelineCanvas::cursorTimeChanged, this, &MainWindow::showLiveSetAt);
    connect(canvas_, &TimelineCanvas::kernelClicked, this, &MainWindow::showKernelDetails);

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    if (!settings.contains("window/geometry")) resize(1400, 860);
    rebuildRecentMenu();
}

MainWindow::~MainWindow() {
    cancelLoad_ = true;
    loadWatcher_.waitForFinished();
    closeLive();
}

void MainWindow::createMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open…"), this, [this] { openDialog(0); });
    open->setShortcut(QKeySequence::Open);
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    QAction* compare = file->addAction(tr("&Compare with…"), this, [this] {
        if (!docs_[0]) {
            reportError(tr("Compare"), tr("Open a trace first, then compare another with it."));
            return;
        }
        openDialog(1);
    });
    compare->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
    file->addAction(tr("&Follow Recording…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Follow a Recording Being Written"),
                                                          QSettings().value("files/lastDirectory").toString(),
                                                          tr("vramscope traces (*.vtrace);;All files (*)"));
        if (!path.isEmpty()) followTrace(path);
    });
    file->addAction(tr("Connect to &Live Job…"), this, [this] {
        bool ok = false;
        const QString address = QInputDialog::getText(
            this, tr("Connect to a Live Job"),
            tr("Live socket of the job (unix:/path/to.sock, or tcp:127.0.0.1:PORT followed by a space and its token):"),
            QLineEdit::Normal, QSettings().value("live/lastAddress").toString(), &ok);
        if (!ok || address.trimmed().isEmpty()) return;
        QSettings().setValue("live/lastAddress", address.trimmed());
        const QStringList parts = address.trimmed().split(' ', Qt::SkipEmptyParts);
        connectTrace(parts.value(0), parts.value(1));
    });
    file->addAction(tr("&Attach to Process…"), this, [this] {
        AttachDialog dialog(this);
        if (dialog.exec() == QDialog::Accepted && dialog.options().pid > 0) attachToProcess(dialog.options());
    });
    detachAction_ = file->addAction(tr("&Detach from Process"), this, &MainWindow::detachFromProcess);
    detachAction_->setEnabled(false);
    stopLiveAction_ = file->addAction(tr("Stop &Receiving"), this, &MainWindow::stopLive);
    stopLiveAction_->setEnabled(false);
    QAction* closeCompare = file->addAction(tr("Close Comparison"), this, [this] {
        docs_[1].reset();
        showDocuments();
    });
    Q_UNUSED(closeCompare);
    QMenu* exportMenu = file->addMenu(tr("&Export"));
    exportMenu->addAction(tr("Chrome / Perfetto Trace (JSON)…"), this, [this] { exportTrace(true); });
    exportMenu->addAction(tr("Allocations (CSV)…"), this, [this] { exportTrace(false); });
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    QAction* fit = view->addAction(tr("&Fit Whole Trace"), this, [this] { canvas_->fitAll(); });
    fit->setShortcut(QKeySequence(Qt::Key_Home));
    view->addAction(tr("Zoom &In"), this, [this] { canvas_->zoom(0.5, (canvas_->viewStartNs() + canvas_->viewEndNs()) / 2); })
        ->setShortcut(QKeySequence::ZoomIn);
    view->addAction(tr("Zoom &Out"), this, [this] { canvas_->zoom(2.0, (canvas_->viewStartNs() + canvas_->viewEndNs()) / 2); })
        ->setShortcut(QKeySequence::ZoomOut);
    // Follow mode: the End key turns it on (the canvas handles End too when
    // it has the focus); the menu item shows and toggles it.
    followAction_ = view->addAction(tr("Follow &Live Head\tEnd"));
    followAction_->setCheckable(true);
    followAction_->setEnabled(false);
    connect(followAction_, &QAction::triggered, this, [this](bool on) { canvas_->setFollow(on); });
    connect(canvas_, &TimelineCanvas::followChanged, followAction_, &QAction::setChecked);
    auto* end = new QShortcut(QKeySequence(Qt::Key_End), this);
    connect(end, &QShortcut::activated, this, [this] {
        if (live_) canvas_->setFollow(true);
    });
    view->addSeparator();
    view->setObjectName("viewMenu");

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Keyboard and Mouse"), this, [this] {
        QMessageBox::information(this, tr("Keyboard and mouse"),
                                 tr("Wheel: zoom around the cursor\nDrag: pan\nShift+drag or right-drag: select a range "
                                    "(its statistics appear beside it)\nW / S: zoom in / out\nA / D: pan left / right\n"
                                    "Home: fit the whole trace\nEnd: follow the head of a live trace\n"
                                    "Esc: clear the selection\n"
                                    "Click the memory lane: list the blocks live at that time\n"
                                    "Click a kernel: its details"));
    });
    help->addAction(tr("&About vramscope"), this, &MainWindow::showAbout);
}

void MainWindow::createDocks() {
    QMenu* viewMenu = menuBar()->findChild<QMenu*>("viewMenu");
    auto addDock = [&](const QString& title, const QString& name, QWidget* widget, Qt::DockWidgetArea area) {
        auto* dock = new QDockWidget(title, this);
        dock->setObjectName(name);  // QSettings restores the layout by name
        dock->setWidget(widget);
        addDockWidget(area, dock);
        if (viewMenu) viewMenu->addAction(dock->toggleViewAction());
        return dock;
    };
    auto* summary = makeTable(summaryModel_, this);
    summary->setSortingEnabled(false);
    summary->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    auto* summaryDock = addDock(tr("Summary"), "summaryDock", summary, Qt::RightDockWidgetArea);

    auto* liveBox = new QWidget(this);
    auto* liveLayout = new QVBoxLayout(liveBox);
    liveLayout->setContentsMargins(2, 2, 2, 2);
    liveSetTitle_ = new QLabel(tr("Click the memory lane to list the blocks live at that time"), liveBox);
    liveSetTitle_->setWordWrap(true);
    auto* liveTable = makeTable(liveSetModel_, liveBox);
    liveTable->sortByColumn(LiveSetModel::Size, Qt::DescendingOrder);
    liveLayout->addWidget(liveSetTitle_);
    liveLayout->addWidget(liveTable);
    auto* liveDock = addDock(tr("Live Set at Cursor"), "liveSetDock", liveBox, Qt::RightDockWidgetArea);

    auto* kernels = makeTable(kernelModel_, this);
    kernels->sortByColumn(KernelTableModel::TotalTime, Qt::DescendingOrder);
    kernels->horizontalHeader()->setStretchLastSection(false);
    kernels->horizontalHeader()->setSectionResizeMode(KernelTableModel::Name, QHeaderView::Stretch);
    auto* kernelDock = addDock(tr("Kernels"), "kernelsDock", kernels, Qt::BottomDockWidgetArea);

    auto* leakBox = new QWidget(this);
    auto* leakLayout = new QVBoxLayout(leakBox);
    leakLayout->setContentsMargins(2, 2, 2, 2);
    leakTitle_ = new QLabel(tr("No trace"), leakBox);
    leakTitle_->setWordWrap(true);
    auto* leakTable = makeTable(leakModel_, leakBox);
    leakTable->sortByColumn(LeakTableModel::Bytes, Qt::DescendingOrder);
    leakLayout->addWidget(leakTitle_);
    leakLayout->addWidget(leakTable);
    auto* leakDock = addDock(tr("Leaks"), "leaksDock", leakBox, Qt::RightDockWidgetArea);

    estimator_ = new EstimatorPanel(this);
    auto* estimatorDock = addDock(tr("Estimator"), "estimatorDock", estimator_, Qt::RightDockWidgetArea);

    auto* diffBox = new QWidget(this);
    auto* diffLayout = new QVBoxLayout(diffBox);
    diffLayout->setContentsMargins(2, 2, 2, 2);
    auto* diffTitle = new QLabel(tr("Compare with a second trace: File > Compare with…"), diffBox);
    diffTitle->setObjectName("compareHeadline");  // steady iterations, warm-up left out, checkpointing's trade-off
    diffTitle->setWordWrap(true);
    connect(diffModel_, &QAbstractItemModel::modelReset, diffTitle, [this, diffTitle] { diffTitle->setText(diffModel_->headline()); });
    auto* diff = makeTable(diffModel_, diffBox);
    diff->setSortingEnabled(false);
    diffLayout->addWidget(diffTitle);
    diffLayout->addWidget(diff);
    auto* diffDock = addDock(tr("Compare"), "diffDock", diffBox, Qt::RightDockWidgetArea);

    roofline_ = new RooflineView(this);
    auto* rooflineDock = addDock(tr("Roofline"), "rooflineDock", roofline_, Qt::BottomDockWidgetArea);

    details_ = new QPlainTextEdit(this);
    details_->setReadOnly(true);
    details_->setPlaceholderText(tr("Click a kernel in the timeline for its details"));
    auto* detailsDock = addDock(tr("Details"), "detailsDock", details_, Qt::BottomDockWidgetArea);
    tabifyDockWidget(summaryDock, liveDock);
    tabifyDockWidget(liveDock, leakDock);
    tabifyDockWidget(leakDock, estimatorDock);
    tabifyDockWidget(estimatorDock, diffDock);
    summaryDock->raise();
    tabifyDockWidget(kernelDock, rooflineDock);
    tabifyDockWidget(rooflineDock, detailsDock);
    kernelDock->raise();
    resizeDocks({summaryDock}, {380}, Qt::Horizontal);
    resizeDocks({kernelDock}, {200}, Qt::Vertical);
}

void MainWindow::openDialog(int slot) {
    QSettings settings;
    QString dir = settings.value("files/lastDirectory").toString();
    QString path = QFileDialog::getOpenFileName(this, slot == 0 ? tr("Open Trace") : tr("Compare With"), dir, kFileFilter);
    if (path.isEmpty()) return;
    settings.setValue("files/lastDirectory", QFileInfo(path).absolutePath());
    openTrace(path, slot);
}

void MainWindow::openTrace(const QString& path, int slot) {
    if (loadWatcher_.isRunning()) {
        reportError(tr("Busy"), tr("Still loading %1; wait for it or cancel it first.").arg(loadingPath_));
        return;
    }
    if (slot == 0) closeLive();
    loadingPath_ = path;
    loadingSlot_ = slot;
    loadError_.clear();
    cancelLoad_ = false;
    loadProgressPermille_ = 0;
    progress_->setValue(0);
    progress_->show();
    cancel_->show();
    statusBar()->showMessage(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    // The loader thread only stores progress; a timer on the GUI thread shows it.
    auto* timer = new QTimer(this);
    connect(timer, &QTimer::timeout, this, [this, timer] {
        progress_->setValue(loadProgressPermille_.load());
        if (!loadWatcher_.isRunning()) timer->deleteLater();
    });
    timer->start(50);
    previewActive_ = false;
    loadPending_ = true;
    loadWatcher_.setFuture(QtConcurrent::run([this, path, slot] {
        QString error;
        std::shared_ptr<TraceDocument> doc;
        // Whatever loading throws stays in this thread: an exception left in
        // the future would be rethrown by result() and end the app.
        try {
            // The whole run first, from the trace's index (its cache: a few
            // milliseconds; else one bounded pass), while the details load.
            // Details that would not fit in memory are not loaded: the first
            // trace stays the preview, named as such; a second is refused.
            auto preview = previewDocument(path, &cancelLoad_);
            const uint64_t need = preview ? documentBytesFor(preview->model.events) : 0;
            const uint64_t available = availableMemoryBytes();
            const bool fits = !preview || available == 0 || need <= available;
            if (preview && !fits) {
                const QString size = tr("%1 holds %2 events: its details need about %3 of memory, and %4 is available.")
                                         .arg(preview->displayName)
                                         .arg(preview->model.events)
                                         .arg(QString::fromStdString(formatBytes(double(need))))
                                         .arg(QString::fromStdString(formatBytes(double(available))));
                if (slot != 0) {
                    loadError_ = size + tr(" Open it alone to see the whole run from its index.");
                    return std::shared_ptr<TraceDocument>();
                }
                preview->warning = size + tr(" Showing the whole run from its index (memory over time, steps); kernels, "
                                             "NVTX ranges and the analysis need the details. `vramscope summary` on a "
                                             "machine with more memory gives the analysis.");
            }
            if (preview && slot == 0)
                QMetaObject::invokeMethod(this, [this, preview] { showPreview(preview); }, Qt::QueuedConnection);
            if (!fits) return std::shared_ptr<TraceDocument>(preview);
            doc = loadDocument(path, [this](double f) { loadProgressPermille_ = int(f * 1000); }, &cancelLoad_, &error);
        } catch (const std::bad_alloc&) {
            error = tr("%1: out of memory while loading it (the file asks for more than this machine has; is it "
                       "damaged?)").arg(QFileInfo(path).fileName());
        } catch (const std::exception& e) {
            error = tr("%1: could not be loaded: %2").arg(QFileInfo(path).fileName(), QString::fromLocal8Bit(e.what()));
        } catch (...) {
            error = tr("%1: could not be loaded (internal error)").arg(QFileInfo(path).fileName());
        }
        if (!doc) loadError_ = error;  // read by onLoaded() after finished()
        return doc;
    }));
}

void MainWindow::showLiveSetAt(int slot, quint64 t) {
    if (!docs_[slot]) return;
    liveSetPicked_ = true;
    liveSetModel_->setTime(docs_[slot], t);
    liveSetTitle_->setText(tr("%1 blocks, %2 live in %3 at %4")
                               .arg(liveSetModel_->rowCount())
                               .arg(QString::fromStdString(formatBytes(double(liveSetModel_->totalBytes()))))
                               .arg(docs_[slot]->displayName)
                               .arg(QString::fromStdString(formatDuration(double(t - docs_[slot]->firstNs())))));
}

void MainWindow::showPreview(std::shared_ptr<TraceDocument> preview) {
    // Not in compare mode: the second trace is aligned with the first's analysis.
    // (The load may have finished meanwhile: its result is queued behind this.)
    if (!loadPending_ || loadingSlot_ != 0 || cancelLoad_ || previewActive_ || docs_[1]) return;
    beforePreview_ = docs_[0];
    previewActive_ = true;
    docs_[0] = std::move(preview);
    liveSetPicked_ = false;
    showDocuments();
    statusBar()->showMessage(tr("%1: the whole run (%2 events) from its index; loading the details…")
                                 .arg(docs_[0]->displayName)
                                 .arg(docs_[0]->model.events));
    emit previewShown();
}

void MainWindow::onLoaded() {
    loadPending_ = false;
    progress_->hide();
    cancel_->hide();
    auto doc = loadWatcher_.result();
    if (previewActive_) {
        // The preview leaves: the full document, or (failed) what was there before.
        previewActive_ = false;
        if (!doc) {
            docs_[0] = std::move(beforePreview_);
            showDocuments();
        }
        beforePreview_.reset();
    }
    if (!doc) {
        statusBar()->showMessage(tr("Could not open %1").arg(QFileInfo(loadingPath_).fileName()), 8000);
        if (!cancelLoad_) reportError(tr("Could not open trace"), loadError_);
        emit loadFinished(false);
        return;
    }
    const auto previous = docs_[loadingSlot_];
    docs_[loadingSlot_] = doc;
    if (doc->preview) docs_[1].reset();  // details too large to load: no analysis to compare against
    liveSetPicked_ = false;
    // The views' own work on the new trace (the comparison, the tables) runs
    // here on the GUI thread: what it throws must not leave this handler.
    try {
        showDocuments();
    } catch (const std::exception& e) {
        docs_[loadingSlot_] = previous;
        showDocuments();
        reportError(tr("Could not open trace"), tr("%1: could not be shown: %2")
                                                    .arg(doc->displayName, QString::fromLocal8Bit(e.what())));
        emit loadFinished(false);
        return;
    }
    addRecentFile(loadingPath_);
    statusBar()->showMessage(tr("%1: %2 events, %3")
                                 .arg(doc->displayName)
                                 .arg(doc->model.events)
                                 .arg(QString::fromStdString(formatDuration(double(doc->lastNs() - doc->firstNs())))));
    if (!doc->warning.isEmpty()) {
        QString text = doc->preview ? shownText(doc->warning, kTooltipTextBytes)
                                    : tr("%1 is damaged or incomplete; showing what was recorded.\n\n%2")
                                          .arg(doc->displayName, shownText(doc->warning, kTooltipTextBytes));
        if (interactive_) {
            auto* box = new QMessageBox(QMessageBox::Warning, doc->preview ? tr("Trace too long for its details")
                                                                           : tr("Trace incomplete"),
                                        text, QMessageBox::Ok, this);
            box->setAttribute(Qt::WA_DeleteOnClose);
            box->open();  // not modal: the trace is usable meanwhile
        } else {
            std::fprintf(stderr, "vramscope-gui: %s\n", qPrintable(text));
        }
    }
    // A run that ran out of memory opens where it did: the cursor on the
    // first OOM, its live set listed.
    if (loadingSlot_ == 0 && !doc->summary.outOfMemory.empty()) {
        const analysis::OutOfMemory& o = doc->summary.outOfMemory.front();
        canvas_->setCursorTime(double(o.timeNs));
        showLiveSetAt(0, o.timeNs);
        statusBar()->showMessage(tr("Out of memory at %1: asked for %2 with %3 free (see Summary; the cursor is there)")
                                     .arg(QString::fromStdString(formatDuration(double(o.timeNs - doc->firstNs()))))
                                     .arg(QString::fromStdString(formatBytes(double(o.requestedBytes))))
                                     .arg(o.deviceFreeBytes >= 0 ? QString::fromStdString(formatBytes(double(o.deviceFreeBytes)))
                                                                 : tr("unknown")));
    }
    emit loadFinished(true);
}

void MainWindow::followTrace(const QString& path) { startLive(LiveSession::followFile(path, this)); }

void MainWindow::connectTrace(const QString& address, const QString& tokenHex) {
    startLive(LiveSession::connectSocket(address, tokenHex, this));
}

void MainWindow::startLive(LiveSession* session) {
    if (loadWatcher_.isRunning()) {
        cancelLoad_ = true;
        loadWatcher_.waitForFinished();
    }
    closeLive();
    live_ = session;
    liveSetPicked_ = false;
    docs_[0] = session->document();
    showDocuments();
    canvas_->setFollow(true, 10e9);  // the newest 10 s
    followAction_->setEnabled(true);
    stopLiveAction_->setEnabled(true);
    if (!liveToolBar_) {
        liveToolBar_ = addToolBar(tr("Live"));
        liveToolBar_->setObjectName("liveToolBar");
        liveToolBar_->addAction(followAction_);
        liveToolBar_->addAction(stopLiveAction_);
        liveToolBar_->addAction(detachAction_);
    }
    liveToolBar_->show();
    liveStatus_->setText(session->statusText());
    liveStatus_->show();
    connect(session, &LiveSession::grew, this, [this] {
        const auto& changes = live_->lastChanges();
        canvas_->update();
        // The blocks listed for the cursor time may have moved (a late allocation).
        if (docs_[0] && (changes.blocksReplaced || changes.firstBlock != SIZE_MAX))
            liveSetModel_->setTime(docs_[0], liveSetModel_->timeNs());
    });
    connect(session, &LiveSession::analysisUpdated, this, [this] {
        refreshDocks();
        canvas_->update();
    });
    connect(session, &LiveSession::statusChanged, liveStatus_, &QLabel::setText);
    connect(session, &LiveSession::finished, this, [this](bool complete) {
        stopLiveAction_->setEnabled(false);
        setWindowTitle(docs_[0]->displayName + " — vramscope");
        if (!complete && !docs_[0]->warning.isEmpty()) {
            const QString text = tr("%1 did not arrive whole; showing what arrived.\n\n%2")
                                     .arg(docs_[0]->displayName, docs_[0]->warning);
            if (interactive_) {
                auto* box = new QMessageBox(QMessageBox::Warning, tr("Live trace incomplete"), text, QMessageBox::Ok, this);
                box->setAttribute(Qt::WA_DeleteOnClose);
                box->open();
            } else {
                std::fprintf(stderr, "vramscope-gui: %s\n", qPrintable(text));
            }
        }
        emit liveEnded(complete);
    });
}

void MainWindow::attachToProcess(const AttachController::Options& options) {
    if (!attach_) {
        attach_ = new AttachController(this);
        connect(attach_, &AttachController::progress, this,
                [this](const QString& line) { statusBar()->showMessage(line, 10000); });
        connect(attach_, &AttachController::failed, this, [this](const QString& sentence) {
            statusBar()->clearMessage();
            reportError(tr("Could not attach"), sentence);
            emit attachFinished(false);
        });
        connect(attach_, &AttachController::attachedTo, this,
                [this](int, const QString& address, const QString&, const QString& summary) {
                    statusBar()->showMessage(summary, 15000);
                    connectTrace(address);
                    detachAction_->setEnabled(true);
                    emit attachFinished(true);
                });
        connect(attach_, &AttachController::detached, this, [this](int pid) {
            detachAction_->setEnabled(false);
            statusBar()->showMessage(tr("Detached from process %1; it runs on. The trace is %2.")
                                         .arg(pid)
                                         .arg(attach_->output()),
                                     15000);
        });
    }
    if (attach_->busy() || attach_->isAttached()) {
        reportError(tr("Attach"), tr("Already attached to process %1: detach first.").arg(attach_->pid()));
        emit attachFinished(false);
        return;
    }
    statusBar()->showMessage(tr("Attaching to process %1…").arg(options.pid));
    attach_->attach(options);
}

void MainWindow::detachFromProcess() {
    if (attach_) attach_->detach();
}

void MainWindow::stopLive() {
    if (live_) live_->stop();
}

void MainWindow::closeLive() {
    if (!live_) return;
    canvas_->setFollow(false);
    followAction_->setEnabled(false);
    stopLiveAction_->setEnabled(false);
    if (liveToolBar_) liveToolBar_->hide();
    liveStatus_->hide();
    delete live_;  // stops its reader thread; the document lives on where it is still shown
    live_ = nullptr;
}

void MainWindow::showDocuments() {
    canvas_->setDocuments(docs_[0], docs_[1]);
    QString title = docs_[0] ? docs_[0]->displayName : QString();
    if (docs_[1]) title += tr(" vs ") + docs_[1]->displayName;
    if (docs_[0] && docs_[0]->live && live_ && !live_->ended()) title += tr(" (live)");
    setWindowTitle(title.isEmpty() ? "vramscope" : title + " — vramscope");
    refreshDocks();
}

void MainWindow::refreshDocks() {
    fillSummary();
    kernelModel_->setDocument(docs_[0]);
    leakModel_->setReport(docs_[0] ? &docs_[0]->summary.leak : nullptr);
    if (docs_[0]) {
        const auto& leak = docs_[0]->summary.leak;
        leakTitle_->setText(leak.detected ? tr("Memory grows by %1 per iteration from iteration %2; %3 still live at the end")
                                                .arg(QString::fromStdString(formatBytes(double(leak.bytesPerIteration))))
                                                .arg(leak.firstIteration)
                                                .arg(QString::fromStdString(formatBytes(double(leak.totalLeakedBytes))))
                                          : tr("No leak: memory returns to the same level every iteration"));
    }
    estimator_->setDocument(docs_[0]);
    roofline_->setDocument(docs_[0]);
    if (docs_[0] && docs_[1]) {
        comparison_ = analysis::compareRuns(docs_[0]->summary, docs_[1]->summary);
        diffModel_->setComparison(&comparison_);
        if (auto* dock = findChild<QDockWidget*>("diffDock")) dock->raise();
    } else {
        diffModel_->setComparison(nullptr);
    }
    if (docs_[0] && liveSetPicked_) {
        liveSetModel_->setTime(docs_[0], liveSetModel_->timeNs());
    } else if (docs_[0]) {
        auto peak = docs_[0]->model.allocated.peak();
        liveSetModel_->setTime(docs_[0], peak.timeNs);
        liveSetTitle_->setText(tr("%1 blocks live at the allocation peak (%2); click the memory lane for another time")
                                   .arg(liveSetModel_->rowCount())
                                   .arg(QString::fromStdString(formatBytes(double(peak.bytes)))));
    }
}

void MainWindow::fillSummary() {
    std::vector<KeyValueModel::Row> rows;
    for (int slot = 0; slot < 2; ++slot)
        if (docs_[slot]) {
            auto more = summaryRows(*docs_[slot]);
            rows.insert(rows.end(), more.begin(), more.end());
        }
    summaryModel_->setRows(std::move(rows));
}

void MainWindow::showKernelDetails(int slot, quint32 i) {
    if (!docs_[slot]) return;
    const auto& m = docs_[slot]->model;
    const auto& k = m.kernels;
    if (i >= k.size()) return;
    details_->setPlainText(tr("%1\n\nstart %2 after trace start\nduration %3\nstream %4, device %5\n"
                              "allocated at start %6, reserved %7")
                               .arg(shownText(m.text(k.nameId[i]), kTooltipTextBytes))
                               .arg(QString::fromStdString(formatDuration(double(k.startNs[i] - m.firstNs))))
                               .arg(QString::fromStdString(formatDuration(double(k.durationNs[i]))))
                               .arg(k.streamId[i])
                               .arg(k.deviceId[i])
                               .arg(QString::fromStdString(formatBytes(double(m.allocated.valueAt(k.startNs[i])))))
                               .arg(QString::fromStdString(formatBytes(double(m.reserved.valueAt(k.startNs[i]))))));
    if (auto* dock = findChild<QDockWidget*>("detailsDock")) dock->raise();
}

bool MainWindow::exportTrace(bool chrome, const QString& givenPath) {
    if (!docs_[0]) {
        reportError(tr("Export"), tr("Open a trace first, then export it."));
        return false;
    }
    QString path = givenPath;
    if (path.isEmpty()) {
        QString suggested = QFileInfo(docs_[0]->path).completeBaseName() + (chrome ? ".json" : ".csv");
        path = QFileDialog::getSaveFileName(this, tr("Export"), suggested,
                                            chrome ? tr("Chrome trace (*.json)") : tr("CSV (*.csv)"));
        if (path.isEmpty()) return false;
    }
    // As `vramscope export`: never over an open trace, never truncating a
    // file before the new one is complete.
    std::vector<std::string> inputs;
    for (const auto& doc : docs_)
        if (doc) inputs.push_back(cli::pathBytes(doc->path));
    format::OutputFile target;
    std::string error;
    if (!target.begin(cli::pathBytes(path), inputs, &error)) {
        reportError(tr("Export"), cli::textFromBytes(error));
        return false;
    }
    std::ofstream out(target.writePath(), std::ios::binary | std::ios::trunc);
    bool ok = out.good() && (chrome ? exporting::writeChromeTrace(docs_[0]->model, docs_[0]->summary.iterations, out)
                                    : exporting::writeAllocationsCsv(docs_[0]->model, &docs_[0]->summary.categories, out));
    out.close();
    if (!ok || !out || !target.commit(&error)) {
        reportError(tr("Export"), tr("Could not write %1.").arg(path));
        return false;
    }
    statusBar()->showMessage(tr("Exported %1").arg(path), 8000);
    return true;
}

void MainWindow::reportError(const QString& title, const QString& message) {
    lastError_ = message;
    if (interactive_) QMessageBox::critical(this, title, message);
    else std::fprintf(stderr, "vramscope-gui: %s\n", qPrintable(message));
}

void MainWindow::addRecentFile(const QString& path) {
    QSettings settings;
    QStringList files = settings.value("files/recent").toStringList();
    QString absolute = QFileInfo(path).absoluteFilePath();
    files.removeAll(absolute);
    files.prepend(absolute);
    while (files.size() > kMaxRecentFiles) files.removeLast();
    settings.setValue("files/recent", files);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList files = QSettings().value("files/recent").toStringList();
    for (const QString& f : files) recentMenu_->addAction(f, this, [this, f] { openTrace(f, 0); });
    recentMenu_->setEnabled(!files.isEmpty());
}

void MainWindow::showAbout() {
    QMessageBox::about(this, tr("About vramscope"),
                       tr("<b>vramscope %1</b><br>GPU memory profiler and visualizer for deep-learning training jobs."
                          "<br><br>Qt %2, Dear ImGui %3, trace format %4.%5")
                           .arg(QCoreApplication::applicationVersion(), qVersion(), ImGui::GetVersion())
                           .arg(format::kFormatVersionMajor)
                           .arg(format::kFormatVersionMinor));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    // A capture this window started stops with it; the job runs on.
    if (attach_ && attach_->isAttached()) attach_->detach(true);
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty()) return;
    // One file opens; a second dropped with it (or onto an open trace with Ctrl) compares.
    openTrace(urls[0].toLocalFile(), docs_[0] && (event->modifiers() & Qt::ControlModifier) ? 1 : 0);
    event->acceptProposedAction();
}

}  // namespace vramscope::app
