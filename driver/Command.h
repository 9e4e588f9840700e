// A subcommand of `nfjit`: each lives in its own file and registers itself,
// so adding a command is adding a file.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nfjit::driver {

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Declares options on the subcommand; values go into members.
  virtual void setup(CLI::App& sub) = 0;
  // Exit code: 0 success, 1 findings/differences, 2 bad input or usage.
  virtual int run() = 0;
  // Orders `nfjit --help`.
  virtual int order() const { return 100; }
};

std::vector<std::unique_ptr<Command>>& commandRegistry();

template <class T>
struct CommandRegistrar {
  CommandRegistrar() { commandRegistry().push_back(std::make_unique<T>()); }
};

}  // namespace nfjit::driver

#define NFJIT_REGISTER_COMMAND(CLASS) static ::nfjit::driver::CommandRegistrar<CLASS> nfjitCommand_##CLASS
