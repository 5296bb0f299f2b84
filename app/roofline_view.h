// The Roofline dock: each kernel name of the open trace at its estimated
// arithmetic intensity and achieved FLOP/s under the device's roofs
// (analysis/roofline.h), sized by its share of GPU time and coloured by
// class as in the timeline. Hover a point for its name and numbers.
#pragma once

#include "trace_document.h"

#include <QWidget>

#include <memory>

namespace vramscope::app {

class RooflineView : public QWidget {
    Q_OBJECT
public:
    explicit RooflineView(QWidget* parent = nullptr);
    void setDocument(std::shared_ptr<const TraceDocument> doc);
    // For tests: how many kernel points the last paint drew.
    int drawnPoints() const { return drawnPoints_; }
    // The point nearest to a widget position (within 8 px), or -1; where
    // point `index` (of summary.roofline.points) is drawn.
    int pointAt(QPointF position) const;
    QPointF positionOf(size_t index) const;

protected:
    void paintEvent(QPaintEvent* event) override;
    bool event(QEvent* event) override;

private:
    QRectF plotRect() const;
    QPointF toScreen(double flopsPerByte, double flopsPerSec) const;
    double pointRadius(size_t index) const;

    std::shared_ptr<const TraceDocument> doc_;
    double xMin_ = 0.1, xMax_ = 1e4, yMin_ = 1e10, yMax_ = 2e15;  // log axes
    uint64_t totalNs_ = 0;
    int drawnPoints_ = 0;
};

}  // namespace vramscope::app
