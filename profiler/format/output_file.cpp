#include "output_file.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vramscope::format {

namespace {

std::string folderOf(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseOf(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A name no one else uses: pid, a per-process counter and the clock.
std::string uniqueSuffix() {
    static std::atomic<unsigned> counter{0};
    timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%x.%x%lx", unsigned(::getpid()), counter.fetch_add(1),
                  static_cast<unsigned long>(ts.tv_nsec) ^ static_cast<unsigned long>(ts.tv_sec));
    return buf;
}

}  // namespace

bool sameFile(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

OutputFile::~OutputFile() { discard(); }

bool OutputFile::begin(const std::string& path, const std::vector<std::string>& inputs, std::string* error) {
    discard();
    path_ = finalPath_ = writePath_ = path;
    temporary_ = false;
    refusedPath_ = true;
    if (path.empty()) {
        if (error) *error = "the output file name is empty";
        return false;
    }
    struct stat st {};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists) {
        for (const std::string& input : inputs) {
            if (sameFile(path, input)) {
                if (error)
                    *error = path + ": is the input " + input +
                             " (the same file); writing it would destroy the input, choose another output file";
                return false;
            }
        }
        if (S_ISDIR(st.st_mode)) {
            if (error) *error = path + ": is a folder; give a file name for the output";
            return false;
        }
        if (S_ISFIFO(st.st_mode)) {
            // Opening a FIFO to write waits for a reader, forever if none
            // comes: ask without waiting, and hold the pipe open while the
            // writer opens it by name (which then cannot wait either).
            pipeFd_ = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (pipeFd_ < 0) {
                if (error)
                    *error = path + (errno == ENXIO ? ": is a named pipe (FIFO) that no process is reading; start the "
                                                      "reader first, or give a file name"
                                                    : ": cannot be written: " + std::string(std::strerror(errno)));
                refusedPath_ = errno == ENXIO;
                return false;
            }
        }
        if (!S_ISREG(st.st_mode)) {  // a device or pipe: written in place
            refusedPath_ = false;
            return true;
        }
        // Replace the file a symlink points to, not the link itself.
        if (char* resolved = ::realpath(path.c_str(), nullptr)) {
            finalPath_ = resolved;
            std::free(resolved);
        }
    }
    refusedPath_ = false;
    // The temporary file lives beside the output, so rename() is atomic.
    // Created with 0666 so the umask decides its permissions as for any new file.
    const std::string folder = folderOf(finalPath_);
    const std::string base = baseOf(finalPath_).substr(0, 160);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        writePath_ = folder + "/." + base + ".partial-" + uniqueSuffix();
        fd = ::open(writePath_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        if (error)
            *error = path + ": cannot be written: " + std::strerror(errno) +
                     " (check the folder exists and is writable)";
        writePath_ = path;
        return false;
    }
    if (exists) (void)::fchmod(fd, st.st_mode & 07777);
    ::close(fd);
    temporary_ = true;
    return true;
}

bool OutputFile::commit(std::string* error) {
    closePipe();
    if (!temporary_) return true;
    // Data on disk before the name moves: a crash leaves the old file or the
    // complete new one.
    const int fd = ::open(writePath_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)::fsync(fd);
        ::close(fd);
    }
    if (::rename(writePath_.c_str(), finalPath_.c_str()) != 0) {
        if (error) *error = path_ + ": cannot be written: " + std::strerror(errno);
        discard();
        return false;
    }
    temporary_ = false;
    writePath_ = path_;
    return true;
}

std::string OutputFile::userText(std::string message) const {
    if (writePath_ == path_ || writePath_.empty()) return message;
    for (size_t at = message.find(writePath_); at != std::string::npos; at = message.find(writePath_, at + path_.size()))
        message.replace(at, writePath_.size(), path_);
    return message;
}

void OutputFile::discard() {
    closePipe();
    if (temporary_) ::unlink(writePath_.c_str());
    temporary_ = false;
}

void OutputFile::closePipe() {
    if (pipeFd_ >= 0) ::close(pipeFd_);
    pipeFd_ = -1;
}

}  // namespace vramscope::format
