#include "attach_request.h"

#include <cstring>

namespace vramscope::inject {

namespace {

bool absolutePath(const std::string& path) { return !path.empty() && path[0] == '/'; }

bool printable(const std::string& text) {
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace

bool parseAttachRequest(const char* text, AttachRequest* out, std::string* error, std::vector<std::string>* warnings) {
    *out = AttachRequest{};
    if (!text) {
        *error = "the attach request is empty";
        return false;
    }
    const size_t length = strnlen(text, kMaxAttachRequestBytes + 1);
    if (length > kMaxAttachRequestBytes) {
        *error = "the attach request is longer than " + std::to_string(kMaxAttachRequestBytes) + " bytes";
        return false;
    }
    size_t start = 0;
    while (start < length) {
        size_t end = start;
        while (end < length && text[end] != '\n') ++end;
        std::string line(text + start, end - start);
        start = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const size_t eq = line.find('=');
        if (eq == std::string::npos || eq == 0) {
            if (warnings) warnings->push_back("attach request: ignored a line without KEY=VALUE");
            continue;
        }
        const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
        if (!printable(value)) {
            *error = "attach request: " + key + " holds control characters";
            return false;
        }
        if (key == "output") out->output = value;
        else if (key == "socket") out->socketPath = value;
        else if (key == "python_dir") out->pythonDir = value;
        else if (key == "tcp") out->tcp = value == "1";
        else if (key.rfind("VRAMSCOPE_", 0) == 0) out->environment[key] = value;
        else if (warnings) warnings->push_back("attach request: ignored the unknown setting " + key);
    }
    if (!absolutePath(out->output)) {
        *error = "attach request: output must be an absolute path";
        return false;
    }
    if (!absolutePath(out->socketPath) || out->socketPath.size() > kMaxSocketPathBytes) {
        *error = "attach request: socket must be an absolute path of at most " + std::to_string(kMaxSocketPathBytes) +
                 " bytes";
        return false;
    }
    if (!out->pythonDir.empty() && !absolutePath(out->pythonDir)) {
        *error = "attach request: python_dir must be an absolute path";
        return false;
    }
    return true;
}

InjectorConfig attachConfig(const AttachRequest& request, std::vector<std::string>* warnings) {
    std::map<std::string, std::string> env = request.environment;
    env["VRAMSCOPE_OUTPUT"] = request.output;
    env.erase("VRAMSCOPE_ROOT_PID");  // an attached process writes its file as named
    auto fromMap = [](const char* name, void* context) -> const char* {
        auto* e = static_cast<std::map<std::string, std::string>*>(context);
        auto it = e->find(name);
        return it == e->end() ? nullptr : it->second.c_str();
    };
    InjectorConfig config = parseConfig(fromMap, &env, warnings);
    config.enabled = true;  // VRAMSCOPE_DISABLE in a request means nothing: the user asked to attach
    return config;
}

}  // namespace vramscope::inject
