// PyTorch memory snapshot → .vtrace; see snapshot_import.h.
//
// Snapshot layout relied on (torch 2.1 to 2.11, THCPModule_memorySnapshot and
// torch/cuda/memory.py _snapshot's docstring):
//   {"segments": [{"device", "address", "total_size", "allocated_size",
//                  "active_size", "requested_size", "stream", "segment_type",
//                  "segment_pool_id": (int, int), "is_expandable", "frames",
//                  "blocks": [{"address", "size", "requested_size",
//                              "state": "active_allocated" | "active_pending_free"
//                                       | "inactive", "frames"}]}],
//    "device_traces": [[{"action", "addr" ("device_free" for oom), "size",
//                        "stream", "time_us", "frames" (when recorded),
//                        "compile_context", "user_metadata" (newer)}]],  # per device
//    "allocator_settings": {...}, "external_annotations": [{..., "device", "time_us"}]}
// Frames are {"filename", "line", "name"} dicts, innermost first; PyTorch
// shares frame dicts and whole frame lists between entries (py_symbolize
// dedups them), which the pickle memo preserves and we cache by value index.
// time_us is Unix time in microseconds.
#include "snapshot_import.h"

#include "format/input_file.h"
#include "format/saturating.h"
#include "format/writer.h"
#include "pickle_reader.h"
#include "snapshot_callsites.h"
#include "snapshot_phases.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include <unistd.h>

namespace vramscope::import {

using namespace vramscope::format;

namespace {

constexpr const char* kMarkDomain = "torch.cuda.memory";
constexpr uint32_t kMaxDeviceId = 1023;

enum class Action : uint8_t {
    Alloc, FreeRequested, FreeCompleted, SegmentAlloc, SegmentFree, SegmentMap, SegmentUnmap, Oom, Snapshot,
    Annotate, Unknown,
};

Action parseAction(std::string_view a) {
    if (a == "alloc") return Action::Alloc;
    if (a == "free_requested") return Action::FreeRequested;
    if (a == "free_completed") return Action::FreeCompleted;
    if (a == "segment_alloc") return Action::SegmentAlloc;
    if (a == "segment_free") return Action::SegmentFree;
    if (a == "segment_map") return Action::SegmentMap;
    if (a == "segment_unmap") return Action::SegmentUnmap;
    if (a == "oom") return Action::Oom;
    if (a == "snapshot") return Action::Snapshot;
    if (a == "annotate") return Action::Annotate;
    return Action::Unknown;
}

struct Entry {
    Action action = Action::Unknown;
    uint32_t device = 0;
    uint64_t addr = 0, size = 0, stream = 0, deviceFree = 0;
    uint64_t ns = 0;
    bool hasTime = false;
    PickleValue frames;
    PickleValue metadata;  // annotate: user_metadata
};

struct LiveBlock {
    uint64_t size = 0, stream = 0;
    PickleValue frames;  // only for blocks from the final state
};

// One record to write, sorted by time. Failures reuse tensor's fields
// (bytes = requested, address = device free) to keep this small: a long
// history has millions.
struct Pending {
    uint64_t ns = 0;
    uint64_t seq = 0;
    enum Kind : uint8_t { Tensor, Failure, MarkText, RangeText, PhaseMarker } kind = Tensor;
    uint32_t markText = 0;  // index into markTexts (RangeText: tensor.bytes holds the end time; PhaseMarker: into phases_)
    TensorMemory tensor;
};

class Importer {
public:
    Importer(const ImportOptions& options, ImportStats& stats) : options_(options), stats_(stats), callsites_(options) {}

