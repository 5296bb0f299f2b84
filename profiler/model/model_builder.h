// Building a TraceModel: from a file (chunks decoded in parallel, merged in
// file order as they arrive), or from records already decoded.
#pragma once

#include "trace_model.h"

#include "format/reader.h"

#include <memory>
#include <string>

namespace vramscope::model {

// Opens path, decodes its chunks on options.threads threads (0 = all cores)
// and builds the model. options.progress is called with (chunks merged,
// chunks total) from one loader thread at a time; returning false cancels.
// False with a sentence in *error when the file cannot be opened or loading
// was cancelled. A damaged trace loads and lists its problems in
// out.problems.
bool loadModel(const std::string& path, TraceModel& out, const format::LoadOptions& options, std::string* error);
bool loadModel(const format::TraceReader& reader, TraceModel& out, const format::LoadOptions& options,
               std::string* error);

// Builds a model from a whole decoded trace (format::loadTrace).
void buildModel(const format::TraceContents& contents, TraceModel& out);

// The incremental builder both use: feed each chunk's records in file order,
// then finish(). Not thread-safe; one builder per model.
class ModelBuilder {
public:
    ModelBuilder();
    ~ModelBuilder();
    ModelBuilder(const ModelBuilder&) = delete;
    ModelBuilder& operator=(const ModelBuilder&) = delete;

    // Record counts per type so columns are allocated once: hints the caller
    // has bounded (a footer's, through TraceReader::footerCountHint).
    void reserve(const uint64_t countsByType[256]);
    void add(const format::RecordLists& records, uint64_t events);
    // Sorts what arrived out of order, matches what is left, builds curves and
    // indexes. The builder is empty afterwards.
    void finish(TraceModel& out);

private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace vramscope::model
