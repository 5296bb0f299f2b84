// Boundness: per phase from counter samples, per kernel, and the name-based
// estimate when there are no counters.
#include "synth_fixture.h"

#include "analysis/boundness.h"
#include "analysis/iterations.h"
#include "analysis/kernel_boundness.h"
#include "format/writer.h"
#include "model/model_builder.h"

#include <QtTest>

#include <initializer_list>
#include <utility>

using namespace vramscope;
using analysis::Bound;

class TestBoundness : public QObject {
    Q_OBJECT
private slots:
    void synthForwardIsComputeAndOptimizerBandwidthBound();
    void inferredPhasesGiveTheSameBounds();
    void kernelBoundFollowsTheKernel();
    void kernelNamesGiveAnEstimate();
    void collectivesMakeAnEstimatedPhaseNeither();
    void launchTimesGiveEachPhaseItsOwnKernels();
    void thousandsOfNamesInOneSampleKeepTheirNameClass();
    void smThresholdFollowsTheSampledMetric();
    void tensorPipesGoToKernelsThatCanUseThem();
};

// One phase marker and one kernel of a hand-written trace.
static void writePhase(vramscope::format::TraceWriter& w, vramscope::format::PhaseKind kind, uint64_t atNs,
                       uint64_t step) {
    vramscope::format::Phase p;
    p.timestampNs = atNs;
    p.kind = kind;
    p.step = step;
    w.write(p);
}
static void writeKernel(vramscope::format::TraceWriter& w, uint32_t nameId, uint64_t startNs, uint64_t durationNs,
                        uint32_t stream, uint64_t queuedLeadNs = 0) {
    vramscope::format::Kernel k;
    k.startNs = startNs;
    k.endNs = startNs + durationNs;
    k.nameId = nameId;
    k.streamId = stream;
    k.queuedLeadNs = queuedLeadNs;
    w.write(k);
}

// PM-sampling counters with ids 1, 2, ... in the order given, 1 ms apart.
static void writeCounterInfos(vramscope::format::TraceWriter& w, uint64_t atNs,
                              std::initializer_list<std::pair<vramscope::format::CounterMetric, const char*>> counters) {
    vramscope::format::CounterInfo info;
    info.timestampNs = atNs;
    info.source = vramscope::format::CounterSource::PmSampling;
    info.intervalNs = 1'000'000;
    uint32_t id = 0;
    for (const auto& [metric, name] : counters) {
        info.counterId = ++id;
        info.metric = metric;
        info.nameId = w.intern(name);
        w.write(info);
    }
}
// Samples 1..count ms after t0, counter c + 1 at valuesMilli[c] throughout.
static void writeSteadySamples(vramscope::format::TraceWriter& w, uint64_t t0, uint64_t count,
                               std::initializer_list<int32_t> valuesMilli) {
    for (uint64_t i = 1; i <= count; ++i) {
        uint32_t id = 0;
        for (int32_t value : valuesMilli) {
            vramscope::format::CounterSample sample;
            sample.timestampNs = t0 + i * 1'000'000;
            sample.counterId = ++id;
            sample.valueMilli = value;
            w.write(sample);
        }
    }
}