    bool run(const PickleDocument& doc, const std::string& sourceName, const std::string& vtracePath,
             uint64_t inputBytes, std::string* error);

private:
    bool fail(const std::string& message) {
        error_ = message;
        return false;
    }
    // Bounds the work on hostile pickles whose memo references make one list
    // appear many times: a real snapshot spends well over one byte per entry.
    bool visit() {
        if (++visits_ <= visitBudget_) return true;
        return fail("the pickle refers to the same entries over and over (more than " + std::to_string(visitBudget_) +
                    " entries for a file of this size); it was not written by PyTorch");
    }
    bool readSegments(PickleValue segments);
    bool readTraces(PickleValue traces);
    void replayBackwards();
    void collectEvents();
    void collectAnnotations(PickleValue annotations);
    void inferPhases();
    bool write(const std::string& sourceName, const std::string& vtracePath);
    void warn(std::string text) { stats_.warnings.push_back(std::move(text)); }
    // A size no device holds (format::kMaxPlausibleBytes) is damage, not
    // memory: the entry, segment or block carrying it is left out, counted
    // in impossibleSizes_, so no sum downstream can wrap around.
    bool plausible(uint64_t bytes) {
        if (bytes <= kMaxPlausibleBytes) return true;
        ++impossibleSizes_;
        return false;
    }
    uint64_t impossibleSizes_ = 0;

