// Reads and parses a rules file for a command, printing diagnostics.
#pragma once
#include <optional>
#include <string>

#include "compiler/ir/Ruleset.h"

namespace nfjit::driver {

struct LoadedRuleset {
  Ruleset rules;
  std::string text;  // the file's contents, for commands that re-parse
};

// nullopt (diagnostics already printed to stderr) when the file cannot be
// read or has errors: the caller exits with 2. `permissive` (analyses only,
// never for commands that evaluate packets): bad options become unparsed
// matches and bad targets drop their rule, with warnings.
std::optional<LoadedRuleset> loadRuleset(const std::string& path, bool ipv6, bool permissive = false);

}  // namespace nfjit::driver
