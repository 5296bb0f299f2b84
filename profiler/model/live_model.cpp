#include "live_model.h"

#include "column_merge.h"
#include "format/saturating.h"
#include "memory_replay.h"
#include "record_collector.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace vramscope::model {

using namespace vramscope::format;

namespace {

// One replay (tensor or driver level) fed as records arrive: records wait in
// `pending` until the watermark passes them, then join `log` (replay order)
// and are replayed. A checkpoint every K log records lets a late record
// rewind the replay instead of redoing it from the start.
template <class Replay> struct ReplayLog {
    std::vector<RawMemory> pending;  // arrived, newer than the watermark, arrival order
    std::vector<RawMemory> log;      // matched, in replay order
    struct Checkpoint {
        size_t index;  // log records replayed before it
        typename Replay::State state;
        typename Replay::Marks marks;
    };
    std::vector<Checkpoint> checkpoints;
    std::vector<uint32_t> freed;  // blocks whose freeNs the last commit changed
    std::vector<RawMemory> ready;  // scratch
    Replay replay;

    explicit ReplayLog(typename Replay::Outputs out) : replay([&] { out.freed = &freed; return out; }()) {}

    // Moves the pending records at or before the watermark into the log and
    // replays them. key(r) orders records (ties: arrival order). Returns the
    // first block the commit may have changed (SIZE_MAX: none).
    template <class Key>
    size_t commit(uint64_t watermark, Key&& key, size_t everyK, size_t blocksBefore, LiveModel::Stats& stats) {
        freed.clear();
        ready.clear();
        size_t kept = 0;
        for (const RawMemory& r : pending) {
            if (r.timeNs <= watermark) ready.push_back(r);
            else pending[kept++] = r;
        }
        pending.resize(kept);
        if (ready.empty()) return SIZE_MAX;
        const size_t logged = log.size();
        const size_t at = mergeSortedRowsBy(
            logged, [&](size_t i) { return key(log[i]); }, ready.size(), [&](size_t j) { return key(ready[j]); },
            [&](auto&& column) { column(log, ready); });
        size_t from = logged;
        size_t firstBlock = blocksBefore;
        if (at < logged) {
            // A late record: back to the last checkpoint at or before it.
            size_t c = checkpoints.size();
            while (c > 0 && checkpoints[c - 1].index > at) --c;
            const Checkpoint& cp = checkpoints[c - 1];  // checkpoints[0] is at index 0
            replay.rewind(cp.state, cp.marks);
            firstBlock = std::min(firstBlock, cp.marks.blocks);
            from = cp.index;
            checkpoints.resize(c);
            ++stats.rewinds;
        }
        for (size_t i = from; i < log.size();) {
            if (i % everyK == 0 && (checkpoints.empty() || checkpoints.back().index < i))
                checkpoints.push_back({i, replay.state(), replay.marks()});
            const size_t end = std::min(log.size(), (i / everyK + 1) * everyK);
            replay.replay(log.data() + i, log.data() + end);
            i = end;
        }
        stats.replayedRecords += log.size() - from;
        return firstBlock;
    }
};

std::pair<uint64_t, int> tensorKey(const RawMemory& r) { return {r.timeNs, 0}; }
// driverReplayBefore as a key: PoolReserved first at one nanosecond.
std::pair<uint64_t, int> driverKey(const RawMemory& r) { return {r.timeNs, r.poolReserved ? 0 : 1}; }

void keepFirst(size_t& first, size_t candidate) { first = std::min(first, candidate); }

}  // namespace

struct LiveModel::State {
    Options options;
    std::unique_ptr<TraceModel> owned;  // when no model was given
    TraceModel& m;
    RecordCollector batch;  // the chunk being appended
    Changes changes;
    Stats stats;
    bool finished = false;
    uint64_t firstNs = UINT64_MAX;
    uint64_t committedNs = 0;

    std::unordered_map<uint32_t, size_t> counterIndex;  // counterId → m.counters
    size_t nvtxRanges = 0;  // m.ranges: NVTX ranges [0, nvtxRanges), then user regions
    uint16_t nvtxRows = 0;
    std::vector<Phase> regionPhases;  // region markers in time order

    // The replays' outputs. They live here while a commit runs and in the
    // model in between (swapped, O(1)); which of them the model shows depends
    // on the allocation level, as in ModelBuilder::finish().
    BlockColumns tensorBlocks, driverBlocks, driverMirror;  // mirror: model.blocks at driver level
    MemoryCurve tensorAllocated, segments, driverAllocated, driverReserved;
    std::vector<uint32_t> tensorPointBlocks, driverPointBlocks;
    AllocationLevel shownLevel = AllocationLevel::None;
    bool shownDriverReserved = false;
    ReplayLog<TensorReplay> tensor{{&tensorBlocks, &tensorAllocated, &tensorPointBlocks, &segments, nullptr}};
    ReplayLog<DriverReplay> driver{{&driverBlocks, &driverAllocated, &driverPointBlocks, &driverReserved, nullptr}};