    const ImportOptions& options_;
    ImportStats& stats_;
    CallsiteTable callsites_;
    std::string error_;
    uint64_t visits_ = 0, visitBudget_ = 0;
    std::set<uint32_t> devices_;
    std::map<uint32_t, std::map<uint64_t, LiveBlock>> finalBlocks_;         // device → address → block
    std::map<uint32_t, std::map<uint64_t, LiveBlock>> finalSegments_;       // device → address → segment
    std::map<uint32_t, std::vector<Entry>> entries_;                        // device → history, in order
    std::map<uint32_t, std::map<uint64_t, LiveBlock>> initialBlocks_, initialSegments_;
    std::vector<Pending> pending_;
    std::vector<std::string> markTexts_;
    FrameRoles frameRoles_;
    std::vector<TimedRole> allocationRoles_;        // every alloc entry's time and what its frames say
    std::vector<OptimizerRange> optimizerRanges_;   // "Optimizer.step#..." annotations
    std::vector<Phase> phases_;                     // inferred from the two above
    uint64_t t0_ = 0;
};

bool Importer::readSegments(PickleValue segments) {
    if (!segments.valid()) return true;
    if (!segments.isSequence()) return fail("'segments' is a " + std::string(pickleKindName(segments.kind())) + ", not a list");
    uint64_t skipped = 0;
    for (size_t s = 0; s < segments.size(); ++s) {
        if (!visit()) return false;
        const PickleValue seg = segments.at(s);
        int64_t device = seg.get("device").intOr(0);
        uint64_t address, totalSize;
        if (!seg.isDict() || device < 0 || device > kMaxDeviceId || !seg.get("address").toUInt64(&address) ||
            !seg.get("total_size").toUInt64(&totalSize)) {
            ++skipped;
            continue;
        }
        if (!plausible(totalSize)) continue;
        const uint32_t d = static_cast<uint32_t>(device);
        devices_.insert(d);
        const uint64_t stream = seg.get("stream").uintOr(0);
        ++stats_.segments;
        stats_.reservedBytesAtEnd = saturatingAdd(stats_.reservedBytesAtEnd, totalSize);
        finalSegments_[d][address] = LiveBlock{totalSize, stream, {}};
        const PickleValue blocks = seg.get("blocks");
        for (size_t b = 0; b < blocks.size(); ++b) {
            if (!visit()) return false;
            const PickleValue block = blocks.at(b);
            uint64_t blockAddress, size;
            if (!block.isDict() || !block.get("address").toUInt64(&blockAddress) || !block.get("size").toUInt64(&size)) {
                ++skipped;
                continue;
            }
            if (!plausible(size)) continue;
            ++stats_.blocks;
            const std::string_view state = block.get("state").text();
            if (state != "active_allocated" && state != "active_pending_free") continue;
            // Trace entries carry requested sizes (record_trace gets orig_size), so
            // the state before them uses requested sizes too; memory_allocated()
            // counts the rounded block sizes.
            uint64_t requested = size;
            (void)block.get("requested_size").toUInt64(&requested);
            if (requested > size) requested = size;  // the allocator rounds up, never down
            ++stats_.activeBlocks;
            stats_.allocatedBytesAtEnd = saturatingAdd(stats_.allocatedBytesAtEnd, size);
            stats_.requestedBytesAtEnd = saturatingAdd(stats_.requestedBytesAtEnd, requested);
            finalBlocks_[d][blockAddress] = LiveBlock{requested, stream, block.get("frames")};
        }
    }
    if (skipped) warn(std::to_string(skipped) + " segments or blocks without a device, address or size were skipped");
    return true;
}

bool Importer::readTraces(PickleValue traces) {
    if (!traces.valid()) return true;
    if (!traces.isSequence())
        return fail("'device_traces' is a " + std::string(pickleKindName(traces.kind())) + ", not a list");
    uint64_t malformed = 0;
    for (size_t d = 0; d < traces.size(); ++d) {
        if (!visit()) return false;
        const PickleValue list = traces.at(d);
        if (!list.isSequence() || list.size() == 0) continue;
        if (d > kMaxDeviceId) return fail("'device_traces' lists more than " + std::to_string(kMaxDeviceId + 1) + " devices");
        const uint32_t device = static_cast<uint32_t>(d);
        devices_.insert(device);
        auto& out = entries_[device];
        for (size_t i = 0; i < list.size(); ++i) {
            if (!visit()) return false;
            const PickleValue e = list.at(i);
            ++stats_.traceEntries;
            if (!e.isDict()) { ++malformed; continue; }
            Entry entry;
            entry.device = device;
            entry.action = parseAction(e.get("action").text());
            entry.addr = e.get("addr").uintOr(0);
            entry.size = e.get("size").uintOr(0);
            entry.stream = e.get("stream").uintOr(0);
            entry.deviceFree = e.get("device_free").uintOr(0);
            if (entry.deviceFree > kMaxPlausibleBytes) entry.deviceFree = 0;  // unknown
            // An out-of-memory may ask for anything (it failed): its size is
            // kept. Any other entry's size goes into the curves.
            if (entry.action != Action::Oom && !plausible(entry.size)) {
                ++stats_.skippedEntries;
                continue;
            }
            entry.frames = e.get("frames");
            int64_t timeUs;
            if (e.get("time_us").toInt64(&timeUs) && timeUs >= 0 && uint64_t(timeUs) <= UINT64_MAX / 1000) {
                entry.ns = uint64_t(timeUs) * 1000;
                entry.hasTime = true;
            }
            if (entry.action == Action::Annotate) entry.metadata = e.get("user_metadata");
            if (entry.action == Action::Unknown) ++stats_.skippedEntries;
            out.push_back(std::move(entry));
        }
    }
    if (malformed) {
        stats_.skippedEntries += malformed;
        warn(std::to_string(malformed) + " trace entries were not dicts and were skipped");
    }
    // One clock for all entries: time_us everywhere, or synthetic 1 µs steps.
    bool allTimed = true;
    uint64_t count = 0;
    for (auto& [device, list] : entries_)
        for (auto& e : list) { allTimed = allTimed && e.hasTime; ++count; }
    if (!allTimed && count) {
        stats_.syntheticTimes = true;
        warn("the snapshot's trace entries carry no time_us (PyTorch older than 2.1?); they are placed 1 µs apart in "
             "recorded order, devices one after another");
        uint64_t t = 1000;
        for (auto& [device, list] : entries_)
            for (auto& e : list) { e.ns = t; t += 1000; }
    }
    if (count) {
        stats_.firstNs = UINT64_MAX;
        for (auto& [device, list] : entries_)
            for (auto& e : list) {
                stats_.firstNs = std::min(stats_.firstNs, e.ns);
                stats_.lastNs = std::max(stats_.lastNs, e.ns);
            }
        t0_ = stats_.firstNs;
    }
    return true;
}

// What existed before the first trace entry: start from the snapshot's final
// state and undo the history, newest entry first.
void Importer::replayBackwards() {
    for (uint32_t d : devices_) {
        auto blocks = finalBlocks_[d];
        auto segments = finalSegments_[d];
        auto found = entries_.find(d);
        if (found != entries_.end()) {
            const auto& list = found->second;
            for (size_t i = list.size(); i-- > 0;) {
                const Entry& e = list[i];
                switch (e.action) {
                case Action::Alloc: blocks.erase(e.addr); break;
                case Action::FreeRequested:
                case Action::FreeCompleted: blocks.try_emplace(e.addr, LiveBlock{e.size, e.stream, {}}); break;
                case Action::SegmentAlloc: segments.erase(e.addr); break;
                case Action::SegmentFree: segments.try_emplace(e.addr, LiveBlock{e.size, e.stream, {}}); break;
                case Action::SegmentMap: {
                    // Expandable segments grow by mapping pages at their end: undo
                    // by shrinking the segment that holds the range.
                    auto it = segments.upper_bound(e.addr);
                    if (it == segments.begin()) break;
                    --it;
                    if (e.addr - it->first >= it->second.size) break;  // it->first <= e.addr: no wrap
                    if (it->first == e.addr && e.size >= it->second.size) segments.erase(it);
                    else it->second.size -= std::min(e.size, it->second.size);
                    break;
                }
                case Action::SegmentUnmap: {
                    auto it = segments.upper_bound(e.addr);
                    if (it != segments.begin()) {
                        --it;
                        if (e.addr - it->first <= it->second.size) {  // ends at e.addr or holds it; it->first <= e.addr
                            it->second.size = saturatingAdd(it->second.size, e.size);
                            break;
                        }
                    }
                    segments.try_emplace(e.addr, LiveBlock{e.size, e.stream, {}});
                    break;
                }
                default: break;
                }
            }
        }
        stats_.initialBlocks += blocks.size();
        stats_.initialSegments += segments.size();
        initialBlocks_[d] = std::move(blocks);
        initialSegments_[d] = std::move(segments);
    }
}

void Importer::collectEvents() {
    uint64_t seq = 0;
    for (uint32_t d : devices_) {
        for (auto& [address, s] : initialSegments_[d]) {
            Pending p;
            p.ns = t0_;
            p.seq = seq++;
            p.tensor = TensorMemory{t0_, TensorAction::SegmentAlloc, d, address, s.size, s.stream, 0};
            pending_.push_back(p);
        }
    }
    for (uint32_t d : devices_) {
        for (auto& [address, b] : initialBlocks_[d]) {
            Pending p;
            p.ns = t0_;
            p.seq = seq++;
            p.tensor = TensorMemory{t0_, TensorAction::Snapshot, d, address, b.size, b.stream, callsites_.forFrames(b.frames)};
            pending_.push_back(p);
        }
    }
    // _record_memory_history(skip_actions=["free_completed"]) leaves only the
    // requests; the block is then taken as free at the request.
    bool anyCompleted = false, anyRequested = false;
    for (auto& [d, list] : entries_)
        for (const Entry& e : list) {
            anyCompleted = anyCompleted || e.action == Action::FreeCompleted;
            anyRequested = anyRequested || e.action == Action::FreeRequested;
        }
    const bool completeAtRequest = anyRequested && !anyCompleted;
    if (completeAtRequest)
        warn("the history has free_requested but no free_completed entries (skip_actions?); blocks are taken as "
             "free when their free was requested");
    for (auto& [d, list] : entries_) {
        for (const Entry& e : list) {
            Pending p;
            p.ns = e.ns;
            p.seq = seq++;
            TensorAction action = TensorAction::Alloc;
            switch (e.action) {
            case Action::Alloc: action = TensorAction::Alloc; ++stats_.allocs; break;
            case Action::FreeRequested: action = TensorAction::FreeRequested; ++stats_.freesRequested; break;
            case Action::FreeCompleted: action = TensorAction::FreeCompleted; ++stats_.freesCompleted; break;
            case Action::SegmentAlloc: action = TensorAction::SegmentAlloc; ++stats_.segmentAllocs; break;
            case Action::SegmentFree: action = TensorAction::SegmentFree; ++stats_.segmentFrees; break;
            case Action::SegmentMap: action = TensorAction::SegmentMap; ++stats_.segmentMaps; break;
            case Action::SegmentUnmap: action = TensorAction::SegmentUnmap; ++stats_.segmentUnmaps; break;
            case Action::Oom:
                ++stats_.ooms;
                p.kind = Pending::Failure;
                p.tensor = TensorMemory{e.ns, TensorAction::Alloc, d, e.deviceFree, e.size, 0, callsites_.forFrames(e.frames)};
                pending_.push_back(p);
                continue;
            case Action::Snapshot:
                ++stats_.snapshotMarkers;
                p.kind = Pending::MarkText;
                p.markText = static_cast<uint32_t>(markTexts_.size());
                markTexts_.push_back("memory snapshot taken (device " + std::to_string(d) + ")");
                pending_.push_back(p);
                continue;
            case Action::Annotate:
                ++stats_.annotations;
                p.kind = Pending::MarkText;
                p.markText = static_cast<uint32_t>(markTexts_.size());
                markTexts_.push_back("annotate: " + std::string(e.metadata.text().substr(0, 200)));
                pending_.push_back(p);
                continue;
            case Action::Unknown: continue;
            }
            // Stacks cost the most to record; free entries usually carry none.
            const uint32_t callsite = callsites_.forFrames(e.frames);
            if (action == TensorAction::Alloc) allocationRoles_.push_back({e.ns, frameRoles_.of(e.frames)});
            p.tensor = TensorMemory{e.ns, action, d, e.addr, e.size, e.stream, callsite};
            pending_.push_back(p);
            if (completeAtRequest && action == TensorAction::FreeRequested) {
                p.seq = seq++;
                p.tensor.action = TensorAction::FreeCompleted;
                pending_.push_back(p);
            }
        }
    }
}

// external_annotations: torch 2.11 records record_function ranges there, e.g.
// {"stage": "START" | "END", "name": "Optimizer.step#AdamW.step", "device", "time_us"}.
// START/END pairs of one name become Range records; anything else a Mark.
void Importer::collectAnnotations(PickleValue annotations) {
    if (!annotations.isSequence()) return;
    std::map<std::pair<int64_t, std::string>, std::vector<uint64_t>> open;  // (device, name) → start times
    auto add = [&](uint64_t ns, Pending::Kind kind, std::string text, uint64_t endNs) {
        Pending p;
        p.ns = ns;
        p.seq = pending_.size() + (1ull << 62);
        p.kind = kind;
        p.markText = static_cast<uint32_t>(markTexts_.size());
        p.tensor.bytes = endNs;
        markTexts_.push_back(std::move(text));
        pending_.push_back(p);
        ++stats_.annotations;
    };
    for (size_t i = 0; i < annotations.size(); ++i) {
        if (!visit()) return;
        const PickleValue a = annotations.at(i);
        if (!a.isDict()) continue;
        int64_t timeUs;
        uint64_t ns = t0_;
        if (!stats_.syntheticTimes && a.get("time_us").toInt64(&timeUs) && timeUs >= 0 &&
            uint64_t(timeUs) <= UINT64_MAX / 1000)
            ns = uint64_t(timeUs) * 1000;
        const std::string_view stage = a.get("stage").text();
        const std::string name(a.get("name").text().substr(0, 200));
        const int64_t device = a.get("device").intOr(0);
        if (!name.empty() && stage == "START") {
            open[{device, name}].push_back(ns);
            continue;
        }
        if (!name.empty() && stage == "END") {
            auto it = open.find({device, name});
            if (it != open.end() && !it->second.empty()) {
                const uint64_t startNs = it->second.back();
                it->second.pop_back();
                if (name.rfind("Optimizer.step", 0) == 0) optimizerRanges_.push_back({startNs, std::max(ns, startNs)});
                add(startNs, Pending::RangeText, name, std::max(ns, startNs));
                continue;
            }
        }
        std::string text;
        for (size_t k = 0; k < a.size() && text.size() < 200; ++k) {
            const std::string_view key = a.keyAt(k).text();
            if (key == "device" || key == "time_us" || key.empty()) continue;
            const PickleValue v = a.valueAt(k);
            std::string value = v.isString() ? std::string(v.text().substr(0, 100))
                                : v.isInt()  ? std::to_string(v.intOr(0))
                                             : std::string(pickleKindName(v.kind()));
            text += (text.empty() ? "" : ", ") + std::string(key.substr(0, 50)) + "=" + value;
        }
        add(ns, Pending::MarkText, "annotation: " + text, 0);
    }
    for (auto& [key, starts] : open)  // never ended: a mark at the start
        for (uint64_t startNs : starts) add(startNs, Pending::MarkText, key.second + " (started, never ended)", 0);
}

// Steps and phases from what the allocations' frames say (snapshot_phases.h):
// without them a snapshot has no phases, and the analysis could only guess
// iterations from the allocated curve.
void Importer::inferPhases() {
    phases_ = phasesFromFrames(std::move(allocationRoles_), std::move(optimizerRanges_), 0);
    for (size_t i = 0; i < phases_.size(); ++i) {
        if (phases_[i].kind == PhaseKind::StepBegin) ++stats_.stepsFromFrames;
        Pending p;
        p.ns = phases_[i].timestampNs;
        p.seq = (1ull << 62) + pending_.size();
        p.kind = Pending::PhaseMarker;
        p.markText = static_cast<uint32_t>(i);
        pending_.push_back(p);
    }
}

bool Importer::write(const std::string& sourceName, const std::string& vtracePath) {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& a, const Pending& b) { return a.ns != b.ns ? a.ns < b.ns : a.seq < b.seq; });
    WriterOptions writerOptions;
    writerOptions.createdUnixNs = stats_.syntheticTimes || t0_ == 0 ? 1 : t0_;  // deterministic output
    TraceWriter writer(writerOptions);
    std::string error;
    if (!writer.open(vtracePath, &error)) return fail(error.empty() ? "cannot create " + vtracePath : error);

