// The timeline's dense lanes (memory stack, phases, NVTX, kernels, counters)
// drawn on the CPU into one RGBA image, which the canvas shows behind everything
// else it draws.
//
// Why: zoomed out, every lane is thousands of 1-pixel-wide rectangles. Under
// a software rasteriser (Mesa llvmpipe, what Xvfb and many VMs have) each of
// them costs a triangle set-up and whole 4x4 pixel blocks of shading with a
// bilinear texture fetch per pixel, so the frame went to rasterising. Here a
// rectangle is a few stores per row, and the GPU side is one
// glBlitFramebuffer (ImGuiWidget::setBackgroundImage), a memcpy per row in
// llvmpipe. A textured quad of the same image still cost 2.5-4 ms a frame
// there; see docs/benchmarks.md for the whole change.
//
// Rows are stored bottom-up, as OpenGL stores a texture it blits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vramscope::app {

class LaneRaster {
public:
    // Covers screen pixels [left, left + width) x [top, top + height), all
    // set to `background` (ImGui's IM_COL32 layout: R in the low byte).
    void reset(int left, int top, int width, int height, uint32_t background);

    // Fills the pixels whose centres lie in [x0, x1) x [y0, y1), in screen
    // coordinates: the pixels OpenGL fills for the same rectangle, so the
    // picture matches the ImGui rectangles this replaces. A colour with alpha
    // below 255 blends over what is there (source-over, as ImGui's renderer).
    void fillRect(float x0, float y0, float x1, float y1, uint32_t color);

    int left() const { return left_; }
    int top() const { return top_; }
    int width() const { return width_; }
    int height() const { return height_; }
    // RGBA8, height() rows of width() pixels, the bottom row first.
    const uint32_t* pixels() const { return pixels_.data(); }
    uint32_t pixelAt(int x, int y) const;  // screen coordinates; 0 outside

private:
    // Screen row y; rows are stored bottom-up.
    uint32_t* row(int y) { return pixels_.data() + std::size_t(top_ + height_ - 1 - y) * std::size_t(width_); }
    const uint32_t* row(int y) const { return pixels_.data() + std::size_t(top_ + height_ - 1 - y) * std::size_t(width_); }

    int left_ = 0, top_ = 0, width_ = 0, height_ = 0;
    std::vector<uint32_t> pixels_;
};

}  // namespace vramscope::app
