#include "compiler/ir/Ruleset.h"

namespace nfjit {

bool Target::isTerminating() const {
  switch (kind) {
    case Kind::None:
    case Kind::Jump:
      return false;
    case Kind::Extension:
      return ext && ext->isTerminating();
    default:
      return true;
  }
}

Chain* Table::findChain(std::string_view n) {
  for (auto& c : chains)
    if (c.name == n) return &c;
  return nullptr;
}
const Chain* Table::findChain(std::string_view n) const {
  for (auto& c : chains)
    if (c.name == n) return &c;
  return nullptr;
}
Table* Ruleset::findTable(std::string_view n) {
  for (auto& t : tables)
    if (t.name == n) return &t;
  return nullptr;
}
const Table* Ruleset::findTable(std::string_view n) const {
  for (auto& t : tables)
    if (t.name == n) return &t;
  return nullptr;
}

bool isKnownTable(std::string_view t) {
  return t == "filter" || t == "nat" || t == "mangle" || t == "raw" || t == "security";
}

std::vector<Hook> tableHooks(std::string_view t, Family) {
  using H = Hook;
  if (t == "filter" || t == "security") return {H::LocalIn, H::Forward, H::LocalOut};
  if (t == "nat") return {H::PreRouting, H::LocalIn, H::LocalOut, H::PostRouting};
  if (t == "mangle") return {H::PreRouting, H::LocalIn, H::Forward, H::LocalOut, H::PostRouting};
  if (t == "raw") return {H::PreRouting, H::LocalOut};
  return {};
}

}  // namespace nfjit