    ProcessInfo process;
    process.timestampNs = t0_;
    process.commandLineId = writer.intern("torch.cuda.memory._dump_snapshot(): " + sourceName);
    process.wallClockNs = stats_.syntheticTimes ? 0 : t0_;
    writer.write(process);
    for (uint32_t d : devices_) {
        DeviceInfo device;
        device.timestampNs = t0_;
        device.deviceId = d;
        device.nameId = writer.intern("CUDA device " + std::to_string(d) + " (from a PyTorch snapshot)");
        writer.write(device);
    }
    stats_.devices = static_cast<uint32_t>(devices_.size());
    Note note;
    note.timestampNs = t0_;
    note.severity = Severity::Info;
    note.textId = writer.intern("Imported from the PyTorch memory snapshot " + sourceName + ": " +
                                std::to_string(stats_.traceEntries) + " trace entries, " +
                                std::to_string(stats_.segments) + " segments when it was taken. A snapshot has "
                                "allocator events only: no kernels, phases or driver-level memory.");
    writer.write(note);
    if (stats_.stepsFromFrames) {
        Note phases = note;
        phases.textId = writer.intern(std::to_string(stats_.stepsFromFrames) +
                                      " training steps and their phases were inferred from the allocations' stack "
                                      "frames: module calls are forward, the autograd engine backward, torch/optim/ "
                                      "and Optimizer.step annotations the optimizer.");
        writer.write(phases);
    }
    for (const auto& w : stats_.warnings) {
        Note warning;
        warning.timestampNs = t0_;
        warning.severity = Severity::Warning;
        warning.textId = writer.intern(w);
        writer.write(warning);
    }
    // Callsites before the records that use them.
    uint32_t id = 0;
    for (const auto& def : callsites_.defs()) {
        CallsiteDef c;
        c.id = ++id;
        c.parentId = def.parent;
        c.fileId = writer.intern(def.file);
        c.functionId = writer.intern(def.function);
        c.line = def.line;
        writer.write(c);
    }
    stats_.callsites = callsites_.defs().size();
    const uint32_t domainId = writer.intern(kMarkDomain);
    const uint32_t phaseNameId = phases_.empty() ? 0 : writer.intern(kPhasesFromStackFrames);
    for (const Pending& p : pending_) {
        switch (p.kind) {
        case Pending::Tensor: writer.write(p.tensor); break;
        case Pending::Failure:
            writer.write(AllocFailure{p.ns, FailureSource::Framework, p.tensor.deviceId, p.tensor.bytes, p.tensor.address,
                                      p.tensor.callsiteId});
            break;
        case Pending::RangeText: {
            Range r;
            r.startNs = p.ns;
            r.endNs = p.tensor.bytes;
            r.kind = RangeKind::StartEnd;
            r.domainId = domainId;
            r.nameId = writer.intern(markTexts_[p.markText]);
            writer.write(r);
            break;
        }
        case Pending::PhaseMarker: {
            Phase phase = phases_[p.markText];
            phase.nameId = phaseNameId;
            writer.write(phase);
            break;
        }
        case Pending::MarkText: {
            Mark m;
            m.timestampNs = p.ns;
            m.domainId = domainId;
            m.nameId = writer.intern(markTexts_[p.markText]);
            writer.write(m);
            break;
        }
        }
    }
    stats_.eventsWritten = writer.eventsWritten();
    if (!writer.close()) return fail("writing " + vtracePath + " failed: " + writer.error());
    return true;
}

