// nfjit: the command-line driver (see ../shared/DESIGN.md for the contract).
#include <algorithm>
#include <iostream>

#include "driver/Command.h"

namespace nfjit::driver {
std::vector<std::unique_ptr<Command>>& commandRegistry() {
  static std::vector<std::unique_ptr<Command>> commands;
  return commands;
}
}  // namespace nfjit::driver

int main(int argc, char** argv) {
  using nfjit::driver::commandRegistry;
  CLI::App app{"nfjit: compiler, verifier and runtime for iptables/ip6tables rulesets"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nfjit 0.1");
  auto& commands = commandRegistry();
  std::stable_sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a->order() < b->order(); });
  std::vector<std::pair<CLI::App*, nfjit::driver::Command*>> subs;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c->name(), c->description());
    c->setup(*sub);
    subs.emplace_back(sub, c.get());
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // Usage errors are exit code 2 by the project's contract.
    return e.get_exit_code() == 0 ? rc : 2;
  }
  for (auto& [sub, cmd] : subs)
    if (*sub) return cmd->run();
  return 2;
}
