#include "runtime/pipeline/ConntrackNeeds.h"

#include <set>
#include <sstream>

#include "compiler/ir/SaveWriter.h"

namespace nfjit {

namespace {

// The option names an extension saves (" --ctstate NEW ! --ctdir ..." -> ctstate, ctdir).
bool onlyOptions(const Extension& e, const std::set<std::string, std::less<>>& allowed) {
  SaveWriter w;
  e.save(w);
  std::istringstream words(w.text());
  for (std::string word; words >> word;)
    if (word.rfind("--", 0) == 0 && !allowed.count(word.substr(2))) return false;
  return true;
}

}  // namespace

std::optional<ConntrackUse> firstUnmodelledConntrackUse(const Ruleset& rs) {
  static const std::set<std::string, std::less<>> matches = {"connlimit", "connlabel", "helper", "cluster",
                                                              "ipvs"};
  static const std::set<std::string, std::less<>> conntrackOptions = {
      "ctstate",       "ctstatus",      "ctdir",         "ctproto",       "ctorigsrc",    "ctorigdst",
      "ctreplsrc",     "ctrepldst",     "ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport"};
  static const std::set<std::string, std::less<>> targets = {"SNAT",     "DNAT",        "MASQUERADE", "REDIRECT",
                                                              "NETMAP",   "CONNSECMARK", "SYNPROXY"};
  for (const auto& t : rs.tables) {
    if (t.name == "nat")
      for (const auto& c : t.chains)
        if (!c.rules.empty()) return ConntrackUse{c.rules.front().loc, "table `nat'"};
    for (const auto& c : t.chains)
      for (const auto& r : c.rules) {
        for (const auto& m : r.matches) {
          const std::string_view n = m.ext->name();
          if (matches.count(n) ||
              (n == "conntrack" && !onlyOptions(*m.ext, conntrackOptions)))
            return ConntrackUse{m.loc, "match `" + std::string(n) + "'"};
        }
        if (r.target.kind != Target::Kind::Extension) continue;
        const std::string_view n = r.target.ext->name();
        if (targets.count(n) || (n == "CT" && !onlyOptions(*r.target.ext, {"notrack"})))
          return ConntrackUse{r.target.loc, "target `" + std::string(n) + "'"};
      }
  }
  return std::nullopt;
}

}  // namespace nfjit