bool Importer::run(const PickleDocument& doc, const std::string& sourceName, const std::string& vtracePath,
                   uint64_t inputBytes, std::string* error) {
    visitBudget_ = inputBytes + 4096;
    const PickleValue root = doc.root();
    PickleValue segments, traces, annotations;
    if (root.isDict()) {
        segments = root.get("segments");
        traces = root.get("device_traces");
        annotations = root.get("external_annotations");
        if (!segments.valid() && !traces.valid()) {
            std::string keys;
            for (size_t k = 0; k < root.size() && k < 8; ++k) {
                const PickleValue key = root.keyAt(k);
                keys += (k ? ", " : "") + (key.isString() ? "'" + std::string(key.text().substr(0, 40)) + "'"
                                                          : std::string(pickleKindName(key.kind())));
            }
            if (root.size() > 8) keys += ", ...";
            *error = "not a PyTorch memory snapshot: the pickle holds a dict without 'segments' or 'device_traces'" +
                     (keys.empty() ? std::string(" (it is empty)") : " (its keys: " + keys + ")");
            return false;
        }
    } else if (root.isList()) {
        segments = root;  // torch.cuda.memory_snapshot() returns just the segments
    } else {
        *error = std::string("not a PyTorch memory snapshot: the pickle holds a ") + pickleKindName(root.kind()) +
                 ", not the dict that torch.cuda.memory._dump_snapshot() writes";
        return false;
    }
    if (!readSegments(segments) || !readTraces(traces)) {
        *error = error_;
        return false;
    }
    if (impossibleSizes_)
        warn(std::to_string(impossibleSizes_) + " segments, blocks or trace entries with sizes over 256 TiB, more than "
             "any device holds, were left out: the snapshot is damaged or was altered");
    if (!traces.valid() || stats_.traceEntries == 0)
        warn("the snapshot has no allocation history (was torch.cuda.memory._record_memory_history() on?); "
             "only the state when it was taken is shown");
    replayBackwards();
    collectEvents();
    collectAnnotations(annotations);
    inferPhases();
    if (!error_.empty() || !write(sourceName, vtracePath)) {
        *error = error_;
        return false;
    }
    return true;
}

