// The timeline: Dear ImGui drawing of one trace (or two, in compare mode) on
// a shared time axis. Lanes: phases band, memory (allocated, reserved,
// device used, device limit), NVTX ranges, kernels per stream, counter
// sparklines. Everything drawn is asked of the model for the visible window
// at pixel resolution, so a frame costs O(pixels · log n), not O(events).
// The lanes' rectangles are filled on the CPU into one image (lane_raster.h)
// that goes behind the text, lines and tooltips ImGui draws.
//
// Interaction: wheel zooms around the cursor, left-drag pans, shift-drag or
// right-drag selects a range, W/S zoom, A/D pan, Home fits. Hover shows a
// tooltip; a click selects a kernel or sets the cursor time.
//
// Live documents: in follow mode every frame shows the newest followSpanNs of
// the trace (the view ends at its head). Any pan or zoom by the user turns it
// off, so an old window can be inspected while the trace keeps growing;
// End turns it back on.
#pragma once

#include "imgui_widget.h"
#include "lane_raster.h"
#include "memory_scale.h"
#include "trace_document.h"

#include <array>
#include <memory>
#include <optional>
#include <vector>

namespace vramscope::app {

class TimelineCanvas : public ImGuiWidget {
    Q_OBJECT
public:
    explicit TimelineCanvas(QWidget* parent = nullptr);

    // One trace, or two for compare mode (the second aligned by iteration).
    void setDocuments(std::shared_ptr<const TraceDocument> first, std::shared_ptr<const TraceDocument> second = {});
    bool hasTrace() const { return bool(docs_[0]); }

    // The visible window, in the first trace's time (ns).
    double viewStartNs() const { return viewStartNs_; }
    double viewEndNs() const { return viewEndNs_; }
    // These move the view as the user asked, which ends follow mode.
    void setView(double startNs, double endNs);
    void fitAll();
    void zoom(double factor, double anchorNs);
    void pan(double fractionOfView);

    // Follow mode (live documents): keep the trace's head in view, showing
    // the last spanNs (0: keep the current view's width).
    void setFollow(bool follow, double spanNs = 0);
    bool following() const { return follow_; }
    double followSpanNs() const { return followSpanNs_; }

    std::optional<std::pair<uint64_t, uint64_t>> selection() const { return selection_; }
    // The cursor line (a time of the first trace, ns); < 0 hides it.
    void setCursorTime(double ns);
    double cursorTime() const { return cursorNs_; }
    // What the lanes currently show, for tests: number of marks drawn per lane.
    struct LaneStats {
        int memoryColumns = 0, kernelItems = 0, rangeItems = 0, phaseItems = 0, counterPoints = 0;
        int oomMarkers = 0;  // out-of-memory lines drawn
        uint64_t peakAllocatedInView = 0;
        // The newest data the frame drew (trace time, first trace): the start
        // of the last kernel and the last memory curve point in view; 0 = none.
        // What the live latency benchmark measures against the clock.
        uint64_t newestKernelNs = 0, newestMemoryNs = 0;
        // Each trace's memory lane: the bytes at its top, its height, its
        // gridlines (bytes, and pixels above the lane's bottom). In compare
        // mode both lanes are on one scale.
        struct MemoryAxis {
            uint64_t topBytes = 0;
            float heightPx = 0;
            std::vector<double> gridBytes;
            std::vector<float> gridPxAboveBottom;
        };
        std::array<MemoryAxis, 2> memoryAxes;
    };
    const LaneStats& lastLaneStats() const { return stats_; }

signals:
    void cursorTimeChanged(int documentIndex, quint64 timeNs);  // a click on a memory lane
    void kernelClicked(int documentIndex, quint32 kernelIndex);
    void selectionChanged(quint64 startNs, quint64 endNs);
    void viewChanged(double startNs, double endNs);
    void followChanged(bool following);

protected:
    void drawFrame() override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    struct Layout;
    void applyView(double startNs, double endNs);  // no change to follow mode
    void fitView();
    void followHead();
    // The memory lane takes memoryHeight_[docIndex]; the lanes below follow it.
    void drawTrace(int docIndex, float top, float left, float right);
    void drawAxis(float top, float left, float right);
    void drawSelection(float top, float bottom, float left, float right);
    void handleInput(float left, float right, float top, float bottom);

    // Axis ↔ pixels for the current frame.
    float xOf(double axisNs) const { return left_ + float((axisNs - viewStartNs_) / nsPerPixel_); }
    double nsAt(float x) const { return viewStartNs_ + double(x - left_) * nsPerPixel_; }

    std::shared_ptr<const TraceDocument> docs_[2];
    int64_t offsetNs_[2] = {0, 0};  // axis time = trace time + offset
    double viewStartNs_ = 0, viewEndNs_ = 1;
    double nsPerPixel_ = 1;
    float left_ = 0, right_ = 0;
    std::optional<std::pair<uint64_t, uint64_t>> selection_;
    bool selecting_ = false;
    double selectAnchorNs_ = 0;
    double cursorNs_ = -1;
    LaneStats stats_;
    bool follow_ = false;
    double followSpanNs_ = 10e9;
    LaneRaster raster_;  // this frame's lane fills (see lane_raster.h)
    MemoryScale memoryScale_;          // this frame's memory scale, shared in compare mode
    float memoryHeight_[2] = {60, 60};  // this frame's memory lane heights
};

}  // namespace vramscope::app