// Four steps in which the GPU runs behind the CPU, as in a GPU-bound
// training step: the CPU launches the forward's GEMMs in 0-4 ms, the
// backward's in 4-6 ms and fused Adam in 6-7 ms, then waits; the GPU runs
// them at 0-8, 8-18 and 18-20 ms. Counters follow what runs: SM 80 % /
// DRAM 20 % for the GEMMs, SM 10 % / DRAM 90 % for Adam.
static std::string writeLaggingSteps(const QString& name, bool launchTimes) {
    using namespace vramscope::format;
    const std::string path = testing::fixtureDir().filePath(name).toStdString();
    TraceWriter w;
    if (!w.open(path)) return {};
    constexpr uint64_t ms = 1'000'000, t0 = 1'000'000'000;
    const uint32_t gemm = w.intern("ampere_bf16_gemm_fwd"), bwd = w.intern("ampere_bf16_gemm_bwd");
    const uint32_t adam = w.intern("multi_tensor_apply_kernel<FusedAdam>");
    writeCounterInfos(w, t0, {{CounterMetric::SmThroughputPct, "sm__throughput"},
                              {CounterMetric::DramThroughputPct, "dram__throughput"}});
    for (uint64_t step = 0; step < 4; ++step) {
        const uint64_t base = t0 + step * 20 * ms;
        auto phase = [&](PhaseKind kind, uint64_t at) { writePhase(w, kind, base + at, step); };
        auto kernel = [&](uint32_t nameId, uint64_t launch, uint64_t start, uint64_t duration) {
            writeKernel(w, nameId, base + start, duration, 7, launchTimes ? start - launch : 0);
        };
        phase(PhaseKind::StepBegin, 0);
        phase(PhaseKind::ForwardBegin, 0);
        for (uint64_t i = 0; i < 8; ++i) kernel(gemm, i * ms / 2, i * ms, ms);
        phase(PhaseKind::BackwardBegin, 4 * ms);
        for (uint64_t i = 0; i < 10; ++i) kernel(bwd, 4 * ms + i * ms / 5, 8 * ms + i * ms, ms);
        phase(PhaseKind::OptimizerBegin, 6 * ms);
        kernel(adam, 6 * ms + ms / 10, 18 * ms, ms);
        kernel(adam, 6 * ms + ms / 5, 19 * ms, ms);
        phase(PhaseKind::StepEnd, 7 * ms);
        for (uint64_t i = 1; i <= 20; ++i) {
            const bool adamRuns = i > 18;
            for (uint32_t c = 0; c < 2; ++c) {
                CounterSample sample;
                sample.timestampNs = base + i * ms;
                sample.counterId = c + 1;
                sample.valueMilli = 1000 * (c == 0 ? (adamRuns ? 10 : 80) : (adamRuns ? 90 : 20));
                w.write(sample);
            }
        }
    }
    return w.close() ? path : std::string();
}

// A sample overlapping 5000 distinct kernel names (an odd or hostile trace)
// is left out of the per-name fit instead of costing 5000² pairs; those
// names keep the class their name gives, and the GEMM running alone in the
// next samples is still fitted from its counters.
void TestBoundness::thousandsOfNamesInOneSampleKeepTheirNameClass() {
    using namespace vramscope::format;
    const std::string path = testing::fixtureDir().filePath("crowded.vtrace").toStdString();
    {
        TraceWriter w;
        QVERIFY(w.open(path));
        constexpr uint64_t ms = 1'000'000, t0 = 1'000'000'000;
        writeCounterInfos(w, t0, {{CounterMetric::SmThroughputPct, "sm__throughput"},
                                  {CounterMetric::DramThroughputPct, "dram__throughput"}});
        Kernel k;
        for (uint64_t i = 0; i < 5000; ++i) {  // 5000 names of 100 ns each inside the first sample
            k.startNs = t0 + i * 150;
            k.endNs = k.startNs + 100;
            k.nameId = w.intern("elementwise_kernel_" + std::to_string(i));
            w.write(k);
        }
        for (uint64_t i = 1; i < 20; ++i) {  // then a GEMM alone for 19 samples
            k.startNs = t0 + i * ms;
            k.endNs = k.startNs + ms;
            k.nameId = w.intern("ampere_bf16_gemm");
            w.write(k);
        }
        writeSteadySamples(w, t0, 20, {80'000, 10'000});
        QVERIFY(w.close());
    }
    model::TraceModel m;
    std::string error;
    QVERIFY2(model::loadModel(path, m, {}, &error), error.c_str());
    const auto kb = analysis::kernelBoundness(m);
    QVERIFY(kb.fromCounters);
    QCOMPARE(kb.byName.size(), size_t(5001));
    size_t bandwidth = 0;
    uint32_t gemm = 0;
    for (const auto& [name, bound] : kb.byName) {
        if (m.text(name) == "ampere_bf16_gemm") gemm = name;
        else bandwidth += bound == Bound::Bandwidth;  // "elementwise": bandwidth by name
    }
    QCOMPARE(bandwidth, size_t(5000));
    QCOMPARE(kb.byName.at(gemm), Bound::Compute);
    QVERIFY(std::abs(kb.smAndDramPct.at(gemm).first - 80) < 1);
}

