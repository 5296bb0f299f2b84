#include "trace_input.h"

#include "command.h"
#include "path_bytes.h"
#include "import/trace_source.h"
#include "model/model_builder.h"

namespace vramscope::cli {

bool loadModelForCommand(const QString& command, const QString& path, model::TraceModel& out) {
    std::string error;
    import::TraceSource source;
    if (!source.open(pathBytes(path), &error) || !model::loadModel(source.tracePath(), out, {}, &error)) {
        printError(command, textFromBytes(error));
        return false;
    }
    return true;
}

}  // namespace vramscope::cli
