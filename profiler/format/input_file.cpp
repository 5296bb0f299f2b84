#include "input_file.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vramscope::format {

const char* fileKindText(mode_t mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISREG(mode)) return "a regular file";
    return "not a regular file";
}

namespace {

std::string notRegularText(const std::string& path, mode_t mode) {
    if (S_ISDIR(mode)) return path + ": is a folder; give the trace (.vtrace) or snapshot (.pickle) file inside it";
    return path + ": is " + fileKindText(mode) +
           ", not a regular file; vramscope reads saved traces and snapshots (save the data to a file first)";
}

}  // namespace

int openRegularFile(const std::string& path, std::string* error, off_t* sizeBytes) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (error) *error = path + ": cannot open: " + std::strerror(errno);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        if (error) *error = notRegularText(path, st.st_mode);
        return -1;
    }
    // O_NONBLOCK: a FIFO put in the file's place after the stat above makes
    // open(2) return at once instead of waiting for a writer; O_NOCTTY: a
    // terminal put there does not become ours.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (error) *error = path + ": cannot open: " + std::strerror(errno);
        return -1;
    }
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (error) *error = notRegularText(path, st.st_mode);
        ::close(fd);
        return -1;
    }
    // Regular files ignore O_NONBLOCK; clear it so callers get plain reads.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (sizeBytes) *sizeBytes = st.st_size;
    return fd;
}

}  // namespace vramscope::format
