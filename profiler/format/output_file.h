// Writing an output file without losing what the user had. Every file the
// CLI and the app write (exports, imported and synthetic traces, screenshots)
// goes through OutputFile:
//   - an output that is one of the command's inputs is refused, compared by
//     device and inode, so `../` spellings, symlinks and hard links to the
//     input are caught as well as the plain name;
//   - the data goes to a new temporary file beside the output and is renamed
//     over it only once complete, so a failed or interrupted write leaves the
//     old file as it was (never truncated, never half written);
//   - a device or pipe given as output (/dev/null, /dev/stdout, a FIFO) is
//     written directly, since it cannot be replaced; a FIFO no process reads
//     is refused rather than waited on.
// Plain C++ (no Qt), so the CLI, the app and headless tools share it.
#pragma once

#include <string>
#include <vector>

namespace vramscope::format {

class OutputFile {
public:
    OutputFile() = default;
    ~OutputFile();  // an output not committed is discarded
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    // Prepares to write path. False with a sentence naming path in *error
    // when path is the same file as one of inputs, is a folder, or no file
    // can be created beside it.
    bool begin(const std::string& path, const std::vector<std::string>& inputs, std::string* error);
    // After a failed begin(): true when path itself was refused (an input or
    // a folder: a usage error), false when the folder could not be written.
    bool refusedPath() const { return refusedPath_; }

    // The output as the caller spelled it.
    const std::string& path() const { return path_; }
    // Where the writer writes (by name): the temporary file, or path itself
    // for a device or pipe.
    const std::string& writePath() const { return writePath_; }

    // Moves the written file into place (rename(2): path holds the old file
    // or the new one, never a mix). A replaced file's permissions are kept.
    // False with a sentence when that fails; the temporary file is removed.
    bool commit(std::string* error);

    // Removes the temporary file; path is left as it was.
    void discard();

    // A writer's message with the temporary file's name replaced by path.
    std::string userText(std::string message) const;

private:
    void closePipe();
    int pipeFd_ = -1;        // a FIFO output, held open from begin() to commit()/discard()
    std::string path_;       // as the user spelled it, for messages
    std::string finalPath_;  // path with symlinks resolved: what rename() replaces
    std::string writePath_;
    bool temporary_ = false;
    bool refusedPath_ = false;
};

// True when both paths name one existing file (same device and inode).
bool sameFile(const std::string& a, const std::string& b);

}  // namespace vramscope::format