std::string baseName(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A sentence for files that are clearly something else than a pickle.
std::string notAPickleReason(const uint8_t* data, size_t size) {
    if (size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0)
        return "is a zip archive (torch.save() output?), not a torch.cuda.memory._dump_snapshot() pickle";
    if (size >= 4 && std::memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0) return "is zstd-compressed; decompress it first";
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return "is gzip-compressed; decompress it first (gunzip)";
    return {};
}

}  // namespace

bool looksLikePickle(const uint8_t* data, size_t size) {
    return size >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5;
}

bool looksLikePickle(const std::string& path) {
    // Not a regular file: not a pickle; the trace reader then says what it is.
    const int fd = openRegularFile(path, nullptr);
    if (fd < 0) return false;
    uint8_t head[2] = {};
    ssize_t n;
    do n = ::read(fd, head, 2);
    while (n < 0 && errno == EINTR);
    ::close(fd);
    return looksLikePickle(head, n > 0 ? size_t(n) : 0);
}

bool importSnapshotBytes(const uint8_t* data, size_t size, const std::string& sourceName,
                         const std::string& vtracePath, ImportStats* stats, std::string* error,
                         const ImportOptions& options) {
    ImportStats localStats;
    ImportStats& s = stats ? *stats : localStats;
    s = ImportStats{};
    s.pickleBytes = size;
    std::string localError;
    std::string& err = error ? *error : localError;
    const std::string why = notAPickleReason(data, size);
    if (!why.empty()) {
        err = sourceName + " " + why;
        return false;
    }
    PickleDocument doc;
    std::string pickleError;
    if (!parsePickle(data, size, doc, &pickleError)) {
        err = sourceName + ": " + pickleError;
        return false;
    }
    s.pickleProtocol = doc.stats().protocol;
    Importer importer(options, s);
    if (!importer.run(doc, sourceName, vtracePath, size, &pickleError)) {
        err = sourceName + ": " + pickleError;
        return false;
    }
    return true;
}

