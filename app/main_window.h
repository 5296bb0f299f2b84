// The vramscope-gui main window: menus, docks, loading with progress, recent
// files and layout in QSettings. The timeline canvas is the central widget.
#pragma once

#include "analysis_docks.h"
#include "attach_controller.h"
#include "roofline_view.h"
#include "dock_models.h"
#include "live_session.h"
#include "trace_document.h"

#include <QFutureWatcher>
#include <QMainWindow>

#include <atomic>
#include <memory>

class QLabel;
class QProgressBar;
class QPushButton;
class QTableView;
class QPlainTextEdit;
class QMenu;
class QAction;
class QToolBar;

namespace vramscope::app {

class TimelineCanvas;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Loads path as the main trace (slot 0) or the comparison (slot 1), off
    // the GUI thread. loadFinished() reports the outcome.
    void openTrace(const QString& path, int slot = 0);
    // Live documents (live_session.h) as the main trace: a recording still
    // being written, or a running job's live socket. The timeline follows
    // the head; liveEnded() says when the source ended.
    void followTrace(const QString& path);
    void connectTrace(const QString& address, const QString& tokenHex = {});
    LiveSession* liveSession() const { return live_; }
    // File ▸ Attach to Process: loads the capture into a running job (off the
    // GUI thread), then shows it live; Detach (or closing the window) stops
    // the capture and leaves the job running.
    void attachToProcess(const AttachController::Options& options);
    void detachFromProcess();
    AttachController* attachController() const { return attach_; }
    // Stops reading the live source; what arrived stays open.
    void stopLive();
    // Non-interactive windows (screenshots, benchmarks, tests) report errors
    // on stderr and in lastError() instead of dialogs.
    void setInteractive(bool interactive) { interactive_ = interactive; }
    bool isLoading() const { return loadWatcher_.isRunning(); }
    // File > Export: the main trace as Chrome/Perfetto JSON or as a CSV of
    // allocations (the same writers as `vramscope export`). Asks for a path
    // when none is given.
    bool exportTrace(bool chrome, const QString& path = {});

    TimelineCanvas* canvas() const { return canvas_; }
    std::shared_ptr<const TraceDocument> document(int slot) const { return docs_[slot]; }
    const QString& lastError() const { return lastError_; }
    KeyValueModel* summaryModel() const { return summaryModel_; }
    LiveSetModel* liveSetModel() const { return liveSetModel_; }
    KernelTableModel* kernelModel() const { return kernelModel_; }
    LeakTableModel* leakModel() const { return leakModel_; }
    DiffTableModel* diffModel() const { return diffModel_; }
    EstimatorPanel* estimatorPanel() const { return estimator_; }
    RooflineView* rooflineView() const { return roofline_; }

signals:
    void loadFinished(bool ok);
    // The whole run drawn from the trace's index while its details load.
    void previewShown();
    void liveEnded(bool complete);
    // attachToProcess() ended: attached (and connected) or not.
    void attachFinished(bool ok);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createMenus();
    void createDocks();
    void showDocuments();
    void refreshDocks();  // after the documents' analysis changed
    void startLive(LiveSession* session);
    void closeLive();
    void fillSummary();
    void reportError(const QString& title, const QString& message);
    void addRecentFile(const QString& path);
    void rebuildRecentMenu();
    void openDialog(int slot);
    void showAbout();
    void showKernelDetails(int slot, quint32 kernelIndex);
    void onLoaded();
    void showPreview(std::shared_ptr<TraceDocument> preview);
    // The Live Set at Cursor dock for trace slot's time t.
    void showLiveSetAt(int slot, quint64 t);

    TimelineCanvas* canvas_ = nullptr;
    std::shared_ptr<const TraceDocument> docs_[2];
    KeyValueModel* summaryModel_ = nullptr;
    LiveSetModel* liveSetModel_ = nullptr;
    KernelTableModel* kernelModel_ = nullptr;
    LeakTableModel* leakModel_ = nullptr;
    DiffTableModel* diffModel_ = nullptr;
    EstimatorPanel* estimator_ = nullptr;
    RooflineView* roofline_ = nullptr;
    QLabel* leakTitle_ = nullptr;
    analysis::Comparison comparison_;
    QPlainTextEdit* details_ = nullptr;
    QLabel* liveSetTitle_ = nullptr;
    bool liveSetPicked_ = false;  // the user clicked a time: keep it while a live trace grows
    LiveSession* live_ = nullptr;
    AttachController* attach_ = nullptr;
    QAction* detachAction_ = nullptr;
    QLabel* liveStatus_ = nullptr;
    QAction* followAction_ = nullptr;
    QAction* stopLiveAction_ = nullptr;
    QToolBar* liveToolBar_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancel_ = nullptr;

    QFutureWatcher<std::shared_ptr<TraceDocument>> loadWatcher_;
    std::shared_ptr<const TraceDocument> beforePreview_;  // the document a preview replaced, back if loading fails
    bool previewActive_ = false;
    bool loadPending_ = false;  // from openTrace() until onLoaded()
    std::atomic<bool> cancelLoad_{false};
    std::atomic<int> loadProgressPermille_{0};
    QString loadingPath_, loadError_;
    int loadingSlot_ = 0;
    bool interactive_ = true;
    QString lastError_;
};

}  // namespace vramscope::app
