// vramscope import SNAPSHOT.pickle [-o OUT.vtrace] [--json]: convert a PyTorch
// memory snapshot (torch.cuda.memory._dump_snapshot()) into a trace.
#include "command.h"
#include "command_args.h"
#include "path_bytes.h"
#include "format/input_file.h"
#include "format/output_file.h"
#include "import/snapshot_import.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

#include <unistd.h>

namespace vramscope::cli {
namespace {

QString defaultOutput(const QString& input) {
    QFileInfo info(input);
    QString base = info.fileName();
    for (const char* suffix : {".pickle", ".pkl", ".pk"}) {
        if (base.endsWith(suffix)) {
            base.chop(int(qstrlen(suffix)));
            break;
        }
    }
    return info.dir().filePath(base + ".vtrace");
}

int runImport(const QStringList& arguments) {
    ImportArgs args;
    int exitCode = 0;
    if (!parseImportArgs(arguments, &args, &exitCode)) return exitCode;
    const QString input = args.input;
    const QString out = args.outputGiven ? args.output : defaultOutput(input);
    // The trace is written beside OUT and renamed over it once complete; OUT
    // may not be the snapshot itself under any spelling (symlink, hard link).
    std::string error;
    const int inputFd = format::openRegularFile(pathBytes(input), &error);  // its sentence comes first
    if (inputFd < 0) {
        printError("import", textFromBytes(error));
        return kExitBadInput;
    }
    ::close(inputFd);
    format::OutputFile target;
    if (!target.begin(pathBytes(out), {pathBytes(input)}, &error)) {
        printError("import", textFromBytes(error));
        return target.refusedPath() ? kExitUsage : kExitBadInput;
    }

    import::ImportOptions options;
    options.keepCppFrames = args.keepCppFrames;
    import::ImportStats stats;
    if (!import::importSnapshot(pathBytes(input), target.writePath(), &stats, &error, options) ||
        !target.commit(&error)) {
        printError("import", textFromBytes(target.userText(error)));
        return kExitBadInput;
    }

    const auto n = [](uint64_t v) { return qint64(v); };
    if (args.json) {
        QJsonArray warnings;
        for (const auto& w : stats.warnings) warnings.append(QString::fromStdString(w));
        QJsonObject o{
            {"input", input},
            {"output", out},
            {"pickle_bytes", n(stats.pickleBytes)},
            {"pickle_protocol", n(stats.pickleProtocol)},
            {"devices", n(stats.devices)},
            {"segments", n(stats.segments)},
            {"blocks", n(stats.blocks)},
            {"active_blocks", n(stats.activeBlocks)},
            {"reserved_bytes_at_end", n(stats.reservedBytesAtEnd)},
            {"allocated_bytes_at_end", n(stats.allocatedBytesAtEnd)},
            {"requested_bytes_at_end", n(stats.requestedBytesAtEnd)},
            {"initial_blocks", n(stats.initialBlocks)},
            {"initial_segments", n(stats.initialSegments)},
            {"trace_entries", n(stats.traceEntries)},
            {"allocs", n(stats.allocs)},
            {"frees_requested", n(stats.freesRequested)},
            {"frees_completed", n(stats.freesCompleted)},
            {"segment_allocs", n(stats.segmentAllocs)},
            {"segment_frees", n(stats.segmentFrees)},
            {"segment_maps", n(stats.segmentMaps)},
            {"segment_unmaps", n(stats.segmentUnmaps)},
            {"snapshot_markers", n(stats.snapshotMarkers)},
            {"ooms", n(stats.ooms)},
            {"annotations", n(stats.annotations)},
            {"skipped_entries", n(stats.skippedEntries)},
            {"callsites", n(stats.callsites)},
            {"steps_from_frames", n(stats.stepsFromFrames)},
            {"first_ns", n(stats.firstNs)},
            {"last_ns", n(stats.lastNs)},
            {"synthetic_times", stats.syntheticTimes},
            {"events_written", n(stats.eventsWritten)},
            {"warnings", warnings},
        };
        std::fputs(QJsonDocument(o).toJson(QJsonDocument::Indented).constData(), stdout);
        return kExitOk;
    }
    std::printf("%s -> %s\n", pathBytes(input).c_str(), pathBytes(out).c_str());
    std::printf("  snapshot     %u device(s), %llu segments, %llu active blocks (pickle protocol %u)\n", stats.devices,
                static_cast<unsigned long long>(stats.segments), static_cast<unsigned long long>(stats.activeBlocks),
                stats.pickleProtocol);
    std::printf("  history      %llu entries: %llu allocs, %llu frees requested, %llu frees completed,\n"
                "               %llu segment allocs, %llu segment frees, %llu maps, %llu unmaps, %llu OOMs\n",
                static_cast<unsigned long long>(stats.traceEntries), static_cast<unsigned long long>(stats.allocs),
                static_cast<unsigned long long>(stats.freesRequested),
                static_cast<unsigned long long>(stats.freesCompleted),
                static_cast<unsigned long long>(stats.segmentAllocs), static_cast<unsigned long long>(stats.segmentFrees),
                static_cast<unsigned long long>(stats.segmentMaps), static_cast<unsigned long long>(stats.segmentUnmaps),
                static_cast<unsigned long long>(stats.ooms));
    std::printf("  before it    %llu blocks in %llu segments (reconstructed)\n",
                static_cast<unsigned long long>(stats.initialBlocks), static_cast<unsigned long long>(stats.initialSegments));
    std::printf("  callsites    %llu\n", static_cast<unsigned long long>(stats.callsites));
    if (stats.stepsFromFrames)
        std::printf("  steps        %llu, with their phases, from the stack frames (module calls: forward, autograd: "
                    "backward, torch/optim: optimizer)\n",
                    static_cast<unsigned long long>(stats.stepsFromFrames));
    std::printf("  written      %llu events\n", static_cast<unsigned long long>(stats.eventsWritten));
    for (const auto& w : stats.warnings) std::printf("  warning      %s\n", w.c_str());
    return kExitOk;
}

const CommandRegistration registration{
    {"import", "Convert a PyTorch memory snapshot pickle (_dump_snapshot) into a trace", &runImport}};

}  // namespace
}  // namespace vramscope::cli