bool importSnapshot(const std::string& picklePath, const std::string& vtracePath, ImportStats* stats,
                    std::string* error, const ImportOptions& options) {
    std::string localError;
    std::string& err = error ? *error : localError;
    // A FIFO or device (/dev/zero) is refused before any byte is read: it
    // could block forever or never end.
    const int fd = openRegularFile(picklePath, &err);
    if (fd < 0) return false;
    FILE* f = ::fdopen(fd, "rb");
    if (!f) {
        err = picklePath + ": cannot open: " + std::strerror(errno);
        ::close(fd);
        return false;
    }
    std::vector<uint8_t> bytes;
    uint8_t buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
    const bool readError = std::ferror(f);
    std::fclose(f);
    if (readError) {
        err = picklePath + ": read error: " + std::strerror(errno);
        return false;
    }
    return importSnapshotBytes(bytes.data(), bytes.size(), baseName(picklePath), vtracePath, stats, &err, options);
}

bool importSnapshotToTemporary(const std::string& picklePath, std::string* vtracePath, ImportStats* stats,
                               std::string* error, const ImportOptions& options) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/vramscope-snapshot-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) {
        if (error) *error = "cannot create a temporary file in " + pattern.substr(0, pattern.rfind('/')) + ": " + std::strerror(errno);
        return false;
    }
    ::close(fd);
    const std::string path(name.data());
    if (!importSnapshot(picklePath, path, stats, error, options)) {
        ::unlink(path.c_str());
        return false;
    }
    *vtracePath = path;
    return true;
}

}  // namespace vramscope::import
