// Reads an iptables-save / iptables-restore file into the IR with the
// checks iptables-restore and the kernel make, reporting every problem as
// FILE:LINE:COL diagnostics.
#pragma once
#include <optional>
#include <string>

#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Ruleset.h"

namespace nfjit {

struct ParseOptions {
  Family family = Family::IPv4;
  // Analyse files iptables-restore rejects: a bad rule option becomes an
  // unparsed match, a rule with a bad target is dropped, each with a
  // warning (compiler/frontend/RuleParser.h). Never the default.
  bool permissive = false;
};

// Returns the ruleset; check diags.hasErrors() before using it.
Ruleset parseRestore(std::string_view text, const ParseOptions& opts, DiagnosticEngine& diags);
// Reads FILE ("-" for stdin); a read failure is a diagnostic.
std::optional<std::string> readInputFile(const std::string& path, DiagnosticEngine& diags);

}  // namespace nfjit
