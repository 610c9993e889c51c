// moe4ctl: submit and follow moe4 campaigns from the terminal (ctl/cli.cc
// defines the command line; ctl/commands/ implements each subcommand).
#include "ctl/cli.h"

int main(int argc, char** argv) { return moe4::ctl::RunCli(argc, argv); }
