// -Wredundant, -Wconflict, -Wgeneralization (see Anomalies.h).
#include "verifier/Anomalies.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "compiler/extensions/Unparsed.h"
#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"
#include "verifier/Checks.h"
#include "verifier/ConcreteSearch.h"
#include "verifier/ContextLifetime.h"
#include "verifier/HostModel.h"

namespace nfjit::verifier {

const std::vector<AnomalyKind>& anomalyKinds() {
  static const std::vector<AnomalyKind> kinds = {
      {"redundant", false, "Removing the rule changes no verdict: later rules or the policy decide its packets alike."},
      {"conflict", false,
       "The rule partially overlaps an earlier rule with a different action: the overlap gets the earlier action."},
      {"generalization", false,
       "The rule strictly contains an earlier rule with a different action: the earlier rule is an exception."},
  };
  return kinds;
}

namespace {

using RuleKey = std::tuple<size_t, size_t, size_t>;

class AnomalyFinder {
 public:
  AnomalyFinder(const Ruleset& rs, const CheckOptions& opts, CheckResult& out)
      : rs_(rs),
        opts_(opts),
        out_(out),
        hostRules_(opts.host ? hostIfaceRules(*opts.host) : std::vector<Rule>{}),
        ifs_(ifaceUniverse(rs, hostRules_)),
        pkt_(c_, rs.family, ifs_),
        model_(c_, rs, pkt_, "a"),
        hs_(c_, pkt_),
        search_(model_, rs.family) {
    if (opts.host) {
      addHostConstraints(hs_, pkt_, *opts.host);
      search_.setHostConstraints(hostConstraintsByHook(pkt_, *opts.host));
    }
    for (const auto& tr : model_.traversals()) {
      WalkOptions wo;
      wo.define = &hs_.solver();
      defs_.push_back(model_.walk(tr, wo));
    }
    for (const auto& f : out.findings) {
      if (f.name == "unreachable-chain") deadChains_.insert({f.rule.table, f.rule.chain});
      else if ((f.name == "shadowed" && f.definite) || f.name == "unsatisfiable") dead_.insert({f.rule.table, f.rule.chain, f.rule.rule});
    }
  }

  ~AnomalyFinder() {
    // As in Checks.cpp: freeing a large run's terms takes longer than the run.
    if (model_.occurrences() > kKeepContextAbove) keepUntilExit(std::move(ownedCtx_));
  }
  AnomalyFinder(const AnomalyFinder&) = delete;
  AnomalyFinder& operator=(const AnomalyFinder&) = delete;

  size_t calls() const { return hs_.calls + (redundancySolver_ ? redundancySolver_->calls : 0) + pairCalls_; }

  void run() {
    const auto& A = opts_.analyses;
    if (A.count("redundant")) redundant();
    out_.stats.pruned += decidedConcretely_;
    if (A.count("conflict") || A.count("generalization")) overlaps(A.count("conflict") > 0, A.count("generalization") > 0);
  }

 private:
  // A note that an analysis ran out of budget (no rule, no witness).
  void budgetNote(const std::string& name, std::string message) {
    Finding f;
    f.name = name;
    f.severity = Severity::Note;
    f.rule = makeRuleRef(rs_, 0, 0, SIZE_MAX);
    f.message = std::move(message);
    f.witnessRole = "none: a summary";
    f.replayed = true;
    out_.findings.push_back(std::move(f));
  }

  bool skipped(const Occurrence& o) const {
    return dead_.count({o.table, o.chain, o.rule}) || deadChains_.count({o.table, o.chain}) || o.pathBox.empty;
  }

  // The occurrence's match on the path to it: its own and its callers' jumps
  // (each as the walk saw it, marks changed by earlier rules included).
  z3::expr pathMatch(size_t ti, size_t oi) const {
    const Traversal& tr = model_.traversals()[ti];
    z3::expr_vector v(c_);
    for (int p = static_cast<int>(oi); p >= 0; p = tr.occs[p].parent) v.push_back(defs_[ti].matchAt[p]);
    return z3::mk_and(v);
  }

  // pathMatch's literals appended to `extra`: a query on them needs no
  // push/pop of the solver.
  std::vector<z3::expr> pathLits(size_t ti, size_t oi, std::vector<z3::expr> extra) const {
    const Traversal& tr = model_.traversals()[ti];
    for (int p = static_cast<int>(oi); p >= 0; p = tr.occs[p].parent) extra.push_back(defs_[ti].matchAt[p]);
    return extra;
  }

