#include "roofline_view.h"

#include "display_text.h"
#include "format_text.h"
#include "timeline_style.h"

#include <QHelpEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace vramscope::app {

namespace {

QColor toQColor(ImU32 c) { return QColor(int(c & 0xFF), int((c >> 8) & 0xFF), int((c >> 16) & 0xFF), int(c >> 24)); }

QString rateText(double value, const char* unit) {
    const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
    int i = 0;
    while (value >= 1000 && i < 5) value /= 1000, ++i;
    return QString("%1 %2%3").arg(value, 0, 'f', value < 10 ? 2 : (value < 100 ? 1 : 0)).arg(prefixes[i]).arg(unit);
}

}  // namespace

RooflineView::RooflineView(QWidget* parent) : QWidget(parent) {
    setMinimumSize(240, 180);
    setMouseTracking(true);
}

void RooflineView::setDocument(std::shared_ptr<const TraceDocument> doc) {
    doc_ = std::move(doc);
    totalNs_ = 0;
    if (doc_) {
        const auto& r = doc_->summary.roofline;
        for (const auto& p : r.points) totalNs_ += p.timeNs;
        if (r.valid) {
            // From below the slowest point to above the tensor roof.
            yMax_ = r.peakFlopsPerSec * 2;
            double lowest = r.peakFlopsPerSec / 1e5;
            for (const auto& p : r.points)
                if (p.flopsPerSec > 0) lowest = std::min(lowest, p.flopsPerSec);
            yMin_ = std::pow(10.0, std::floor(std::log10(lowest)));
        }
    }
    update();
}

QRectF RooflineView::plotRect() const { return QRectF(88, 12, std::max(40, width() - 100), std::max(40, height() - 46)); }

QPointF RooflineView::toScreen(double x, double y) const {
    const QRectF r = plotRect();
    const double fx = (std::log10(std::clamp(x, xMin_, xMax_)) - std::log10(xMin_)) / (std::log10(xMax_) - std::log10(xMin_));
    const double fy = (std::log10(std::clamp(y, yMin_, yMax_)) - std::log10(yMin_)) / (std::log10(yMax_) - std::log10(yMin_));
    return {r.left() + fx * r.width(), r.bottom() - fy * r.height()};
}

double RooflineView::pointRadius(size_t index) const {
    const auto& p = doc_->summary.roofline.points[index];
    const double share = totalNs_ ? double(p.timeNs) / double(totalNs_) : 0;
    return 3 + 14 * std::sqrt(share);
}

QPointF RooflineView::positionOf(size_t index) const {
    const auto& p = doc_->summary.roofline.points[index];
    return toScreen(p.flopsPerByte, p.flopsPerSec);
}

int RooflineView::pointAt(QPointF position) const {
    if (!doc_ || !doc_->summary.roofline.valid) return -1;
    const auto& points = doc_->summary.roofline.points;
    int best = -1;
    double bestDistance = 8;
    for (size_t i = 0; i < points.size(); ++i) {
        if (points[i].flopsPerByte <= 0) continue;
        const QPointF d = toScreen(points[i].flopsPerByte, points[i].flopsPerSec) - position;
        const double distance = std::max(0.0, std::hypot(d.x(), d.y()) - pointRadius(i));
        if (distance < bestDistance) best = int(i), bestDistance = distance;
    }
    return best;
}

