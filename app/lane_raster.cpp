#include "lane_raster.h"

#include <algorithm>
#include <cmath>

namespace vramscope::app {

namespace {

// First pixel whose centre (i + 0.5) is at or past `edge`, clamped to [lo, hi].
int firstCentreFrom(float edge, int lo, int hi) {
    const float i = std::ceil(edge - 0.5f);
    if (!(i > float(lo))) return lo;  // NaN too
    return i >= float(hi) ? hi : int(i);
}

// Source-over with ImGui's blend function (SRC_ALPHA, ONE_MINUS_SRC_ALPHA);
// the destination is opaque and stays so.
uint32_t blendOver(uint32_t dst, uint32_t src, uint32_t alpha) {
    uint32_t out = 0xFF000000u;
    for (int shift = 0; shift < 24; shift += 8) {
        const uint32_t s = (src >> shift) & 0xFF, d = (dst >> shift) & 0xFF;
        out |= ((s * alpha + d * (255 - alpha) + 127) / 255) << shift;
    }
    return out;
}

}  // namespace

void LaneRaster::reset(int left, int top, int width, int height, uint32_t background) {
    left_ = left;
    top_ = top;
    width_ = std::max(0, width);
    height_ = std::max(0, height);
    pixels_.assign(size_t(width_) * size_t(height_), background | 0xFF000000u);
}

void LaneRaster::fillRect(float x0, float y0, float x1, float y1, uint32_t color) {
    const int xa = firstCentreFrom(x0, left_, left_ + width_), xb = firstCentreFrom(x1, left_, left_ + width_);
    const int ya = firstCentreFrom(y0, top_, top_ + height_), yb = firstCentreFrom(y1, top_, top_ + height_);
    const uint32_t alpha = color >> 24;
    if (xa >= xb || ya >= yb || alpha == 0) return;
    const size_t columns = size_t(xb - xa);
    for (int y = ya; y < yb; ++y) {
        uint32_t* run = row(y) + (xa - left_);
        if (alpha == 255) {
            std::fill_n(run, columns, color);
        } else {
            for (size_t i = 0; i < columns; ++i) run[i] = blendOver(run[i], color, alpha);
        }
    }
}

uint32_t LaneRaster::pixelAt(int x, int y) const {
    if (x < left_ || x >= left_ + width_ || y < top_ || y >= top_ + height_) return 0;
    return row(y)[x - left_];
}

}  // namespace vramscope::app