  std::vector<std::string> unknownsOf(const Traversal& tr, size_t oi) const {
    std::vector<std::string> out;
    for (int p = static_cast<int>(oi); p >= 0; p = tr.occs[p].parent) {
      const Occurrence& o = tr.occs[p];
      for (const auto& u : model_.lowered(o.table, o.chain, o.rule).unknowns) out.push_back(u.what);
    }
    return out;
  }

  Witness witnessNow() { return witnessFromModel(hs_.lastModel(), pkt_); }

  // checkNice, first with the host model's preferences.
  // `within`: a box the answer lies in, to choose readable values from.
  z3::check_result findWitness(const z3::expr& e, Hook h, std::vector<z3::expr> extra, const Box& within) {
    if (opts_.host) {
      auto pref = extra;
      pref.push_back(hostPreference(pkt_, *opts_.host, h));
      if (hs_.checkNice(e, h, pref, &within) == z3::sat) return z3::sat;
    }
    return hs_.checkNice(e, h, extra, &within);
  }

  // The interpreter's last matched rule for the witness, if it is `o`.
  bool decidedBy(const Replay& rp, const Occurrence& o) const {
    if (!rp.ok || rp.result.matched.empty()) return false;
    const RuleRef& m = rp.result.matched.back();
    return !m.isPolicy && m.table == o.table && m.chain == o.chain && m.rule == o.rule;
  }

  // ---- -Wredundant ----

  // Greedy in rule order, each rule tested with the rules already found
  // redundant (and the shadowed ones) removed: the reported set can be
  // deleted all together without changing any verdict.
  void redundant() {
    const auto& travs = model_.traversals();
    std::map<RuleKey, std::vector<std::pair<size_t, size_t>>> byRule;
    for (size_t ti = 0; ti < travs.size(); ++ti)
      for (size_t oi = 0; oi < travs[ti].occs.size(); ++oi) {
        const Occurrence& o = travs[ti].occs[oi];
        if (o.action == Action::Terminal) byRule[{o.table, o.chain, o.rule}].push_back({ti, oi});
      }
    std::set<RuleKey> removed(dead_.begin(), dead_.end());
    // The same per occurrence, for the concrete search.
    std::vector<std::vector<bool>> removedOcc(travs.size());
    for (size_t ti = 0; ti < travs.size(); ++ti)
      for (const Occurrence& o : travs[ti].occs) removedOcc[ti].push_back(removed.count({o.table, o.chain, o.rule}) > 0);
    size_t solved = 0, unexamined = 0;
    for (const auto& [key, occs] : byRule) {
      reachedBy_.clear();
      // Occurrences no packet reaches (the jump to TUM's filter_173 for
      // 224.0.0.0/4 meets none of its unicast host rules) count for nothing.
      bool all = true, anyLive = false;
      for (const auto& [ti, oi] : occs) {
        const Occurrence& o = travs[ti].occs[oi];
        if (!skipped(o) && solved >= opts_.redundantBudget) {
          ++unexamined;
          all = false;
          break;
        }
        if (o.pathBox.empty && !dead_.count(key) && !deadChains_.count({o.table, o.chain})) continue;
        anyLive = true;
        if (skipped(o) || !redundantAt(ti, oi, removed, removedOcc[ti], solved)) {
          all = false;
          break;
        }
      }
      if (!all || !anyLive) continue;
      removed.insert(key);
      for (const auto& [ti, oi] : occs) removedOcc[ti][oi] = true;
      reportRedundant(occs.front().first, occs.front().second, removed);
    }
    if (unexamined)
      budgetNote("redundant", "redundancy analysis stopped after " + std::to_string(opts_.redundantBudget) +
                                  " rules; " + std::to_string(unexamined) + " rules were not examined");
  }

