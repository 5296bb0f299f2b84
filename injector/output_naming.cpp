#include "output_naming.h"

#include <sys/stat.h>

namespace vramscope::inject {

namespace {
constexpr const char* kExtension = ".vtrace";

bool endsWith(const std::string& s, const char* suffix) {
    std::string t(suffix);
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

std::string defaultFileName(const ProcessIdentity& id) { return "vramscope" + processSuffix(id) + kExtension; }

std::string expandPattern(const std::string& pattern, const ProcessIdentity& id) {
    std::string out;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c != '%' || i + 1 == pattern.size()) { out += c; continue; }
        char k = pattern[++i];
        switch (k) {
        case 'p': out += std::to_string(id.pid); break;
        case 'h': out += sanitizeHostName(id.host); break;
        case 'r': out += id.rank >= 0 ? std::to_string(id.rank) : std::string("norank"); break;
        case '%': out += '%'; break;
        default: out += '%'; out += k; break;  // unknown: kept literally
        }
    }
    return out;
}

// "a/b/run.vtrace" + suffix → "a/b/run<suffix>.vtrace"
std::string withSuffix(const std::string& path, const std::string& suffix) {
    std::string base = endsWith(path, kExtension) ? path.substr(0, path.size() - 7) : path;
    return base + suffix + kExtension;
}
}  // namespace

std::string sanitizeHostName(const std::string& host) {
    std::string out = host.empty() ? std::string("localhost") : host;
    for (char& c : out)
        if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
    return out;
}

std::string processSuffix(const ProcessIdentity& id) {
    std::string s = "." + sanitizeHostName(id.host) + "." + std::to_string(id.pid);
    if (id.rank >= 0) s += ".rank" + std::to_string(id.rank);
    return s;
}

std::string resolveOutputPath(const std::string& configured, const ProcessIdentity& id, bool isRootProcess,
                              bool isDirectory) {
    if (configured.empty()) return defaultFileName(id);
    if (isDirectory || configured.back() == '/') {
        std::string dir = configured;
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        return dir + "/" + defaultFileName(id);
    }
    if (configured.find('%') != std::string::npos) {
        bool perProcess = configured.find("%p") != std::string::npos;
        std::string expanded = expandPattern(configured, id);
        return (perProcess || isRootProcess) ? expanded : withSuffix(expanded, processSuffix(id));
    }
    return isRootProcess ? configured : withSuffix(configured, processSuffix(id));
}

std::string resolveOutputPathOnDisk(const std::string& configured, const ProcessIdentity& id, bool isRootProcess) {
    struct stat st {};
    bool isDirectory = !configured.empty() && ::stat(configured.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    return resolveOutputPath(configured, id, isRootProcess, isDirectory);
}

}  // namespace vramscope::inject
