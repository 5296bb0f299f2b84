// A QOpenGLWidget that hosts one Dear ImGui context (1.86, OpenGL3 backend)
// and forwards Qt's input to it. Subclasses draw in drawFrame().
//
// Dear ImGui 1.86 has no Qt backend: mouse, wheel, modifiers and text are
// copied into ImGuiIO by hand here. Frames are rendered on demand (any input
// schedules one), so an idle window costs nothing.
#pragma once

#include <QElapsedTimer>
#include <QOpenGLWidget>

#include <cstdint>

struct ImGuiContext;
struct ImFont;

namespace vramscope::app {

class ImGuiWidget : public QOpenGLWidget {
    Q_OBJECT
public:
    explicit ImGuiWidget(QWidget* parent = nullptr);
    ~ImGuiWidget() override;

    // Renders one frame now (makes the context current); for benchmarks.
    void renderFrameNow();
    // True once initializeGL has run and the backend is ready.
    bool isReady() const { return context_ != nullptr; }

protected:
    // Called between ImGui::NewFrame() and ImGui::Render() with the context current.
    virtual void drawFrame() = 0;
    // Wants another frame right after this one (an animation is running).
    void requestAnotherFrame() { anotherFrame_ = true; }
    // Shows an RGBA8 image on screen pixels [left, left + width) x [top,
    // top + height), behind everything ImGui draws this frame. Its rows run
    // bottom-up, as OpenGL stores them: it is copied into the framebuffer
    // with one glBlitFramebuffer, which a software rasteriser (Mesa
    // llvmpipe) does as a memcpy per row, where a textured quad costs it a
    // shader run per pixel. Call from drawFrame(); the pixels are uploaded
    // at once.
    void setBackgroundImage(const uint32_t* pixels, int left, int top, int width, int height);

    void initializeGL() override;
    void paintGL() override;
    void resizeGL(int w, int h) override;

    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void keyReleaseEvent(QKeyEvent* event) override;
    void leaveEvent(QEvent* event) override;

    ImFont* monoFont() const { return monoFont_; }

private:
    void makeImGuiCurrent();
    void setModifiers(Qt::KeyboardModifiers modifiers);
    void blitBackgroundImage();  // into the framebuffer, after glClear

    ImGuiContext* context_ = nullptr;
    ImFont* monoFont_ = nullptr;
    QElapsedTimer clock_;
    bool anotherFrame_ = false;
    struct BackgroundImage {
        unsigned texture = 0, framebuffer = 0;  // GL names, made on first use
        int textureWidth = 0, textureHeight = 0;
        int left = 0, top = 0;
        bool shown = false;  // set this frame
    } image_;
};

}  // namespace vramscope::app