  static constexpr size_t kAimedTries = 8;  // later rules aimed at per candidate
  bool redundantAt(size_t ti, size_t oi, const std::set<RuleKey>& removed, std::vector<bool>& removedHere,
                   size_t& solved) {
    const Traversal& tr = model_.traversals()[ti];
    const Occurrence& o = tr.occs[oi];
    // Without the rule its (reachable) packets go on to later rules or the
    // policy: unless one of those gives the same outcome, no solver needed.
    bool possible = tr.policyLabel == o.label;
    for (size_t k = oi + 1; k < tr.occs.size() && !possible; ++k) {
      const Occurrence& x = tr.occs[k];
      possible = x.action == Action::Terminal && x.label == o.label && x.pathBox.meets(o.pathBox) &&
                 !removed.count({x.table, x.chain, x.rule});
    }
    if (!possible) return false;
    // A concrete packet that reaches the rule and gets another verdict
    // without it refutes redundancy without the solver (most rules).
    // Concrete packets from a few corners of the rule's box, stateful
    // matches (recent, limit) off first: one that may match every packet
    // would otherwise block the search for everything after it.
    // Then from the packets the solver found for earlier rules: their state,
    // flags and interfaces often refute the next rule too (TUM's per-host
    // ACCEPTs, refuted by an INVALID packet that a later NEW-only rule misses).
    auto refutedByLastPacket = [&]() {
      if (!reachedBy_.count({ti, oi})) {
        Witness w = search_.lastPacket();
        // What the search assumed: the unknown matches on its path hold.
        for (int p = static_cast<int>(oi); p >= 0; p = tr.occs[static_cast<size_t>(p)].parent) {
          const Occurrence& x = tr.occs[static_cast<size_t>(p)];
          for (const auto& u : model_.lowered(x.table, x.chain, x.rule).unknowns)
            if (u.ext) w.assumed.push_back({u.ext, true});
        }
        reachedBy_[{ti, oi}] = std::move(w);
      }
      const bool was = removedHere[oi];
      removedHere[oi] = true;
      auto without = search_.outcomeWithout(tr, removedHere);
      removedHere[oi] = was;
      return without && *without != o.label;
    };
    using Start = ConcreteSearch::Start;
    const std::pair<bool, Start> tries[] = {
        {false, Start::Low}, {true, Start::Low}, {false, Start::High}, {false, Start::Middle}};
    for (const auto& [stateful, start] : tries)
      if (search_.reaches(tr, oi, stateful, start) && refutedByLastPacket()) {
        ++decidedConcretely_;
        return false;
      }
    for (size_t k = 0; k < search_.templates(); ++k)
      if (search_.reachesLike(tr, oi, k, false) && refutedByLastPacket()) {
        ++decidedConcretely_;
        return false;
      }
    if (coveredByLaterRule(ti, oi, removedHere)) {
      ++decidedConcretely_;
      return true;
    }
    // Packets aimed at the later rules that would decide them otherwise: the
    // corners of the rule's own box often fall to a later catch-all with its
    // verdict (TUM's per-host DROPs after a MAC check; the host's own ACCEPT
    // further on needs its output interface).
    size_t aimed = 0;
    for (size_t k = oi + 1; k < tr.occs.size() && aimed < kAimedTries; ++k) {
      const Occurrence& x = tr.occs[k];
      if (x.action != Action::Terminal || x.label == o.label || removedHere[k] || !x.pathBox.meets(o.pathBox)) continue;
      ++aimed;
      if (search_.reachesWithin(tr, oi, x.pathBox, false) && refutedByLastPacket()) {
        ++decidedConcretely_;
        return false;
      }
    }
    ++solved;
    // The chain without the removed rules, and without this one too: an
    // occurrence with an empty box is skipped by the filtered walk.
    Traversal kept = tr;
    for (size_t k = 0; k < kept.occs.size(); ++k)
      if (removedHere[k]) kept.occs[k].pathBox = Box::none();
    WalkOptions wo;
    wo.filter = &o.pathBox;
    wo.stopAt = static_cast<int>(oi);
    WalkResult upTo = model_.walk(kept, wo);  // both versions agree up to the rule
    if (!upTo.reach || !upTo.matchAtStop) return false;
    kept.occs[oi].pathBox = Box::none();
    wo.stopAt = -1;
    WalkResult rest = model_.walk(kept, wo);
    // A packet the rule decides that the chain without it decides otherwise.
    // By target name, not verdict class: REJECT answers where DROP stays silent.
    z3::expr_vector other(c_);
    for (const auto& [label, e] : rest.decided)
      if (label != o.label) other.push_back(e);
    if (other.empty()) return true;
    // The filtered walk is exact only inside the box.
    z3::expr differ = boxCondition(pkt_, o.pathBox) && *upTo.reach && *upTo.matchAtStop && z3::mk_or(other);
    const auto answer = redundancySolver().check(differ, tr.hook);
    if (answer == z3::sat) search_.addTemplate(redundancySolver().lastModel());
    return answer == z3::unsat;  // unknown (timeout) is no finding
  }

