#include "runtime/pipeline/ConntrackNeeds.h"

#include <set>

namespace nfjit {

std::optional<ConntrackUse> firstConntrackUse(const Ruleset& rs) {
  static const std::set<std::string, std::less<>> matches = {
      "conntrack", "state", "connmark", "connlimit", "connbytes", "connlabel", "helper", "cluster", "ipvs"};
  static const std::set<std::string, std::less<>> targets = {
      "SNAT", "DNAT", "MASQUERADE", "REDIRECT", "NETMAP", "CT", "NOTRACK", "CONNMARK", "CONNSECMARK", "SYNPROXY"};
  for (const auto& t : rs.tables) {
    if (t.name == "nat") {
      for (const auto& c : t.chains)
        if (!c.rules.empty()) return ConntrackUse{c.rules.front().loc, "table `nat'"};
    }
    for (const auto& c : t.chains)
      for (const auto& r : c.rules) {
        for (const auto& m : r.matches)
          if (matches.count(m.ext->name())) return ConntrackUse{m.loc, "match `" + std::string(m.ext->name()) + "'"};
        if (r.target.kind == Target::Kind::Extension && targets.count(r.target.ext->name()))
          return ConntrackUse{r.target.loc, "target `" + std::string(r.target.ext->name()) + "'"};
      }
  }
  return std::nullopt;
}

}  // namespace nfjit
