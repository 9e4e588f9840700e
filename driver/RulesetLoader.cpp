#include "driver/RulesetLoader.h"

#include <iostream>

#include "compiler/frontend/RestoreParser.h"

namespace nfjit::driver {

std::optional<LoadedRuleset> loadRuleset(const std::string& path, bool ipv6, bool permissive) {
  DiagnosticEngine diags(path == "-" ? "<stdin>" : path);
  auto text = readInputFile(path, diags);
  if (!text) {
    diags.print(std::cerr);
    return std::nullopt;
  }
  ParseOptions po;
  po.family = ipv6 ? Family::IPv6 : Family::IPv4;
  po.permissive = permissive;
  LoadedRuleset out{parseRestore(*text, po, diags), std::move(*text)};
  diags.print(std::cerr);
  if (diags.hasErrors()) return std::nullopt;
  return out;
}

}  // namespace nfjit::driver
