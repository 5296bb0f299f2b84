// Opening an input file without trusting what the path names. A path may name
// a FIFO (open(2) for reading blocks until a writer appears, i.e. forever), a
// device (/dev/zero never ends), a socket or a folder; every reader of traces
// and snapshots opens through here, so all of them refuse those the same way
// and none of them can hang on one.
#pragma once

#include <string>

#include <sys/types.h>

namespace vramscope::format {

// Opens path read-only when it is a regular file (after following symlinks)
// and returns the descriptor (close-on-exec, blocking reads). Otherwise
// returns -1 with a sentence naming path in *error: it does not exist, cannot
// be read, or is a folder / pipe / device / socket. The type is checked
// before opening and again on the open descriptor, and the open itself does
// not block, so a FIFO swapped in between cannot hang the caller either.
// sizeBytes, when given, receives the file's size.
int openRegularFile(const std::string& path, std::string* error, off_t* sizeBytes = nullptr);

// "a folder", "a named pipe (FIFO)", …: what a non-regular st_mode is, for
// messages.
const char* fileKindText(mode_t mode);

}  // namespace vramscope::format