  // The textbook case, proved on the rules alone instead of the chain: a
  // later rule of the same chain instance with the same target matches every
  // packet this one does, and nothing in between that could take them
  // elsewhere meets them (another verdict, a mark or unknown change, a
  // RETURN/GOTO of this chain; a jump's callee returns to this chain, so its
  // rules count one by one). Without this rule its packets end there, or
  // earlier with the same verdict. The full query walks everything after
  // the rule and timed out (3 s) on TUM's per-host ACCEPTs before a general
  // one; these are small queries over two rules each.
  bool coveredByLaterRule(size_t ti, size_t oi, const std::vector<bool>& removedHere) {
    const Traversal& tr = model_.traversals()[ti];
    const Occurrence& o = tr.occs[oi];
    const LoweredRule& lo = model_.lowered(o.table, o.chain, o.rule);
    if (changesOf(ti).firstHavoc < oi) return false;
    const size_t end = o.parent < 0 ? tr.occs.size() : tr.occs[static_cast<size_t>(o.parent)].calleeEnd;
    auto sat = [&](const z3::expr& e) { return pairCheck(e) != z3::unsat; };  // unknown counts as "may"
    for (size_t k = oi + 1; k < end; ++k) {
      const Occurrence& y = tr.occs[k];
      if (removedHere[k] || !y.pathBox.meets(o.pathBox)) continue;
      const LoweredRule& ly = model_.lowered(y.table, y.chain, y.rule);
      const bool sameLevel = y.parent == o.parent;
      switch (y.action) {
        case Action::Terminal:
          if (y.label != o.label) {
            if (sat(lo.cond && ly.cond)) return false;
          } else if (sameLevel && ly.box.contains(lo.box) && !sat(lo.cond && !ly.cond)) {
            return true;
          }
          break;
        case Action::Continue: {
          const TargetEffect& eff = model_.effect(y.table, y.chain, y.rule);
          if ((eff.setsMark || !eff.known) && sat(lo.cond && ly.cond)) return false;
          break;
        }
        case Action::Return:
        case Action::Goto:
          if (sameLevel && sat(lo.cond && ly.cond)) return false;
          break;
        case Action::Jump:
          break;
      }
    }
    return false;
  }

  // A two-rule query on a small solver of its own (no chain defined in it).
  z3::check_result pairCheck(const z3::expr& e) {
    ++pairCalls_;
    if (!pairSolver_) {
      pairSolver_.emplace(c_, "QF_BV");
      z3::params p(c_);
      p.set("timeout", 200u);
      pairSolver_->set(p);
    }
    pairSolver_->push();
    pairSolver_->add(e);
    const auto r = pairSolver_->check();
    pairSolver_->pop();
    return r;
  }

  // Per traversal, the first occurrence whose target has an effect the
  // model does not know (havoc), and the first that changes the mark or a
  // field at all; the size of the traversal where there is none.
  struct Changes {
    size_t firstHavoc, firstChange;
  };
  const Changes& changesOf(size_t ti) {
    const Traversal& tr = model_.traversals()[ti];
    auto [it, fresh] = changes_.try_emplace(ti, Changes{tr.occs.size(), tr.occs.size()});
    if (fresh)
      for (size_t k = tr.occs.size(); k-- > 0;) {
        const TargetEffect& eff = model_.effect(tr.occs[k].table, tr.occs[k].chain, tr.occs[k].rule);
        if (!eff.known) it->second.firstHavoc = k;
        if (eff.setsMark || !eff.known) it->second.firstChange = k;
      }
    return it->second;
  }

  // Redundancy queries need no chain defined in the solver (defs_): one of their own.
  HookSolver& redundancySolver() {
    if (!redundancySolver_) {
      redundancySolver_ = std::make_unique<HookSolver>(c_, pkt_);
      if (opts_.host) addHostConstraints(*redundancySolver_, pkt_, *opts_.host);
    }
    return *redundancySolver_;
  }

  void reportRedundant(size_t ti, size_t oi, const std::set<RuleKey>& removed) {
    const Traversal& tr = model_.traversals()[ti];
    const Occurrence& o = tr.occs[oi];
    Finding f;
    f.name = "redundant";
    f.rule = makeRuleRef(rs_, o.table, o.chain, o.rule);
    f.hook = tr.hook;
    f.message = "rule is redundant: removing it changes no verdict";
    f.witnessRole = "decided by this rule; without it (and the other redundant or shadowed rules) it gets the same verdict";
    // The concrete packet that reached the rule in redundantAt, else the solver's.
    auto known = reachedBy_.find({ti, oi});
    std::optional<Witness> packet;
    if (known != reachedBy_.end()) packet = known->second;
    else if (findWitness(defs_[ti].activeAt[oi] && defs_[ti].matchAt[oi], tr.hook, {}, o.pathBox) == z3::sat) packet = witnessNow();
    if (!packet) {
      // Possible under a host model that the base analyses do not apply.
      f.message = "rule is redundant: no packet of this host model reaches it";
      f.witnessRole = "none: no packet reaches the rule";
      f.replayed = true;
    } else {
      Witness w = std::move(*packet);
      Replay with = replay(rs_, o.table, tr.hook, w);
      std::string cls = verdictClass(o.label);
      Ruleset& copy = reducedCopy();
      // Neutralise the removed rules in the copy (indices stay as they are).
      for (const auto& [t, ch, r] : removed) neutralise(copy, t, ch, r);
      Replay without = replay(copy, tableIn(copy, o.table), tr.hook, w);
      f.replayed = decidedBy(with, o) && without.ok && without.verdict == cls;
      if (without.ok && !without.result.matched.empty() && !without.result.matched.back().isPolicy) {
        const RuleRef& d = without.result.matched.back();
        // The copy's chains may be ordered differently: name the rule through the original.
        if (auto ch = chainIn(rs_, o.table, copy.tables[d.table].chains[d.chain].name)) {
          f.related.push_back(makeRuleRef(rs_, o.table, *ch, d.rule));
          f.message += " (line " + std::to_string(f.related.back().loc.line) + " gives its packets the same verdict)";
        }
      } else if (without.ok) {
        f.message += " (the chain's policy gives its packets the same verdict)";
      }
      f.witness = std::move(w);
    }
    out_.findings.push_back(std::move(f));
  }

