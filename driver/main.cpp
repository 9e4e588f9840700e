// nfjit: the command-line driver (see ../shared/DESIGN.md for the contract).
#include <CLI/CLI.hpp>
#include <iostream>

#include "driver/Commands.h"

int main(int argc, char** argv) {
  CLI::App app{"nfjit: compiler, verifier and runtime for iptables/ip6tables rulesets"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nfjit 0.1");

  nfjit::driver::FmtOptions fmt;
  auto* fmtCmd = app.add_subcommand("fmt", "print the ruleset in canonical iptables-save form");
  fmtCmd->add_flag("-6,--ipv6", fmt.ipv6, "the file is ip6tables-save output");
  fmtCmd->add_flag("--no-counters", fmt.noCounters, "leave out [packets:bytes] rule counters");
  fmtCmd->add_option("RULES", fmt.file, "rules file (- for stdin)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // Usage errors are exit code 2 by the project's contract.
    return e.get_exit_code() == 0 ? rc : 2;
  }
  if (*fmtCmd) return nfjit::driver::runFmt(fmt);
  return 2;
}
