// nfjit diff: per built-in chain, are two rulesets' verdicts the same for
// every packet? Differences come with a witness and both verdicts.
#include <set>
#include <stdexcept>

#include "verifier/Checks.h"

namespace nfjit::verifier {

namespace {

const Traversal* findTraversal(const ChainModel& m, const std::string& table, const std::string& chain) {
  for (const auto& t : m.traversals()) {
    const Table& tab = m.ruleset().tables[t.table];
    if (tab.name == table && tab.chains[t.chain].name == chain) return &t;
  }
  return nullptr;
}

// The rule that decided a replayed packet (none for the policy).
std::vector<RuleRefV> decider(const Ruleset& rs, const Replay& rp) {
  if (!rp.ok || rp.result.matched.empty()) return {};
  const RuleRef& last = rp.result.matched.back();
  if (last.isPolicy) return {};
  return {makeRuleRef(rs, last.table, last.chain, last.rule)};
}

std::optional<size_t> tableIndex(const Ruleset& rs, const std::string& name) {
  for (size_t i = 0; i < rs.tables.size(); ++i)
    if (rs.tables[i].name == name) return i;
  return std::nullopt;
}

}  // namespace

std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table) {
  if (oldRs.family != newRs.family) throw std::runtime_error("the two rulesets are of different families");
  z3::context c;
  IfaceUniverse ifs;
  ifs.build({&oldRs, &newRs});
  SymPacket pkt(c, oldRs.family, ifs);
  ChainModel mo(c, oldRs, pkt, "o", true), mn(c, newRs, pkt, "n", true);
  HookSolver hs(c, pkt);
  std::vector<ChainDiff> out;
  for (Hook h : tableHooks(table, oldRs.family)) {
    std::string chain(hookChainName(h));
    const Traversal* to = findTraversal(mo, table, chain);
    const Traversal* tn = findTraversal(mn, table, chain);
    if (!to && !tn) continue;
    ChainDiff d;
    d.chain = chain;
    d.hook = h;
    // A table without the chain accepts everything.
    auto walkOf = [&](const ChainModel& m, const Traversal* t) {
      if (t) return m.walk(*t, {});
      WalkResult w;
      w.decided.push_back({"ACCEPT", c.bool_val(true)});
      return w;
    };
    WalkResult wo = walkOf(mo, to), wn = walkOf(mn, tn);
    d.definite = wo.unknowns.empty() && wn.unknowns.empty();
    std::set<std::string> lo, ln;
    for (const auto& [l, e] : wo.decided) lo.insert(l);
    for (const auto& [l, e] : wn.decided) ln.insert(l);
    for (const auto& a : lo)
      for (const auto& b : ln) {
        if (a == b) continue;
        z3::expr e = mo.verdict(wo, a) && mn.verdict(wn, b);
        if (hs.checkNice(e, h) != z3::sat) continue;
        Difference diff;
        diff.witness = witnessFromModel(hs.lastModel(), pkt);
        diff.oldVerdict = a;
        diff.newVerdict = b;
        diff.definite = d.definite;
        auto ti = tableIndex(oldRs, table), tj = tableIndex(newRs, table);
        Replay ro, rn;
        if (ti) ro = replay(oldRs, *ti, h, diff.witness);
        else ro.ok = true, ro.verdict = "ACCEPT";
        if (tj) rn = replay(newRs, *tj, h, diff.witness);
        else rn.ok = true, rn.verdict = "ACCEPT";
        diff.oldReplay = ro.verdict;
        diff.newReplay = rn.verdict;
        diff.oldRules = decider(oldRs, ro);
        diff.newRules = decider(newRs, rn);
        diff.replayed = ro.ok && rn.ok && verdictClass(a) == ro.verdict && verdictClass(b) == rn.verdict;
        d.differences.push_back(std::move(diff));
      }
    d.equivalent = d.differences.empty();
    out.push_back(std::move(d));
  }
  return out;
}

QueryResult queryRuleset(const Ruleset& rs, const std::string& table, const std::string& chain, const Rule& where,
                         const std::string& verdict) {
  z3::context c;
  IfaceUniverse ifs;
  ifs.build({&rs}, {&where});
  SymPacket pkt(c, rs.family, ifs);
  ChainModel m(c, rs, pkt, "q");
  HookSolver hs(c, pkt);
  const Traversal* tr = findTraversal(m, table, chain);
  auto hook = builtinChainHook(chain);
  if (!hook) throw std::runtime_error("--chain must be a built-in chain (INPUT, FORWARD, ...)");
  LoweredRule w = lowerRule(c, pkt, where, "where");
  WalkResult wr;
  if (tr) wr = m.walk(*tr, {});
  else wr.decided.push_back({"ACCEPT", c.bool_val(true)});
  z3::expr_vector any(c);
  for (const auto& [l, e] : wr.decided)
    if (verdict.empty() || verdictClass(l) == verdict || l == verdict) any.push_back(e);
  QueryResult q;
  q.definite = wr.unknowns.empty() && w.unknowns.empty();
  if (hs.checkNice(w.cond && z3::mk_or(any), *hook) != z3::sat) return q;
  q.found = true;
  q.witness = witnessFromModel(hs.lastModel(), pkt);
  for (const auto& [l, e] : wr.decided)
    if (hs.lastModel().eval(e, true).is_true()) q.verdict = l;
  if (auto ti = tableIndex(rs, table)) {
    Replay rp = replay(rs, *ti, *hook, *q.witness);
    q.decidedBy = decider(rs, rp);
    q.replayed = rp.ok && rp.verdict == verdictClass(q.verdict);
  } else {
    q.replayed = q.verdict == "ACCEPT";
  }
  return q;
}

}  // namespace nfjit::verifier