void TestBoundness::launchTimesGiveEachPhaseItsOwnKernels() {
    for (bool launchTimes : {false, true}) {
        const std::string path = writeLaggingSteps(launchTimes ? "lag_launch.vtrace" : "lag_cpu.vtrace", launchTimes);
        QVERIFY(!path.empty());
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(path, m, {}, &error), error.c_str());
        QCOMPARE(m.kernels.hasLaunchTimes(), launchTimes);
        const auto set = analysis::detectIterations(m);
        QCOMPARE(set.size(), size_t(4));
        const auto r = analysis::analyzeBoundness(m, set);
        QCOMPARE(r.source, std::string("pm_sampling"));
        QCOMPARE(r.phases[0].bound, Bound::Compute);
        QCOMPARE(r.phases[1].bound, Bound::Compute);
        if (!launchTimes) {
            // By CPU time the optimizer's window (6-7 ms) sees the forward's GEMMs.
            QCOMPARE(r.attribution, std::string("cpu_time"));
            QCOMPARE(r.phases[2].bound, Bound::Compute);
            continue;
        }
        QCOMPARE(r.attribution, std::string("launch_time"));
        QCOMPARE(r.phases[2].bound, Bound::Bandwidth);
        QVERIFY(std::abs(r.phases[2].dramThroughputPct - 90) < 1);
        QCOMPARE(r.phases[2].durationNs, uint64_t(4 * 2'000'000));  // 18-20 ms in each of 4 steps
        QVERIFY(r.phases[2].busyFraction > 0.99);
        QVERIFY(std::abs(r.phases[1].busyFraction - 1.0) < 1e-9);
    }
}

void TestBoundness::synthForwardIsComputeAndOptimizerBandwidthBound() {
    const auto& m = testing::synthModel("clean40", testing::synthOptions(40));
    const auto r = analysis::analyzeBoundness(m, analysis::detectIterations(m));
    QCOMPARE(r.source, std::string("synthetic"));
    QCOMPARE(r.phases[0].bound, Bound::Compute);
    QCOMPARE(r.phases[1].bound, Bound::Compute);
    QCOMPARE(r.phases[2].bound, Bound::Bandwidth);
    QVERIFY(r.phases[0].smThroughputPct > r.phases[0].dramThroughputPct);
    QVERIFY(r.phases[2].dramThroughputPct > r.phases[2].smThroughputPct);
    QVERIFY(r.phases[0].samples > 0 && r.phases[0].busyFraction > 0.5);
}

void TestBoundness::inferredPhasesGiveTheSameBounds() {
    auto o = testing::synthOptions(40);
    o.phaseMarkers = false;
    const auto& m = testing::synthModel("unmarked40", o);
    const auto r = analysis::analyzeBoundness(m, analysis::detectIterations(m));
    QCOMPARE(r.phases[0].bound, Bound::Compute);
    QCOMPARE(r.phases[2].bound, Bound::Bandwidth);
}

void TestBoundness::kernelBoundFollowsTheKernel() {
    const auto& m = testing::synthModel("clean5", testing::synthOptions(5));
    size_t gemm = 0, gemmCompute = 0, adam = 0, adamBandwidth = 0;
    for (size_t i = 0; i < m.kernels.size(); ++i) {
        const std::string& name = m.text(m.kernels.nameId[i]);
        if (name.find("gemm") != std::string::npos) {
            ++gemm;
            gemmCompute += analysis::kernelBound(m, i) == Bound::Compute;
        }
        if (name.find("FusedAdam") != std::string::npos) {
            ++adam;
            adamBandwidth += analysis::kernelBound(m, i) == Bound::Bandwidth;
        }
    }
    QCOMPARE(gemm, size_t(5 * (12 * 12 + 3)));  // per step: 4 forward + 8 backward GEMMs per layer, 1 + 2 for logits
    QCOMPARE(gemmCompute, gemm);
    QCOMPARE(adam, size_t(5 * 4));
    QCOMPARE(adamBandwidth, adam);
}

void TestBoundness::kernelNamesGiveAnEstimate() {
    QCOMPARE(analysis::boundFromKernelName("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_tn"), Bound::Compute);
    QCOMPARE(analysis::boundFromKernelName("void cutlass::Kernel2<cutlass_80_wmma_tensorop>"), Bound::Compute);
    QCOMPARE(analysis::boundFromKernelName("void at::native::vectorized_elementwise_kernel<4, AddFunctor>"), Bound::Bandwidth);
    QCOMPARE(analysis::boundFromKernelName("triad"), Bound::Bandwidth);
    // Names a fine-tuning job meets, and the words that used to mislead.
    QCOMPARE(analysis::boundFromKernelName("void at::native::(anonymous namespace)::GammaBetaBackwardCUDAKernel<float>"),
             Bound::Bandwidth);  // LayerNorm's weight gradient: a reduction, not "mma"
    QCOMPARE(analysis::boundFromKernelName("void convert_fp32_to_bf16_kernel"), Bound::Bandwidth);
    QCOMPARE(analysis::boundFromKernelName("void gemv2T_kernel_val<int, int, float, 128, 16>"), Bound::Bandwidth);
    QCOMPARE(analysis::boundFromKernelName("triton_tem_fused_addmm_0"), Bound::Compute);  // max-autotune GEMM
    QCOMPARE(analysis::boundFromKernelName("triton_poi_fused_add_mul_0"), Bound::Bandwidth);
    QCOMPARE(analysis::boundFromKernelName("triton_red_fused__softmax_1"), Bound::Bandwidth);
    QCOMPARE(analysis::boundFromKernelName("sm90_xmma_fprop_implicit_gemm_bf16"), Bound::Compute);
    QCOMPARE(analysis::boundFromKernelName("void cudnn::cnn::conv2d_grouped_direct_kernel<float>"), Bound::Compute);
    QCOMPARE(analysis::boundFromKernelName("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128>>"),
             Bound::Compute);
    QCOMPARE(analysis::boundFromKernelName("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"),
             Bound::Latency);  // waits on the interconnect
}

