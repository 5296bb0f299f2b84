// Helpers the injector suites share: configuration from a map instead of the
// environment, and a trace loaded with whether it has its footer.
#pragma once

#include "config.h"
#include "format/reader.h"

#include <QString>

#include <map>
#include <string>
#include <vector>

namespace vramscope::inject::testing {

using Env = std::map<std::string, std::string>;

inline InjectorConfig parse(Env env, std::vector<std::string>* warnings = nullptr) {
    auto fromMap = [](const char* name, void* context) -> const char* {
        auto* e = static_cast<Env*>(context);
        auto it = e->find(name);
        return it == e->end() ? nullptr : it->second.c_str();
    };
    return parseConfig(fromMap, &env, warnings);
}

struct Loaded {
    bool ok = false;
    bool footer = false;
    format::TraceContents t;
};

inline Loaded load(const QString& path) {
    Loaded l;
    format::TraceReader reader;
    std::string error;
    if (!reader.open(path.toStdString(), &error)) return l;
    l.ok = format::loadTrace(reader, l.t, format::LoadOptions{}, &error);
    l.footer = reader.footer().present;
    return l;
}

}  // namespace vramscope::inject::testing
