#include "compiler/frontend/TableChecks.h"

#include <map>
#include <functional>
#include <string>
#include <vector>

namespace nfjit {
namespace {

std::string hookNames(HookMask m) {
  std::string s;
  for (unsigned h = 0; h < 5; ++h)
    if (m & (1u << h)) {
      if (!s.empty()) s += ", ";
      s += hookChainName(static_cast<Hook>(h));
    }
  return s;
}

}  // namespace

void checkTable(const Table& t, Family, DiagnosticEngine& diags) {
  std::map<std::string, const Chain*> byName;
  for (const auto& c : t.chains) byName[c.name] = &c;

  // Loop detection by DFS over jump/goto edges.
  std::map<std::string, int> color;  // 0 white, 1 on stack, 2 done
  bool loopReported = false;
  std::function<void(const Chain&, std::vector<std::string>&)> dfs = [&](const Chain& c, std::vector<std::string>& path) {
    color[c.name] = 1;
    path.push_back(c.name);
    for (const auto& r : c.rules) {
      if (r.target.kind != Target::Kind::Jump && r.target.kind != Target::Kind::Goto) continue;
      auto it = byName.find(r.target.chain);
      if (it == byName.end()) continue;
      int col = color[it->first];
      if (col == 1 && !loopReported) {
        std::string cycle;
        bool in = false;
        for (const auto& p : path) {
          if (p == it->first) in = true;
          if (in) cycle += p + " -> ";
        }
        cycle += it->first;
        diags.error(r.target.loc, "chain loop: " + cycle + " (the kernel rejects loops)");
        loopReported = true;
      } else if (col == 0) {
        dfs(*it->second, path);
      }
    }
    path.pop_back();
    color[c.name] = 2;
  };
  // Only from the built-in chains, like the kernel's mark_source_chains():
  // a loop no hook reaches is accepted.
  for (const auto& c : t.chains) {
    if (c.builtin && color[c.name] == 0) {
      std::vector<std::string> path;
      dfs(c, path);
    }
  }
  if (loopReported) return;

  // Propagate hook masks from built-in chains through jumps.
  std::map<std::string, HookMask> hooks;
  for (const auto& c : t.chains)
    if (c.builtin)
      if (auto h = builtinChainHook(c.name)) hooks[c.name] = hookBit(*h);
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& c : t.chains) {
      HookMask m = hooks[c.name];
      if (!m) continue;
      for (const auto& r : c.rules) {
        if (r.target.kind != Target::Kind::Jump && r.target.kind != Target::Kind::Goto) continue;
        HookMask& dst = hooks[r.target.chain];
        if ((dst | m) != dst) {
          dst |= m;
          changed = true;
        }
      }
    }
  }
  for (const auto& c : t.chains) {
    HookMask m = hooks[c.name];
    if (!m) continue;
    for (const auto& r : c.rules) {
      for (const auto& mi : r.matches) {
        HookMask ok = mi.ext->allowedHooks(t.name);
        if ((m & ok) != m)
          diags.error(mi.loc, "match `" + std::string(mi.ext->name()) + "' is not allowed in " +
                                  hookNames(m & ~ok) + " (chain `" + c.name + "', table `" + t.name + "')");
      }
      if (r.target.kind == Target::Kind::Extension) {
        HookMask ok = r.target.ext->allowedHooks(t.name);
        if ((m & ok) != m)
          diags.error(r.target.loc, "target `" + std::string(r.target.ext->name()) + "' is not allowed in " +
                                        hookNames(m & ~ok) + " (chain `" + c.name + "', table `" + t.name + "')");
      }
    }
  }
}

}  // namespace nfjit
