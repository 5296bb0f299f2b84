#include "imgui_widget.h"

#include <imgui.h>
#include <imgui_impl_opengl3.h>

#include <QFile>
#include <QOpenGLContext>
#include <QOpenGLExtraFunctions>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QWheelEvent>

namespace vramscope::app {

namespace {
int imguiButton(Qt::MouseButton b) {
    switch (b) {
    case Qt::LeftButton: return 0;
    case Qt::RightButton: return 1;
    case Qt::MiddleButton: return 2;
    default: return -1;
    }
}

// Keys ImGui itself needs (navigation in its own widgets), mapped to Qt keys
// masked into the 512-entry KeysDown array.
int keyIndex(int qtKey) { return qtKey & 0x1FF; }
}  // namespace

ImGuiWidget::ImGuiWidget(QWidget* parent) : QOpenGLWidget(parent) {
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(320, 200);
}

ImGuiWidget::~ImGuiWidget() {
    if (!context_) return;
    makeCurrent();
    if (image_.texture) {
        context()->extraFunctions()->glDeleteFramebuffers(1, &image_.framebuffer);
        context()->extraFunctions()->glDeleteTextures(1, &image_.texture);
    }
    ImGui::SetCurrentContext(context_);
    ImGui_ImplOpenGL3_Shutdown();
    ImGui::DestroyContext(context_);
    doneCurrent();
}

void ImGuiWidget::makeImGuiCurrent() { ImGui::SetCurrentContext(context_); }

void ImGuiWidget::initializeGL() {
    if (!context() || !context()->isValid()) {
        qWarning("vramscope-gui: no OpenGL context; the timeline cannot be drawn (is an OpenGL 3 driver installed?)");
        return;
    }
    context_ = ImGui::CreateContext();
    makeImGuiCurrent();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;  // layout lives in QSettings, not imgui.ini
    io.LogFilename = nullptr;
    io.KeyMap[ImGuiKey_Tab] = keyIndex(Qt::Key_Tab);
    io.KeyMap[ImGuiKey_LeftArrow] = keyIndex(Qt::Key_Left);
    io.KeyMap[ImGuiKey_RightArrow] = keyIndex(Qt::Key_Right);
    io.KeyMap[ImGuiKey_UpArrow] = keyIndex(Qt::Key_Up);
    io.KeyMap[ImGuiKey_DownArrow] = keyIndex(Qt::Key_Down);
    io.KeyMap[ImGuiKey_Home] = keyIndex(Qt::Key_Home);
    io.KeyMap[ImGuiKey_End] = keyIndex(Qt::Key_End);
    io.KeyMap[ImGuiKey_Escape] = keyIndex(Qt::Key_Escape);
    io.KeyMap[ImGuiKey_Enter] = keyIndex(Qt::Key_Return);
    io.KeyMap[ImGuiKey_Backspace] = keyIndex(Qt::Key_Backspace);
    // A readable font when Debian's DejaVu is there, ImGui's own otherwise.
    const char* sans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    const char* mono = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
    const float scale = float(devicePixelRatioF());
    if (QFile::exists(sans)) io.Fonts->AddFontFromFileTTF(sans, 14.0f * scale);
    else io.Fonts->AddFontDefault();
    if (QFile::exists(mono)) monoFont_ = io.Fonts->AddFontFromFileTTF(mono, 13.0f * scale);
    io.FontGlobalScale = 1.0f / scale;
    ImGui::StyleColorsDark();
    ImGuiStyle& style = ImGui::GetStyle();
    style.WindowRounding = 0;
    style.WindowBorderSize = 0;
    ImGui_ImplOpenGL3_Init("#version 130");
    clock_.start();
}

void ImGuiWidget::resizeGL(int, int) {}

void ImGuiWidget::paintGL() {
    if (!context_) return;
    makeImGuiCurrent();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(float(width()), float(height()));
    const float dpr = float(devicePixelRatioF());
    io.DisplayFramebufferScale = ImVec2(dpr, dpr);
    const qint64 ns = clock_.nsecsElapsed();
    clock_.restart();
    io.DeltaTime = ns > 0 ? float(ns) / 1e9f : 1.0f / 60.0f;
    if (io.DeltaTime <= 0) io.DeltaTime = 1.0f / 60.0f;

    ImGui_ImplOpenGL3_NewFrame();
    ImGui::NewFrame();
    anotherFrame_ = false;
    image_.shown = false;
    drawFrame();
    ImGui::Render();
    auto* f = context()->functions();
    f->glViewport(0, 0, int(width() * dpr), int(height() * dpr));
    f->glClearColor(0.09f, 0.09f, 0.11f, 1.0f);
    f->glClear(GL_COLOR_BUFFER_BIT);
    if (image_.shown) blitBackgroundImage();
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    // ImGui needs one more frame to settle hover state after input, and more
    // while something animates.
    if (anotherFrame_) update();
}

void ImGuiWidget::setBackgroundImage(const uint32_t* pixels, int left, int top, int width, int height) {
    if (!context_ || width <= 0 || height <= 0) return;
    auto* f = context()->extraFunctions();
    if (!image_.texture) {
        f->glGenTextures(1, &image_.texture);
        f->glGenFramebuffers(1, &image_.framebuffer);
    }
    f->glBindTexture(GL_TEXTURE_2D, image_.texture);
    f->glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    f->glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
    if (image_.textureWidth != width || image_.textureHeight != height) {
        f->glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
        f->glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
        f->glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
        image_.textureWidth = width;
        image_.textureHeight = height;
        GLint current = 0;
        f->glGetIntegerv(GL_FRAMEBUFFER_BINDING, &current);
        f->glBindFramebuffer(GL_FRAMEBUFFER, image_.framebuffer);
        f->glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, image_.texture, 0);
        f->glBindFramebuffer(GL_FRAMEBUFFER, GLuint(current));
    } else {
        f->glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
    }
    image_.left = left;
    image_.top = top;
    image_.shown = true;
}