// Without counters, a data-parallel backward whose time goes mostly to an
// NCCL all-reduce is limited by neither unit (it waits on the interconnect),
// where the name estimate used to call it bandwidth-bound.
void TestBoundness::collectivesMakeAnEstimatedPhaseNeither() {
    using namespace vramscope::format;
    const std::string path = testing::fixtureDir().filePath("ddp_estimated.vtrace").toStdString();
    {
        TraceWriter w;
        QVERIFY(w.open(path));
        constexpr uint64_t ms = 1'000'000, t0 = 1'000'000'000;
        const uint32_t gemm = w.intern("sm90_xmma_gemm_bf16bf16_bf16f32"),
                       nccl = w.intern("ncclDevKernel_AllReduce_Sum_bf16_RING_LL");
        for (uint64_t step = 0; step < 4; ++step) {
            const uint64_t base = t0 + step * 20 * ms;
            writePhase(w, PhaseKind::StepBegin, base, step);
            writePhase(w, PhaseKind::ForwardBegin, base, step);
            writeKernel(w, gemm, base, 8 * ms, 7);
            writePhase(w, PhaseKind::BackwardBegin, base + 8 * ms, step);
            writeKernel(w, gemm, base + 8 * ms, 2 * ms, 7);
            writeKernel(w, nccl, base + 10 * ms, 8 * ms, 9);
            writePhase(w, PhaseKind::StepEnd, base + 19 * ms, step);
        }
        QVERIFY(w.close());
    }
    model::TraceModel m;
    std::string error;
    QVERIFY2(model::loadModel(path, m, {}, &error), error.c_str());
    const auto r = analysis::analyzeBoundness(m, analysis::detectIterations(m));
    QCOMPARE(r.source, std::string("estimated"));
    QCOMPARE(r.phases[0].bound, Bound::Compute);
    QCOMPARE(r.phases[1].bound, Bound::Latency);
    QVERIFY(r.phases[1].busyFraction > 0.9);
}

QTEST_GUILESS_MAIN(TestBoundness)
#include "tst_boundness.moc"

// A GEMM read at 40 % on the SM side and 10 % DRAM: compute-bound when the
// trace sampled the issue rate alone (which reads low: 30 % threshold), not
// when the SM side is a throughput (sm__throughput, or issue max LSU
// wavefronts as the injector samples on GH100: 50 %).
void TestBoundness::smThresholdFollowsTheSampledMetric() {
    using namespace vramscope::format;
    const std::pair<const char*, Bound> cases[] = {
        {"sm__inst_executed_realtime.avg.pct_of_peak_sustained_elapsed", Bound::Compute},
        {"sm__inst_executed_realtime.avg.pct_of_peak_sustained_elapsed max "
         "SM_A.TriageCompute.l1tex__data_pipe_lsu_wavefronts.avg.pct_of_peak_sustained_elapsed",
         Bound::Latency},
        {"sm__throughput.avg.pct_of_peak_sustained_elapsed", Bound::Latency},
    };
    for (const auto& [smName, expected] : cases) {
        const std::string path = testing::fixtureDir().filePath("threshold.vtrace").toStdString();
        {
            TraceWriter w;
            QVERIFY(w.open(path));
            constexpr uint64_t ms = 1'000'000, t0 = 1'000'000'000;
            writeCounterInfos(w, t0, {{CounterMetric::SmThroughputPct, smName},
                                      {CounterMetric::DramThroughputPct, "dram__throughput.avg.pct_of_peak_sustained_elapsed"}});
            writeKernel(w, w.intern("gemmTiled"), t0, 20 * ms, 7);
            writeSteadySamples(w, t0, 20, {40'000, 10'000});
            QVERIFY(w.close());
        }
        model::TraceModel m;
        std::string error;
        QVERIFY2(model::loadModel(path, m, {}, &error), error.c_str());
        QCOMPARE(m.kernels.size(), size_t(1));
        QVERIFY2(analysis::kernelBound(m, 0) == expected, smName);  // the kernel lane's colour
        const auto kb = analysis::kernelBoundness(m);               // the Kernels dock's class
        QVERIFY(kb.fromCounters);
        QVERIFY2(kb.byName.at(m.kernels.nameId[0]) == expected, smName);
        QVERIFY2(std::abs(kb.smAndDramPct.at(m.kernels.nameId[0]).first - 40) < 1, smName);
    }
}