    State(TraceModel* model, const Options& o)
        : options(o), owned(model ? nullptr : std::make_unique<TraceModel>()), m(model ? *model : *owned) {
        options.checkpointRecords = std::max<size_t>(options.checkpointRecords, 1);
    }

    // Between the model and the replays' storage; its own inverse.
    void swapOutputs() {
        if (shownLevel == AllocationLevel::Tensor) {
            std::swap(m.blocks, tensorBlocks);
            std::swap(m.allocated, tensorAllocated);
            std::swap(m.allocatedEventBlocks, tensorPointBlocks);
        } else if (shownLevel == AllocationLevel::Driver) {
            std::swap(m.blocks, driverMirror);
            std::swap(m.allocated, driverAllocated);
            std::swap(m.allocatedEventBlocks, driverPointBlocks);
        }
        std::swap(m.driverBlocks, driverBlocks);
        std::swap(m.reserved, shownDriverReserved ? driverReserved : segments);
    }

    void append(const RecordLists& records, uint64_t events);
    void mergeColumns(const RecordLists& records, bool lastNsMoved);
    void rebuildRanges(bool nvtxAppended);
    void commitMemory(uint64_t watermark);
};

void LiveModel::State::append(const RecordLists& records, uint64_t events) {
    batch.clearRows();
    batch.add(records);
    if (batch.sizes.anyLeftOut()) {
        // The counts so far replace those the model showed.
        auto& p = m.problems;
        p.erase(std::remove_if(p.begin(), p.end(), [](const TraceProblem& x) { return x.kind == TraceProblem::Kind::ImplausibleSize; }),
                p.end());
        for (TraceProblem& x : batch.sizes.problems()) p.push_back(std::move(x));
    }
    ++stats.appends;
    m.events += events;
    m.tensorEvents += batch.tensorEvents;
    m.driverEvents += batch.driverEvents;
    m.droppedEvents = saturatingAdd(m.droppedEvents, batch.droppedEvents);
    const uint64_t lastBefore = m.lastNs;
    firstNs = std::min(firstNs, batch.firstNs);
    m.firstNs = firstNs == UINT64_MAX ? 0 : firstNs;
    m.lastNs = std::max(m.lastNs, batch.lastNs);
    mergeColumns(records, m.lastNs != lastBefore);
    // A free_requested changes nothing until its free_completed: not worth
    // keeping (a third of PyTorch's records).
    for (const RawMemory& r : batch.tensor)
        if (r.action != uint8_t(TensorAction::FreeRequested)) tensor.pending.push_back(r);
    driver.pending.insert(driver.pending.end(), batch.pool.begin(), batch.pool.end());
    driver.pending.insert(driver.pending.end(), batch.driver.begin(), batch.driver.end());
    const uint64_t lag = options.reorderLagNs;
    commitMemory(finished ? UINT64_MAX : (m.lastNs > lag ? m.lastNs - lag : 0));
    changes.any = true;
}

