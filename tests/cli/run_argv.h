// Running a vramscope executable from a test with arguments given as bytes
// (file names that are not UTF-8 reach it exactly), a deadline (a hang is
// killed and reported, not waited on) and optionally a file-size limit that
// makes any write past it fail as on a full disk. Shared by the suites of
// hostile files for the CLI and the app, with the folder helpers they share.
#pragma once

#include <QByteArray>
#include <QStringList>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vramscope::testing {

struct Run {
    int exitCode = -1;  // -1: killed by a signal; -2: still running at the deadline (killed)
    QByteArray out, err;
};

inline QByteArray readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string s{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return QByteArray(s.data(), qsizetype(s.size()));
}

inline bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// Runs argv (bytes, as given) with stdin from /dev/null and kills it after
// timeoutMs; stdout and stderr go through files in scratch. fileSizeLimitBytes
// > 0 sets RLIMIT_FSIZE in the child (with SIGXFSZ ignored): any write past
// that size fails with EFBIG, the same failure as a full disk, on demand.
inline Run runArgv(const std::vector<std::string>& argv, const std::string& scratch, int timeoutMs = 20000,
                   rlim_t fileSizeLimitBytes = 0) {
    const std::string outPath = scratch + "/.run.out", errPath = scratch + "/.run.err";
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls until exec
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) ::_exit(126);
        ::dup2(in, 0), ::dup2(out, 1), ::dup2(err, 2);
        if (fileSizeLimitBytes) {
            ::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{fileSizeLimitBytes, fileSizeLimitBytes};
            ::setrlimit(RLIMIT_FSIZE, &limit);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    Run r;
    if (pid < 0) return r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            r.exitCode = -2;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (r.exitCode != -2) r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = readFile(outPath);
    r.err = readFile(errPath);
    if (r.exitCode == -2) r.err += "still running after " + QByteArray::number(timeoutMs) + " ms";
    ::unlink(outPath.c_str());
    ::unlink(errPath.c_str());
    return r;
}

// The names in folder (bytes: QDir drops names that are not UTF-8), sorted,
// one char per byte (lossless).
inline QStringList entries(const std::string& folder) {
    QStringList names;
    if (DIR* d = ::opendir(folder.c_str())) {
        while (const dirent* e = ::readdir(d))
            if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names << QString::fromLatin1(e->d_name);
        ::closedir(d);
    }
    names.sort();
    return names;
}

// Removes folder and all in it, whatever bytes its names hold.
inline void removeTree(const std::string& folder) {
    for (const QString& name : entries(folder)) {
        const std::string p = folder + "/" + name.toLatin1().toStdString();
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) removeTree(p);
        else ::unlink(p.c_str());
    }
    ::rmdir(folder.c_str());
}

}  // namespace vramscope::testing
