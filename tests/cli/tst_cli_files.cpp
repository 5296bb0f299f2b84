// The vramscope CLI and the files it is pointed at: a FIFO or a device where
// a trace should be (never waited on), an output that is one of the inputs
// under another spelling (never written), a write that fails halfway (the old
// file stays), file names that are not UTF-8, and names inside a trace that
// are not UTF-8 or hold control bytes (exports stay valid JSON and CSV).
// Programs run through fork/exec so that arguments are passed as raw bytes
// and a file-size limit can make a write fail on demand.
#include "format/codec.h"
#include "format/writer.h"
#include "run_argv.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QStringDecoder>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using vramscope::testing::entries;
using vramscope::testing::exists;
using vramscope::testing::removeTree;
using vramscope::testing::readFile;
using vramscope::testing::Run;
using vramscope::testing::runArgv;

namespace {

bool writeFile(const std::string& path, const QByteArray& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.constData(), bytes.size());
    return bool(out);
}

// A usage or input error is one line on stderr that names what was wrong.
bool oneLineNaming(const Run& r, const QByteArray& what) {
    return r.err.count('\n') == 1 && r.err.endsWith('\n') && r.err.contains(what);
}

bool isValidUtf8(const QByteArray& bytes) {
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    (void)decoder.decode(bytes);
    return !decoder.hasError();
}


const QByteArray kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// A string literal with its NUL bytes.
template <size_t N> std::string bytes(const char (&literal)[N]) { return std::string(literal, N - 1); }

// A trace whose names are bytes a program may hand CUDA, NVTX or Python:
// invalid UTF-8, NUL and control bytes, next to a valid "é".
bool writeTraceWithHostileNames(const std::string& path) {
    using namespace vramscope::format;
    TraceWriter w;
    if (!w.open(path)) return false;
    w.write(ProcessInfo{1000, 42, w.intern("host\xff"), w.intern("python tr\xe9in.py"), -1, -1, 0});
    DeviceInfo d;
    d.timestampNs = 1000;
    d.nameId = w.intern("NVIDIA H100 \xc0\xaf 80GB");  // an overlong '/'
    d.totalMemoryBytes = 80ull << 30;
    d.smCount = 132;
    d.computeCapability = 90;
    w.write(d);
    CallsiteDef site;
    site.id = 1;
    site.fileId = w.intern(bytes("/home/u/tr\xff\x01" "ain\0.py"));
    site.functionId = w.intern("step\xed\xa0\x80");  // a UTF-16 surrogate
    site.line = 12;
    w.write(site);
    const uint32_t names[] = {w.intern("gemm_\xff\xfe_kernel"), w.intern(bytes("nul\0byte\x01\x7f")),
                              w.intern("ok_caf\xc3\xa9"), w.intern("cut\xe2\x82")};
    uint64_t t = 2000;
    for (uint64_t i = 0; i < 4; ++i) {
        w.write(TensorMemory{t, TensorAction::Alloc, 0, 0x7f0000000000ull + (i << 24), (i + 1) << 20, 7, 1});
        for (uint32_t name : names) {
            w.write(Kernel{t + 10, t + 500, 0, 7, name});
            t += 600;
        }
        Range r;
        r.startNs = t;
        r.endNs = t + 300;
        r.nameId = w.intern("forward\x80");
        w.write(r);
        t += 1000;
    }
    w.write(TensorMemory{t, TensorAction::FreeCompleted, 0, 0x7f0000000000ull, 1ull << 20, 7, 1});
    return w.close();
}

}  // namespace

class TestCliFiles : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string cli_ = VRAMSCOPE_CLI;
    std::string snapshot_ = VRAMSCOPE_SOURCE_DIR "/tests/data/snapshots/synthetic-snapshot.pickle";
    std::string bigSnapshot_ = VRAMSCOPE_SOURCE_DIR "/tests/data/snapshots/torch_gpt.pickle";
    QByteArray traceBytes_;

    std::string path(const std::string& name) const { return dir_.path().toStdString() + "/" + name; }
    // A folder of its own under the test's folder (made when missing), for tests that list it.
    std::string folder(const std::string& name) const {
        const std::string f = path(name);
        ::mkdir(f.c_str(), 0755);
        return f;
    }
    Run cli(std::vector<std::string> arguments, int timeoutMs = 20000, rlim_t fileSizeLimitBytes = 0) const {
        arguments.insert(arguments.begin(), cli_);
        return runArgv(arguments, dir_.path().toStdString(), timeoutMs, fileSizeLimitBytes);
    }