  // A mutable copy of the ruleset for replaying "without the rule".
  Ruleset& reducedCopy() {
    if (!copy_) {
      DiagnosticEngine d("<copy>");
      ParseOptions po;
      po.family = rs_.family;
      copy_ = parseRestore(printRuleset(rs_), po, d);
    }
    return *copy_;
  }
  size_t tableIn(const Ruleset& copy, size_t t) const {
    for (size_t i = 0; i < copy.tables.size(); ++i)
      if (copy.tables[i].name == rs_.tables[t].name) return i;
    return 0;
  }
  static std::optional<size_t> chainIn(const Ruleset& rs, size_t t, const std::string& name) {
    const auto& cs = rs.tables[t].chains;
    for (size_t i = 0; i < cs.size(); ++i)
      if (cs[i].name == name) return i;
    return std::nullopt;
  }
  void neutralise(Ruleset& copy, size_t t, size_t ch, size_t r) const {
    size_t ct = tableIn(copy, t);
    auto cc = chainIn(copy, ct, rs_.tables[t].chains[ch].name);
    if (!cc || r >= copy.tables[ct].chains[*cc].rules.size()) return;
    // "! -s 0/0" matches nothing: the rule stays in place but never fires.
    IpHeaderMatch& ip = copy.tables[ct].chains[*cc].rules[r].ip;
    ip.src = IpAddr{};
    ip.srcMask = IpAddr{};
    ip.invSrc = true;
  }

  // ---- -Wconflict and -Wgeneralization ----

  struct PairHits {
    std::vector<size_t> earlier;  // occurrences, in order
    size_t more = 0;              // further candidates not examined
    std::optional<Witness> witness;  // a concrete packet for the first: reaches it and matches the later rule
  };