// In 50 samples a GEMM runs 600 us, then an elementwise kernel and a kernel
// of no telling name 100 us each, the tensor pipes at 48 % (the GEMM's 80 %
// for 0.6 of the sample); in 20 more the kernel of no telling name runs 800
// us alone with the tensor pipes idle. The GEMM and the elementwise kernel
// share every sample, so the samples alone cannot tell them apart (both would
// fit ~69 %); the elementwise kernel, which never uses tensor cores, is held
// at 0, and the GEMM gets its 80 %.
void TestBoundness::tensorPipesGoToKernelsThatCanUseThem() {
    using namespace vramscope::format;
    const std::string path = testing::fixtureDir().filePath("beside_gemms.vtrace").toStdString();
    {
        TraceWriter w;
        QVERIFY(w.open(path));
        constexpr uint64_t us = 1'000, ms = 1'000'000, t0 = 1'000'000'000;
        writeCounterInfos(w, t0, {{CounterMetric::SmThroughputPct, "sm__throughput"},
                                  {CounterMetric::DramThroughputPct, "dram__throughput"},
                                  {CounterMetric::TensorPipePct, "sm__pipe_tensor_cycles_active"}});
        const uint32_t gemm = w.intern("ampere_bf16_gemm"), gelu = w.intern("vectorized_elementwise_kernel<GeluFunctor>"),
                       other = w.intern("my_custom_kernel");
        for (uint64_t i = 0; i < 50; ++i) {
            const uint64_t t = t0 + i * ms;
            writeKernel(w, gemm, t, 600 * us, 7);
            writeKernel(w, gelu, t + 650 * us, 100 * us, 7);
            writeKernel(w, other, t + 800 * us, 100 * us, 7);
        }
        writeSteadySamples(w, t0, 50, {30'000, 40'000, 48'000});
        for (uint64_t i = 50; i < 70; ++i) writeKernel(w, other, t0 + i * ms + 100 * us, 800 * us, 7);
        writeSteadySamples(w, t0 + 50 * ms, 20, {24'000, 32'000, 0});
        QVERIFY(w.close());
    }
    model::TraceModel m;
    std::string error;
    QVERIFY2(model::loadModel(path, m, {}, &error), error.c_str());
    const auto kb = analysis::kernelBoundness(m);
    QVERIFY(kb.fromCounters);
    uint32_t gemm = 0, gelu = 0, other = 0;
    for (const auto& [name, bound] : kb.byName) {
        const std::string& text = m.text(name);
        (text == "ampere_bf16_gemm" ? gemm : text == "my_custom_kernel" ? other : gelu) = name;
    }
    QVERIFY(gemm && gelu && other);
    for (uint32_t name : {gemm, gelu, other})
        qInfo("%s: fitted SM %.1f %%, DRAM %.1f %%, tensor %.1f %%", m.text(name).c_str(), kb.smAndDramPct.at(name).first,
              kb.smAndDramPct.at(name).second, kb.tensorPct.at(name));
    QCOMPARE(kb.tensorPct.at(gelu), 0.0);
    QVERIFY(std::abs(kb.tensorPct.at(gemm) - 80) < 3);
    QVERIFY(kb.tensorPct.at(other) < 3);
    QCOMPARE(kb.byName.at(gemm), Bound::Compute);
    QVERIFY(kb.classedByCounters.count(gemm) && kb.classedByCounters.count(gelu) && kb.classedByCounters.count(other));
    QVERIFY(kb.byName.at(gelu) != Bound::Compute);
    QVERIFY(kb.byName.at(other) != Bound::Compute);
}
