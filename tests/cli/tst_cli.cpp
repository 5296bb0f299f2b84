// The vramscope CLI as scripts and CI use it: exit codes, JSON keys, messages.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run vramscope(const QStringList& arguments) {
    QProcess p;
    p.start(VRAMSCOPE_CLI, arguments);
    if (!p.waitForFinished(120000)) qFatal("vramscope %s did not finish", qPrintable(arguments.join(' ')));
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

QJsonObject infoJson(const QString& file) {
    Run r = vramscope({"info", "--json", file});
    if (r.exitCode != 0) qWarning("%s", r.err.constData());
    return QJsonDocument::fromJson(r.out).object();
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString path(const QString& name) const { return dir_.path() + "/" + name; }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        Run r = vramscope({"synth", "-o", path("s300.vtrace"), "--iterations", "300"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
    }

    void infoJsonHasTheDocumentedKeys() {
        QJsonObject o = infoJson(path("s300.vtrace"));
        for (const char* key : {"format_version", "devices", "events", "counts", "bytes", "chunks", "truncated",
                                "dropped_events", "bytes_per_event", "duration_ns", "problems"})
            QVERIFY2(o.contains(key), key);
        QCOMPARE(o["format_version"].toString(), QString("1.2"));  // format minor 1: Kernel.queuedLeadNs
        QVERIFY(o["devices"].toArray().first().toObject()["name"].toString().contains("H100"));
        QCOMPARE(o["truncated"].toBool(), false);
        qint64 sum = 0;
        const QJsonObject counts = o["counts"].toObject();
        for (auto it = counts.begin(); it != counts.end(); ++it) sum += it.value().toInteger();
        QCOMPARE(sum, o["events"].toInteger());
        QCOMPARE(counts["phase"].toInteger(), 1500);  // 5 markers × 300 iterations
    }

    void synthOf300IterationsIsAtMostSixBytesPerEvent() {
        QJsonObject o = infoJson(path("s300.vtrace"));
        QVERIFY(o["events"].toInteger() > 200000);
        const double bytesPerEvent = double(o["bytes"].toInteger()) / double(o["events"].toInteger());
        QVERIFY2(bytesPerEvent <= 6.0, qPrintable(QString::number(bytesPerEvent)));
    }

    void copyCutAt60PercentOpensWithFewerEvents() {
        QFile f(path("s300.vtrace"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray bytes = f.readAll();
        QFile cut(path("cut.vtrace"));
        QVERIFY(cut.open(QIODevice::WriteOnly));
        cut.write(bytes.left(bytes.size() * 6 / 10));
        cut.close();
        Run r = vramscope({"info", "--json", path("cut.vtrace")});
        QCOMPARE(r.exitCode, 0);
        QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["truncated"].toBool(), true);
        QVERIFY(o["events"].toInteger() > 0);
        QVERIFY(o["events"].toInteger() < infoJson(path("s300.vtrace"))["events"].toInteger());
        QVERIFY(o["events_lost"].toInteger() > 0);
        // The text form says so too.
        Run text = vramscope({"info", path("cut.vtrace")});
        QVERIFY(text.out.contains("TRUNCATED"));
    }

    void randomBytesExitOneWithAMessage() {
        QFile f(path("random.vtrace"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        QByteArray bytes(100 * 1024, 0);
        auto* rng = QRandomGenerator::global();
        for (auto& b : bytes) b = char(rng->generate());
        f.write(bytes);
        f.close();
        Run r = vramscope({"info", path("random.vtrace")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("not a vramscope trace"), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }

    void missingFileExitsOne() {
        Run r = vramscope({"info", path("does-not-exist.vtrace")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("cannot open"));
    }

    void usageErrorsExitTwo() {
        QCOMPARE(vramscope({}).exitCode, 2);
        QCOMPARE(vramscope({"no-such-command"}).exitCode, 2);
        QCOMPARE(vramscope({"info"}).exitCode, 2);
        QCOMPARE(vramscope({"info", "--bogus", "x"}).exitCode, 2);
        QCOMPARE(vramscope({"synth", "--iterations", "3"}).exitCode, 2);  // no -o
        Run r = vramscope({"synth", "-o", path("x.vtrace"), "--iterations", "lots"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("--iterations"));
    }

    void everyCommandHasHelp() {
        Run top = vramscope({"--help"});
        QCOMPARE(top.exitCode, 0);
        QStringList names;
        for (const QByteArray& line : top.out.split('\n'))
            if (line.startsWith("  ")) names << QString(line).trimmed().section(' ', 0, 0);
        QVERIFY(names.contains("info"));
        QVERIFY(names.contains("synth"));
        for (const QString& name : names) {
            Run r = vramscope({name, "--help"});
            QCOMPARE(r.exitCode, 0);
            QVERIFY2(r.out.contains("Usage:"), qPrintable(name));
        }
    }

    // `vramscope record` and the launcher without Qt take one option table:
    // the same options, the same checks, each one reaching the capture.
    void recordLaunchersShareOneOptionTable() {
#ifndef VRAMSCOPE_RECORD_TOOL
        QSKIP("vramscope-record is not built here (no CUDA toolkit with CUPTI)");
#else
        const QByteArray cliHelp = vramscope({"record", "--help"}).out;
        QProcess tool;
        tool.start(VRAMSCOPE_RECORD_TOOL, {"--help"});
        QVERIFY(tool.waitForFinished(30000));
        QCOMPARE(tool.exitCode(), 0);
        const QByteArray toolHelp = tool.readAllStandardOutput();
        for (const char* option : {"--injector", "--buffer-mb", "--meminfo-ms", "--no-kernels", "--launch-times",
                                   "--counters", "--counter-interval-us", "--counter-duty", "--no-copies",
                                   "--no-callbacks", "--python-stacks", "--no-python-stacks", "--python-stack-depth",
                                   "--quiet", "--verbose", "--no-summary", "--no-nvtx", "--start"}) {
            QVERIFY2(cliHelp.contains(option), option);
            QVERIFY2(toolHelp.contains(option), option);
        }
        // The counter options reach the capture's environment from the launcher too.
        tool.start(VRAMSCOPE_RECORD_TOOL, {"--quiet", "--counters", "pm", "--counter-interval-us", "250",
                                           "--counter-duty", "200:800", "-o", path("env.vtrace"), "--", "env"});
        QVERIFY(tool.waitForFinished(30000));
        const QByteArray env = tool.readAllStandardOutput();
        QVERIFY(env.contains("VRAMSCOPE_COUNTERS=pm\n"));
        QVERIFY(env.contains("VRAMSCOPE_COUNTER_INTERVAL_US=250\n"));
        QVERIFY(env.contains("VRAMSCOPE_COUNTER_DUTY=200:800\n"));
        // One check for both: the same refusal, exit 2.
        tool.start(VRAMSCOPE_RECORD_TOOL, {"--counter-duty", "5:5", "--", "true"});
        QVERIFY(tool.waitForFinished(30000));
        QCOMPARE(tool.exitCode(), 2);
        const Run cli = vramscope({"record", "--counter-duty", "5:5", "--", "true"});
        QCOMPARE(cli.exitCode, 2);
        const QByteArray sentence = "--counter-duty must be ON:OFF in milliseconds";
        QVERIFY(tool.readAllStandardError().contains(sentence));
        QVERIFY(cli.err.contains(sentence));
#endif
    }

    void synthOptionsChangeTheTrace() {
        QVERIFY(vramscope({"synth", "-o", path("b8.vtrace"), "--iterations", "3", "--batch", "8"}).exitCode == 0);
        QVERIFY(vramscope({"synth", "-o", path("nomark.vtrace"), "--iterations", "3", "--no-markers"}).exitCode == 0);
        QCOMPARE(infoJson(path("nomark.vtrace"))["counts"].toObject()["phase"].toInteger(), 0);
        QVERIFY(infoJson(path("b8.vtrace"))["counts"].toObject()["phase"].toInteger() > 0);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