  void overlaps(bool conflict, bool generalization) {
    const auto& travs = model_.traversals();
    std::set<std::pair<std::string, RuleKey>> reported;
    size_t unexamined = 0;
    bool budgetOut = false;
    const size_t callsBefore = hs_.calls;
    for (size_t ti = 0; ti < travs.size(); ++ti) {
      const Traversal& tr = travs[ti];
      std::vector<size_t> terms;
      for (size_t oi = 0; oi < tr.occs.size(); ++oi)
        if (tr.occs[oi].action == Action::Terminal && !skipped(tr.occs[oi])) terms.push_back(oi);
      // Verdict classes as small numbers: the pair loop compares them for every pair.
      std::map<std::string, int> classIds;
      std::vector<int> cls;
      for (size_t oi : terms) cls.push_back(classIds.emplace(verdictClass(tr.occs[oi].label), int(classIds.size())).first->second);
      std::map<RuleKey, size_t> firstOcc;  // a rule's first occurrence in the traversal
      for (size_t oi = tr.occs.size(); oi-- > 0;) firstOcc[{tr.occs[oi].table, tr.occs[oi].chain, tr.occs[oi].rule}] = oi;
      for (size_t jx = 0; jx < terms.size(); ++jx) {
        const size_t j = terms[jx];
        const Occurrence& oj = tr.occs[j];
        const RuleKey kj{oj.table, oj.chain, oj.rule};
        PairHits conf, gen;
        z3::expr mj = pathMatch(ti, j);
        for (size_t ix = 0; ix < jx; ++ix) {
          const size_t i = terms[ix];
          const Occurrence& oi = tr.occs[i];
          if (cls[ix] == cls[jx] || !oi.pathBox.meets(oj.pathBox)) continue;
          const bool confFull = !conflict || conf.earlier.size() >= opts_.maxRelated;
          const bool genFull = !generalization || gen.earlier.size() >= opts_.maxRelated;
          if (confFull && genFull) {
            // Not examined: counted as "may" in the summary of the finding.
            if (conflict) ++conf.more;
            if (generalization) ++gen.more;
            continue;
          }
          if (hs_.calls - callsBefore >= opts_.overlapBudget) {
            budgetOut = true;
            ++unexamined;
            continue;
          }
          // Does a packet that reaches and matches i also match j? A concrete
          // packet in both boxes says yes without the solver.
          // j's own unknown matches may match as well (the finding then says it
          // depends on them), unless the run to i met that rule already.
          const WalkResult& d = defs_[ti];
          const bool ownUnknowns = firstOcc.at(kj) > i;
          // Where the rule occurs before i as well, its unknowns may still
          // match if the packet then reaches i all the same (run again).
          bool forcedUnknowns = false;
          auto reachesBoth = [&](bool stateful, bool reuse) {
            if (!search_.reachesWithin(tr, i, oj.pathBox, stateful, reuse)) return false;
            if (search_.matchesPath(tr, j, ownUnknowns) == 1) return true;
            if (ownUnknowns || model_.lowered(oj.table, oj.chain, oj.rule).unknowns.empty()) return false;
            forcedUnknowns = search_.matchesPath(tr, j, true, true) == 1;
            return forcedUnknowns;
          };
          const bool concrete = reachesBoth(false, true) || reachesBoth(false, false) || reachesBoth(true, false);
          // Two rules that no packet matches together need no walk to i either.
          if (!concrete && !matchTogether(tr, i, j) && disjointByRules(ti, i, j)) {
            ++decidedConcretely_;
            continue;
          }
          // The packet is the finding's witness, with what it assumed of unparsed matches.
          std::optional<Witness> pairWitness;
          if (concrete && (conf.earlier.empty() || gen.earlier.empty())) {
            pairWitness = search_.lastPacket();
            assumeMatching(*pairWitness, tr, i, true);
            if (ownUnknowns || forcedUnknowns) assumeMatching(*pairWitness, tr, j, false);
          }
          if (concrete) ++decidedConcretely_;
          else if (hs_.decide(c_.bool_val(true), tr.hook, pathLits(ti, j, {d.activeAt[i], d.matchAt[i]})) != z3::sat)
            continue;
          // Is i inside j (a generalization) or only overlapping (a conflict)?
          std::optional<bool> insideKnown = insideByBoxes(tr, i, j);
          if (insideKnown) ++decidedConcretely_;
          if (!insideKnown && freeUnknownOnPath(tr, j, i)) insideKnown = false;
          if (!insideKnown) insideKnown = insideByRules(ti, i, j);
          const z3::check_result inside = insideKnown ? (*insideKnown ? z3::unsat : z3::sat)
                                                      : hs_.decide(pathMatch(ti, i) && !mj, tr.hook);
          auto add = [&](PairHits& hits) {
            if (hits.earlier.empty()) hits.witness = pairWitness;
            hits.earlier.push_back(i);
          };
          if (inside == z3::unsat) {
            if (!genFull) add(gen);
            else if (generalization) ++gen.more;
          } else if (inside == z3::sat) {
            if (!confFull) add(conf);
            else if (conflict) ++conf.more;
          }
        }
        if (conflict && !conf.earlier.empty() && reported.insert({"conflict", kj}).second)
          reportOverlap("conflict", ti, j, conf);
        if (generalization && !gen.earlier.empty() && reported.insert({"generalization", kj}).second)
          reportOverlap("generalization", ti, j, gen);
      }
    }
    if (budgetOut)
      budgetNote(conflict ? "conflict" : "generalization",
                 "overlap analysis stopped after " + std::to_string(opts_.overlapBudget) + " solver calls; " +
                     std::to_string(unexamined) + " candidate rule pairs were not examined");
  }

  // The concrete search let the unknown matches of occurrence p (and of the
  // jumps to it) match: replay assumes the same of the unparsed ones.
  void assumeMatching(Witness& w, const Traversal& tr, size_t p, bool withParents) const {
    for (int a = static_cast<int>(p); a >= 0; a = withParents ? tr.occs[static_cast<size_t>(a)].parent : -1) {
      const Occurrence& o = tr.occs[static_cast<size_t>(a)];
      for (const auto& u : model_.lowered(o.table, o.chain, o.rule).unknowns)
        if (u.ext && dynamic_cast<const UnparsedMatch*>(u.ext)) w.assumed.push_back({u.ext, true});
    }
  }

