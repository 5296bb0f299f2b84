// What front ends open: a .vtrace as it is, or a PyTorch memory snapshot
// (pickle) imported into a temporary .vtrace that is removed again when the
// TraceSource goes away. The CLI commands and the app all open files this way.
#pragma once

#include "snapshot_import.h"

#include <cstdio>
#include <string>

namespace vramscope::import {

class TraceSource {
public:
    TraceSource() = default;
    TraceSource(const TraceSource&) = delete;
    TraceSource& operator=(const TraceSource&) = delete;
    ~TraceSource() {
        if (!temporary_.empty()) std::remove(temporary_.c_str());
    }

    // False with a sentence in *error when a snapshot cannot be imported; a
    // path that is not a pickle is passed through for the trace reader to judge.
    bool open(const std::string& path, std::string* error) {
        if (!looksLikePickle(path)) {
            tracePath_ = path;
            return true;
        }
        std::string temporary;
        if (!importSnapshotToTemporary(path, &temporary, nullptr, error)) return false;
        temporary_ = tracePath_ = temporary;
        return true;
    }
    const std::string& tracePath() const { return tracePath_; }
    bool imported() const { return !temporary_.empty(); }

private:
    std::string tracePath_, temporary_;
};

}  // namespace vramscope::import
