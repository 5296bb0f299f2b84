// vramscope: the command-line front end. Thin by design: each subcommand
// parses its arguments and calls the library (profiler/), then prints.
#include "command.h"

#include <QCoreApplication>
#include <QTextStream>

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
        printError(arguments.value(0).section(' ', 1), parser.errorText() + "\n(see --help)");
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
    std::fprintf(stderr, "vramscope%s%s: %s\n", command.isEmpty() ? "" : " ", qPrintable(command), qPrintable(message));
}

}  // namespace vramscope::cli

using namespace vramscope::cli;

static void printUsage(FILE* out) {
    std::fprintf(out,
                 "vramscope %s: GPU memory profiler for deep-learning training jobs\n\n"
                 "Usage: vramscope <command> [options] [arguments]\n\nCommands:\n",
                 VRAMSCOPE_VERSION);
    for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(out, "\nRun 'vramscope <command> --help' for a command's options.\n");
}

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("vramscope");
    QCoreApplication::setApplicationVersion(VRAMSCOPE_VERSION);
    QStringList args = QCoreApplication::arguments();
    if (args.size() < 2) {
        printUsage(stderr);
        return kExitUsage;
    }
    const QString name = args[1];
    if (name == "-h" || name == "--help" || name == "help") {
        printUsage(stdout);
        return kExitOk;
    }
    if (name == "--version" || name == "-v") {
        std::printf("vramscope %s\n", VRAMSCOPE_VERSION);
        return kExitOk;
    }
    for (const auto& c : commands()) {
        if (name == QLatin1String(c.name)) {
            QStringList rest = args.mid(2);
            rest.prepend(QStringLiteral("vramscope ") + c.name);
            return c.run(rest);
        }
    }
    std::fprintf(stderr, "vramscope: unknown command '%s'\n\n", qPrintable(name));
    printUsage(stderr);
    return kExitUsage;
}