  // Occurrence p and the jumps to it match exactly their path box, with no unknown matches.
  bool pathIsItsBox(const Traversal& tr, size_t p) const {
    for (int a = static_cast<int>(p); a >= 0; a = tr.occs[static_cast<size_t>(a)].parent) {
      const Occurrence& o = tr.occs[static_cast<size_t>(a)];
      const LoweredRule& lr = model_.lowered(o.table, o.chain, o.rule);
      if (!lr.boxExact || !lr.unknowns.empty()) return false;
    }
    return true;
  }

  // Does every packet of i's path match j's path too? Answered from the boxes
  // where they tell: j's path is exactly its box and holds i's (yes), or a
  // concrete packet of i's path lies outside j's box (no). Else nullopt.
  std::optional<bool> insideByBoxes(const Traversal& tr, size_t i, size_t j) {
    const Box& bi = tr.occs[i].pathBox;
    const Box& bj = tr.occs[j].pathBox;
    if (bj.contains(bi) && pathIsItsBox(tr, j)) return true;
    for (int dim = 0; dim < kNumDims; ++dim) {
      const auto& a = bi.d[dim];
      const auto& b = bj.d[dim];
      if (a.lo < b.lo) {
        Box below = bi;
        below.restrict(BoxDim(dim), a.lo, b.lo - 1);
        if (search_.matchesWithin(tr, i, below)) return false;
      }
      if (a.hi > b.hi) {
        Box above = bi;
        above.restrict(BoxDim(dim), b.hi + 1, a.hi);
        if (search_.matchesWithin(tr, i, above)) return false;
      }
    }
    return std::nullopt;
  }

  // A concrete packet in both boxes that matches i's path and j's path
  // (their unknown matches matching): the rules are not disjoint, and the
  // solver need not say so.
  bool matchTogether(const Traversal& tr, size_t i, size_t j) {
    return search_.matchesWithin(tr, i, tr.occs[j].pathBox) && search_.matchesPath(tr, j, true) == 1;
  }

  // Some rule on j's path (j or a jump to it) has an unknown match and is
  // not on i's path: that match is a variable of its own, conjoined to j's
  // condition, so a packet of i's path (known to exist) fails it where it
  // does not hold — i is not inside j, exactly as the pair query would say.
  bool freeUnknownOnPath(const Traversal& tr, size_t j, size_t i) const {
    std::set<RuleKey> onI;
    for (int p = static_cast<int>(i); p >= 0; p = tr.occs[static_cast<size_t>(p)].parent) {
      const Occurrence& o = tr.occs[static_cast<size_t>(p)];
      onI.insert({o.table, o.chain, o.rule});
    }
    for (int p = static_cast<int>(j); p >= 0; p = tr.occs[static_cast<size_t>(p)].parent) {
      const Occurrence& o = tr.occs[static_cast<size_t>(p)];
      if (!model_.lowered(o.table, o.chain, o.rule).unknowns.empty() && !onI.count({o.table, o.chain, o.rule}))
        return true;
    }
    return false;
  }

  // The same question on the two paths' own rules (a small query instead of
  // one over every chain defined in the solver): exact while nothing before
  // them changes the mark or a field (the walk's matchAt is then the rule's
  // condition). Unknown matches are the same variables in both. Else nullopt.
  std::optional<bool> insideByRules(size_t ti, size_t i, size_t j) {
    auto r = pairQuery(ti, i, j, true);
    if (!r) return std::nullopt;
    return !*r;
  }
  // No packet matches both paths (exact on the same terms as insideByRules).
  bool disjointByRules(size_t ti, size_t i, size_t j) { return pairQuery(ti, i, j, false) == false; }

  // Is there a packet of i's path that is (notJ: is not) in j's path? None
  // where the rules' conditions alone do not tell.
  std::optional<bool> pairQuery(size_t ti, size_t i, size_t j, bool notJ) {
    const Traversal& tr = model_.traversals()[ti];
    if (changesOf(ti).firstChange < std::max(i, j)) return std::nullopt;
    auto path = [&](size_t oi) {
      z3::expr_vector v(c_);
      for (int p = static_cast<int>(oi); p >= 0; p = tr.occs[static_cast<size_t>(p)].parent) {
        const Occurrence& o = tr.occs[static_cast<size_t>(p)];
        v.push_back(model_.lowered(o.table, o.chain, o.rule).cond);
      }
      return z3::mk_and(v);
    };
    const auto r = pairCheck(path(i) && (notJ ? !path(j) : path(j)));
    if (r == z3::unknown) return std::nullopt;
    return r == z3::sat;
  }