private slots:
    // QTemporaryDir cannot remove names that are not UTF-8.
    void cleanupTestCase() { removeTree(dir_.path().toStdString()); }

    void initTestCase() {
        QVERIFY(dir_.isValid());
        // 20 iterations: a CSV export of it is ~70 KB, far past the size limits below.
        const Run r = cli({"synth", "-o", path("trace.vtrace"), "--iterations", "20"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        traceBytes_ = readFile(path("trace.vtrace"));
        QVERIFY(traceBytes_.size() > 50000);
        QVERIFY(::mkfifo(path("fifo").c_str(), 0600) == 0);
        folder("folder");
    }

    // --- special files as inputs ----------------------------------------------

    // open(2) of a FIFO waits for a writer: every command hung on one, and
    // `import /dev/zero` read forever. Each is refused at once, in one line.
    void specialFilesAreRefusedAtOnce_data() {
        QTest::addColumn<QStringList>("arguments");  // "IN" stands for the special file
        QTest::addColumn<QString>("input");
        QTest::addColumn<QByteArray>("what");
        const QString trace = QString::fromStdString(path("trace.vtrace")), out = QString::fromStdString(path("never.out"));
        const QList<QStringList> commands = {{"info", "IN"},
                                             {"summary", "IN"},
                                             {"summary", "IN", "--json"},
                                             {"diff", trace, "IN"},
                                             {"diff", "IN", trace},
                                             {"export", "IN", "--format", "csv", "-o", out},
                                             {"export", "IN", "--format", "chrome", "-o", out},
                                             {"import", "IN", "-o", out}};
        const struct {
            const char* name;
            std::string file;
            QByteArray what;
        } inputs[] = {{"fifo", path("fifo"), "is a named pipe (FIFO), not a regular file"},
                      {"/dev/zero", "/dev/zero", "is a character device, not a regular file"},
                      {"folder", path("folder"), "is a folder; give the trace (.vtrace) or snapshot (.pickle) file inside it"}};
        for (const auto& in : inputs)
            for (const QStringList& c : commands)
                QTest::newRow(qPrintable(c.join(' ').replace(trace, "T").replace(out, "OUT").replace("IN", in.name)))
                    << c << QString::fromStdString(in.file) << in.what;
    }

    void specialFilesAreRefusedAtOnce() {
        QFETCH(QStringList, arguments);
        QFETCH(QString, input);
        QFETCH(QByteArray, what);
        std::vector<std::string> argv;
        for (const QString& a : arguments) argv.push_back((a == "IN" ? input : a).toStdString());
        const Run r = cli(argv, 10000);
        QVERIFY2(r.exitCode == 1, r.err.constData());
        QVERIFY2(oneLineNaming(r, input.toUtf8() + ": " + what), r.err.constData());
        for (const QString& e : entries(dir_.path().toStdString()))  // nor a temporary file beside it
            QVERIFY2(!e.contains("never.out"), qPrintable(e));
    }

    // --- an output that is an input ---------------------------------------------

    // `export IN -o IN` truncated the trace before anything was written;
    // every spelling of the same file is refused, and the input stays.
    void exportRefusesToWriteOverItsInput_data() {
        QTest::addColumn<QString>("output");
        QTest::newRow("same name") << "in.vtrace";
        QTest::newRow("sub/../") << "sub/../in.vtrace";
        QTest::newRow("symlink") << "link.vtrace";
        QTest::newRow("hard link") << "hard.vtrace";
    }

    void exportRefusesToWriteOverItsInput() {
        QFETCH(QString, output);
        const std::string f = folder("export-over-input");
        QVERIFY(writeFile(f + "/in.vtrace", traceBytes_));
        ::mkdir((f + "/sub").c_str(), 0755);
        ::unlink((f + "/link.vtrace").c_str());
        ::unlink((f + "/hard.vtrace").c_str());
        QVERIFY(::symlink("in.vtrace", (f + "/link.vtrace").c_str()) == 0);
        QVERIFY(::link((f + "/in.vtrace").c_str(), (f + "/hard.vtrace").c_str()) == 0);
        const std::string out = f + "/" + output.toStdString();
        for (const char* format : {"csv", "chrome", "kernels"}) {
            const Run r = cli({"export", f + "/in.vtrace", "--format", format, "-o", out});
            QVERIFY2(r.exitCode == 2, r.err.constData());
            QVERIFY2(oneLineNaming(r, QByteArray::fromStdString(out) + ": is the input"), r.err.constData());
            QVERIFY(r.err.contains("choose another output file"));
            QVERIFY(readFile(f + "/in.vtrace") == traceBytes_);
        }
        QCOMPARE(entries(f), (QStringList{"hard.vtrace", "in.vtrace", "link.vtrace", "sub"}));
    }

    // Only the plain name was refused: a symlink or hard link to the
    // snapshot was overwritten with the trace.
    void importRefusesToWriteOverTheSnapshot() {
        const std::string f = folder("import-over-input");
        const QByteArray snapshot = readFile(snapshot_);
        QVERIFY(snapshot.size() > 1000);
        QVERIFY(writeFile(f + "/snap.pickle", snapshot));
        ::mkdir((f + "/sub").c_str(), 0755);
        QVERIFY(::symlink("snap.pickle", (f + "/link-to-snapshot").c_str()) == 0);
        QVERIFY(::link((f + "/snap.pickle").c_str(), (f + "/hard.vtrace").c_str()) == 0);
        for (const char* output : {"link-to-snapshot", "hard.vtrace", "sub/../snap.pickle", "snap.pickle"}) {
            const Run r = cli({"import", f + "/snap.pickle", "-o", f + "/" + output});
            QVERIFY2(r.exitCode == 2, (output + QByteArray(": ") + r.err).constData());
            QVERIFY2(oneLineNaming(r, "is the input"), r.err.constData());
            QVERIFY2(readFile(f + "/snap.pickle") == snapshot, output);
        }
        QCOMPARE(entries(f), (QStringList{"hard.vtrace", "link-to-snapshot", "snap.pickle", "sub"}));
    }

    // --- a write that fails ---------------------------------------------------

    // The output was truncated first and then written: a write that failed
    // halfway (disk full) left a few KB of the new file where the user's
    // old one was. Now the old file stays whole and no temporary is left.
    void aFailedWriteLeavesTheExistingOutputAlone_data() {
        QTest::addColumn<QStringList>("arguments");  // OUT stands for the output
        const QString trace = QString::fromStdString(path("trace.vtrace"));
        QTest::newRow("export csv") << QStringList{"export", trace, "--format", "csv", "-o", "OUT"};
        QTest::newRow("export chrome") << QStringList{"export", trace, "--format", "chrome", "-o", "OUT"};
        QTest::newRow("import") << QStringList{"import", QString::fromStdString(bigSnapshot_), "-o", "OUT"};
        QTest::newRow("synth") << QStringList{"synth", "--iterations", "20", "-o", "OUT"};
    }

    void aFailedWriteLeavesTheExistingOutputAlone() {
        QFETCH(QStringList, arguments);
        const std::string f = folder("failed-write");
        for (const QString& name : entries(f)) ::unlink((f + "/" + name.toLatin1().toStdString()).c_str());
        const QByteArray old(100000, 'k');  // larger than the limit: a rewrite in place could not keep it
        QVERIFY(writeFile(f + "/out", old));
        std::vector<std::string> argv;
        for (const QString& a : arguments) argv.push_back(a == "OUT" ? f + "/out" : a.toStdString());
        const Run r = cli(argv, 20000, 4096);
        QVERIFY(readFile(f + "/out") == old);
        QVERIFY2(r.exitCode == 1, r.err.constData());
        QVERIFY2(r.err.count('\n') == 1 && r.err.contains(QByteArray::fromStdString(f + "/out")), r.err.constData());
        QVERIFY2(!r.err.contains(".partial"), r.err.constData());  // the temporary file is never named
        QCOMPARE(entries(f), QStringList{"out"});
    }

    void anOutputInAMissingFolderIsRefusedBeforeLoading() {
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{"export", path("trace.vtrace"), "--format", "csv", "-o", path("missing/out.csv")},
              {"import", snapshot_, "-o", path("missing/out.vtrace")},
              {"synth", "-o", path("missing/out.vtrace")}}) {
            const Run r = cli(argv);
            QVERIFY2(r.exitCode == 1, r.err.constData());
            QVERIFY2(oneLineNaming(r, "cannot be written") && r.err.contains("check the folder exists"), r.err.constData());
        }
        QVERIFY(!exists(path("missing")));
    }

    // An output FIFO no process reads: opening it to write waited for a
    // reader forever. It is refused at once; with a reader, the data flows.
    void anOutputPipeWithoutAReaderIsRefused() {
        const std::string fifo = path("out.fifo");
        QVERIFY(::mkfifo(fifo.c_str(), 0600) == 0);
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{"export", path("trace.vtrace"), "--format", "csv", "-o", fifo},
              {"import", snapshot_, "-o", fifo},
              {"synth", "-o", fifo, "--iterations", "2"}}) {
            const Run r = cli(argv, 10000);
            QVERIFY2(r.exitCode == 2, r.err.constData());
            QVERIFY2(oneLineNaming(r, "no process is reading"), r.err.constData());
        }
        // The reader holds the pipe open before the export starts, and reads
        // until the export's end of file.
        const int readEnd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        QVERIFY(readEnd >= 0);
        QByteArray received;
        std::thread reader([&] {
            char buffer[65536];
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
            while (std::chrono::steady_clock::now() < deadline) {
                pollfd p{readEnd, POLLIN, 0};
                ::poll(&p, 1, 50);
                const ssize_t n = ::read(readEnd, buffer, sizeof buffer);
                if (n > 0) received.append(buffer, qsizetype(n));
                else if (n == 0 && !received.isEmpty()) break;  // the writer closed
            }
            ::close(readEnd);
        });
        const Run r = cli({"export", path("trace.vtrace"), "--format", "csv", "-o", fifo}, 10000);
        reader.join();
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(received.startsWith("level,alloc_ns,"));
        ::unlink(fifo.c_str());
    }

    void synthRefusesAFolderAsItsOutput() {
        const Run r = cli({"synth", "-o", path("folder")});
        QVERIFY2(r.exitCode == 2, r.err.constData());
        QVERIFY2(oneLineNaming(r, "is a folder; give a file name for the output"), r.err.constData());
        QVERIFY(entries(path("folder")).isEmpty());
    }

    // Written beside the output and renamed over it: the replaced file keeps
    // its permissions, a symlink output replaces its target and stays a
    // link, and a device output is written in place.
    void aReplacedOutputKeepsItsPermissionsAndLinks() {
        const std::string f = folder("replaced");
        QVERIFY(writeFile(f + "/private.csv", "old"));
        QVERIFY(::chmod((f + "/private.csv").c_str(), 0640) == 0);
        Run r = cli({"export", path("trace.vtrace"), "--format", "csv", "-o", f + "/private.csv"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        struct stat st {};
        QVERIFY(::stat((f + "/private.csv").c_str(), &st) == 0);
        QCOMPARE(st.st_mode & 07777, mode_t(0640));
        QVERIFY(readFile(f + "/private.csv").startsWith("level,alloc_ns,"));

        QVERIFY(::symlink("private.csv", (f + "/link.csv").c_str()) == 0);
        r = cli({"export", path("trace.vtrace"), "--format", "kernels", "-o", f + "/link.csv"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(::lstat((f + "/link.csv").c_str(), &st) == 0 && S_ISLNK(st.st_mode));
        QVERIFY(readFile(f + "/private.csv").startsWith("name,count,"));
        QCOMPARE(entries(f), (QStringList{"link.csv", "private.csv"}));

        r = cli({"export", path("trace.vtrace"), "--format", "csv", "-o", "/dev/null"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
    }

    // --- file names that are not UTF-8 --------------------------------------------

    // "caf\xe9" (Latin-1) reached the commands as "caf\uFFFD": synth wrote
    // another name than asked, and info, summary, export and import could
    // not open the file.
    void namesThatAreNotUtf8WorkEverywhere() {
        const std::string f = folder("latin1");
        const std::string name = f + "/caf\xe9";
        QVERIFY(writeFile(name + "-in.vtrace", traceBytes_));
        QVERIFY(writeFile(name + ".pickle", readFile(snapshot_)));
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{"info", name + "-in.vtrace"},
              {"info", name + ".pickle"},
              {"summary", name + "-in.vtrace"},
              {"summary", name + "-in.vtrace", "--json"},
              {"diff", name + "-in.vtrace", name + "-in.vtrace"},
              {"export", name + "-in.vtrace", "--format", "csv", "-o", name + ".csv"},
              {"export", name + "-in.vtrace", "--format", "chrome", "-o", name + ".json"},
              {"import", name + ".pickle"},  // writes SNAPSHOT's name with .vtrace
              {"import", name + ".pickle", "-o", name + "-snap.vtrace"},
              {"synth", "--iterations", "2", "-o", name + "-synth.vtrace"}}) {
            const Run r = cli(argv);
            QVERIFY2(r.exitCode == 0, (QByteArray::fromStdString(argv[0]) + ": " + r.err).constData());
        }
        for (const char* written : {".csv", ".json", ".vtrace", "-snap.vtrace", "-synth.vtrace"})
            QVERIFY2(exists(name + written), written);
        // Nothing written under a name with U+FFFD in place of the byte.
        const QStringList all = entries(f);
        for (const QString& e : all) QVERIFY2(!e.toLatin1().contains(kReplacement), e.toLatin1().constData());
        QVERIFY(all.contains(QString::fromLatin1("caf\xe9.vtrace")));
        QCOMPARE(all.size(), 7);
        // Messages name the file by its bytes too.
        const Run synth = cli({"synth", "--iterations", "2", "-o", name + "-synth.vtrace"});
        QVERIFY(synth.out.contains(QByteArray::fromStdString("caf\xe9-synth.vtrace")));
        const Run missing = cli({"info", name + "-missing.vtrace"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains(QByteArray::fromStdString("caf\xe9-missing.vtrace: ")), missing.err.constData());
    }

    // --- names inside a trace --------------------------------------------------------

    // Kernel, range and device names went into the Chrome JSON
    // byte for byte: invalid UTF-8 made the whole file unreadable to JSON
    // parsers (Perfetto, Python's json).
    void chromeJsonStaysValidWithInvalidUtf8Names() {
        QVERIFY(writeTraceWithHostileNames(path("names.vtrace")));
        const Run r = cli({"export", path("names.vtrace"), "--format", "chrome", "-o", path("names.json")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QByteArray json = readFile(path("names.json"));
        QVERIFY(isValidUtf8(json));
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
        QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));
        QSet<QString> names;
        for (const QJsonValue& e : doc.object()["traceEvents"].toArray()) {
            names.insert(e["name"].toString());
            names.insert(e["args"]["name"].toString());
        }
        const QString r1 = QString(QChar(0xFFFD));
        QVERIFY2(names.contains("gemm_" + r1 + r1 + "_kernel"), qPrintable(QStringList(names.values()).join('|')));
        QVERIFY(names.contains(QString::fromUtf8("ok_caf\xc3\xa9")));  // valid UTF-8 kept as it is
        QVERIFY(names.contains(QString("nul") + QChar(0) + "byte" + QChar(1) + QChar(0x7f)));  // escaped, not lost
        QVERIFY(names.contains("cut" + r1 + r1));
        QVERIFY(names.contains("forward" + r1));
        bool device = false;
        for (const QString& n : names) device = device || n.contains("H100 " + r1 + r1 + " 80GB");
        QVERIFY(device);
    }

    // CSV has no escapes: a NUL or control byte ended the field for
    // spreadsheet and pandas readers, invalid UTF-8 failed their decoding.
    void csvExportsStayValidUtf8WithoutControlBytes() {
        QVERIFY(writeTraceWithHostileNames(path("names.vtrace")));
        const QByteArray fffd2 = kReplacement + kReplacement;
        for (const char* format : {"kernels", "csv"}) {
            const std::string out = path(std::string("names.") + format + ".csv");
            const Run r = cli({"export", path("names.vtrace"), "--format", format, "-o", out});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            const QByteArray csv = readFile(out);
            QVERIFY2(isValidUtf8(csv), format);
            for (char c : csv) QVERIFY2(uchar(c) >= 0x20 || c == '\n', qPrintable(QString("%1: byte %2").arg(format).arg(int(c))));
            QVERIFY(!csv.contains('\x7f'));
            const QList<QByteArray> lines = csv.split('\n');
            if (QByteArray(format) == "kernels") {
                QCOMPARE(lines.size(), 1 + 4 + 1);  // header, four kernels, and the empty rest after the last '\n'
                QVERIFY(csv.contains("\ngemm_" + fffd2 + "_kernel,4,"));
                QVERIFY(csv.contains("\nnul" + kReplacement + "byte" + fffd2 + ",4,"));
                QVERIFY(csv.contains("\nok_caf\xc3\xa9,4,"));
                QVERIFY(csv.contains("\ncut" + fffd2 + ",4,"));
            } else {
                QCOMPARE(lines.size(), 1 + 4 + 1);  // header, four allocations, and the empty rest after the last '\n'
                QVERIFY2(csv.contains("tr" + kReplacement + kReplacement + "ain" + kReplacement + ".py:12"), csv.constData());
                QVERIFY(csv.contains("step" + kReplacement + fffd2));
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestCliFiles)
#include "tst_cli_files.moc"
