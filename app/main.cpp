// vramscope-gui [FILE [FILE2]] [--view FROM:TO] [--screenshot PNG] [--benchmark]
//               [--follow FILE | --connect ADDRESS [--token HEX] | --attach PID] [--live-latency-benchmark]
#include "live_benchmark.h"
#include "main_window.h"
#include "timeline_canvas.h"

#include "cli/path_bytes.h"
#include "format/output_file.h"

#include <QApplication>
#include <QBuffer>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QImageWriter>
#include <QSurfaceFormat>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

using namespace vramscope::app;

namespace {

// Zooms and pans by script over the loaded trace and prints frame-time
// percentiles: what a user feels when exploring a large trace.
void runBenchmark(MainWindow& window, qint64 loadMs, qint64 firstFrameMs) {
    TimelineCanvas* canvas = window.canvas();
    const double a = canvas->viewStartNs(), b = canvas->viewEndNs(), span = b - a;
    std::vector<double> frameMs;
    QElapsedTimer t;
    auto frame = [&](double start, double end) {
        canvas->setView(start, end);
        t.start();
        canvas->renderFrameNow();
        frameMs.push_back(double(t.nsecsElapsed()) / 1e6);
    };
    for (int i = 0; i < 10; ++i) frame(a, b);  // warm-up (font atlas, shaders)
    frameMs.clear();
    // Zoom from the whole trace to 1/10000 of it around the middle, pan, zoom out.
    const double mid = a + span / 2;
    for (int i = 0; i <= 120; ++i) {
        double w = span * std::pow(1e-4, i / 120.0);
        frame(mid - w / 2, mid + w / 2);
    }
    double w = span * 1e-2;
    for (int i = 0; i <= 120; ++i) {
        double start = a + (span - w) * i / 120.0;
        frame(start, start + w);
    }
    for (int i = 0; i <= 60; ++i) {
        double ww = span * std::pow(1e-2, 1 - i / 60.0);
        frame(mid - ww / 2, mid + ww / 2);
    }
    if (qEnvironmentVariableIsSet("VRAMSCOPE_BENCHMARK_FRAMES"))
        for (size_t i = 0; i < frameMs.size(); ++i) std::printf("frame %zu %.2f ms\n", i, frameMs[i]);
    std::vector<double> sorted = frameMs;
    std::sort(sorted.begin(), sorted.end());
    auto pct = [&](double p) { return sorted[std::min(sorted.size() - 1, size_t(p * double(sorted.size())))]; };
    const auto& m = window.document(0)->model;
    std::printf("events %llu events\n", static_cast<unsigned long long>(m.events));
    // The first frame: the whole run from the trace's index, before the details.
    std::printf("first_frame_ms %lld ms\n", static_cast<long long>(firstFrameMs >= 0 ? firstFrameMs : loadMs));
    std::printf("load_ms %lld ms\n", static_cast<long long>(loadMs));
    std::printf("frames %zu frames\n", sorted.size());
    std::printf("frame_p50_ms %.2f ms\n", pct(0.50));
    std::printf("frame_p99_ms %.2f ms\n", pct(0.99));
    std::printf("frame_max_ms %.2f ms\n", sorted.back());
}

// --help and --version print and exit before any window exists: without a
// display Qt's default platform would abort first ("could not connect to
// display"), so they run on the offscreen platform.
bool onlyHelpOrVersion(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (!std::strcmp(a, "--")) break;
        if (!std::strcmp(a, "-h") || !std::strcmp(a, "--help") || !std::strcmp(a, "--help-all") ||
            !std::strcmp(a, "-v") || !std::strcmp(a, "--version"))
            return true;
    }
    return false;
}

// --size: each side within what a GL framebuffer and memory allow. Measured:
// 20000x20000 took 7.4 GB (about 18 bytes per pixel in window, backing store
// and grab); 8192 per side stays near 1 GB.
constexpr int kMinWindowSide = 200, kMaxWindowSide = 8192;

