// Synth traces for the analysis tests, written once per test process into a
// temporary folder and loaded into models.
#pragma once

#include "model/model_builder.h"
#include "synth/synth.h"

#include <QTemporaryDir>
#include <QtTest>

#include <map>
#include <memory>
#include <string>

namespace vramscope::testing {

inline QTemporaryDir& fixtureDir() {
    static QTemporaryDir dir;
    return dir;
}

// Writes (once) the synth trace for options, named `name`, and returns its path.
inline std::string synthTrace(const std::string& name, const synth::SynthOptions& options) {
    const std::string path = fixtureDir().filePath(QString::fromStdString(name + ".vtrace")).toStdString();
    if (!QFile::exists(QString::fromStdString(path))) {
        std::string error;
        if (!synth::writeSynthTrace(path, options, nullptr, &error)) qFatal("synth failed: %s", error.c_str());
    }
    return path;
}

inline synth::SynthOptions synthOptions(uint32_t iterations) {
    synth::SynthOptions o;
    o.iterations = iterations;
    return o;
}

// Loads (once per name) the model of a synth trace.
inline const model::TraceModel& synthModel(const std::string& name, const synth::SynthOptions& options) {
    static std::map<std::string, std::unique_ptr<model::TraceModel>> cache;
    auto& slot = cache[name];
    if (!slot) {
        slot = std::make_unique<model::TraceModel>();
        std::string error;
        if (!model::loadModel(synthTrace(name, options), *slot, {}, &error)) qFatal("load failed: %s", error.c_str());
    }
    return *slot;
}

}  // namespace vramscope::testing
