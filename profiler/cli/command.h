// The `vramscope` subcommand registry. Each cmd_*.cpp file registers one
// subcommand; main.cpp only dispatches, so subcommands stay independent.
#pragma once

#include <QCommandLineParser>
#include <QString>
#include <QStringList>

#include <vector>

namespace vramscope::cli {

// Exit codes every subcommand uses.
enum ExitCode : int {
    kExitOk = 0,
    kExitBadInput = 1,   // unreadable or invalid input file
    kExitUsage = 2,      // wrong arguments
    kExitRegression = 3, // diff --fail-on-regression tripped
    // diff --fail-on-regression could not judge: A or B is damaged (cut off,
    // corrupt chunks, no footer) or holds no allocations, and --allow-damaged
    // was not given. Apart from 3 so CI can tell a broken trace from a regression.
    kExitDamagedInput = 4,
};

struct Command {
    const char* name;
    const char* summary;  // one line for `vramscope --help`
    int (*run)(const QStringList& arguments);  // arguments[0] is "vramscope <name>"
};

// Registers a command at static-initialisation time.
struct CommandRegistration {
    explicit CommandRegistration(Command command);
};

const std::vector<Command>& commands();

// Parses arguments with --help handled; returns false and sets *exitCode when
// the command should end now (help shown, or a usage error printed).
bool parseOrExit(QCommandLineParser& parser, const QStringList& arguments, int* exitCode);

// Prints "vramscope <cmd>: message" on stderr.
void printError(const QString& command, const QString& message);

}  // namespace vramscope::cli