bool parseWindowSize(const QString& text, int* width, int* height) {
    const QStringList wh = text.split('x');
    bool a = false, b = false;
    if (wh.size() == 2) *width = wh[0].toInt(&a), *height = wh[1].toInt(&b);
    return a && b && *width >= kMinWindowSide && *width <= kMaxWindowSide && *height >= kMinWindowSide &&
           *height <= kMaxWindowSide;
}

// Encodes image in the format the name's suffix asks for (PNG when Qt does
// not write that suffix) and puts it in place through target: an existing
// file is replaced only once the new one is complete.
bool saveScreenshot(const QImage& image, const QString& name, vramscope::format::OutputFile& target, std::string* error) {
    QByteArray suffix = QFileInfo(name).suffix().toLower().toLatin1();
    if (!QImageWriter::supportedImageFormats().contains(suffix)) suffix = "png";
    QByteArray encoded;
    QBuffer buffer(&encoded);
    buffer.open(QIODevice::WriteOnly);
    if (image.isNull() || !image.save(&buffer, suffix.constData())) {
        *error = target.path() + ": cannot be written: the window could not be captured";
        return false;
    }
    std::ofstream out(target.writePath(), std::ios::binary | std::ios::trunc);
    out.write(encoded.constData(), std::streamsize(encoded.size()));
    out.close();
    if (!out) {
        *error = target.path() + ": cannot be written (disk full?)";
        return false;
    }
    return target.commit(error);
}

}  // namespace

