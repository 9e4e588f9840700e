#include "compiler/ir/Extension.h"

#include <algorithm>

namespace nfjit {

void OptionArg::fail(const std::string& what) const { throw ParseError(valueLoc, what); }
void OptionArg::failAt(SourceLoc loc, const std::string& what) const { throw ParseError(loc, what); }

ExtensionRegistry& ExtensionRegistry::instance() {
  static ExtensionRegistry r;
  return r;
}

void ExtensionRegistry::addMatch(std::string name, uint8_t families, MatchFactory f) {
  matches_.push_back({std::move(name), families, std::move(f), nullptr});
}

void ExtensionRegistry::addTarget(std::string name, uint8_t families, TargetFactory f) {
  targets_.push_back({std::move(name), families, nullptr, std::move(f)});
}

static const ExtensionInfo* findIn(const std::vector<ExtensionInfo>& v, std::string_view name, Family f) {
  for (const auto& e : v)
    if (e.name == name && familyIn(f, e.families)) return &e;
  return nullptr;
}

const ExtensionInfo* ExtensionRegistry::findMatch(std::string_view name, Family f) const {
  return findIn(matches_, name, f);
}
const ExtensionInfo* ExtensionRegistry::findTarget(std::string_view name, Family f) const {
  return findIn(targets_, name, f);
}

static std::vector<std::string> namesOf(const std::vector<ExtensionInfo>& v) {
  std::vector<std::string> r;
  for (const auto& e : v) r.push_back(e.name);
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}
std::vector<std::string> ExtensionRegistry::matchNames() const { return namesOf(matches_); }
std::vector<std::string> ExtensionRegistry::targetNames() const { return namesOf(targets_); }

}  // namespace nfjit
