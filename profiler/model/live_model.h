// A model that grows while a recording arrives (vramscope-gui --follow,
// --connect): decoded chunks are appended to a TraceModel's columns in place,
// never rebuilt, and between two appends the model keeps every promise of
// trace_model.h (sorted columns, valid indexes), so summarize() and the app
// read it as they read a loaded one. After finish(), the model equals what
// loadModel() builds from the same bytes: the same records go through the
// same collector (record_collector.h), the same merge rules (column_merge.h:
// ties in file order) and the same alloc/free replay (memory_replay.h).
//
// What an append costs (chunk of k records, model of n):
// - kernels, copies, phases, counter samples, MemInfo: merged into their
//   sorted columns. On-time rows are a plain append; a late row re-sorts only
//   the rows after it (measured: kernels arrive up to 0.1 s late from CUPTI's
//   buffers, 1.9 s in one fixture; counter samples 30 ms).
// - NVTX ranges: appended (file order, as loaded); user regions after them
//   are rebuilt from the region markers, which are few.
// - memory records wait in a reorder window: a record is matched (enters
//   blocks and the curves) once it is older than the newest timestamp seen
//   minus reorderLagNs. Measured on the fixtures (tests/data, Dec 2026):
//   memory records come at most 53 ms after a newer one in 18 of 19 real
//   recordings (p99.9 ≤ 52 ms), 1.9 s in one (the last frees of a short
//   program), so 100 ms makes late matches rare. A record later than the
//   window is still placed exactly: the replay rewinds to its checkpoint at
//   or before the record (one every checkpointRecords records: a copy of the
//   open-block map and running sums) and replays from there, i.e. a local
//   re-sort of at most checkpointRecords + the late span.
// - indexes: the curves' min/max pyramids and the live-block max-free
//   pyramid recompute only the groups above changed points (the last group
//   of each level for an append); kernel lanes only their tails.
//
// Very long runs (a day of training is ~4 billion events; designed for, not
// done here): everything before memoryCommittedNs() minus the rewind horizon
// is final — no later record can change it except through the replay log.
// So (1) keep the replay log and checkpoints only for a horizon (e.g. 60 s):
// a record older than that re-reads the chunks of its time through a file
// index instead (chunk offsets with firstNs/lastNs, which ChunkStream::chunk()
// gives for every chunk as it passes); (2) cut columns at chunk boundaries
// into immutable pages that can leave memory, with an LRU of decoded chunks
// for the window on screen, while the pyramids' upper levels (a few bytes per
// 16^k points) stay resident so zoomed-out views never decode. Changes tells a
// view which rows moved, so its own indexes follow the same way.
//
// Not thread-safe: one owner appends and reads (the app's GUI thread; see
// app/live_session.h for how analysis reads it off that thread).
#pragma once

#include "trace_model.h"

#include "format/reader.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vramscope::model {

class LiveModel {
public:
    struct Options {
        // How long memory records wait for later-arriving earlier ones.
        uint64_t reorderLagNs = 100'000'000;
        // A replay checkpoint every this many memory records; a late record
        // replays at most this many plus the ones after it.
        size_t checkpointRecords = 16384;
    };

    // What appends changed since the last takeChanges(), for views that keep
    // their own indexes into the model's rows.
    struct Changes {
        bool any = false;
        size_t firstKernel = SIZE_MAX;  // kernels from here on are new or moved
        size_t firstRange = SIZE_MAX;   // ranges from here on are new or rebuilt (user regions)
        size_t firstBlock = SIZE_MAX;   // blocks from here on are new or moved; freeNs below may have changed too
        bool blocksReplaced = false;    // the allocation level changed: blocks are other rows now
    };

    struct Stats {
        uint64_t appends = 0;
        uint64_t rewinds = 0;           // late memory records that made a replay rewind
        uint64_t replayedRecords = 0;   // memory records replayed, rewinds included
        uint64_t lateRows = 0;          // kernels/copies/phases/samples merged before existing rows
    };

    LiveModel();
    explicit LiveModel(Options options);
    // Grows `model` (empty to start with), which must outlive this: the app
    // grows the model its document holds.
    LiveModel(TraceModel& model, Options options);
    LiveModel(const LiveModel&) = delete;
    LiveModel& operator=(const LiveModel&) = delete;
    ~LiveModel();

    void setName(std::string name);
    // Appends one decoded events chunk (chunks in file order).
    void append(const format::RecordLists& records, uint64_t events);
    // Problems the source reported (a corrupt chunk, truncation); kept in model().problems.
    void addProblems(const std::vector<format::TraceProblem>& problems);
    // The end of the recording (or of what arrived): matches every waiting
    // memory record. Appending afterwards is allowed (a stream that resumes).
    void finish();
    bool finished() const;

    const TraceModel& model() const;
    Changes takeChanges();
    // Memory records up to this time are in blocks and the curves.
    uint64_t memoryCommittedNs() const;
    // Memory records still waiting in the reorder window.
    size_t pendingMemoryRecords() const;
    const Stats& stats() const;
    // Memory kept to place late records (replay logs, checkpoints, waiting
    // records), beyond model().memoryBytes().
    size_t replayBytes() const;

private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace vramscope::model
