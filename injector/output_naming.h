// Where a traced process writes its trace.
//
// VRAMSCOPE_OUTPUT may be
//   - a file ("run.vtrace"): the root process (the one `vramscope record`
//     started, or the first that loaded the injector) writes it as is; every
//     other process of the job (exec'd children: torchrun workers, spawned
//     data-loader workers) writes "run.<host>.<pid>[.rank<R>].vtrace" beside it;
//   - a directory (an existing one, or any path ending in '/'): every process
//     writes "<dir>/vramscope.<host>.<pid>[.rank<R>].vtrace";
//   - a pattern containing %p (pid), %h (host), %r (RANK, or "norank"),
//     %% (a '%'): expanded as is. Without %p, non-root processes get the
//     per-process suffix as for a file, so two processes never share a file.
//   - unset: "vramscope.<host>.<pid>[.rank<R>].vtrace" in the working directory.
#pragma once

#include <string>

namespace vramscope::inject {

struct ProcessIdentity {
    int pid = 0;
    std::string host;   // as gethostname() returns it
    int rank = -1;      // RANK, -1 when unset
};

// The host name made safe for a file name ('/' and control characters → '_').
std::string sanitizeHostName(const std::string& host);

// ".<host>.<pid>" plus ".rank<R>" when the rank is known.
std::string processSuffix(const ProcessIdentity& id);

// Resolves the output path. isDirectory says whether `configured` names an
// existing directory (the caller stats it; this function does no I/O).
std::string resolveOutputPath(const std::string& configured, const ProcessIdentity& id, bool isRootProcess,
                              bool isDirectory);

// The same, with the directory test done here (stat).
std::string resolveOutputPathOnDisk(const std::string& configured, const ProcessIdentity& id, bool isRootProcess);

}  // namespace vramscope::inject
