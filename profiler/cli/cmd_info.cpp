// vramscope info FILE [--json]: what a trace file holds, and whether it is intact.
#include "command.h"
#include "command_args.h"
#include "path_bytes.h"
#include "format/reader.h"
#include "format/saturating.h"
#include "format/units.h"
#include "import/trace_source.h"
#include "model/size_check.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cstdio>

namespace vramscope::cli {
namespace {

using namespace vramscope::format;

QString uuidText(const std::array<uint8_t, 16>& u) {
    QString s;
    for (size_t i = 0; i < u.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += QString::asprintf("%02x", u[i]);
    }
    return s;
}

QString humanBytes(double bytes) { return QString::fromStdString(formatBytes(bytes)); }

int runInfo(const QStringList& arguments) {
    InfoArgs args;
    int exitCode = 0;
    if (!parseInfoArgs(arguments, &args, &exitCode)) return exitCode;
    const QString path = args.path;

    std::string error;
    import::TraceSource source;  // a PyTorch snapshot opens through a temporary import
    if (!source.open(pathBytes(path), &error)) {
        printError("info", textFromBytes(error));
        return kExitBadInput;
    }
    TraceReader reader;
    if (!reader.open(source.tracePath(), &error)) {
        printError("info", textFromBytes(error));
        return kExitBadInput;
    }
    TraceContents trace;
    if (!loadTrace(reader, trace, {}, &error)) {
        printError("info", QString::fromStdString(error));
        return kExitBadInput;
    }
    // What a model leaves out (summary, export, the app): sizes no device holds.
    model::SizeCheck sizes;
    sizes.checkAll(trace);
    for (TraceProblem& p : sizes.problems()) trace.problems.push_back(std::move(p));
    uint64_t firstNs = UINT64_MAX, lastNs = 0;
    for (const auto& c : reader.chunks()) {
        if (c.eventCount == 0) continue;
        firstNs = std::min(firstNs, c.firstNs);
        lastNs = std::max(lastNs, c.lastNs);
    }
    const uint64_t durationNs = firstNs == UINT64_MAX ? 0 : lastNs - firstNs;
    const double bytesPerEvent = trace.events ? double(reader.fileBytes()) / double(trace.events) : 0.0;
    const QString version = QString("%1.%2").arg(reader.versionMajor()).arg(reader.versionMinor());

    QJsonArray devices;
    for (const auto& d : trace.get<DeviceInfo>()) {
        devices.append(QJsonObject{
            {"id", qint64(d.deviceId)},
            {"name", QString::fromStdString(trace.text(d.nameId))},
            {"uuid", uuidText(d.uuid)},
            {"total_memory_bytes", qint64(saturated(d.totalMemoryBytes))},  // as the file says (a problem when absurd), never negative
            {"sm_count", qint64(d.smCount)},
            {"compute_capability", QString("%1.%2").arg(d.computeCapability / 10).arg(d.computeCapability % 10)},
            {"peak_dram_bytes_per_sec", double(d.peakDramBytesPerSec)},
            {"peak_flops_per_sec", double(d.peakFlopsPerSec)},
        });
    }
    QJsonObject counts;
    for (int t = 0; t < 256; ++t) {
        if (!trace.countsByType[t]) continue;
        const char* n = recordTypeName(static_cast<RecordType>(t));
        counts[n ? QString(n) : QString("unknown_%1").arg(t)] = qint64(trace.countsByType[t]);
    }
    QJsonArray problems;
    for (const auto& p : trace.problems) problems.append(QString::fromStdString(p.message));
    QJsonObject process;
    if (!trace.get<ProcessInfo>().empty()) {
        const auto& p = trace.get<ProcessInfo>().front();
        process = QJsonObject{{"pid", qint64(p.pid)},
                              {"host", QString::fromStdString(trace.text(p.hostnameId))},
                              {"command", QString::fromStdString(trace.text(p.commandLineId))},
                              {"rank", p.rank},
                              {"local_rank", p.localRank}};
    }
    QJsonArray notes;
    for (const auto& n : trace.get<Note>()) notes.append(QString::fromStdString(trace.text(n.textId)));
    // A footer that disagrees with its chunks, or sizes no device holds, mean
    // the file was altered or damaged, even when every chunk decodes: not
    // "complete".
    const bool corrupt = trace.chunksDropped > 0 ||
                         std::any_of(trace.problems.begin(), trace.problems.end(), [](const TraceProblem& p) {
                             return p.kind == TraceProblem::Kind::FooterMismatch ||
                                    p.kind == TraceProblem::Kind::ImplausibleSize;
                         });

    if (args.json) {
        QJsonObject o{
            {"file", path},
            {"format_version", version},
            {"process", process},
            {"devices", devices},
            {"duration_ns", qint64(durationNs)},
            {"events", qint64(trace.events)},
            {"counts", counts},
            {"unknown_records", qint64(trace.unknownRecords)},
            {"bytes", qint64(reader.fileBytes())},
            {"bytes_per_event", bytesPerEvent},
            {"chunks", qint64(reader.chunks().size())},
            {"chunks_corrupt", qint64(trace.chunksDropped)},
            {"truncated", reader.truncated()},
            {"corrupt", corrupt},
            {"events_lost", qint64(reader.eventsLost())},
            {"bytes_lost", qint64(reader.bytesLost())},
            {"dropped_events", qint64(trace.droppedEvents)},
            {"notes", notes},
            {"problems", problems},
        };
        std::fputs(QJsonDocument(o).toJson(QJsonDocument::Indented).constData(), stdout);
        return kExitOk;
    }

    std::printf("%s\n", pathBytes(path).c_str());
    std::printf("  format       %s\n", qPrintable(version));
    if (!process.isEmpty())
        std::printf("  process      pid %lld on %s: %s\n", process["pid"].toInteger(),
                    qPrintable(process["host"].toString()), qPrintable(process["command"].toString()));
    for (const auto& d : devices) {
        auto o = d.toObject();
        std::printf("  device %lld     %s, %s, %lld SMs, compute %s\n", o["id"].toInteger(), qPrintable(o["name"].toString()),
                    qPrintable(humanBytes(o["total_memory_bytes"].toDouble())), o["sm_count"].toInteger(),
                    qPrintable(o["compute_capability"].toString()));
    }
    std::printf("  duration     %.3f s\n", double(durationNs) / 1e9);
    std::printf("  size         %s in %zu chunks\n", qPrintable(humanBytes(double(reader.fileBytes()))),
                reader.chunks().size());
    std::printf("  events       %llu (%.2f bytes/event)\n", static_cast<unsigned long long>(trace.events), bytesPerEvent);
    for (auto it = counts.begin(); it != counts.end(); ++it)
        std::printf("    %-16s %lld\n", qPrintable(it.key()), it.value().toInteger());
    if (trace.droppedEvents)
        std::printf("  dropped      %llu events were dropped during capture\n",
                    static_cast<unsigned long long>(trace.droppedEvents));
    for (const auto& n : notes) std::printf("  note         %s\n", qPrintable(n.toString()));
    if (reader.truncated() || corrupt || !problems.isEmpty()) {
        std::printf("  status       %s\n", reader.truncated() ? "TRUNCATED" : (corrupt ? "CORRUPT" : "WARNINGS"));
        for (const auto& p : problems) std::printf("    - %s\n", qPrintable(p.toString()));
    } else {
        std::printf("  status       complete\n");
    }
    return kExitOk;
}

const CommandRegistration registration{
    {"info", "What a trace holds: devices, duration, events per type, integrity", &runInfo}};

}  // namespace
}  // namespace vramscope::cli