void LiveModel::State::mergeColumns(const RecordLists& records, bool lastNsMoved) {
    TraceModel& b = batch.m;
    for (auto& [id, text] : b.strings) m.strings[id] = std::move(text);
    for (auto& [id, c] : b.callsites) m.callsites[id] = c;
    m.processes.insert(m.processes.end(), b.processes.begin(), b.processes.end());
    m.devices.insert(m.devices.end(), b.devices.begin(), b.devices.end());
    m.allocFailures.insert(m.allocFailures.end(), b.allocFailures.begin(), b.allocFailures.end());
    m.notes.insert(m.notes.end(), b.notes.begin(), b.notes.end());
    m.marks.insert(m.marks.end(), b.marks.begin(), b.marks.end());

    // Kernels. Launch times: a column for every kernel once any has one.
    auto& k = m.kernels;
    auto& bk = b.kernels;
    if (bk.size()) {
        const bool launchTimes = !bk.queuedLeadNs.empty() || !k.queuedLeadNs.empty();
        if (launchTimes && k.queuedLeadNs.empty()) k.queuedLeadNs.assign(k.size(), 0);
        if (launchTimes && bk.queuedLeadNs.empty()) bk.queuedLeadNs.assign(bk.size(), 0);
        const size_t before = k.size();
        const size_t at = mergeSortedRows(k.startNs, bk.startNs, [&](auto&& column) {
            column(k.startNs, bk.startNs);
            column(k.durationNs, bk.durationNs);
            column(k.nameId, bk.nameId);
            column(k.streamId, bk.streamId);
            column(k.deviceId, bk.deviceId);
            if (launchTimes) column(k.queuedLeadNs, bk.queuedLeadNs);
        });
        if (at < before) ++stats.lateRows;
        k.maxDurationNs = std::max(k.maxDurationNs, bk.maxDurationNs);
        keepFirst(changes.firstKernel, at);
        m.refreshKernelIndex(at);
    }
    for (auto [to, from] : {std::pair{&m.memcpys, &b.memcpys}, std::pair{&m.memsets, &b.memsets}}) {
        CopyColumns& c = *to;
        CopyColumns& bc = *from;
        const size_t before = c.size();
        const size_t at = mergeSortedRows(c.startNs, bc.startNs, [&](auto&& column) {
            column(c.startNs, bc.startNs);
            column(c.durationNs, bc.durationNs);
            column(c.bytes, bc.bytes);
            column(c.streamId, bc.streamId);
            column(c.copyKind, bc.copyKind);
        });
        if (at < before) ++stats.lateRows;
    }

    // Phases, and the region markers among them (user regions are ranges).
    auto byTime = [](const std::vector<Phase>& v) { return [&v](size_t i) { return v[i].timestampNs; }; };
    const size_t phasesBefore = m.phases.size();
    if (mergeSortedRowsBy(phasesBefore, byTime(m.phases), b.phases.size(), byTime(b.phases),
                          [&](auto&& column) { column(m.phases, b.phases); }) < phasesBefore)
        ++stats.lateRows;
    std::vector<Phase> regions;
    for (const Phase& p : b.phases)
        if (p.kind == PhaseKind::RegionBegin || p.kind == PhaseKind::RegionEnd) regions.push_back(p);
    if (!regions.empty())
        mergeSortedRowsBy(regionPhases.size(), byTime(regionPhases), regions.size(), byTime(regions),
                          [&](auto&& column) { column(regionPhases, regions); });

    // NVTX ranges stay in file order, before the user regions; regions still
    // open end at lastNs, so they move with it.
    const bool nvtxAppended = b.ranges.size() > 0;
    if (nvtxAppended || !regions.empty() || (lastNsMoved && !regionPhases.empty())) rebuildRanges(nvtxAppended);

    // Counters: series in order of first appearance, definitions as they come.
    for (CounterSeries& s : b.counters) {
        auto [it, added] = counterIndex.try_emplace(s.info.counterId, m.counters.size());
        if (added) {
            m.counters.emplace_back();
            m.counters.back().info.counterId = s.info.counterId;
        }
        CounterSeries& to = m.counters[it->second];
        const size_t before = to.timesNs.size();
        if (mergeSortedRows(to.timesNs, s.timesNs, [&](auto&& column) {
                column(to.timesNs, s.timesNs);
                column(to.valuesMilli, s.valuesMilli);
            }) < before)
            ++stats.lateRows;
    }
    for (const CounterInfo& c : records.get<CounterInfo>()) m.counters[counterIndex[c.counterId]].info = c;
    if (!batch.memInfoTimes.empty()) m.deviceUsed.merge(batch.memInfoTimes, batch.memInfoValues);
}

void LiveModel::State::rebuildRanges(bool nvtxAppended) {
    RangeColumns& r = m.ranges;
    const size_t keep = nvtxRanges;
    auto truncate = [&](size_t n) {
        r.startNs.resize(n);
        r.endNs.resize(n);
        r.nameId.resize(n);
        r.domainId.resize(n);
        r.threadId.resize(n);
        r.depth.resize(n);
    };
    truncate(keep);
    if (nvtxAppended) {
        const RangeColumns& add = batch.m.ranges;
        auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
        append(r.startNs, add.startNs);
        append(r.endNs, add.endNs);
        append(r.nameId, add.nameId);
        append(r.domainId, add.domainId);
        append(r.threadId, add.threadId);
        append(r.depth, add.depth);
        nvtxRanges = r.size();
        nvtxRows = nvtxRowsAfter(nvtxRows, r, keep);
    }
    addRegionRanges(regionPhases, nvtxRows, m.lastNs, r);
    keepFirst(changes.firstRange, keep);
}