void RooflineView::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.fillRect(rect(), QColor(23, 23, 28));
    drawnPoints_ = 0;
    const QRectF plot = plotRect();
    painter.setPen(QColor(200, 200, 200));
    if (!doc_) {
        painter.drawText(rect(), Qt::AlignCenter, tr("No trace"));
        return;
    }
    const analysis::Roofline& r = doc_->summary.roofline;
    if (!r.valid) {
        painter.drawText(rect().adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap,
                         tr("No roofline: this trace has no hardware counters or no peak figures for its GPU.\n"
                            "Record with `vramscope record --counters pm` to sample them."));
        return;
    }
    // Grid and axis labels at powers of ten.
    painter.setFont(QFont(painter.font().family(), 8));
    for (double x = xMin_; x <= xMax_ * 1.001; x *= 10) {
        const QPointF a = toScreen(x, yMin_);
        painter.setPen(QColor(60, 60, 70));
        painter.drawLine(QPointF(a.x(), plot.top()), QPointF(a.x(), plot.bottom()));
        painter.setPen(QColor(170, 170, 170));
        painter.drawText(QRectF(a.x() - 30, plot.bottom() + 2, 60, 14), Qt::AlignHCenter, QString::number(x, 'g', 6));
    }
    for (double y = yMin_; y <= yMax_ * 1.001; y *= 10) {
        const QPointF a = toScreen(xMin_, y);
        painter.setPen(QColor(60, 60, 70));
        painter.drawLine(QPointF(plot.left(), a.y()), QPointF(plot.right(), a.y()));
        painter.setPen(QColor(170, 170, 170));
        painter.drawText(QRectF(0, a.y() - 7, plot.left() - 4, 14), Qt::AlignRight | Qt::AlignVCenter, rateText(y, "FLOP/s"));
    }
    painter.drawText(QRectF(plot.left(), height() - 16, plot.width(), 14), Qt::AlignHCenter,
                     tr("arithmetic intensity, FLOP per DRAM byte (estimated from counters)"));
    // The roofs: memory slope up to each compute ceiling.
    auto roof = [&](bool fp32, QColor color, Qt::PenStyle style, const QString& label) {
        QPainterPath path;
        const int steps = 64;
        for (int i = 0; i <= steps; ++i) {
            const double x = xMin_ * std::pow(xMax_ / xMin_, double(i) / steps);
            const QPointF p = toScreen(x, analysis::roofAt(r, x, fp32));
            if (i == 0) path.moveTo(p);
            else path.lineTo(p);
        }
        painter.setPen(QPen(color, 2, style));
        painter.drawPath(path);
        const QPointF end = toScreen(xMax_, fp32 ? r.peakFp32FlopsPerSec : r.peakFlopsPerSec);
        painter.drawText(QRectF(end.x() - 260, end.y() - 16, 256, 14), Qt::AlignRight, label);
    };
    roof(false, QColor(230, 230, 230), Qt::SolidLine,
         tr("tensor peak %1, DRAM %2").arg(rateText(r.peakFlopsPerSec, "FLOP/s"), rateText(r.peakDramBytesPerSec, "B/s")));
    roof(true, QColor(150, 150, 150), Qt::DashLine, tr("FP32 peak %1").arg(rateText(r.peakFp32FlopsPerSec, "FLOP/s")));
    // Kernels, the longest drawn last (on top).
    for (size_t n = r.points.size(); n-- > 0;) {
        const auto& p = r.points[n];
        if (p.flopsPerByte <= 0 || p.flopsPerSec <= 0) continue;
        const QPointF c = toScreen(p.flopsPerByte, p.flopsPerSec);
        QColor color = toQColor(boundColor(p.bound));
        color.setAlpha(200);
        painter.setPen(QPen(QColor(20, 20, 20), 1));
        painter.setBrush(color);
        const double radius = pointRadius(n);
        painter.drawEllipse(c, radius, radius);
        ++drawnPoints_;
    }
}

bool RooflineView::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const int i = pointAt(help->pos());
        if (i < 0) {
            QToolTip::hideText();
            return true;
        }
        const auto& p = doc_->summary.roofline.points[size_t(i)];
        QToolTip::showText(
            help->globalPos(),
            tr("%1\n%2-bound, %3 of GPU time\ncompute %4 % of peak, DRAM %5 % of peak\n~%6, ~%7, %8 FLOP/B")
                .arg(shownText(doc_->model.text(p.nameId), 160), analysis::boundText(p.bound),
                     QString::fromStdString(formatDuration(double(p.timeNs))))
                .arg(p.computePct, 0, 'f', 1)
                .arg(p.dramPct, 0, 'f', 1)
                .arg(rateText(p.flopsPerSec, "FLOP/s"), rateText(p.dramBytesPerSec, "B/s"))
                .arg(p.flopsPerByte, 0, 'g', 3),
            this);
        return true;
    }
    return QWidget::event(event);
}

}  // namespace vramscope::app
