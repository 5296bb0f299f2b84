// vramscope: the command-line front end. Thin by design: each subcommand
// parses its arguments and calls the library (profiler/), then prints.
// The registry and the helpers every subcommand shares are in command.cpp.
#include "command.h"
#include "path_bytes.h"

#include <QCoreApplication>
#include <QTextStream>

#include <cstdio>
#include <exception>
#include <new>

using namespace vramscope::cli;

static void printUsage(FILE* out) {
    std::fprintf(out,
                 "vramscope %s: GPU memory profiler for deep-learning training jobs\n\n"
                 "Usage: vramscope <command> [options] [arguments]\n\nCommands:\n",
                 VRAMSCOPE_VERSION);
    for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(out, "\nRun 'vramscope <command> --help' for a command's options.\n");
}

// The last line of defence: whatever a command throws (an allocation a
// hostile input made too large, a bug) ends it with a sentence and exit 1,
// never with std::terminate's abort and core dump.
static int runGuarded(const Command& c, const QStringList& arguments) {
    try {
        return c.run(arguments);
    } catch (const std::bad_alloc&) {
        printError(c.name, "out of memory (the input asks for more than this machine has; is it damaged?)");
    } catch (const std::exception& e) {
        printError(c.name, QStringLiteral("stopped by an internal error (%1); please report it with the input that "
                                          "caused it").arg(QString::fromLocal8Bit(e.what())));
    } catch (...) {
        printError(c.name, "stopped by an internal error; please report it with the input that caused it");
    }
    return kExitBadInput;
}

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("vramscope");
    QCoreApplication::setApplicationVersion(VRAMSCOPE_VERSION);
    // Not QCoreApplication::arguments(): it loses file names that are not UTF-8.
    QStringList args = argumentsFromArgv(argc, argv);
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
            return runGuarded(c, rest);
        }
    }
    std::fprintf(stderr, "vramscope: unknown command '%s'\n\n", qPrintable(name));
    printUsage(stderr);
    return kExitUsage;
}
