// The counter sampler's parts that need no GPU: VRAMSCOPE_COUNTERS* parsing
// and the conversions from CUPTI / NVML values to CounterSample.valueMilli.
#include "config.h"
#include "pm_sampler.h"

#include <QTest>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"

using namespace vramscope::inject;

using namespace vramscope::inject::testing;

class TestPmSampler : public QObject {
    Q_OBJECT
private slots:
    void countersAreOffUnlessAskedFor() {
        // Opt-in until PM sampling no longer aborts traced processes at exit (H100, CUPTI 13.0).
        InjectorConfig c = parse({});
        QCOMPARE(c.counters, CounterMode::Off);
        QCOMPARE(c.counterIntervalUs, 1000u);
        QVERIFY(!c.listCounters);
    }

    void counterModesParse() {
        QCOMPARE(parse({{"VRAMSCOPE_COUNTERS", "gpm"}}).counters, CounterMode::Gpm);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTERS", "OFF"}}).counters, CounterMode::Off);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTERS", "0"}}).counters, CounterMode::Off);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTERS", "Pm"}}).counters, CounterMode::Pm);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTERS", "auto"}}).counters, CounterMode::Pm);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTER_INTERVAL_US", "250"}}).counterIntervalUs, 250u);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTER_DECODE_MS", "100"}}).counterDecodeMs, 100u);
        QCOMPARE(parse({}).counterDecodeMs, 20u);
        InjectorConfig duty = parse({{"VRAMSCOPE_COUNTER_DUTY", "200:800"}});
        QCOMPARE(duty.counterOnMs, 200u);
        QCOMPARE(duty.counterOffMs, 800u);
        QCOMPARE(parse({}).counterOffMs, 0u);  // sampling all along
        QCOMPARE(parse({}).testPmStage, 0u);
        QCOMPARE(parse({{"VRAMSCOPE_TEST_PM_STAGE", "enable"}}).testPmStage, 2u);
        QCOMPARE(parse({{"VRAMSCOPE_TEST_PM_STAGE", "Configure"}}).testPmStage, 3u);
        QCOMPARE(parse({{"VRAMSCOPE_COUNTER_DUTY", "500:0"}}).counterOffMs, 0u);
        QVERIFY(parse({{"VRAMSCOPE_COUNTERS_LIST", "1"}}).listCounters);
        QVERIFY(!parse({{"VRAMSCOPE_COUNTERS_LIST", "1"}}).listAllCounters);
        InjectorConfig all = parse({{"VRAMSCOPE_COUNTERS_LIST", "All"}});
        QVERIFY(all.listCounters && all.listAllCounters);
    }

    void testPauseParses() {
        InjectorConfig all = parse({{"VRAMSCOPE_TEST_PAUSE", "200:300"}});
        QCOMPARE(all.testPauseOnMs, 200u);
        QCOMPARE(all.testPauseOffMs, 300u);
        QCOMPARE(all.testPauseParts, uint32_t(PauseAll));
        QCOMPARE(all.testPauseName, std::string("capture paused: all"));
        InjectorConfig some = parse({{"VRAMSCOPE_TEST_PAUSE", "100:50:kernels,Flush"}});
        QCOMPARE(some.testPauseParts, uint32_t(PauseKernels | PauseFlush));
        QCOMPARE(some.testPauseName, std::string("capture paused: kernels,Flush"));
        QCOMPARE(parse({{"VRAMSCOPE_TEST_PAUSE", "100:50:callbacks"}}).testPauseParts, uint32_t(PauseCallbacks));
        QVERIFY(all.testPauseParts & PauseCallbacks);
        QCOMPARE(parse({}).testPauseOffMs, 0u);
        for (const char* bad : {"100:0", "100", "5:100", "100:100:kernel", "100:100:", "100:100:kernels,,flush"}) {
            std::vector<std::string> warnings;
            QCOMPARE(parse({{"VRAMSCOPE_TEST_PAUSE", bad}}, &warnings).testPauseOffMs, 0u);
            QCOMPARE(warnings.size(), size_t(1));
        }
    }

    void badCounterSettingsKeepDefaultsAndWarn() {
        std::vector<std::string> warnings;
        InjectorConfig c = parse({{"VRAMSCOPE_COUNTERS", "nsight"}, {"VRAMSCOPE_COUNTER_INTERVAL_US", "5"}}, &warnings);
        QCOMPARE(c.counters, CounterMode::Off);
        QCOMPARE(c.counterIntervalUs, 1000u);
        QCOMPARE(warnings.size(), size_t(2));
        QVERIFY(warnings[0].find("VRAMSCOPE_COUNTERS=nsight") != std::string::npos);
        warnings.clear();
        parse({{"VRAMSCOPE_COUNTER_INTERVAL_US", "2000000"}}, &warnings);
        QCOMPARE(warnings.size(), size_t(1));
        for (const char* bad : {"200", ":800", "5:800", "200:", "200:x", "-1:10", "200:800:1", "200:1000000"}) {
            warnings.clear();
            InjectorConfig c = parse({{"VRAMSCOPE_COUNTER_DUTY", bad}}, &warnings);
            QVERIFY2(warnings.size() == 1, bad);
            QCOMPARE(c.counterOffMs, 0u);
        }
    }

    void percentBecomesMilliPercent() {
        QCOMPARE(percentToMilli(0.0), 0u);
        QCOMPARE(percentToMilli(42.5), 42500u);
        QCOMPARE(percentToMilli(89.9004), 89900u);
        QCOMPARE(percentToMilli(101.2), 101200u);  // PM throughputs may read a little above 100 %
        QCOMPARE(percentToMilli(-3.0), 0u);
        QCOMPARE(percentToMilli(std::numeric_limits<double>::quiet_NaN()), 0u);
        QCOMPARE(percentToMilli(std::numeric_limits<double>::infinity()), 1000000u);
        QCOMPARE(percentToMilli(5e9), 1000000u);
    }

    void bytesBecomePercentOfPeakBandwidth() {
        // 3.35 TB/s peak (H100 SXM); 1 ms moving 1.675 GB is half of it.
        QCOMPARE(bytesToPercent(1.675e9, 1000000, 3350000000000ull), 50.0);
        QCOMPARE(bytesToPercent(1e9, 0, 3350000000000ull), 0.0);
        QCOMPARE(bytesToPercent(1e9, 1000000, 0), 0.0);
        QCOMPARE(bytesToPercent(-1, 1000000, 1), 0.0);
    }

    void candidateValuesCombine() {
        const double readWrite[] = {61.0, 21.5};
        QCOMPARE(combineValues(Combine::Direct, readWrite, 1, 0, 0), 61.0);
        QCOMPARE(combineValues(Combine::Sum, readWrite, 2, 0, 0), 82.5);
        QCOMPARE(combineValues(Combine::Max, readWrite, 2, 0, 0), 61.0);
        const double withNegative[] = {-1.0, 4.0};
        QCOMPARE(combineValues(Combine::Sum, withNegative, 2, 0, 0), 4.0);
        const double bytes[] = {3.35e9};
        QCOMPARE(combineValues(Combine::BytesOfPeak, bytes, 1, 2000000, 3350000000000ull), 50.0);
        QCOMPARE(combineValues(Combine::Direct, readWrite, 0, 0, 0), 0.0);
    }

    void decodeImageHoldsFourDecodePeriods() {
        QCOMPARE(samplesPerDecode(1000, 20), 80u);
        QCOMPARE(samplesPerDecode(100000, 20), 64u);    // at least 64
        QCOMPARE(samplesPerDecode(10, 20), 8000u);
        QCOMPARE(samplesPerDecode(1, 1000), 20000u);    // at most 20000
        QCOMPARE(samplesPerDecode(0, 20), 20000u);
    }

    void namesAreCutAndTerminated() {
        char buf[8];
        copyName(buf, sizeof buf, "dram__throughput");
        QCOMPARE(std::string(buf), std::string("dram__t"));
        copyName(buf, sizeof buf, nullptr);
        QCOMPARE(std::string(buf), std::string());
    }
};

QTEST_GUILESS_MAIN(TestPmSampler)
#include "tst_pm_sampler.moc"
