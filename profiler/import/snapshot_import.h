// PyTorch memory snapshots (torch.cuda.memory._dump_snapshot() pickles) to
// .vtrace. Plain C++ over the format library and our own pickle reader: no
// Python, no Qt, nothing in the file is executed.
//
// What a snapshot holds (torch 2.x, torch/csrc/cuda/Module.cpp
// THCPModule_memorySnapshot): the allocator's state when it was taken
// ("segments", each with its "blocks") and, when _record_memory_history() was
// on, a history per device ("device_traces": alloc, free_requested,
// free_completed, segment_alloc/free/map/unmap, oom, snapshot entries with
// addr, size, stream, time_us and "frames"). The importer turns the history
// into TensorMemory/AllocFailure records and reconstructs what existed before
// the history's first entry by replaying it backwards from the final state;
// those blocks and segments become Snapshot/SegmentAlloc records at the first
// entry's time, so the memory curves end exactly at the snapshot's state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vramscope::import {

struct ImportOptions {
    // Snapshots recorded with stacks="all" (the default) interleave C++ frames
    // (allocator internals, autograd engine) with the Python ones. Callsites
    // keep only Python frames unless this is set (a stack with no Python
    // frame keeps its C++ frames either way).
    bool keepCppFrames = false;
    // Frames kept per stack, innermost first.
    uint32_t maxFramesPerStack = 128;
};

struct ImportStats {
    uint64_t pickleBytes = 0;
    uint32_t pickleProtocol = 0;
    uint32_t devices = 0;
    // The state when the snapshot was taken.
    uint64_t segments = 0;               // segments in "segments"
    uint64_t blocks = 0;                 // blocks in them (all states)
    uint64_t activeBlocks = 0;           // active_allocated + active_pending_free
    uint64_t reservedBytesAtEnd = 0;     // sum of segments' total_size
    uint64_t allocatedBytesAtEnd = 0;    // sum of active blocks' size (torch.cuda.memory_allocated())
    uint64_t requestedBytesAtEnd = 0;    // sum of their requested_size: where the imported curve ends,
                                         // since trace entries carry requested sizes
    // What existed before the history's first entry (written as Snapshot/SegmentAlloc).
    uint64_t initialBlocks = 0;
    uint64_t initialSegments = 0;
    // The history.
    uint64_t traceEntries = 0;
    uint64_t allocs = 0;
    uint64_t freesRequested = 0;
    uint64_t freesCompleted = 0;
    uint64_t segmentAllocs = 0;
    uint64_t segmentFrees = 0;
    uint64_t segmentMaps = 0;
    uint64_t segmentUnmaps = 0;
    uint64_t snapshotMarkers = 0;        // "snapshot" entries, written as Mark records
    uint64_t ooms = 0;                   // written as AllocFailure records
    uint64_t annotations = 0;            // external_annotations and annotate entries: Range (START/END pairs) or Mark records
    uint64_t skippedEntries = 0;         // unknown actions or malformed entries
    uint64_t callsites = 0;              // CallsiteDef records written
    // Training steps inferred from the allocations' stack frames (written as
    // Phase markers named format::kPhasesFromStackFrames); 0 when the frames
    // do not show training (no frames, or no forward/backward pairs).
    uint64_t stepsFromFrames = 0;
    uint64_t firstNs = 0, lastNs = 0;    // time range of the history (Unix ns)
    bool syntheticTimes = false;         // entries had no time_us; times are 1 µs apart
    uint64_t eventsWritten = 0;          // records in the .vtrace
    std::vector<std::string> warnings;   // also written to the trace as Notes
};

// Reads a snapshot pickle and writes a .vtrace. False with a sentence in
// *error (naming the file and, for pickle errors, the byte offset) for
// unreadable, truncated, malicious or non-snapshot input. stats may be null.
bool importSnapshot(const std::string& picklePath, const std::string& vtracePath, ImportStats* stats,
                    std::string* error, const ImportOptions& options = {});

// The same from bytes in memory; sourceName is used in messages and notes.
bool importSnapshotBytes(const uint8_t* data, size_t size, const std::string& sourceName,
                         const std::string& vtracePath, ImportStats* stats, std::string* error,
                         const ImportOptions& options = {});

// Imports into a new temporary file ($TMPDIR, else /tmp) and returns its path
// in *vtracePath; the caller opens it and removes it when done. For front
// ends that open a pickle as if it were a trace.
bool importSnapshotToTemporary(const std::string& picklePath, std::string* vtracePath, ImportStats* stats,
                               std::string* error, const ImportOptions& options = {});

// True when the file starts like a pickle of protocol 2 or newer (what
// _dump_snapshot writes), so front ends can open pickles directly: import to
// a temporary .vtrace, then open that.
bool looksLikePickle(const std::string& path);
bool looksLikePickle(const uint8_t* data, size_t size);

}  // namespace vramscope::import
