// The subcommand registry and what every subcommand shares: --help and
// usage errors. Apart from main.cpp so that tests/fuzz/fuzz_cli.cpp can
// link the argument parsing without a main().
#include "command.h"
#include "path_bytes.h"

#include <algorithm>
#include <cstdio>

namespace vramscope::cli {

namespace {
std::vector<Command>& registry() {
    static std::vector<Command> r;
    return r;
}
}  // namespace

CommandRegistration::CommandRegistration(Command command) { registry().push_back(command); }

const std::vector<Command>& commands() {
    auto& r = registry();
    std::sort(r.begin(), r.end(), [](const Command& a, const Command& b) { return qstrcmp(a.name, b.name) < 0; });
    return r;
}

bool parseOrExit(QCommandLineParser& parser, const QStringList& arguments, int* exitCode) {
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help({"h", "help"}, "Show this help.");
    parser.addOption(help);
    if (!parser.parse(arguments)) {
        printError(arguments.value(0).section(' ', 1), parser.errorText() + " (see --help)");
        *exitCode = kExitUsage;
        return false;
    }
    if (parser.isSet(help)) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        *exitCode = kExitOk;
        return false;
    }
    return true;
}

void printError(const QString& command, const QString& message) {
    // pathBytes: a file name in the message prints as the bytes it has on disk.
    std::fprintf(stderr, "vramscope%s%s: %s\n", command.isEmpty() ? "" : " ", pathBytes(command).c_str(),
                 pathBytes(message).c_str());
}

}  // namespace vramscope::cli
