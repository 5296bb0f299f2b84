// Boundness: per phase from counter samples, per kernel, and the name-based
// estimate when there are no counters.
#include "synth_fixture.h"

#include "analysis/boundness.h"
#include "analysis/iterations.h"

#include <QtTest>

using namespace vramscope;
using analysis::Bound;

class TestBoundness : public QObject {
    Q_OBJECT
private slots:
    void synthForwardIsComputeAndOptimizerBandwidthBound();
    void inferredPhasesGiveTheSameBounds();
    void kernelBoundFollowsTheKernel();
    void kernelNamesGiveAnEstimate();
};

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
}

QTEST_GUILESS_MAIN(TestBoundness)
#include "tst_boundness.moc"