void LiveModel::State::commitMemory(uint64_t watermark) {
    committedNs = std::max(committedNs, watermark);
    if (tensor.pending.empty() && driver.pending.empty()) return;
    swapOutputs();  // the outputs back from the model
    const AllocationLevel levelBefore = shownLevel;
    const size_t everyK = options.checkpointRecords;
    const size_t tensorFirst = tensor.commit(watermark, tensorKey, everyK, tensorBlocks.size(), stats);
    const size_t driverFirst = driver.commit(watermark, driverKey, everyK, driverBlocks.size(), stats);

    const AllocationLevel level = !tensorBlocks.allocNs.empty() ? AllocationLevel::Tensor
                                  : !driverAllocated.empty()     ? AllocationLevel::Driver
                                                                 : AllocationLevel::None;
    // At driver level the model shows driver blocks twice, as loadModel does
    // (blocks and driverBlocks): keep the copy in step.
    if (level == AllocationLevel::Driver) {
        if (levelBefore != AllocationLevel::Driver) {
            driverMirror = driverBlocks;
        } else if (driverFirst != SIZE_MAX) {
            const size_t from = std::min(driverFirst, driverMirror.size());
            truncateBlocks(driverMirror, from);
            auto tail = [&](auto& to, const auto& src) { to.insert(to.end(), src.begin() + std::ptrdiff_t(from), src.end()); };
            tail(driverMirror.allocNs, driverBlocks.allocNs);
            tail(driverMirror.freeNs, driverBlocks.freeNs);
            tail(driverMirror.bytes, driverBlocks.bytes);
            tail(driverMirror.address, driverBlocks.address);
            tail(driverMirror.callsiteId, driverBlocks.callsiteId);
            tail(driverMirror.memoryKind, driverBlocks.memoryKind);
            for (uint32_t i : driver.freed)
                if (i < from) driverMirror.freeNs[i] = driverBlocks.freeNs[i];
        }
    }
    for (MemoryCurve* curve : {&tensorAllocated, &segments, &driverAllocated, &driverReserved}) curve->refreshLevels();
    shownLevel = level;
    shownDriverReserved = !driverReserved.empty();
    m.allocationLevel = level;
    swapOutputs();  // and into the model again

    if (level != levelBefore) {
        m.refreshBlockIndex(0, {});
        changes.blocksReplaced = true;
        keepFirst(changes.firstBlock, 0);
    } else if (level != AllocationLevel::None) {
        const bool tensorLevel = level == AllocationLevel::Tensor;
        const size_t first = tensorLevel ? tensorFirst : driverFirst;
        if (first != SIZE_MAX) {
            m.refreshBlockIndex(first, tensorLevel ? tensor.freed : driver.freed);
            keepFirst(changes.firstBlock, first);
        }
    }
}

LiveModel::LiveModel() : LiveModel(Options{}) {}
LiveModel::LiveModel(Options options) : s_(std::make_unique<State>(nullptr, options)) {}
LiveModel::LiveModel(TraceModel& model, Options options) : s_(std::make_unique<State>(&model, options)) {}
LiveModel::~LiveModel() = default;

void LiveModel::setName(std::string name) { s_->m.name = std::move(name); }

void LiveModel::append(const RecordLists& records, uint64_t events) { s_->append(records, events); }

void LiveModel::addProblems(const std::vector<TraceProblem>& problems) {
    s_->m.problems.insert(s_->m.problems.end(), problems.begin(), problems.end());
    if (!problems.empty()) s_->changes.any = true;
}

void LiveModel::finish() {
    s_->finished = true;
    s_->commitMemory(UINT64_MAX);
    s_->changes.any = true;
}

bool LiveModel::finished() const { return s_->finished; }
const TraceModel& LiveModel::model() const { return s_->m; }

LiveModel::Changes LiveModel::takeChanges() { return std::exchange(s_->changes, Changes{}); }

uint64_t LiveModel::memoryCommittedNs() const { return s_->committedNs; }

size_t LiveModel::pendingMemoryRecords() const { return s_->tensor.pending.size() + s_->driver.pending.size(); }

const LiveModel::Stats& LiveModel::stats() const { return s_->stats; }

size_t LiveModel::replayBytes() const {
    size_t bytes = 0;
    auto logBytes = [&](const auto& level) {
        bytes += (level.log.capacity() + level.pending.capacity() + level.ready.capacity()) * sizeof(RawMemory);
        bytes += level.checkpoints.capacity() * sizeof(level.checkpoints[0]);
    };
    logBytes(s_->tensor);
    logBytes(s_->driver);
    // A checkpoint's maps: 12 bytes a slot, at least 1024 slots each.
    for (const auto& c : s_->tensor.checkpoints) bytes += std::max<size_t>(1024, c.state.open.size() * 2) * 12;
    for (const auto& c : s_->driver.checkpoints) bytes += std::max<size_t>(2048, (c.state.open.size() + c.state.vmmOpen.size()) * 2) * 12;
    return bytes;
}

}  // namespace vramscope::model
