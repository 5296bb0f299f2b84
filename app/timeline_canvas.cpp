#include "timeline_canvas.h"

#include "oom_markers.h"

#include "display_text.h"

#include "format_text.h"
#include "memory_scale.h"
#include "sweep_search.h"
#include "timeline_style.h"
#include "timeline_tooltips.h"

#include <imgui.h>

#include <QKeyEvent>

#include <algorithm>
#include <array>
#include <cmath>

namespace vramscope::app {

namespace {

constexpr float kAxisHeight = 22;
constexpr float kLabelWidth = 92;
constexpr float kPhaseHeight = 18;
constexpr float kRangeRowHeight = 14;
constexpr float kStreamHeight = 16;
constexpr float kCounterHeight = 30;
constexpr float kGap = 6;
constexpr float kBoundBand = 4;  // the phase's class, along the bottom of the phases band

// A name's colour: from its first 4 KiB, so a huge name costs no more per frame.
uint32_t hashText(const std::string& s) {
    uint32_t h = 2166136261u;
    for (size_t i = 0, n = std::min<size_t>(s.size(), 4096); i < n; ++i) h = (h ^ uint8_t(s[i])) * 16777619u;
    return h;
}

// The memory lane's height in a trace's area: what its fixed lanes leave.
float memoryLaneHeight(const TraceDocument& doc, float top, float bottom) {
    const size_t rangeRows = doc.rangesByDepth.size();  // at most 4 NVTX rows and 2 region rows
    const size_t streamRows = std::min<size_t>(doc.streams.size(), 8);
    const size_t counterRows = std::min<size_t>(doc.model.counters.size(), 3);
    float fixed = kPhaseHeight + kGap + rangeRows * kRangeRowHeight + (rangeRows ? kGap : 0) +
                  streamRows * kStreamHeight + (streamRows ? kGap : 0) + counterRows * (kCounterHeight + 2) + 18;
    return std::max(60.0f, bottom - top - fixed);
}

void laneLabel(ImDrawList* dl, float x, float y, const char* text, ImU32 color = rgba(200, 200, 200)) {
    dl->AddText(ImVec2(x + 4, y), color, text);
}

}  // namespace

TimelineCanvas::TimelineCanvas(QWidget* parent) : ImGuiWidget(parent) {}

void TimelineCanvas::setDocuments(std::shared_ptr<const TraceDocument> first, std::shared_ptr<const TraceDocument> second) {
    docs_[0] = std::move(first);
    docs_[1] = std::move(second);
    offsetNs_[0] = offsetNs_[1] = 0;
    // Compare mode aligns the second trace on the first by iteration: the
    // start of iteration 1 (past warm-up) when both have it, else their starts.
    if (docs_[0] && docs_[1]) {
        const auto& a = docs_[0]->iterationStartsNs;
        const auto& b = docs_[1]->iterationStartsNs;
        size_t k = (a.size() > 1 && b.size() > 1) ? 1 : 0;
        int64_t ta = a.size() > k ? int64_t(a[k]) : int64_t(docs_[0]->firstNs());
        int64_t tb = b.size() > k ? int64_t(b[k]) : int64_t(docs_[1]->firstNs());
        offsetNs_[1] = ta - tb;
    }
    selection_.reset();
    cursorNs_ = -1;
    fitView();
    // A real run often spends most of its time before the first step
    // (imports, model set-up): open on the training steps, Home shows all.
    if (docs_[0] && docs_[0]->iterationStartsNs.size() >= 2) {
        const double start = double(docs_[0]->iterationStartsNs.front()) + double(offsetNs_[0]);
        const double end = viewEndNs_;
        if (end - start < 0.5 * (viewEndNs_ - viewStartNs_)) {
            const double margin = (end - start) * 0.05;
            applyView(start - margin, end + margin);
        }
    }
}

void TimelineCanvas::setView(double startNs, double endNs) {
    setFollow(false);
    applyView(startNs, endNs);
}

void TimelineCanvas::applyView(double startNs, double endNs) {
    if (!(endNs > startNs)) endNs = startNs + 1000;
    if (endNs - startNs < 100) endNs = startNs + 100;  // 100 ns is as far as zoom goes
    viewStartNs_ = startNs;
    viewEndNs_ = endNs;
    emit viewChanged(startNs, endNs);
    update();
}

void TimelineCanvas::setCursorTime(double ns) {
    cursorNs_ = ns;
    update();
}

void TimelineCanvas::setFollow(bool follow, double spanNs) {
    if (follow && spanNs <= 0) spanNs = viewEndNs_ - viewStartNs_;
    if (follow && spanNs > 0) followSpanNs_ = spanNs;
    if (follow == follow_) return;
    follow_ = follow;
    if (follow_) followHead();
    emit followChanged(follow_);
    update();
}

void TimelineCanvas::followHead() {
    if (!follow_ || !docs_[0]) return;
    // The head a little inside the right edge, so the newest data is not cut.
    const double head = double(docs_[0]->lastNs()) + double(offsetNs_[0]);
    const double start = head - followSpanNs_ * 0.98, end = head + followSpanNs_ * 0.02;
    // Called every frame: only a head that moved asks for another one.
    if (start != viewStartNs_ || end != viewEndNs_) applyView(start, end);
}

void TimelineCanvas::fitAll() {
    setFollow(false);
    fitView();
}

void TimelineCanvas::fitView() {
    double lo = 0, hi = 1;
    bool any = false;
    for (int i = 0; i < 2; ++i) {
        if (!docs_[i]) continue;
        double a = double(docs_[i]->firstNs()) + double(offsetNs_[i]);
        double b = double(docs_[i]->lastNs()) + double(offsetNs_[i]);
        lo = any ? std::min(lo, a) : a;
        hi = any ? std::max(hi, b) : b;
        any = true;
    }
    double margin = (hi - lo) * 0.01;
    applyView(lo - margin, hi + margin);
}

void TimelineCanvas::zoom(double factor, double anchorNs) {
    double a = anchorNs - (anchorNs - viewStartNs_) * factor;
    double b = anchorNs + (viewEndNs_ - anchorNs) * factor;
    setView(a, b);
}

void TimelineCanvas::pan(double fraction) {
    double d = (viewEndNs_ - viewStartNs_) * fraction;
    setView(viewStartNs_ + d, viewEndNs_ + d);
}

void TimelineCanvas::keyPressEvent(QKeyEvent* e) {
    const double mid = (viewStartNs_ + viewEndNs_) / 2;
    const double anchor = cursorNs_ >= viewStartNs_ && cursorNs_ <= viewEndNs_ ? cursorNs_ : mid;
    switch (e->key()) {
    case Qt::Key_W: zoom(0.8, anchor); return;
    case Qt::Key_S: zoom(1.25, anchor); return;
    case Qt::Key_A: pan(-0.1); return;
    case Qt::Key_D: pan(0.1); return;
    case Qt::Key_Home: fitAll(); return;
    case Qt::Key_End: setFollow(true); return;
    case Qt::Key_Escape: selection_.reset(); update(); return;
    default: ImGuiWidget::keyPressEvent(e);
    }
}

void TimelineCanvas::drawFrame() {
    ImGuiIO& io = ImGui::GetIO();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
    ImGui::SetNextWindowBgAlpha(0.0f);  // glClear paints the background; a full-window quad would cost a blend per pixel
    ImGui::Begin("timeline", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoScrollWithMouse);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    stats_ = LaneStats{};
    followHead();  // a live document's head moved since the last frame
    const float width = io.DisplaySize.x, height = io.DisplaySize.y;
    left_ = kLabelWidth;
    right_ = std::max(left_ + 10, width - 8);
    nsPerPixel_ = (viewEndNs_ - viewStartNs_) / double(right_ - left_);

    if (!docs_[0]) {
        const char* hint = "Open a trace: File > Open (Ctrl+O), or drop a .vtrace or PyTorch snapshot here";
        ImVec2 size = ImGui::CalcTextSize(hint);
        dl->AddText(ImVec2((width - size.x) / 2, height / 2 - size.y), rgba(180, 180, 180), hint);
        ImGui::End();
        ImGui::PopStyleVar();
        return;
    }

    // The lanes' rectangles go to raster_, which is copied into the
    // framebuffer behind the labels, lines and tooltips ImGui draws.
    raster_.reset(int(left_), int(kAxisHeight), int(right_ - left_), int(height - kAxisHeight), kBackground);
    drawAxis(0, left_, right_);
    const bool compare = bool(docs_[1]);
    const float top = kAxisHeight + 2;
    // Compare mode: one bytes scale and one lane height for both memory
    // lanes, so that equal heights are equal bytes (memory_scale.h).
    memoryScale_ = memoryScale(docs_[0]->model, compare ? &docs_[1]->model : nullptr);
    if (compare) {
        float mid = top + (height - top) / 2;
        memoryHeight_[0] = memoryHeight_[1] =
            std::min(memoryLaneHeight(*docs_[0], top, mid - 3), memoryLaneHeight(*docs_[1], mid + 3, height));
        drawTrace(0, top, left_, right_);
        dl->AddLine(ImVec2(0, mid), ImVec2(width, mid), rgba(90, 90, 100), 2);
        drawTrace(1, mid + 3, left_, right_);
    } else {
        memoryHeight_[0] = memoryLaneHeight(*docs_[0], top, height);
        drawTrace(0, top, left_, right_);
    }
    drawSelection(kAxisHeight, height, left_, right_);
    handleInput(left_, right_, kAxisHeight, height);
    setBackgroundImage(raster_.pixels(), raster_.left(), raster_.top(), raster_.width(), raster_.height());
    ImGui::End();
    ImGui::PopStyleVar();
}

void TimelineCanvas::drawAxis(float top, float left, float right) {
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->AddRectFilled(ImVec2(0, top), ImVec2(ImGui::GetIO().DisplaySize.x, top + kAxisHeight), rgba(30, 30, 36));
    const double originNs = double(docs_[0]->firstNs());
    const double step = niceStep(nsPerPixel_ * 110);
    double first = std::ceil((viewStartNs_ - originNs) / step) * step + originNs;
    for (double t = first; t < viewEndNs_; t += step) {
        float x = xOf(t);
        if (x < left || x > right) continue;
        dl->AddLine(ImVec2(x, top + kAxisHeight - 6), ImVec2(x, top + kAxisHeight), rgba(160, 160, 160));
        std::string label = formatDuration(t - originNs, step);
        dl->AddText(ImVec2(x + 3, top + 3), rgba(200, 200, 200), label.c_str());
    }
    laneLabel(dl, 0, top + 3, "time");
}

void TimelineCanvas::drawTrace(int di, float top, float left, float right) {
    const TraceDocument& doc = *docs_[di];
    const model::TraceModel& m = doc.model;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const double off = double(offsetNs_[di]);
    // Trace time of a pixel column and back.
    auto traceNs = [&](float x) { return nsAt(x) - off; };
    auto x = [&](double traceTimeNs) { return xOf(traceTimeNs + off); };
    const double t0 = std::max(0.0, traceNs(left)), t1 = std::max(0.0, traceNs(right));
    const uint64_t ut0 = uint64_t(t0), ut1 = uint64_t(std::ceil(t1));

    // Row heights: memory takes what the fixed lanes leave (drawFrame decides).
    const size_t rangeRows = doc.rangesByDepth.size();  // at most 4 NVTX rows and 2 region rows
    const size_t streamRows = std::min<size_t>(doc.streams.size(), 8);
    const size_t counterRows = std::min<size_t>(m.counters.size(), 3);
    const float memHeight = memoryHeight_[di];
    float y = top;

    // ---- title and phases band
    {
        std::string title = doc.displayName.toStdString();
        dl->AddText(ImVec2(4, y + 1), rgba(230, 230, 230), title.size() > 13 ? (title.substr(0, 11) + "...").c_str() : title.c_str());
        float y0 = y + 1, y1 = y + kPhaseHeight - 1;
        const auto& spans = doc.phases;
        auto it = std::lower_bound(spans.begin(), spans.end(), t0,
                                   [](const PhaseSpan& s, double t) { return double(s.endNs) < t; });
        // Spans are short-lived compared with the run; step back over any that
        // started earlier but still cover t0.
        while (it != spans.begin() && std::prev(it)->endNs >= ut0) --it;
        float lastX = -1e9f;
        RowLabels labels;
        for (; it != spans.end() && double(it->startNs) < t1; ++it) {
            float a = std::max(left, x(double(it->startNs))), b = std::min(right, x(double(it->endNs)));
            if (b < left || a > right) continue;
            if (b - a < 1) {
                if (a - lastX < 1) continue;  // one mark per pixel column
                b = a + 1;
            }
            lastX = a;
            bool re = it->kind == PhaseSpanKind::Recompute;
            raster_.fillRect(a, re ? y0 + (y1 - y0) / 2 : y0, b, y1, phaseColor(it->kind));
            ++stats_.phaseItems;
            if (re) continue;  // half height, under the label of the phase it is part of
            // The boundness band: what limited the GPU in this phase of this iteration.
            if (it->bound != analysis::Bound::Unknown) raster_.fillRect(a, y1 - kBoundBand, b, y1, boundColor(it->bound));
            labels.cover(a, b);
            if (b - a > 70) {
                char label[48];
                std::snprintf(label, sizeof label, "%s %u", phaseName(doc, it->kind), it->iteration);
                labels.add(a, b, ImVec2(a + 3, y0 + 1), rgba(15, 15, 15), label);
            }
        }
        labels.draw(dl, y0, y1);
        if (spans.empty()) dl->AddText(ImVec2(left + 4, y0), rgba(140, 140, 140), "no phase markers");
        ImVec2 mouse = ImGui::GetIO().MousePos;
        if (mouse.x >= left && mouse.x < right && mouse.y >= y0 && mouse.y < y1 && !ImGui::IsMouseDragging(0))
            phaseTooltip(doc, uint64_t(std::max(0.0, traceNs(mouse.x))));
        y += kPhaseHeight + kGap;
    }

    // ---- memory lane
    {
        float y0 = y, y1 = y + memHeight;
        const size_t columns = size_t(std::max(1.0f, right - left));
        const auto& cats = doc.categoryCurves.curves;
        bool stacked = false;
        for (const auto& curve : cats) stacked |= !curve.empty();
        // Allocated bytes per column. Stacked, the categories are read at each
        // column's peak, and the peak's value is all the column needs: one
        // peakIn per column over the same range as query()'s bucket, rather
        // than query() and then peakIn (on a 10M-event trace these searches
        // are most of the frame). minBytes is then not filled in.
        std::vector<model::MemoryCurve::Bucket> allocated;
        std::vector<uint64_t> peakAtNs;
        if (stacked) {
            const uint64_t qt1 = std::max(ut1, ut0 + 1);
            const double width = double(qt1 - ut0) / double(columns);
            allocated.resize(columns);
            peakAtNs.resize(columns);
            for (size_t c = 0; c < columns; ++c) {
                const uint64_t a = ut0 + uint64_t(width * double(c));
                const uint64_t b = std::max(c + 1 == columns ? qt1 : ut0 + uint64_t(width * double(c + 1)), a + 1);
                const auto peak = m.allocated.peakIn(a, b);
                allocated[c] = {a, b, peak.bytes, peak.bytes};
                peakAtNs[c] = peak.timeNs;
            }
        } else {
            allocated = m.allocated.query(ut0, std::max(ut1, ut0 + 1), columns);
        }
        auto reserved = m.reserved.query(ut0, std::max(ut1, ut0 + 1), columns);
        auto used = m.deviceUsed.query(ut0, std::max(ut1, ut0 + 1), columns);
        // The scale drawFrame chose (the whole traces' peaks, so zooming keeps it).
        const uint64_t top = memoryScale_.topBytes, device = m.deviceTotalBytes();
        const bool deviceVisible = memoryScale_.deviceVisible[size_t(di)];
        double scale = double(memHeight - 14) / double(top);
        auto yOf = [&](uint64_t bytes) { return y1 - float(double(std::min(bytes, top)) * scale); };
        // Grid lines with byte labels.
        LaneStats::MemoryAxis& axis = stats_.memoryAxes[size_t(di)];
        axis = {top, memHeight, {}, {}};
        for (double g : memoryScale_.gridlinesBytes()) {
            float gy = yOf(uint64_t(g));
            raster_.fillRect(left, gy, right, gy + 1, rgba(50, 50, 58));  // AddLine's pixel row
            std::string label = formatBytes(g);
            dl->AddText(ImVec2(4, gy - 7), rgba(150, 150, 150), label.c_str());
            axis.gridBytes.push_back(g);
            axis.gridPxAboveBottom.push_back(y1 - gy);
        }
        // Adjacent columns that round to the same pixels merge into one rect
        // (flat stretches when zoomed in).
        auto columnsOf = [&](const std::vector<model::MemoryCurve::Bucket>& buckets, auto&& drawRun) {
            size_t c = 0;
            while (c < buckets.size()) {
                const auto& b = buckets[c];
                float lo = std::round(yOf(b.minBytes)), hi = std::round(yOf(b.maxBytes));
                size_t e = c + 1;
                while (e < buckets.size() && std::round(yOf(buckets[e].minBytes)) == lo &&
                       std::round(yOf(buckets[e].maxBytes)) == hi && (buckets[e].maxBytes == 0) == (b.maxBytes == 0))
                    ++e;
                drawRun(left + float(c), left + float(e), lo, hi, b);
                c = e;
            }
        };
        // Allocated memory stacked by category at each column's peak: each
        // category's cumulative top is a skyline cut into wide rectangles.
        std::vector<std::array<float, analysis::kCategoryCount>> tops(allocated.size());
        // Column peaks come in time order: each category is read by a sweep.
        std::vector<MemoryCurveSweep> catSweeps(cats.begin(), cats.end());
        for (size_t c = 0; c < allocated.size(); ++c) {
            const auto& b = allocated[c];
            stats_.peakAllocatedInView = std::max(stats_.peakAllocatedInView, b.maxBytes);
            if (b.maxBytes) ++stats_.memoryColumns;
            uint64_t cumulative = 0;
            // Past the last analysis of a live document blocks have no category yet: "other".
            if (stacked && b.maxBytes && peakAtNs[c] <= doc.analyzedUntilNs) {
                const uint64_t at = peakAtNs[c];
                for (int k = 0; k < analysis::kCategoryCount; ++k) {
                    cumulative += cats[size_t(k)].empty() ? 0 : catSweeps[size_t(k)].valueAt(at);
                    tops[c][size_t(k)] = std::round(yOf(cumulative));
                }
            } else {
                for (int k = 0; k < analysis::kCategoryCount; ++k) tops[c][size_t(k)] = y1;
                tops[c][analysis::kCategoryCount - 1] = b.maxBytes ? std::round(yOf(b.minBytes)) : y1;
            }
        }
        // Each category as its own band between its neighbours, so every
        // pixel is filled once. Adjacent columns with the same band merge
        // into one rect (flat weights and optimizer state become a few wide
        // rects).
        std::vector<float> lower(allocated.size()), upper(allocated.size());
        auto band = [&](ImU32 color) {
            size_t c = 0;
            while (c < upper.size()) {
                size_t e = c + 1;
                while (e < upper.size() && upper[e] == upper[c] && lower[e] == lower[c]) ++e;
                if (upper[c] < lower[c])
                    raster_.fillRect(left + float(c), upper[c], left + float(e), lower[c], color);
                c = e;
            }
        };
        for (size_t c = 0; c < allocated.size(); ++c) lower[c] = y1;
        for (int k = 0; k < analysis::kCategoryCount; ++k) {
            bool any = false;
            for (size_t c = 0; c < allocated.size(); ++c) {
                upper[c] = tops[c][size_t(k)];
                any |= upper[c] < lower[c];
            }
            if (any) band(stacked ? categoryColor(analysis::Category(k)) : rgba(52, 110, 205));
            lower.swap(upper);
        }
        // Above the stack: what came and went within the column (the max envelope).
        for (size_t c = 0; c < allocated.size(); ++c) upper[c] = allocated[c].maxBytes ? std::round(yOf(allocated[c].maxBytes)) : y1;
        band(rgba(95, 95, 110));
        auto line = [&](const std::vector<model::MemoryCurve::Bucket>& buckets, ImU32 color) {
            columnsOf(buckets, [&](float xa, float xb, float lo, float hi, const model::MemoryCurve::Bucket& b) {
                if (b.maxBytes == 0 && b.minBytes == 0) return;
                raster_.fillRect(xa, hi - 1, xb, lo + 1, color);
            });
        };
        line(used, rgba(160, 160, 160, 160));
        line(reserved, rgba(255, 196, 0));
        if (deviceVisible) {
            float dy = yOf(device);
            dl->AddLine(ImVec2(left, dy), ImVec2(right, dy), rgba(230, 60, 60), 1.5f);
            dl->AddText(ImVec2(right - 150, dy + 2), rgba(230, 90, 90), ("device " + formatBytes(double(device))).c_str());
        }
        if (di == 0)
            for (const model::MemoryCurve* curve : {&m.allocated, &m.reserved}) {
                const size_t last = curve->upperIndex(ut1);
                if (last > 0 && curve->timesNs()[last - 1] >= ut0)
                    stats_.newestMemoryNs = std::max(stats_.newestMemoryNs, curve->timesNs()[last - 1]);
            }
        laneLabel(dl, 0, y0, "memory");
        // Legend.
        float lx = left + 6, ly = y0 + 2;
        auto legend = [&](ImU32 c, const char* text) {
            dl->AddRectFilled(ImVec2(lx, ly + 3), ImVec2(lx + 10, ly + 11), c);
            dl->AddText(ImVec2(lx + 14, ly), rgba(210, 210, 210), text);
            lx += 22 + ImGui::CalcTextSize(text).x;
        };
        if (stacked) {
            for (int k = 0; k < analysis::kCategoryCount; ++k)
                if (!cats[size_t(k)].empty() && cats[size_t(k)].peak().bytes > 0)
                    legend(categoryColor(analysis::Category(k)), analysis::categoryName(analysis::Category(k)));
        } else {
            legend(rgba(52, 110, 205), m.allocationLevel == model::AllocationLevel::Driver ? "allocated (driver)" : "allocated");
        }
        legend(rgba(255, 196, 0), "reserved");
        // Pinned host memory is not drawn (not on the device); the lists show its blocks.
        if (const uint64_t host = doc.summary.categories.hostPeakBytes)
            legend(rgba(70, 70, 80), ("pinned host " + formatBytes(double(host)) + ", not on the device").c_str());
        if (!m.deviceUsed.empty()) legend(rgba(160, 160, 160), "device used");
        // Cursor: value at the hovered time.
        if (cursorNs_ >= 0) {
            double ct = cursorNs_ - off;
            if (ct >= t0 && ct <= t1) {
                float cx = x(ct);
                dl->AddLine(ImVec2(cx, y0), ImVec2(cx, y1), rgba(255, 255, 255, 120));
            }
        }
        bool onOom = false;
        stats_.oomMarkers += drawOutOfMemoryMarkers(dl, doc, x, t0, t1, y0, y1, &onOom);
        // Hover: what is live here.
        ImVec2 mouse = ImGui::GetIO().MousePos;
        if (mouse.x >= left && mouse.x < right && mouse.y >= y0 && mouse.y < y1 && !ImGui::IsMouseDragging(0)) {
            uint64_t t = uint64_t(std::max(0.0, traceNs(mouse.x)));
            if (!onOom) memoryTooltip(doc, t);
            if (ImGui::IsMouseReleased(0) && !ImGui::GetIO().KeyShift) emit cursorTimeChanged(di, t);
        }
        y = y1 + kGap;
    }

    // ---- NVTX ranges, one row per depth
    const auto& r = m.ranges;
    for (size_t d = 0; d < rangeRows; ++d) {
        const auto& list = doc.rangesByDepth[d];
        float y0 = y + 1, y1 = y + kRangeRowHeight - 1;
        if (d == doc.firstRegionRow)
            laneLabel(dl, 0, y0 - 1, "regions");
        else if (d == 0)
            laneLabel(dl, 0, y0 - 1, "NVTX");
        uint64_t back = doc.rangeMaxDurationByDepth[d];
        auto it = std::lower_bound(list.begin(), list.end(), ut0 > back ? ut0 - back : 0,
                                   [&](uint32_t i, uint64_t t) { return r.startNs[i] < t; });
        float lastX = -1e9f;
        // How far right this row is painted already. Ranges of one row do not
        // overlap in a real trace (nested ones have rows of their own), but
        // start/end ranges may, and so may the ranges of a crafted trace, all
        // clamped into the last row: 100k ranges across the whole view took
        // a minute a frame when each was painted whole. A range is painted
        // only where the row is still empty, so a row costs its width at most.
        float paintedTo = -1e9f;
        RowLabels labels;
        while (it != list.end() && double(r.startNs[*it]) < t1) {
            uint32_t i = *it;
            float a = std::max(left, x(double(r.startNs[i]))), b = std::min(right, x(double(r.endNs[i])));
            if (b < left || b <= paintedTo) { ++it; continue; }
            if (b - a < 1) {
                // Sub-pixel: one mark for this column, then jump to the next column.
                if (a - lastX >= 1) {
                    raster_.fillRect(a, y0, a + 1, y1, rgba(130, 130, 150));
                    labels.cover(a, a + 1);
                    ++stats_.rangeItems;
                    lastX = a;
                }
                uint64_t next = uint64_t(std::max(0.0, traceNs(a + 1)));
                auto jump = gallopLowerBound(it, list.end(), next, [&](uint32_t j, uint64_t t) { return r.startNs[j] < t; });
                it = jump > it ? jump : it + 1;
                continue;
            }
            const std::string& name = m.text(r.nameId[i]);
            raster_.fillRect(std::max(a, paintedTo), y0, b, y1, nameColor(hashText(name)) & 0xB0FFFFFF);
            paintedTo = b;
            labels.cover(a, b);
            if (b - a > 30) labels.add(a, b, ImVec2(a + 2, y0 - 1), rgba(15, 15, 15), shownUtf8(name));
            ++stats_.rangeItems;
            lastX = b;
            ImVec2 mouse = ImGui::GetIO().MousePos;
            if (mouse.x >= a && mouse.x < b && mouse.y >= y0 && mouse.y < y1) {
                const bool region = r.domainId[i] == model::TraceModel::kRegionDomain;
                const double ns = r.endNs[i] > r.startNs[i] ? double(r.endNs[i] - r.startNs[i]) : 0.0;
                ImGui::BeginTooltip();
                ImGui::PushTextWrapPos(600);
                ImGui::TextUnformatted(shownUtf8(name, kTooltipTextBytes).c_str());
                ImGui::PopTextWrapPos();
                if (region)
                    ImGui::Text("%s, region (vramscope.region)", formatDuration(ns, 0).c_str());
                else
                    ImGui::Text("%s, NVTX range on thread %u", formatDuration(ns, 0).c_str(), r.threadId[i]);
                ImGui::EndTooltip();
            }
            ++it;
        }
        labels.draw(dl, y0, y1);
        y += kRangeRowHeight;
    }
    if (rangeRows) y += kGap;

    // ---- kernels, one row per stream
    const auto& k = m.kernels;
    for (size_t s = 0; s < streamRows; ++s) {
        const auto& list = doc.streams[s].kernels;
        float y0 = y + 1, y1 = y + kStreamHeight - 1;
        char label[32];
        std::snprintf(label, sizeof label, "stream %u", doc.streams[s].streamId);
        laneLabel(dl, 0, y0 - 1, label);
        uint64_t back = k.maxDurationNs;
        auto it = std::lower_bound(list.begin(), list.end(), ut0 > back ? ut0 - back : 0,
                                   [&](uint32_t i, uint64_t t) { return k.startNs[i] < t; });
        float lastX = -1e9f;
        float paintedTo = -1e9f;  // as for ranges: overlapping kernels (a crafted trace) paint the row once
        while (it != list.end() && double(k.startNs[*it]) < t1) {
            uint32_t i = *it;
            float a = std::max(left, x(double(k.startNs[i]))), b = std::min(right, x(double(k.endNs(i))));
            if (b < left || b <= paintedTo) { ++it; continue; }
            ImU32 color = boundColor(doc, k.nameId[i]);
            if (b - a < 1) {
                if (a - lastX >= 1) { raster_.fillRect(a, y0, a + 1, y1, color); ++stats_.kernelItems; lastX = a; }
                uint64_t next = uint64_t(std::max(0.0, traceNs(a + 1)));
                auto jump = gallopLowerBound(it, list.end(), next, [&](uint32_t j, uint64_t t) { return k.startNs[j] < t; });
                it = jump > it ? jump : it + 1;
                continue;
            }
            raster_.fillRect(std::max(a, paintedTo), y0, b, y1, color);
            paintedTo = b;
            ++stats_.kernelItems;
            lastX = b;
            ImVec2 mouse = ImGui::GetIO().MousePos;
            if (mouse.x >= a && mouse.x < b && mouse.y >= y0 && mouse.y < y1) {
                ImGui::BeginTooltip();
                ImGui::PushTextWrapPos(600);
                ImGui::TextUnformatted(shownUtf8(m.text(k.nameId[i]), kTooltipTextBytes).c_str());
                ImGui::PopTextWrapPos();
                ImGui::Text("%s on stream %u", formatDuration(double(k.durationNs[i]), 0).c_str(), k.streamId[i]);
                ImGui::EndTooltip();
                if (ImGui::IsMouseReleased(0)) emit kernelClicked(di, i);
            }
            ++it;
        }
        if (di == 0) {
            auto last = std::lower_bound(list.begin(), list.end(), ut1, [&](uint32_t i, uint64_t t) { return k.startNs[i] < t; });
            if (last != list.begin() && k.endNs(*std::prev(last)) >= ut0)
                stats_.newestKernelNs = std::max(stats_.newestKernelNs, k.startNs[*std::prev(last)]);
        }
        y += kStreamHeight;
    }
    if (streamRows) y += kGap;

    // ---- counters: max per pixel column, as a filled sparkline
    for (size_t c = 0; c < counterRows; ++c) {
        const auto& series = m.counters[c];
        float y0 = y, y1 = y + kCounterHeight;
        raster_.fillRect(left, y1, right, y1 + 1, rgba(50, 50, 58));  // AddLine's pixel row
        const char* label = model::counterMetricName(series.info.metric, true);
        laneLabel(dl, 0, y0 + 8, label ? label : "counter");
        const auto& ts = series.timesNs;
        const auto& vs = series.valuesMilli;
        ImU32 color = series.info.metric == format::CounterMetric::DramThroughputPct ? rgba(255, 112, 67) : rgba(102, 187, 106);
        float runStart = left, runHeight = -1;
        auto flush = [&](float end) {
            if (runHeight > 0) {
                raster_.fillRect(runStart, y1 - runHeight, end, y1, color);
                ++stats_.counterPoints;
            }
        };
        auto from = ts.begin();  // columns only move right: search on from the last one
        for (float px = left; px < right; px += 1) {
            uint64_t a = uint64_t(std::max(0.0, traceNs(px))), b = uint64_t(std::max(0.0, traceNs(px + 1)));
            auto i0 = gallopLowerBound(from, ts.end(), a);
            auto i1 = gallopLowerBound(i0, ts.end(), std::max(b, a + 1));
            from = i0;
            float h = 0;
            if (i0 == i1 && !(i0 == ts.end() || (i0 != ts.begin() && *i0 - *(i0 - 1) > 4 * series.info.intervalNs + 1)))
                i1 = i0 + 1;  // no sample ends in this column: the next one covers it
            if (i0 != i1) {
                uint32_t v = 0;
                for (auto i = i0; i != i1 && i - i0 < 64; ++i) v = std::max(v, vs[size_t(i - ts.begin())]);
                h = std::round(float(std::min(100000u, v)) / 100000.0f * (kCounterHeight - 2));
            }
            if (h != runHeight) {
                flush(px);
                runStart = px;
                runHeight = h;
            }
        }
        flush(right);
        y += kCounterHeight + 2;
    }
}

void TimelineCanvas::drawSelection(float top, float bottom, float left, float right) {
    if (!selection_) return;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    float a = std::max(left, xOf(double(selection_->first))), b = std::min(right, xOf(double(selection_->second)));
    if (b <= a) return;
    dl->AddRectFilled(ImVec2(a, top), ImVec2(b, bottom), rgba(255, 255, 255, 28));
    dl->AddLine(ImVec2(a, top), ImVec2(a, bottom), rgba(255, 255, 255, 140));
    dl->AddLine(ImVec2(b, top), ImVec2(b, bottom), rgba(255, 255, 255, 140));
    // Statistics of the selected range for the first trace.
    const auto& m = docs_[0]->model;
    uint64_t s0 = selection_->first, s1 = selection_->second;
    auto peak = m.allocated.peakIn(s0, s1);
    auto peakReserved = m.reserved.peakIn(s0, s1);
    auto [k0, k1] = m.kernelsIn(s0, s1);
    uint64_t busy = 0, count = 0;
    for (size_t i = k0; i < k1; ++i) {
        uint64_t a0 = std::max<uint64_t>(m.kernels.startNs[i], s0), a1 = std::min<uint64_t>(m.kernels.endNs(i), s1);
        if (a1 > a0) { busy += a1 - a0; ++count; }
    }
    char text[256];
    std::snprintf(text, sizeof text, "%s selected\npeak allocated %s\npeak reserved %s\n%llu kernels, GPU busy %.0f%%",
                  formatDuration(double(s1 - s0), 0).c_str(), formatBytes(double(peak.bytes)).c_str(),
                  formatBytes(double(peakReserved.bytes)).c_str(), static_cast<unsigned long long>(count),
                  s1 > s0 ? 100.0 * double(busy) / double(s1 - s0) : 0.0);
    ImVec2 size = ImGui::CalcTextSize(text);
    float tx = std::min(b + 6, right - size.x - 8);
    dl->AddRectFilled(ImVec2(tx - 4, top + 4), ImVec2(tx + size.x + 4, top + size.y + 10), rgba(20, 20, 24, 230));
    dl->AddText(ImVec2(tx, top + 7), rgba(240, 240, 240), text);
}

void TimelineCanvas::handleInput(float left, float right, float top, float bottom) {
    ImGuiIO& io = ImGui::GetIO();
    ImVec2 mouse = io.MousePos;
    bool inside = mouse.x >= left && mouse.x < right && mouse.y >= top && mouse.y < bottom;
    if (inside) cursorNs_ = nsAt(mouse.x);
    if (inside && io.MouseWheel != 0) {
        zoom(std::pow(0.85, double(io.MouseWheel)), nsAt(mouse.x));
        io.MouseWheel = 0;
    }
    bool selectGesture = ImGui::IsMouseDragging(1) || (ImGui::IsMouseDragging(0) && io.KeyShift);
    if (selectGesture) {
        if (!selecting_) {
            selecting_ = true;
            ImVec2 origin = io.MouseClickedPos[ImGui::IsMouseDragging(1) ? 1 : 0];
            selectAnchorNs_ = nsAt(origin.x);
        }
        double a = std::min(selectAnchorNs_, nsAt(mouse.x)), b = std::max(selectAnchorNs_, nsAt(mouse.x));
        selection_ = std::make_pair(uint64_t(std::max(0.0, a)), uint64_t(std::max(0.0, b)));
    } else if (selecting_ && !ImGui::IsMouseDown(0) && !ImGui::IsMouseDown(1)) {
        selecting_ = false;
        if (selection_) emit selectionChanged(selection_->first, selection_->second);
    } else if (ImGui::IsMouseDragging(0) && !io.KeyShift && !selecting_) {
        ImVec2 d = io.MouseDelta;
        if (d.x != 0) setView(viewStartNs_ - double(d.x) * nsPerPixel_, viewEndNs_ - double(d.x) * nsPerPixel_);
    }
    if (ImGui::IsMouseDragging(0) || ImGui::IsMouseDragging(1)) requestAnotherFrame();
}

}  // namespace vramscope::app