void ImGuiWidget::blitBackgroundImage() {
    auto* f = context()->extraFunctions();
    const qreal dpr = devicePixelRatioF();
    const int framebufferHeight = int(height() * dpr);
    const int x0 = int(image_.left * dpr), x1 = int((image_.left + image_.textureWidth) * dpr);
    const int y0 = framebufferHeight - int((image_.top + image_.textureHeight) * dpr);
    const int y1 = framebufferHeight - int(image_.top * dpr);
    GLint target = 0;
    f->glGetIntegerv(GL_DRAW_FRAMEBUFFER_BINDING, &target);
    f->glBindFramebuffer(GL_READ_FRAMEBUFFER, image_.framebuffer);
    // A scissored blit is not a plain copy (llvmpipe then draws a quad).
    f->glDisable(GL_SCISSOR_TEST);
    f->glBlitFramebuffer(0, 0, image_.textureWidth, image_.textureHeight, x0, y0, x1, y1, GL_COLOR_BUFFER_BIT, GL_NEAREST);
    f->glBindFramebuffer(GL_READ_FRAMEBUFFER, GLuint(target));
}

void ImGuiWidget::renderFrameNow() {
    // Without an OpenGL context (no GL 3 driver) there is nothing to render.
    if (!context_ || !context() || !context()->isValid()) return;
    makeCurrent();
    paintGL();
    context()->functions()->glFinish();
    doneCurrent();
}

void ImGuiWidget::setModifiers(Qt::KeyboardModifiers m) {
    if (!context_) return;
    makeImGuiCurrent();
    ImGuiIO& io = ImGui::GetIO();
    io.KeyCtrl = m & Qt::ControlModifier;
    io.KeyShift = m & Qt::ShiftModifier;
    io.KeyAlt = m & Qt::AltModifier;
}

void ImGuiWidget::mouseMoveEvent(QMouseEvent* e) {
    if (!context_) return;
    makeImGuiCurrent();
    ImGui::GetIO().MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
    setModifiers(e->modifiers());
    update();
}

void ImGuiWidget::mousePressEvent(QMouseEvent* e) {
    if (!context_) return;
    makeImGuiCurrent();
    int b = imguiButton(e->button());
    ImGui::GetIO().MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
    if (b >= 0) ImGui::GetIO().MouseDown[b] = true;
    setModifiers(e->modifiers());
    update();
}

void ImGuiWidget::mouseReleaseEvent(QMouseEvent* e) {
    if (!context_) return;
    makeImGuiCurrent();
    int b = imguiButton(e->button());
    if (b >= 0) ImGui::GetIO().MouseDown[b] = false;
    setModifiers(e->modifiers());
    update();
}

void ImGuiWidget::mouseDoubleClickEvent(QMouseEvent* e) { mousePressEvent(e); }

void ImGuiWidget::wheelEvent(QWheelEvent* e) {
    if (!context_) return;
    makeImGuiCurrent();
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
    io.MouseWheel += float(e->angleDelta().y()) / 120.0f;
    io.MouseWheelH += float(e->angleDelta().x()) / 120.0f;
    setModifiers(e->modifiers());
    update();
    e->accept();
}

void ImGuiWidget::keyPressEvent(QKeyEvent* e) {
    if (!context_) return;
    makeImGuiCurrent();
    ImGuiIO& io = ImGui::GetIO();
    io.KeysDown[keyIndex(e->key())] = true;
    setModifiers(e->modifiers());
    for (QChar c : e->text())
        if (c.isPrint()) io.AddInputCharacter(c.unicode());
    update();
}

void ImGuiWidget::keyReleaseEvent(QKeyEvent* e) {
    if (!context_ || e->isAutoRepeat()) return;
    makeImGuiCurrent();
    ImGui::GetIO().KeysDown[keyIndex(e->key())] = false;
    setModifiers(e->modifiers());
    update();
}

void ImGuiWidget::leaveEvent(QEvent*) {
    if (!context_) return;
    makeImGuiCurrent();
    ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
    update();
}

}  // namespace vramscope::app