int main(int argc, char** argv) {
    const bool noDisplay = !qEnvironmentVariableIsSet("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
                           qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
    if (noDisplay) {
        if (onlyHelpOrVersion(argc, argv)) {
            qputenv("QT_QPA_PLATFORM", "offscreen");
        } else {
            std::fprintf(stderr, "vramscope-gui: no display (neither DISPLAY nor WAYLAND_DISPLAY is set): run it on a "
                                 "desktop, or under xvfb-run for --screenshot/--benchmark; `vramscope summary FILE` "
                                 "gives the same facts as text\n");
            return 1;
        }
    }
    QSurfaceFormat format;
    format.setDepthBufferSize(0);
    format.setSwapInterval(0);  // never wait for vsync: frames are rendered on demand
    QSurfaceFormat::setDefaultFormat(format);
    QApplication app(argc, argv);
    QApplication::setApplicationName("vramscope");
    QApplication::setOrganizationName("vramscope");
    QApplication::setApplicationVersion(VRAMSCOPE_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription(
        "vramscope-gui: see where every byte of GPU memory went in a training run.\n"
        "Opens FILE (a .vtrace or a PyTorch memory snapshot); with FILE2, compares the two runs "
        "on one time axis aligned by iteration.");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("FILE", "Trace to open.", "[FILE]");
    parser.addPositionalArgument("FILE2", "Second trace to compare with FILE.", "[FILE2]");
    QCommandLineOption screenshot("screenshot", "Render the window after loading, save it as PNG and exit.", "PNG");
    QCommandLineOption size("size", "Window size for --screenshot/--benchmark (default 1600x900).", "WxH", "1600x900");
    QCommandLineOption benchmark("benchmark", "Load FILE, zoom and pan by script, print load_ms and frame-time "
                                              "percentiles as `name value unit` lines, and exit.");
    QCommandLineOption view("view", "Show this window of the trace first, in seconds from its start (e.g. 8.4:8.7).",
                            "FROM:TO");
    QCommandLineOption follow("follow", "Open a recording that is still being written (by `vramscope record` or "
                                        "`vramscope attach`) and follow its head as it grows, until it ends.", "FILE");
    QCommandLineOption connectTo("connect", "Show a running job from its live socket as it runs: unix:/path/to.sock "
                                            "(or a plain path) or tcp:127.0.0.1:PORT with --token.", "ADDRESS");
    QCommandLineOption token("token", "The token of a TCP live socket, as `vramscope attach` printed it.", "HEX");
    QCommandLineOption attachTo("attach", "Attach to a running training job of yours (started without vramscope) and "
                                          "show it live, as `vramscope attach PID` records it; File > Detach (or "
                                          "closing the window) stops the capture, the job runs on.",
                                "PID");
    QCommandLineOption liveBenchmark("live-latency-benchmark",
                                     "Play a 10 s training job into a file (events stamped with the wall clock, "
                                     "flushed every 50 ms), follow it, and print event-to-screen latency "
                                     "percentiles as `name value unit` lines.");
    parser.addOption(view);
    parser.addOption(screenshot);
    parser.addOption(size);
    parser.addOption(benchmark);
    parser.addOption(follow);
    parser.addOption(connectTo);
    parser.addOption(token);
    parser.addOption(attachTo);
    parser.addOption(liveBenchmark);
    // Not app.arguments(): it loses file names that are not UTF-8.
    parser.process(vramscope::cli::argumentsFromArgv(argc, argv));
    const QStringList files = parser.positionalArguments();
    const int liveSources = int(parser.isSet(follow)) + int(parser.isSet(connectTo)) + int(parser.isSet(attachTo));
    const bool liveSource = liveSources > 0;
    if ((liveSource && !files.isEmpty()) || liveSources > 1) {
        std::fprintf(stderr, "vramscope-gui: --follow FILE, --connect ADDRESS and --attach PID each open one live "
                             "trace, without FILE arguments; see --help\n");
        return 2;
    }
    int attachPid = 0;
    if (parser.isSet(attachTo)) {
        bool ok = false;
        attachPid = parser.value(attachTo).toInt(&ok);
        if (!ok || attachPid <= 0) {
            std::fprintf(stderr, "vramscope-gui: --attach wants a process id (got '%s')\n", qPrintable(parser.value(attachTo)));
            return 2;
        }
    }
    if (parser.isSet(token) && !parser.isSet(connectTo)) {
        std::fprintf(stderr, "vramscope-gui: --token goes with --connect tcp:HOST:PORT; see --help\n");
        return 2;
    }
    const bool batch = parser.isSet(screenshot) || parser.isSet(benchmark) || parser.isSet(liveBenchmark);
    if (files.size() > 2) {
        std::fprintf(stderr, "vramscope-gui: at most two files (FILE and FILE2 to compare); see --help\n");
        return 2;
    }
    double viewFrom = -1, viewTo = -1;
    if (parser.isSet(view)) {
        const QStringList parts = parser.value(view).split(':');
        bool a = false, b = false;
        if (parts.size() == 2) viewFrom = parts[0].toDouble(&a), viewTo = parts[1].toDouble(&b);
        if (!a || !b || viewFrom < 0 || viewTo <= viewFrom) {
            std::fprintf(stderr, "vramscope-gui: --view wants FROM:TO in seconds from the trace's start, FROM < TO "
                                 "(got '%s')\n", qPrintable(parser.value(view)));
            return 2;
        }
    }
    int windowWidth = 1600, windowHeight = 900;
    if (!parseWindowSize(parser.value(size), &windowWidth, &windowHeight)) {
        std::fprintf(stderr, "vramscope-gui: --size wants WxH in pixels, each side from %d to %d (got '%s')\n",
                     kMinWindowSide, kMaxWindowSide, vramscope::cli::pathBytes(parser.value(size)).c_str());
        return 2;
    }
    // The screenshot's file is checked before anything loads: it may not be
    // one of the inputs, and its folder must take a new file.
    vramscope::format::OutputFile screenshotFile;
    if (parser.isSet(screenshot)) {
        std::vector<std::string> inputs;
        for (const QString& f : files) inputs.push_back(vramscope::cli::pathBytes(f));
        std::string error;
        if (!screenshotFile.begin(vramscope::cli::pathBytes(parser.value(screenshot)), inputs, &error)) {
            std::fprintf(stderr, "vramscope-gui: %s\n", error.c_str());
            return screenshotFile.refusedPath() ? 2 : 1;
        }
    }
    if (batch && (liveSource || (parser.isSet(liveBenchmark) && !files.isEmpty()))) {
        std::fprintf(stderr, "vramscope-gui: --screenshot, --benchmark and --live-latency-benchmark do not go with "
                             "--follow/--connect; see --help\n");
        return 2;
    }
    if (batch && files.isEmpty() && !parser.isSet(liveBenchmark)) {
        std::fprintf(stderr, "vramscope-gui: --screenshot and --benchmark need a FILE; see --help\n");
        return 2;
    }

    // Qt's offscreen platform has no OpenGL for widgets (Qt 6.4 crashes
    // flushing a QOpenGLWidget there): say so instead.
    if (QGuiApplication::platformName() == "offscreen" || QGuiApplication::platformName() == "minimal") {
        std::fprintf(stderr, "vramscope-gui: the '%s' platform has no OpenGL; run it on a display, or under "
                             "xvfb-run for screenshots (the text report is `vramscope summary FILE`)\n",
                     qPrintable(QGuiApplication::platformName()));
        return 1;
    }

    MainWindow window;
    window.setInteractive(!batch);
    if (batch) window.resize(windowWidth, windowHeight);
    window.show();

    QElapsedTimer loadClock;
    qint64 firstFrameMs = -1;
    QObject::connect(&window, &MainWindow::previewShown, &app, [&] {
        if (firstFrameMs >= 0) return;
        window.canvas()->renderFrameNow();
        firstFrameMs = loadClock.elapsed();
    });
    int pending = int(files.size());
    int exitCode = 0;
    QObject::connect(&window, &MainWindow::loadFinished, &app, [&](bool ok) {
        if (!ok) {
            exitCode = 1;
            if (batch) {
                QApplication::exit(1);
                return;
            }
        }
        --pending;
        if (ok && pending == 1 && files.size() == 2) {
            window.openTrace(files[1], 1);
            return;
        }
        if (pending > 0) return;
        if (ok && viewTo > 0 && window.document(0)) {
            const double first = double(window.document(0)->firstNs());
            window.canvas()->setView(first + viewFrom * 1e9, first + viewTo * 1e9);
        }
        if (!batch) return;
        const qint64 loadMs = loadClock.elapsed();
        // Let the window lay out and paint once before grabbing it.
        QTimer::singleShot(200, &app, [&, loadMs] {
            window.canvas()->renderFrameNow();
            if (parser.isSet(benchmark)) runBenchmark(window, loadMs, firstFrameMs);
            if (parser.isSet(screenshot)) {
                window.canvas()->update();
                QApplication::processEvents();
                const QImage image = window.grab().toImage();
                const std::string name = vramscope::cli::pathBytes(parser.value(screenshot));
                std::string error;
                if (!saveScreenshot(image, parser.value(screenshot), screenshotFile, &error)) {
                    std::fprintf(stderr, "vramscope-gui: %s\n", error.c_str());
                    QApplication::exit(1);
                    return;
                }
                std::printf("wrote %s (%dx%d)\n", name.c_str(), image.width(), image.height());
            }
            QApplication::exit(exitCode);
        });
    });
    if (!files.isEmpty()) {
        loadClock.start();
        window.openTrace(files[0], 0);
    }
    if (parser.isSet(follow)) window.followTrace(parser.value(follow));
    if (parser.isSet(connectTo)) window.connectTrace(parser.value(connectTo), parser.value(token));
    if (attachPid > 0) {
        AttachController::Options options;
        options.pid = attachPid;
        window.attachToProcess(options);
    }
    if (parser.isSet(liveBenchmark))
        QTimer::singleShot(200, &app, [&window] { startLiveLatencyBenchmark(window, LiveBenchmarkOptions{}); });
    return app.exec();
}