  void reportOverlap(const std::string& name, size_t ti, size_t j, const PairHits& hits) {
    const Traversal& tr = model_.traversals()[ti];
    const Occurrence& oj = tr.occs[j];
    const Occurrence& first = tr.occs[hits.earlier.front()];
    Finding f;
    f.name = name;
    f.rule = makeRuleRef(rs_, oj.table, oj.chain, oj.rule);
    f.hook = tr.hook;
    f.moreRelated = hits.more;
    std::vector<std::string> deps = unknownsOf(tr, j);
    std::string lines;
    for (size_t i : hits.earlier) {
      const Occurrence& o = tr.occs[i];
      f.related.push_back(makeRuleRef(rs_, o.table, o.chain, o.rule));
      lines += (lines.empty() ? "" : ", ") + std::to_string(f.related.back().loc.line);
      auto u = unknownsOf(tr, i);
      deps.insert(deps.end(), u.begin(), u.end());
    }
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    f.definite = deps.empty();
    f.dependsOn = deps;
    f.severity = f.definite ? Severity::Warning : Severity::Note;
    const std::string s = hits.earlier.size() > 1 ? "s " : " ";
    if (name == "conflict")
      f.message = std::string(f.definite ? "rule" : "rule may") + (f.definite ? " partially overlaps" : " partially overlap") +
                  " earlier rule" + s + "at line" + s + lines + " with a different action: packets in the overlap get " +
                  verdictClass(first.label);
    else
      f.message = "rule generalizes earlier rule" + s + "at line" + s + lines +
                  " with a different action (they are exceptions to it)";
    if (hits.more) f.message += "; " + std::to_string(hits.more) + " more earlier rule(s) may " + (name == "conflict" ? "overlap" : "be contained");
    if (!f.definite) f.message += "; only if " + deps.front() + " matches";
    // Witness: reaches and matches the first earlier rule, and matches this one too.
    const WalkResult& d = defs_[ti];
    const size_t i = hits.earlier.front();
    f.witnessRole = name == "conflict" ? "in the overlap: matches both rules and gets the earlier rule's action"
                                       : "matches both rules and gets the earlier (more specific) rule's action";
    // The concrete packet that decided the pair, else the solver's (a
    // readable one costs several queries over every chain).
    std::optional<Witness> packet = hits.witness;
    if (!packet && findWitness(pathMatch(ti, j), tr.hook, {d.activeAt[i], d.matchAt[i]}, first.pathBox.meet(oj.pathBox)) == z3::sat) packet = witnessNow();
    if (packet) {
      Witness w = std::move(*packet);
      Replay rp = replay(rs_, first.table, tr.hook, w);
      const Rule& rj = rs_.tables[oj.table].chains[oj.chain].rules[oj.rule];
      bool alone = ruleMatchesAlone(rs_, rj, rs_.tables[oj.table].name, tr.hook, w);
      f.replayed = decidedBy(rp, first) && alone;
      f.witness = std::move(w);
    }
    out_.findings.push_back(std::move(f));
  }

  const Ruleset& rs_;
  const CheckOptions& opts_;
  CheckResult& out_;
  std::unique_ptr<z3::context> ownedCtx_ = std::make_unique<z3::context>();
  z3::context& c_ = *ownedCtx_;
  std::vector<Rule> hostRules_;
  IfaceUniverse ifs_;
  SymPacket pkt_;
  ChainModel model_;
  HookSolver hs_;
  std::unique_ptr<HookSolver> redundancySolver_;
  std::optional<z3::solver> pairSolver_;  // two-rule queries (coveredByLaterRule, pairQuery)
  size_t pairCalls_ = 0;
  std::map<size_t, Changes> changes_;  // by traversal
  ConcreteSearch search_;
  size_t decidedConcretely_ = 0;  // questions a concrete packet answered (no solver call)
  // Per rule examined: a concrete packet that reaches each occurrence.
  std::map<std::pair<size_t, size_t>, Witness> reachedBy_;
  std::vector<WalkResult> defs_;
  std::set<RuleKey> dead_;
  std::set<std::pair<size_t, size_t>> deadChains_;
  std::optional<Ruleset> copy_;
};

}  // namespace

void findAnomalies(const Ruleset& rs, const CheckOptions& opts, CheckResult& r) {
  if (opts.analyses.empty() || rs.tables.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  const size_t before = r.findings.size();
  AnomalyFinder af(rs, opts, r);
  af.run();
  r.stats.solverCalls += af.calls();
  r.stats.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.findings.size() == before) return;
  std::stable_sort(r.findings.begin(), r.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.rule.loc.line < b.rule.loc.line; });
}

}  // namespace nfjit::verifier
