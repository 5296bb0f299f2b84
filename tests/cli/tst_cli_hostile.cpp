// The vramscope CLI given what a careless user or a broken job hands it:
// damaged traces to a CI gate, numbers that are not numbers, sizes no one
// meant. Each case pins the exit code and the sentence scripts and people
// rely on. Every damaged input is made here from a synthetic trace.
#include "format/writer.h"
#include "synth/synth.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

// Runs program and ends it after timeoutMs: a command that should refuse at
// once must not be left writing gigabytes.
Run runProgram(const QString& program, const QStringList& arguments, int timeoutMs = 120000) {
    QProcess p;
    p.start(program, arguments);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return {-2, p.readAllStandardOutput(), "still running after " + QByteArray::number(timeoutMs) + " ms"};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

Run cli(const QStringList& arguments, int timeoutMs = 120000) {
    return runProgram(VRAMSCOPE_CLI, arguments, timeoutMs);
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void writeAll(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(f.write(bytes), bytes.size());
}

// A usage error is one line on stderr that names what was wrong.
bool oneLineNaming(const Run& r, const QByteArray& what) {
    return r.err.count('\n') == 1 && r.err.endsWith('\n') && r.err.contains(what);
}

}  // namespace

class TestCliHostile : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.path() + "/" + name; }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        // 300 iterations: several chunks, so damage can hit some and spare others.
        const Run r = cli({"synth", "-o", path("good.vtrace"), "--iterations", "300"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QByteArray good = readAll(path("good.vtrace"));
        QVERIFY(good.size() > 100000);
        // Bytes flipped from 10% to 80% of the file: corrupt chunks, a header intact.
        QByteArray corrupt = good;
        for (qsizetype i = corrupt.size() / 10; i < corrupt.size() * 8 / 10; i += corrupt.size() / 40) corrupt[i] = char(~corrupt[i]);
        writeAll(path("corrupt.vtrace"), corrupt);
        // A job killed two thirds of the way: events, then no footer.
        writeAll(path("killed.vtrace"), good.left(good.size() * 2 / 3));
        // Cut inside the first chunk: no events at all.
        writeAll(path("cut.vtrace"), good.left(200));
        // Whole but empty: header and footer, no allocation (a job that died before its first).
        vramscope::format::TraceWriter writer;
        QVERIFY(writer.open(path("empty.vtrace").toStdString()));
        QVERIFY(writer.close());
    }

    // --- the CI gate ---------------------------------------------------------

    void gateFailsWithItsOwnCodeOnCorruptChunksInB() {
        const Run r = cli({"diff", "--fail-on-regression", "5", path("good.vtrace"), path("corrupt.vtrace")});
        QCOMPARE(r.exitCode, 4);
        QVERIFY2(r.out.contains("damaged B") && r.out.contains("is corrupt"), r.out.constData());
        QVERIFY2(r.out.contains("DAMAGED INPUT: B is damaged"), r.out.constData());
        QVERIFY(!r.out.contains("ok: peak allocated"));
        QVERIFY2(oneLineNaming(r, "B is damaged") && r.err.contains("--allow-damaged"), r.err.constData());
    }

    void gateFailsOnATraceCutToNoEvents() {
        const Run r = cli({"diff", "--fail-on-regression", "5", path("good.vtrace"), path("cut.vtrace")});
        QCOMPARE(r.exitCode, 4);
        QVERIFY2(r.out.contains("cut off"), r.out.constData());
    }

    // A killed job's trace is fine to summarise, not to pass a gate with.
    void gateFailsOnAKilledJobsTraceUnlessAllowed() {
        const Run r = cli({"diff", "--fail-on-regression", "5", path("good.vtrace"), path("killed.vtrace")});
        QCOMPARE(r.exitCode, 4);
        QVERIFY2(r.out.contains("damaged B") && r.out.contains("cut off"), r.out.constData());
        const Run allowed = cli({"diff", "--fail-on-regression", "5", "--allow-damaged", path("good.vtrace"), path("killed.vtrace")});
        QCOMPARE(allowed.exitCode, 0);
        QVERIFY2(allowed.out.contains("ok: peak allocated") && allowed.out.contains("judged on what could be read"),
                 allowed.out.constData());
        QVERIFY(allowed.out.contains("damaged B"));  // still named
        const Run summary = cli({"summary", path("killed.vtrace")});
        QCOMPARE(summary.exitCode, 0);
    }

    void gateFailsOnADamagedBaselineToo() {
        const Run r = cli({"diff", "--fail-on-regression", "5", path("corrupt.vtrace"), path("good.vtrace")});
        QCOMPARE(r.exitCode, 4);
        QVERIFY(r.out.contains("damaged A") && r.out.contains("DAMAGED INPUT: A is damaged"));
    }

    // A whole trace without a single allocation has a peak of 0 B: -100% would pass any threshold.
    void gateFailsWhenATraceHoldsNoAllocations() {
        const Run r = cli({"diff", "--fail-on-regression", "5", path("good.vtrace"), path("empty.vtrace")});
        QCOMPARE(r.exitCode, 4);
        QVERIFY2(r.out.contains("no memory allocations"), r.out.constData());
    }

    void gateJsonSaysWhyThereIsNoVerdict() {
        const Run r = cli({"diff", "--json", "--fail-on-regression", "5", path("good.vtrace"), path("corrupt.vtrace")});
        QCOMPARE(r.exitCode, 4);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["regression"]["verdict"].toString(), QString("damaged_input"));
        QVERIFY(o["regression"]["regressed"].isNull());
        QCOMPARE(o["regression"]["allow_damaged"].toBool(), false);
        QVERIFY(o["problems"]["a"].toArray().isEmpty());
        QVERIFY(o["problems"]["b"].toArray().size() >= 1);
        // A whole pair: a verdict, and no problems.
        const Run whole = cli({"diff", "--json", "--fail-on-regression", "5", path("good.vtrace"), path("good.vtrace")});
        QCOMPARE(whole.exitCode, 0);
        const QJsonObject w = QJsonDocument::fromJson(whole.out).object();
        QCOMPARE(w["regression"]["verdict"].toString(), QString("ok"));
        QVERIFY(w["problems"]["b"].toArray().isEmpty());
    }

    void diffHelpDocumentsTheDamagedExitCode() {
        const Run r = cli({"diff", "--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("--allow-damaged"));
        QVERIFY(r.out.contains("code 4"));
        // Without a gate it changes nothing: said so rather than ignored.
        const Run alone = cli({"diff", "--allow-damaged", path("good.vtrace"), path("corrupt.vtrace")});
        QCOMPARE(alone.exitCode, 2);
        QVERIFY(oneLineNaming(alone, "--fail-on-regression"));
    }

    void summaryOfADamagedTraceSaysSoFirst() {
        const Run r = cli({"summary", path("corrupt.vtrace")});
        QCOMPARE(r.exitCode, 0);
        const qsizetype damaged = r.out.indexOf("DAMAGED");
        QVERIFY2(damaged > 0 && damaged < r.out.indexOf("peak "), r.out.constData());
        QVERIFY(r.out.contains("problem "));
    }

    // --- numbers ---------------------------------------------------------------

    void nonFiniteAndOddNumbersAreRefusedEverywhere_data() {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("option");
        const QString trace = path("good.vtrace"), out = path("unwritten.out");
        auto add = [&](const char* name, const QStringList& before, const QString& option, const QStringList& after) {
            for (const char* value : {"nan", "inf", "-inf", "0x1p3", "1e3", " 5"})
                QTest::newRow(qPrintable(QString("%1 %2 '%3'").arg(name, option, value)))
                    << (before + QStringList{option, value} + after) << option;
        };
        add("diff", {"diff", trace, trace}, "--fail-on-regression", {});
        add("diff", {"diff", trace, trace}, "--top", {});
        add("summary", {"summary", trace}, "--headroom", {});
        for (const char* o : {"--batch", "--target-batch", "--seq", "--target-seq", "--top"})
            add("summary", {"summary", trace}, o, {});
        add("export", {"export", trace, "--format", "chrome", "-o", out}, "--max-counter-points", {});
        for (const char* o : {"--iterations", "--seed", "--leak-bytes-per-iter", "--batch", "--layers", "--sequence-length"})
            add("synth", {"synth", "-o", out}, o, {});
        for (const char* o : {"--buffer-mb", "--meminfo-ms", "--counter-interval-us", "--python-stack-depth"})
            add("record", {"record"}, o, {"--", "true"});
        // A process id that does not exist: were a value taken, the attach fails with exit 1.
        add("attach", {"attach", "2147483646"}, "--duration", {});
    }

    void nonFiniteAndOddNumbersAreRefusedEverywhere() {
        QFETCH(QStringList, arguments);
        QFETCH(QString, option);
        QFile::remove(path("unwritten.out"));
        const Run r = cli(arguments, 20000);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(oneLineNaming(r, option.toUtf8()), r.err.constData());
        QVERIFY(!QFileInfo::exists(path("unwritten.out")));
    }

    void aProcessIdMustBeAWholeNumber() {
        // "2147483646abc" once read as 2147483646.
        const Run r = cli({"attach", "2147483646abc"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(oneLineNaming(r, "PID must be a whole number"), r.err.constData());
    }

    // The estimator doubles the batch in 32 bits: 4294967295 became a target of 4294967294.
    void batchBeyondTheEstimatorsRangeIsRefused() {
        for (const char* option : {"--batch", "--target-batch"}) {
            const Run r = cli({"summary", path("good.vtrace"), option, "4294967295"});
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(oneLineNaming(r, QByteArray(option) + " must be a whole number from 1 to 16777216"), r.err.constData());
        }
        const Run largest = cli({"summary", path("good.vtrace"), "--batch", "16777216"});
        QCOMPARE(largest.exitCode, 0);
        QVERIFY2(largest.out.contains("batch 33554432 would peak"), largest.out.constData());
    }

    // The launchers without Qt read numbers the same way.
    void launchersRefuseTheSameNumbers() {
#ifndef VRAMSCOPE_ATTACH_TOOL
        QSKIP("vramscope-attach is not built here");
#else
        const Run duration = runProgram(VRAMSCOPE_ATTACH_TOOL, {"2147483646", "--duration", "nan"}, 20000);
        QCOMPARE(duration.exitCode, 2);
        QVERIFY2(duration.err.contains("--duration must be a number from 0.001 to 2592000"), duration.err.constData());
        const Run pid = runProgram(VRAMSCOPE_ATTACH_TOOL, {"2147483646abc"}, 20000);
        QCOMPARE(pid.exitCode, 2);
        QVERIFY2(pid.err.contains("PID must be a whole number"), pid.err.constData());
#endif
#ifdef VRAMSCOPE_RECORD_TOOL
        const Run buffer = runProgram(VRAMSCOPE_RECORD_TOOL, {"--buffer-mb", "nan", "--", "true"}, 20000);
        QCOMPARE(buffer.exitCode, 2);
        QVERIFY2(buffer.err.contains("--buffer-mb must be a whole number from 1 to 4096"), buffer.err.constData());
#endif
    }

    // --- sizes -----------------------------------------------------------------

    void synthRefusesATraceBeyondItsBound_data() {
        QTest::addColumn<QStringList>("options");
        QTest::newRow("iterations") << QStringList{"--iterations", "2000000"};  // ~6.5 GB
        QTest::newRow("tokens") << QStringList{"--iterations", "1", "--batch", "4096", "--sequence-length", "1048576"};
        QTest::newRow("layers") << QStringList{"--iterations", "2000", "--layers", "1024"};
    }

    void synthRefusesATraceBeyondItsBound() {
        QFETCH(QStringList, options);
        const Run r = cli(QStringList{"synth", "-o", path("huge.vtrace")} + options, 10000);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(oneLineNaming(r, "a synthetic trace holds at most 1e+08"), r.err.constData());
        QVERIFY(r.err.contains("MB"));
        QVERIFY(!QFileInfo::exists(path("huge.vtrace")));
    }

    // The bound is worked out before writing; it must be near what is written.
    void synthSizeIsNearTheWrittenTrace() {
        struct Case {
            uint32_t iterations, layers, batch, sequence;
            bool checkpointing;
        };
        for (const Case c : {Case{20, 12, 8, 1024, false}, Case{20, 12, 8, 1024, true}, Case{2, 200, 8, 1024, false},
                             Case{3, 12, 512, 1024, false}, Case{2, 2, 64, 16384, true}, Case{200, 1, 1, 128, false}}) {
            vramscope::synth::SynthOptions o;
            o.iterations = c.iterations;
            o.layers = c.layers;
            o.batch = c.batch;
            o.sequenceLength = c.sequence;
            o.checkpointing = c.checkpointing;
            vramscope::synth::SynthResult written;
            std::string error;
            QVERIFY2(vramscope::synth::writeSynthTrace(path("size.vtrace").toStdString(), o, &written, &error), error.c_str());
            const double ratio = vramscope::synth::synthSize(o).events / double(written.events);
            QVERIFY2(ratio > 0.9 && ratio < 1.1, qPrintable(QString("events estimated / written = %1 for %2 layers, "
                                                                    "batch %3, sequence %4")
                                                                .arg(ratio)
                                                                .arg(c.layers)
                                                                .arg(c.batch)
                                                                .arg(c.sequence)));
        }
    }
};

QTEST_GUILESS_MAIN(TestCliHostile)
#include "tst_cli_hostile.moc"
