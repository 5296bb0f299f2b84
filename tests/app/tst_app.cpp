// The desktop app as a user meets it: open a trace, see lanes and docks with
// the right numbers, compare two runs, survive bad files.
#include "lane_raster.h"
#include "main_window.h"
#include "sweep_search.h"
#include "timeline_canvas.h"

#include "format/writer.h"
#include "synth/synth.h"

#include <imgui.h>

#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace vramscope::app;

class TestApp : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString fixture_ = QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/synth-gpt-40iter.vtrace");

    QString path(const QString& name) const { return dir_.path() + "/" + name; }

    // Shows a non-interactive window of the given size, ready to render.
    static bool showWindow(MainWindow& w, int width, int height) {
        w.setInteractive(false);
        w.resize(width, height);
        w.show();
        return QTest::qWaitForWindowExposed(&w);
    }

    // Rows of the canvas image in [y0, y1) that a memory-lane gridline
    // (rgb 50,50,58) crosses for at least a fifth of the lanes' width, top down.
    static std::vector<int> gridRows(const QImage& image, int y0, int y1) {
        std::vector<int> rows;
        const int x0 = 100, x1 = image.width() - 10;
        for (int y = y0; y < y1; ++y) {
            int n = 0;
            for (int x = x0; x < x1; ++x) n += image.pixel(x, y) == qRgb(50, 50, 58);
            if (n * 5 >= x1 - x0) rows.push_back(y);
        }
        return rows;
    }

    static bool load(MainWindow& w, const QString& file, int slot = 0) {
        QSignalSpy spy(&w, &MainWindow::loadFinished);
        w.openTrace(file, slot);
        if (!spy.wait(60000)) return false;
        return spy.takeFirst().at(0).toBool();
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        QCoreApplication::setOrganizationName("vramscope-tests");  // keep the user's settings out
        qputenv("VRAMSCOPE_INDEX_CACHE", dir_.path().toUtf8());  // no index cache beside the fixtures
        vramscope::synth::SynthOptions o;
        o.iterations = 12;
        o.leakBytesPerIteration = 64 << 20;
        std::string error;
        QVERIFY(vramscope::synth::writeSynthTrace(path("leak.vtrace").toStdString(), o, nullptr, &error));
    }

    // A real trace recorded with --python-stacks: the live set names the
    // user's line, and its tooltip holds the whole stack, innermost first.
    void liveSetShowsPythonCallsitesAndTheirStack() {
        MainWindow w;
        w.setInteractive(false);
        QVERIFY(load(w, QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/torch_gpt_leak_stacks.vtrace")));
        auto doc = w.document(0);
        QVERIFY(doc);
        LiveSetModel* live = w.liveSetModel();
        live->setTime(doc, doc->model.allocated.peak().timeNs);
        int withStack = 0;
        for (int row = 0; row < live->rowCount(); ++row) {
            const QString text = live->data(live->index(row, LiveSetModel::Callsite), Qt::DisplayRole).toString();
            const QString tip = live->data(live->index(row, LiveSetModel::Callsite), Qt::ToolTipRole).toString();
            if (tip.isEmpty()) continue;
            const QStringList frames = tip.split('\n');
            QVERIFY2(text.contains("gpt_train.py:"), qPrintable(text));
            QVERIFY2(frames.size() >= 2 && frames.size() <= 16, qPrintable(tip));
            QVERIFY2(frames.last().contains("<module>") || frames.size() == 16, qPrintable(tip));
            ++withStack;
        }
        QVERIFY(withStack > 10);
    }

    // Opening a trace shows the whole run from its index before the details
    // are decoded: the memory lane with the run's peak, one span per step.
    // Then the full document replaces it, with the same peak.
    void previewShowsTheWholeRunBeforeTheDetails() {
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QSignalSpy previews(&w, &MainWindow::previewShown);
        QSignalSpy loads(&w, &MainWindow::loadFinished);
        std::shared_ptr<const TraceDocument> preview;
        uint64_t previewPeak = 0;
        int previewPhases = 0, previewKernels = -1;
        connect(&w, &MainWindow::previewShown, this, [&] {
            preview = w.document(0);
            w.canvas()->renderFrameNow();
            previewPeak = w.canvas()->lastLaneStats().peakAllocatedInView;
            previewPhases = w.canvas()->lastLaneStats().phaseItems;
            previewKernels = w.canvas()->lastLaneStats().kernelItems;
        });
        w.openTrace(path("leak.vtrace"));
        QVERIFY(loads.wait(60000));
        QCOMPARE(previews.size(), 1);
        QVERIFY(preview && preview->preview);
        QCOMPARE(preview->iterationStartsNs.size(), size_t(12));
        QCOMPARE(previewPhases, 12);
        QCOMPARE(previewKernels, 0);
        auto doc = w.document(0);
        QVERIFY(doc && !doc->preview);
        QCOMPARE(preview->model.events, doc->model.events);
        QCOMPARE(previewPeak, doc->model.allocated.peak().bytes);
        w.canvas()->renderFrameNow();
        QCOMPARE(w.canvas()->lastLaneStats().peakAllocatedInView, previewPeak);
        // The index went to the cache: the next open reads it.
        QVERIFY(!QDir(dir_.path()).entryList({"*.vidx"}).isEmpty());
    }

    // A trace whose details would not fit in the memory left opens as its
    // preview (the whole run from the index) and says why, instead of being
    // loaded until the system kills the app; as a second trace it is refused.
    void traceTooLongForMemoryStaysThePreview() {
        MainWindow w;
        QVERIFY(showWindow(w, 1200, 800));
        QVERIFY(load(w, fixture_));
        qputenv("VRAMSCOPE_TEST_MEMORY_AVAILABLE", "1000");
        QSignalSpy loads(&w, &MainWindow::loadFinished);
        w.openTrace(fixture_, 1);
        QVERIFY(loads.wait(60000));
        QCOMPARE(loads.takeFirst().at(0).toBool(), false);
        QVERIFY(!w.document(1));
        w.openTrace(path("leak.vtrace"));
        QVERIFY(loads.wait(60000));
        qunsetenv("VRAMSCOPE_TEST_MEMORY_AVAILABLE");
        QCOMPARE(loads.takeFirst().at(0).toBool(), true);
        auto doc = w.document(0);
        QVERIFY(doc && doc->preview);
        QVERIFY2(doc->warning.contains("need about") && doc->warning.contains("from its index"), qPrintable(doc->warning));
        QCOMPARE(doc->iterationStartsNs.size(), size_t(12));
        w.canvas()->renderFrameNow();
        QVERIFY(w.canvas()->lastLaneStats().memoryColumns > 500);
        QVERIFY(w.canvas()->lastLaneStats().peakAllocatedInView > 0);
        // With the memory there, the same file loads in full.
        QVERIFY(load(w, path("leak.vtrace")));
        QVERIFY(!w.document(0)->preview);
    }

    void opensAFixtureAndShowsItsNumbers() {
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, fixture_));
        auto doc = w.document(0);
        QVERIFY(doc);
        QCOMPARE(doc->iterationStartsNs.size(), size_t(40));
        QCOMPARE(w.summaryModel()->valueOf("Iterations"), QString("40"));
        QCOMPARE(w.summaryModel()->valueOf("Events"), QString::number(doc->model.events));
        QVERIFY(w.summaryModel()->valueOf("Device 0").contains("H100"));
        // The lanes draw what the model holds.
        w.canvas()->renderFrameNow();
        const auto& stats = w.canvas()->lastLaneStats();
        QVERIFY(stats.memoryColumns > 500);
        QVERIFY(stats.kernelItems > 100);
        QVERIFY(stats.phaseItems >= 40 * 3);
        QVERIFY(stats.counterPoints > 500);
        QCOMPARE(stats.peakAllocatedInView, doc->model.allocated.peak().bytes);
        // The live set at the peak adds up to the allocated curve there.
        auto peak = doc->model.allocated.peak();
        QCOMPARE(w.liveSetModel()->totalBytes(), doc->model.allocated.valueAt(peak.timeNs));
        QVERIFY(w.liveSetModel()->rowCount() > 10);
        // Kernels dock: grouped by name, the GEMMs on top.
        QVERIFY(w.kernelModel()->rowCount() >= 10);
        QVERIFY(w.kernelModel()->rows().front().name.contains("gemm"));
    }

    void zoomAndPanKeepTheViewConsistent() {
        MainWindow w;
        QVERIFY(showWindow(w, 1200, 800));
        QVERIFY(load(w, fixture_));
        TimelineCanvas* c = w.canvas();
        const double a = c->viewStartNs(), b = c->viewEndNs();
        c->zoom(0.01, (a + b) / 2);
        QVERIFY(std::abs((c->viewEndNs() - c->viewStartNs()) - (b - a) * 0.01) < 1e3);
        c->renderFrameNow();
        const auto zoomed = c->lastLaneStats();
        QVERIFY(zoomed.kernelItems > 0);
        QVERIFY(zoomed.peakAllocatedInView <= w.document(0)->model.allocated.peak().bytes);
        c->pan(0.5);
        QTest::keyClick(c, Qt::Key_Home);
        QCOMPARE(c->viewStartNs(), a);
        QCOMPARE(c->viewEndNs(), b);
        QTest::keyClick(c, Qt::Key_W);
        QVERIFY(c->viewEndNs() - c->viewStartNs() < b - a);
    }

    void lanesReachTheScreenInPlace() {
        // The lanes are drawn on the CPU and copied into the framebuffer
        // bottom-up; a flipped or shifted copy would put the phases band
        // somewhere else.
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, fixture_));
        QImage image = w.canvas()->grabFramebuffer().convertToFormat(QImage::Format_RGB32);
        QVERIFY(image.height() > 100);
        const QSet<QRgb> phases = {qRgb(66, 133, 244), qRgb(244, 160, 0), qRgb(52, 168, 83)};
        const int phaseRow = 33;  // axis (22 px), a 2 px gap, then the 18 px phases band
        int inLanes = 0, inGutter = 0;
        for (int x = 0; x < image.width(); ++x) {
            const bool phase = phases.contains(image.pixel(x, phaseRow));
            if (x < 90) inGutter += phase;
            else inLanes += phase;
        }
        QVERIFY2(inLanes > (image.width() - 100) / 2, qPrintable(QString::number(inLanes)));
        QCOMPARE(inGutter, 0);
    }

    // Regions from vramscope.region() get rows of their own below the NVTX
    // rows, nested regions one row further down.
    void regionsGetRowsBelowNvtx() {
        const QString file = path("regions.vtrace");
        {
            vramscope::format::TraceWriter w;
            std::string error;
            QVERIFY(w.open(file.toStdString(), &error));
            vramscope::format::Range nvtx;
            nvtx.startNs = 1000;
            nvtx.endNs = 9000;
            nvtx.nameId = w.intern("epoch");
            w.write(nvtx);
            auto region = [&](vramscope::format::PhaseKind kind, uint64_t at, const char* name) {
                vramscope::format::Phase p;
                p.timestampNs = at;
                p.kind = kind;
                p.nameId = w.intern(name);
                w.write(p);
            };
            using K = vramscope::format::PhaseKind;
            region(K::RegionBegin, 2000, "data");
            region(K::RegionBegin, 2500, "decode");
            region(K::RegionEnd, 3000, "decode");
            region(K::RegionEnd, 4000, "data");
            region(K::RegionBegin, 5000, "eval");
            region(K::RegionEnd, 8000, "eval");
            QVERIFY(w.close());
        }
        MainWindow w;
        QVERIFY(showWindow(w, 1200, 700));
        QVERIFY(load(w, file));
        auto doc = w.document(0);
        QVERIFY(doc);
        QCOMPARE(doc->firstRegionRow, size_t(1));
        QCOMPARE(doc->rangesByDepth.size(), size_t(3));
        auto names = [&](size_t row) {
            QStringList out;
            for (uint32_t i : doc->rangesByDepth[row]) out << QString::fromStdString(doc->model.text(doc->model.ranges.nameId[i]));
            return out.join(",");
        };
        QCOMPARE(names(0), QString("epoch"));
        QCOMPARE(names(1), QString("data,eval"));
        QCOMPARE(names(2), QString("decode"));
        w.canvas()->renderFrameNow();
    }

    // A real GPT-2 trace with PM-sampled counters: each phase of each
    // iteration carries its class, and the band along the bottom of the
    // phases lane shows it (violet: neither unit, orange: bandwidth).
    void phaseBandShowsEachPhasesClass() {
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/torch_gpt2_counters.vtrace")));
        auto doc = w.document(0);
        QVERIFY(doc);
        int backward = 0, forward = 0;
        for (const PhaseSpan& s : doc->phases) {
            if (s.iteration == 0) continue;  // the warm-up step
            if (s.kind == PhaseSpanKind::Backward) backward += s.bound == vramscope::analysis::Bound::Bandwidth;
            if (s.kind == PhaseSpanKind::Forward) forward += s.bound == vramscope::analysis::Bound::Latency;
        }
        QCOMPARE(backward, 7);
        QCOMPARE(forward, 7);
        // The loop synchronizes between steps: the step period is longer than an iteration.
        QCOMPARE(w.summaryModel()->valueOf("Step period (median)"), QString("39.6 ms"));
        // Zoom onto the steady steps so that each phase is wide enough to see.
        const auto& its = doc->summary.iterations.iterations;
        w.canvas()->setView(double(its[1].span.startNs), double(its.back().span.endNs));
        w.canvas()->renderFrameNow();
        QImage image = w.canvas()->grabFramebuffer().convertToFormat(QImage::Format_RGB32);
        int orange = 0, violet = 0;
        for (int y = 36; y <= 41; ++y)
            for (int x = 92; x < image.width(); ++x) {
                orange += image.pixel(x, y) == qRgb(255, 112, 67);
                violet += image.pixel(x, y) == qRgb(149, 117, 205);
            }
        QVERIFY2(orange > 200 && violet > 200, qPrintable(QString("%1 %2").arg(orange).arg(violet)));
        // Kernels dock: the longest tensor-core GEMM is compute-bound, and
        // the tooltip says from which counters.
        KernelTableModel* kernels = w.kernelModel();
        for (int row = 0; row < kernels->rowCount(); ++row) {
            if (!kernels->rows()[size_t(row)].name.startsWith("nvjet")) continue;
            QCOMPARE(kernels->rows()[size_t(row)].boundClass, QString("compute"));
            const QString tip = kernels->data(kernels->index(row, KernelTableModel::Class), Qt::ToolTipRole).toString();
            QVERIFY2(tip.contains("tensor pipes") && tip.contains("fitted"), qPrintable(tip));
            break;
        }
    }

    // The Roofline dock on the GPT-2 trace: a point per kernel name the
    // counters covered, the largest GEMM above the FP32 roof and right of
    // the ridge, the softmax far left under the memory roof.
    void rooflineShowsKernelsUnderTheRoofs() {
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/torch_gpt2_counters.vtrace")));
        RooflineView* view = w.rooflineView();
        auto* dock = qobject_cast<QDockWidget*>(view->parentWidget());
        QVERIFY(dock);
        dock->raise();
        view->resize(900, 420);
        const QImage image = view->grab().toImage();
        if (qEnvironmentVariableIsSet("VRAMSCOPE_TEST_SCREENSHOTS"))
            image.save(qEnvironmentVariable("VRAMSCOPE_TEST_SCREENSHOTS") + "/roofline.png");
        const auto& r = w.document(0)->summary.roofline;
        QVERIFY(r.valid);
        QVERIFY(r.ridgeFlopsPerByte > 100 && r.ridgeFlopsPerByte < 1000);  // H100: ~320 FLOP per byte
        QVERIFY2(view->drawnPoints() >= 20, qPrintable(QString::number(view->drawnPoints())));
        const vramscope::analysis::RooflinePoint* gemm = nullptr;
        const vramscope::analysis::RooflinePoint* softmax = nullptr;
        for (const auto& p : r.points) {
            const std::string& name = w.document(0)->model.text(p.nameId);
            if (!gemm && name.rfind("nvjet", 0) == 0) gemm = &p;
            if (!softmax && name.find("cunn_SoftMaxForward") != std::string::npos) softmax = &p;
        }
        QVERIFY(gemm && softmax);
        QCOMPARE(gemm->bound, vramscope::analysis::Bound::Compute);
        QVERIFY(gemm->flopsPerByte > r.ridgeFlopsPerByte && gemm->flopsPerSec > r.peakFp32FlopsPerSec);
        QVERIFY(softmax->flopsPerByte < 10 && softmax->dramBytesPerSec > 0.6 * r.peakDramBytesPerSec);
        // Points sit under the tensor roof (within the estimate's rounding).
        for (const auto& p : r.points)
            QVERIFY(p.flopsPerSec <= vramscope::analysis::roofAt(r, p.flopsPerByte) * 1.001 || p.flopsPerByte == 0);
        // Hovering where the GEMM is drawn finds it, and it is drawn green (compute).
        const size_t gemmIndex = size_t(gemm - r.points.data());
        const QPointF at = view->positionOf(gemmIndex);
        QCOMPARE(view->pointAt(at), int(gemmIndex));
        const QColor c = image.pixelColor(at.toPoint());
        QVERIFY2(c.green() > 150 && c.red() < 150 && c.blue() < 150, qPrintable(c.name()));
        // A trace without counters says how to get them, and draws no points.
        QVERIFY(load(w, QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/torch_gpt_plain.vtrace")));
        QVERIFY(!w.document(0)->summary.roofline.valid);
        view->grab();
        QCOMPARE(view->drawnPoints(), 0);
    }

    void laneRasterFillsThePixelsOpenGLWould() {
        const uint32_t bg = 0xFF1C1717u, red = 0xFF0000FFu;
        LaneRaster r;
        r.reset(10, 20, 8, 6, bg);
        // Pixels whose centres lie in [11.5, 13.5) x [20, 22): x 11-12, y 20-21.
        r.fillRect(11.5f, 20.0f, 13.5f, 22.0f, red);
        QCOMPARE(r.pixelAt(11, 20), red);
        QCOMPARE(r.pixelAt(12, 21), red);
        QCOMPARE(r.pixelAt(10, 20), bg);
        QCOMPARE(r.pixelAt(13, 20), bg);
        QCOMPARE(r.pixelAt(12, 22), bg);
        // A sliver that holds no pixel centre fills nothing.
        r.fillRect(14.6f, 20.0f, 15.4f, 26.0f, red);
        QCOMPARE(r.pixelAt(14, 23), bg);
        QCOMPARE(r.pixelAt(15, 23), bg);
        // Rows are stored bottom-up, as OpenGL blits them.
        r.fillRect(10.0f, 25.0f, 11.0f, 26.0f, red);
        QCOMPARE(r.pixels()[0], red);
        QCOMPARE(r.pixels()[size_t(5 * 8) + 1], red);  // (11, 20): the top row comes last
        // Translucent colours blend over what is there; anything outside is clipped.
        r.reset(0, 0, 4, 4, 0xFF000000u);
        r.fillRect(-1e9f, -1e9f, 1e9f, 1e9f, IM_COL32(255, 255, 255, 128));
        QCOMPARE(r.pixelAt(3, 3), uint32_t(IM_COL32(128, 128, 128, 255)));
        QCOMPARE(r.pixelAt(4, 0), uint32_t(0));
    }

    void sweepSearchMatchesBinarySearch() {
        QRandomGenerator rng(7);
        std::vector<uint64_t> times;
        vramscope::model::MemoryCurve curve;
        uint64_t t = 0;
        for (int i = 0; i < 5000; ++i) {
            t += rng.bounded(3) == 0 ? 0 : rng.bounded(1000);  // repeated times too
            times.push_back(t);
            curve.append(t, rng.bounded(1u << 30));
        }
        curve.finish();
        MemoryCurveSweep sweep(curve);
        auto from = times.begin();
        for (uint64_t q = 0; q < t + 2000; q += rng.bounded(5000)) {
            auto expected = std::lower_bound(times.begin(), times.end(), q);
            from = gallopLowerBound(from, times.end(), q);
            QCOMPARE(from - times.begin(), expected - times.begin());
            QCOMPARE(sweep.valueAt(q), curve.valueAt(q));
        }
        // Going back in time starts over rather than answering wrong.
        QCOMPARE(sweep.valueAt(times[10]), curve.valueAt(times[10]));
        QCOMPARE(sweep.valueAt(0), curve.valueAt(0));
    }

    void comparesTwoRunsAlignedByIteration() {
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, fixture_, 0));
        QVERIFY(load(w, path("leak.vtrace"), 1));
        QVERIFY(w.document(1));
        QVERIFY(w.windowTitle().contains(" vs "));
        QVERIFY(w.summaryModel()->valueOf("Iterations") == "40");
        // The Compare dock holds the numbers `vramscope diff` computes.
        const auto& rows = w.diffModel()->rows();
        QVERIFY(rows.size() > 10);
        QCOMPARE(rows[0].what, QString("Peak allocated"));
        QCOMPARE(uint64_t(rows[0].a), w.document(0)->summary.peakAllocated.bytes);
        QCOMPARE(uint64_t(rows[0].b), w.document(1)->summary.peakAllocated.bytes);
        w.canvas()->renderFrameNow();
        QVERIFY(w.canvas()->lastLaneStats().memoryColumns > 0);
        QImage shot = w.grab().toImage();
        QVERIFY(!shot.isNull());
    }

    // Compare mode draws both memory lanes on one bytes scale: the same
    // gridlines at the same heights, whatever each run's own peak. With a
    // scale each, a run at a quarter of the other's peak filled its lane alike.
    void compareLanesShareOneBytesScale() {
        vramscope::synth::SynthOptions o;
        o.iterations = 6;
        o.batch = 2;  // a quarter of the fixture's activations
        std::string error;
        QVERIFY(vramscope::synth::writeSynthTrace(path("batch2.vtrace").toStdString(), o, nullptr, &error));
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, fixture_, 0));
        QVERIFY(load(w, path("batch2.vtrace"), 1));
        QVERIFY(w.document(1)->summary.peakAllocated.bytes < w.document(0)->summary.peakAllocated.bytes * 3 / 4);
        w.canvas()->renderFrameNow();
        const auto& axes = w.canvas()->lastLaneStats().memoryAxes;
        QCOMPARE(axes[0].topBytes, axes[1].topBytes);
        QVERIFY(axes[0].topBytes > w.document(0)->summary.peakAllocated.bytes);
        QCOMPARE(axes[0].heightPx, axes[1].heightPx);
        QVERIFY(axes[0].gridBytes.size() >= 2);
        QCOMPARE(axes[0].gridBytes, axes[1].gridBytes);
        QCOMPARE(axes[0].gridPxAboveBottom.size(), axes[1].gridPxAboveBottom.size());
        for (size_t i = 0; i < axes[0].gridPxAboveBottom.size(); ++i)  // each lane's own bottom: float rounding
            QVERIFY(std::abs(axes[0].gridPxAboveBottom[i] - axes[1].gridPxAboveBottom[i]) < 0.01f);
        // On screen: each memory lane's gridlines, counted from its half's top
        // (the phases band, then the lane), are on the same rows. Memory hides
        // the lower ones where it is high: compare those seen in both, top down.
        const QImage image = w.canvas()->grabFramebuffer().convertToFormat(QImage::Format_RGB32);
        const int top = 24, mid = top + (image.height() - top) / 2, lane = 18 + 6;  // phases band and gap
        const std::vector<int> upper = gridRows(image, top + lane, top + lane + int(axes[0].heightPx));
        const std::vector<int> lower = gridRows(image, mid + 3 + lane, mid + 3 + lane + int(axes[1].heightPx));
        QVERIFY2(std::min(upper.size(), lower.size()) >= 2, qPrintable(QString::number(upper.size())));
        for (size_t i = 0; i < std::min(upper.size(), lower.size()); ++i)
            QVERIFY2(std::abs((upper[i] - top) - (lower[i] - (mid + 3))) <= 1,
                     qPrintable(QString("gridline %1 at %2 and %3").arg(i).arg(upper[i] - top).arg(lower[i] - mid - 3)));
    }

    // The Compare dock on the checkpointing pair (tests/data/README.md): times
    // from each run's steady iterations, the warm-up said apart, and what
    // checkpointing saved and cost per step.
    void compareDockCountsSteadyIterationsAndSaysTheTradeOff() {
        MainWindow w;
        QVERIFY(showWindow(w, 1400, 900));
        QVERIFY(load(w, VRAMSCOPE_SOURCE_DIR "/tests/data/torch_gpt_plain.vtrace", 0));
        QVERIFY(load(w, VRAMSCOPE_SOURCE_DIR "/tests/data/torch_gpt_ckpt.vtrace", 1));
        auto rowOf = [&](const QString& what) {
            for (const auto& r : w.diffModel()->rows())
                if (r.what == what) return std::make_pair(r.a, r.b);
            return std::make_pair(-1.0, -1.0);
        };
        QCOMPARE(rowOf("Iteration time (mean)"), std::make_pair(7747249.0, 8820575.0));
        QCOMPARE(rowOf("Iteration time (median)"), std::make_pair(6782729.0, 8449736.0));
        QCOMPARE(rowOf("Step period (median)"), std::make_pair(8940144.0, 9562429.0));
        QCOMPARE(rowOf("backward time (median)").second, 4613908.0);
        QCOMPARE(rowOf("Recompute per iteration (median)").second, 87966.0);
        const auto idle = rowOf("GPU idle per step (median)");
        QCOMPARE(qint64(idle.second - idle.first), qint64(543460));
        const auto* headline = w.findChild<QLabel*>("compareHeadline");
        QVERIFY(headline);
        QVERIFY2(headline->text().contains("not counted: A first iteration 468 ms (warm-up), B first iteration 1.58 s "
                                           "(warm-up)"),
                 qPrintable(headline->text()));
        QVERIFY2(headline->text().contains("Checkpointing in B saves 10.0 MiB of peak allocated (6.7%) and costs "
                                           "+0.622 ms per step (+7.0%"),
                 qPrintable(headline->text()));
        QVERIFY2(headline->text().contains("recompute kernels +0.088 ms, GPU idle +0.543 ms"), qPrintable(headline->text()));
        // The Summary dock of run A says the same of its own warm-up.
        QCOMPARE(w.summaryModel()->valueOf("Not counted"), QString("first iteration 468 ms (warm-up)"));
    }

    void leakAndEstimatorDocksShowTheAnalysis() {
        MainWindow w;
        w.setInteractive(false);
        w.show();
        QVERIFY(load(w, path("leak.vtrace")));
        // 64 MiB leaked per iteration (synth), found and grouped.
        const auto& leak = w.document(0)->summary.leak;
        QVERIFY(leak.detected);
        QVERIFY(std::abs(double(leak.bytesPerIteration) - double(64 << 20)) < 0.05 * double(64 << 20));
        QVERIFY(w.leakModel()->rowCount() >= 1);
        QVERIFY(w.summaryModel()->valueOf("Leak").contains("per iteration"));
        // The estimator predicts more memory for a bigger batch, as the analysis does.
        EstimatorPanel* e = w.estimatorPanel();
        QVERIFY(e->isEnabled());
        e->setTargetBatch(8);
        const uint64_t at8 = e->predictedPeakBytes();
        e->setTargetBatch(16);
        QVERIFY(e->predictedPeakBytes() > at8);
        const auto& est = w.document(0)->summary.estimate;
        QCOMPARE(e->predictedPeakBytes(), est.predictPeakBytes(16.0 / est.measuredBatch));
        // Twice the sequence length costs like twice the batch (tokens per step).
        if (est.measuredSequence) {
            e->setTargetBatch(8);
            e->setTargetSequence(int(est.measuredSequence) * 2);
            QCOMPARE(e->predictedPeakBytes(), est.predictPeakBytes(16.0 / est.measuredBatch));
        }
        // The live set says which category each block is.
        QVERIFY(w.liveSetModel()->rowCount() > 0);
        QVERIFY(!w.liveSetModel()->data(w.liveSetModel()->index(0, LiveSetModel::Category), Qt::DisplayRole).toString().isEmpty());
        // File > Export writes the same Chrome trace as `vramscope export`.
        QVERIFY(w.exportTrace(true, path("export.json")));
        QFile json(path("export.json"));
        QVERIFY(json.open(QIODevice::ReadOnly));
        QVERIFY(QJsonDocument::fromJson(json.readAll()).object().contains("traceEvents"));
        QVERIFY(w.exportTrace(false, path("export.csv")));
        QVERIFY(QFileInfo(path("export.csv")).size() > 100);
    }

    void randomBytesEndInACleanError() {
        QFile f(path("random.vtrace"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        QByteArray bytes(100 * 1024, 0);
        for (auto& b : bytes) b = char(QRandomGenerator::global()->generate());
        f.write(bytes);
        f.close();
        MainWindow w;
        w.setInteractive(false);
        w.show();
        QVERIFY(!load(w, path("random.vtrace")));
        QVERIFY2(w.lastError().contains("not a vramscope trace"), qPrintable(w.lastError()));
        QVERIFY(!w.document(0));
    }

    void truncatedTraceOpensWithAWarning() {
        QFile in(fixture_);
        QVERIFY(in.open(QIODevice::ReadOnly));
        QByteArray bytes = in.readAll();
        QFile out(path("cut.vtrace"));
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(bytes.left(bytes.size() * 6 / 10));
        out.close();
        MainWindow w;
        w.setInteractive(false);
        w.show();
        QVERIFY(load(w, path("cut.vtrace")));
        QVERIFY(!w.document(0)->warning.isEmpty());
        QVERIFY(w.summaryModel()->valueOf("Problems").contains("cut off"));
    }

    void screenshotCommandWritesARealPicture() {
        QProcess p;
        p.start(VRAMSCOPE_GUI, {fixture_, path("leak.vtrace"), "--screenshot", path("shot.png"), "--size", "1280x800"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        QImage image(path("shot.png"));
        QCOMPARE(image.size(), QSize(1280, 800));
        // A real picture: many distinct colours, not a blank window.
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 7)
            for (int x = 0; x < image.width(); x += 7) colours.insert(image.pixel(x, y));
        QVERIFY2(colours.size() > 50, qPrintable(QString::number(colours.size())));

        p.start(VRAMSCOPE_GUI, {path("random.vtrace"), "--screenshot", path("bad.png")});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("not a vramscope trace"));
        QVERIFY(!QFile::exists(path("bad.png")));

        // --view opens a window of the trace: a zoomed shot differs from the whole.
        p.start(VRAMSCOPE_GUI, {fixture_, "--view", "1.0:1.2", "--screenshot", path("view.png"), "--size", "1280x800"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(QImage(path("view.png")) != image);
        p.start(VRAMSCOPE_GUI, {fixture_, "--view", "2:1", "--screenshot", path("never.png")});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(p.readAllStandardError().contains("--view wants FROM:TO"));
    }

    // A run that ran out of memory opens where it did: the cursor on the OOM,
    // the live set there listed, a red line on the memory lane, and the
    // summary's first row says what was asked for.
    void outOfMemoryOpensAtTheFailure() {
        MainWindow w;
        w.setInteractive(false);
        w.resize(1400, 800);
        w.show();
        QVERIFY(load(w, QStringLiteral(VRAMSCOPE_SOURCE_DIR "/tests/data/injector_oom.vtrace")));
        const auto doc = w.document(0);
        QCOMPARE(doc->summary.outOfMemory.size(), size_t(1));
        QCOMPARE(w.canvas()->cursorTime(), double(doc->summary.outOfMemory[0].timeNs));
        QVERIFY(w.liveSetModel()->rowCount() >= 1);  // the 64 MiB block live when it failed
        QVERIFY(w.summaryModel()->valueOf("Out of memory").contains("larger than the whole device"));
        w.canvas()->renderFrameNow();
        QCOMPARE(w.canvas()->lastLaneStats().oomMarkers, 1);
        // A trace without one has no marker and no such row.
        QVERIFY(load(w, fixture_));
        w.canvas()->renderFrameNow();
        QCOMPARE(w.canvas()->lastLaneStats().oomMarkers, 0);
        QVERIFY(w.summaryModel()->valueOf("Out of memory").isEmpty());
    }

    // On a server without a display: --help and --version answer, and
    // opening a trace says what to do instead of Qt aborting.
    void helpAndVersionWithoutADisplay() {
        QProcessEnvironment headless = QProcessEnvironment::systemEnvironment();
        for (const char* k : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XAUTHORITY"}) headless.remove(k);
        QProcess p;
        p.setProcessEnvironment(headless);
        p.start(VRAMSCOPE_GUI, {"--help"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(p.readAllStandardOutput().contains("--attach"));
        p.start(VRAMSCOPE_GUI, {"--version"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(p.readAllStandardOutput().startsWith("vramscope "));
        p.start(VRAMSCOPE_GUI, {fixture_});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("vramscope summary FILE"));
    }
};

QTEST_MAIN(TestApp)
#include "tst_app.moc"
