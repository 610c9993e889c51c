// The moe4ctl command line: global options, every subcommand with its help and
// examples, and the dispatch to commands.h. Not thread-safe; called once from
// main().
#pragma once

namespace moe4::ctl {

// Parses argv, runs the chosen subcommand and returns the exit code
// (commands.h); --help prints help and returns 0, bad usage returns 2.
int RunCli(int argc, char** argv);

}  // namespace moe4::ctl
