// nfjit diff: per built-in chain, are two rulesets' verdicts the same for
// every packet? Differences come with a witness and both verdicts.
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <set>
#include <stdexcept>

#include "compiler/frontend/Printer.h"

#include "verifier/Checks.h"
#include "verifier/ContextLifetime.h"
#include "verifier/DiffProbes.h"
#include "verifier/HostModel.h"
#include "verifier/TraversalSlices.h"

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

namespace {

// Where two traversals of one chain differ. Occurrences are keyed by their
// depth and canonical text and aligned like a line diff (common prefix and
// suffix, then unique keys as anchors in increasing order, extended to
// their equal neighbours); an aligned pair must have aligned parents. A
// packet that matches none of the unaligned ("changed") occurrences takes
// the same path through both versions, so differences lie in their boxes.
struct Alignment {
  std::vector<bool> changedA, changedB;
};

std::vector<std::string> occurrenceKeys(const ChainModel& m, const Traversal& tr) {
  const Ruleset& rs = m.ruleset();
  std::vector<std::string> keys(tr.occs.size());
  std::vector<int> depth(tr.occs.size(), 0);
  for (size_t i = 0; i < tr.occs.size(); ++i) {
    const Occurrence& o = tr.occs[i];
    depth[i] = o.parent < 0 ? 0 : depth[static_cast<size_t>(o.parent)] + 1;
    const Chain& ch = rs.tables[o.table].chains[o.chain];
    keys[i] = std::to_string(depth[i]) + "|" + printRule(ch.rules[o.rule], ch.name, rs.family);
  }
  return keys;
}

Alignment align(const Traversal& a, const std::vector<std::string>& ka, const Traversal& b,
                const std::vector<std::string>& kb) {
  const size_t n = ka.size(), m = kb.size();
  std::vector<long> matchA(n, -1), matchB(m, -1);
  auto pair = [&](size_t i, size_t j) { matchA[i] = static_cast<long>(j), matchB[j] = static_cast<long>(i); };
  size_t pre = 0, suf = 0;
  while (pre < n && pre < m && ka[pre] == kb[pre]) pair(pre, pre), ++pre;
  while (suf < n - pre && suf < m - pre && ka[n - 1 - suf] == kb[m - 1 - suf]) pair(n - 1 - suf, m - 1 - suf), ++suf;
  // Anchors: keys that occur once on each side of the middle.
  std::unordered_map<std::string_view, std::array<long, 4>> seen;  // count a, count b, pos a, pos b
  for (size_t i = pre; i < n - suf; ++i) {
    auto& e = seen.try_emplace(ka[i], std::array<long, 4>{0, 0, -1, -1}).first->second;
    ++e[0], e[2] = static_cast<long>(i);
  }
  for (size_t j = pre; j < m - suf; ++j) {
    auto it = seen.find(kb[j]);
    if (it != seen.end()) ++it->second[1], it->second[3] = static_cast<long>(j);
  }
  std::vector<std::pair<long, long>> cand;
  for (const auto& [k, e] : seen)
    if (e[0] == 1 && e[1] == 1) cand.push_back({e[2], e[3]});
  std::sort(cand.begin(), cand.end());
  // Longest increasing subsequence in the b positions (patience sorting).
  std::vector<size_t> tails, prev(cand.size(), SIZE_MAX);
  for (size_t k = 0; k < cand.size(); ++k) {
    auto it = std::lower_bound(tails.begin(), tails.end(), cand[k].second,
                               [&](size_t t, long v) { return cand[t].second < v; });
    if (it != tails.begin()) prev[k] = *(it - 1);
    if (it == tails.end()) tails.push_back(k);
    else *it = k;
  }
  std::vector<std::pair<long, long>> anchors;
  for (size_t k = tails.empty() ? SIZE_MAX : tails.back(); k != SIZE_MAX; k = prev[k]) anchors.push_back(cand[k]);
  std::reverse(anchors.begin(), anchors.end());
  for (const auto& [i, j] : anchors) pair(static_cast<size_t>(i), static_cast<size_t>(j));
  // Extend each anchor to equal neighbours on both sides.
  for (const auto& [i0, j0] : anchors) {
    for (long i = i0 + 1, j = j0 + 1; i < static_cast<long>(n) && j < static_cast<long>(m) && matchA[i] < 0 &&
                                      matchB[j] < 0 && ka[i] == kb[j];
         ++i, ++j)
      pair(static_cast<size_t>(i), static_cast<size_t>(j));
    for (long i = i0 - 1, j = j0 - 1; i >= 0 && j >= 0 && matchA[i] < 0 && matchB[j] < 0 && ka[i] == kb[j]; --i, --j)
      pair(static_cast<size_t>(i), static_cast<size_t>(j));
  }
  // Parents first (they precede their callees): an aligned pair needs aligned parents.
  for (size_t i = 0; i < n; ++i) {
    if (matchA[i] < 0) continue;
    size_t j = static_cast<size_t>(matchA[i]);
    int pa = a.occs[i].parent, pb = b.occs[j].parent;
    bool ok = (pa < 0 && pb < 0) || (pa >= 0 && pb >= 0 && matchA[static_cast<size_t>(pa)] == pb);
    if (!ok) matchA[i] = -1, matchB[j] = -1;
  }
  Alignment al;
  for (long x : matchA) al.changedA.push_back(x < 0);
  for (long x : matchB) al.changedB.push_back(x < 0);
  return al;
}

bool hasHavoc(const ChainModel& m, const Traversal& tr) {
  for (const auto& o : tr.occs)
    if (!m.effect(o.table, o.chain, o.rule).known) return true;
  return false;
}

bool anyUnknown(const ChainModel& m, const Traversal& tr) {
  for (const auto& o : tr.occs)
    if (!m.lowered(o.table, o.chain, o.rule).unknowns.empty()) return true;
  return false;
}

// Where the changed occurrences can make a difference: the boxes of those
// that decide, leave their chain or change the packet. A packet that
// matches none of them passes every changed jump as a no-op (its callee
// neither decides nor changes it), and a changed LOG or counting rule
// decides nothing, so it takes the same verdict in both versions. A changed
// jump's callee is changed too (aligned pairs need aligned parents), and
// its occurrences' boxes lie inside the jump's.
//
// A RETURN, or a GOTO's eventual return, that lands after a changed jump
// is a no-op too: it only skips rules of that jump's callee, all of them
// changed, and those that matter have their boxes here already. (One that
// ends the built-in chain decides its policy; one inside an unchanged
// callee skips unchanged rules that may decide: both keep their boxes.)
bool returnsAfterChangedJump(const Traversal& tr, const std::vector<bool>& changed, size_t i) {
  int x = tr.occs[i].parent;
  while (x >= 0 && tr.occs[static_cast<size_t>(x)].action == Action::Goto) x = tr.occs[static_cast<size_t>(x)].parent;
  return x >= 0 && tr.occs[static_cast<size_t>(x)].action == Action::Jump && changed[static_cast<size_t>(x)];
}

std::vector<Box> changedBoxes(const ChainModel& m, const Traversal& tr, const std::vector<bool>& changed) {
  std::vector<Box> out;
  for (size_t i = 0; i < tr.occs.size(); ++i) {
    const Occurrence& o = tr.occs[i];
    if (!changed[i] || o.pathBox.empty || o.action == Action::Jump) continue;
    if ((o.action == Action::Return || o.action == Action::Goto) && returnsAfterChangedJump(tr, changed, i)) continue;
    if (o.action == Action::Continue) {
      const TargetEffect& eff = m.effect(o.table, o.chain, o.rule);
      if (!eff.setsMark && eff.known) continue;
    }
    out.push_back(o.pathBox);
  }
  return out;
}

constexpr size_t kMaxBoxes = 32;  // more changed regions are merged into one hull
constexpr size_t kMaxProbes = 512;  // concrete probes per version and chain

// The labels a traversal can end with: its terminal targets' and its policy.
std::set<std::string> possibleLabels(const Traversal& tr) {
  std::set<std::string> out{tr.policyLabel};
  for (const auto& o : tr.occs)
    if (o.action == Action::Terminal) out.insert(o.label);
  return out;
}

// The host's interface names, for IfaceUniverse::build.
std::vector<const Rule*> rulePtrs(const std::vector<Rule>& rules) {
  std::vector<const Rule*> out;
  for (const auto& r : rules) out.push_back(&r);
  return out;
}

// checkNice, first within the host's preferences (a --local destination
// rather than a multicast group on INPUT).
z3::check_result findWitness(HookSolver& hs, const SymPacket& pkt, const std::optional<HostModel>& host,
                             const z3::expr& e, Hook h) {
  if (host && hs.checkNice(e, h, {hostPreference(pkt, *host, h)}) == z3::sat) return z3::sat;
  return hs.checkNice(e, h);
}

// The same for a goal given as literals (HookSolver::literalFor).
z3::check_result findWitness(HookSolver& hs, const SymPacket& pkt, const std::optional<HostModel>& host,
                             std::vector<z3::expr> goal, Hook h) {
  z3::expr yes = hs.solver().ctx().bool_val(true);
  if (host) {
    goal.push_back(hs.literalFor(hostPreference(pkt, *host, h)));
    if (hs.checkNice(yes, h, goal) == z3::sat) return z3::sat;
    goal.pop_back();
  }
  return hs.checkNice(yes, h, goal);
}

// One region's question: within `inside`, the condition of each verdict
// label in the old and in the new version.
struct RegionVerdicts {
  z3::expr inside;
  std::map<std::string, z3::expr> o, n;
};

std::map<std::string, z3::expr> labelConditions(const ChainModel& m, const WalkResult& w) {
  std::map<std::string, z3::expr> out;
  for (const auto& [l, e] : w.decided)
    if (!out.count(l)) out.emplace(l, m.verdict(w, l));
  return out;
}

// One walk ends with one label: stating it spares the solver from deriving
// it through the first-match chain in every query.
void assertExclusive(z3::solver& s, const std::map<std::string, z3::expr>& labels) {
  for (auto x = labels.begin(); x != labels.end(); ++x)
    for (auto y = std::next(x); y != labels.end(); ++y) s.add(!(x->second && y->second));
}

const std::string kFell = "\x01" "fell";  // a block's "fell off its end"

// Both versions as sequences of top-level blocks (verifier/TraversalSlices.h)
// restricted to the region: a block with the same content in both is walked
// once, and each version's verdict composes its blocks' outcomes in its own
// order. Exact as long as no block but the last can change the mark (later
// blocks are walked with the entry mark) or end the chain with a top-level
// RETURN or GOTO; otherwise none.
class BlockComposer {
 public:
  BlockComposer(const Box& region, HookSolver& hs) : region_(region), hs_(hs) {}

  std::optional<std::map<std::string, z3::expr>> verdicts(const ChainModel& m, const Traversal& tr,
                                                          const std::vector<std::string>& keys) {
    z3::context& c = hs_.solver().ctx();
    auto blocks = topLevelBlocks(tr);
    z3::expr reach = c.bool_val(true);
    std::map<std::string, z3::expr_vector> terms;
    for (size_t k = 0; k < blocks.size(); ++k) {
      const auto [begin, end] = blocks[k];
      const bool last = k + 1 == blocks.size();
      bool meets = false;
      for (size_t i = begin; i < end; ++i) {
        const Occurrence& o = tr.occs[i];
        meets = meets || o.pathBox.meets(region_);
        if (!last && m.effect(o.table, o.chain, o.rule).setsMark)
          return std::nullopt;
      }
      if (!meets) continue;  // no packet of the region matches anything in it
      std::string content;
      for (size_t i = begin; i < end; ++i) content += keys[i] + "\n";
      auto it = outcomes_.find(content);
      if (it == outcomes_.end()) {
        Traversal block = sliceTraversal(tr, begin, end, kFell);
        if (!leavesOnlyAtEnd(block)) return std::nullopt;
        WalkOptions opt;
        opt.filter = &region_;
        it = outcomes_.emplace(content, labelConditions(m, m.walk(block, opt))).first;
        assertExclusive(hs_.solver(), it->second);
      }
      for (const auto& [l, e] : it->second) {
        if (l == kFell) continue;
        terms.try_emplace(l, c).first->second.push_back(reach && e);
      }
      auto fell = it->second.find(kFell);
      reach = fell == it->second.end() ? c.bool_val(false) : reach && fell->second;
    }
    terms.try_emplace(tr.policyLabel, c).first->second.push_back(reach);
    std::map<std::string, z3::expr> out;
    for (auto& [l, v] : terms) out.emplace(l, z3::mk_or(v));
    return out;
  }

 private:
  const Box& region_;
  HookSolver& hs_;
  std::map<std::string, std::map<std::string, z3::expr>> outcomes_;  // by block content
};

}  // namespace

std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table) {
  return diffRulesets(oldRs, newRs, table, nullptr);
}

std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table,
                                    DiffStats* stats) {
  return diffRulesets(oldRs, newRs, table, stats, DiffOptions{});
}

std::vector<ChainDiff> diffRulesets(const Ruleset& oldRs, const Ruleset& newRs, const std::string& table,
                                    DiffStats* stats, const DiffOptions& opts) {
  if (oldRs.family != newRs.family) throw std::runtime_error("the two rulesets are of different families");
  // Z3_del_context takes minutes after large runs (see Checks.cpp): large
  // diffs leave the context to process exit.
  auto owned = std::make_unique<z3::context>();
  z3::context& c = *owned;
  size_t rules = 0;
  for (const Ruleset* rs : {&oldRs, &newRs})
    for (const auto& t : rs->tables)
      for (const auto& ch : t.chains) rules += ch.rules.size();
  struct Keep {
    std::unique_ptr<z3::context>& ctx;
    bool leak;
    ~Keep() {
      if (leak) keepUntilExit(std::move(ctx));
    }
  } keep{owned, rules > kKeepContextAbove};
  const std::vector<Rule> hostRules = opts.host ? hostIfaceRules(*opts.host) : std::vector<Rule>{};
  IfaceUniverse ifs;
  ifs.build({&oldRs, &newRs}, rulePtrs(hostRules));
  SymPacket pkt(c, oldRs.family, ifs);
  ChainModel mo(c, oldRs, pkt, "o", true), mn(c, newRs, pkt, "n", true);
  HookSolver hs(c, pkt);
  if (opts.host) addHostConstraints(hs, pkt, *opts.host);
  std::vector<ChainDiff> out;
  for (Hook h : tableHooks(table, oldRs.family)) {
    std::string chain(hookChainName(h));
    const Traversal* to = findTraversal(mo, table, chain);
    const Traversal* tn = findTraversal(mn, table, chain);
    if (!to && !tn) continue;
    ChainDiff d;
    d.chain = chain;
    d.hook = h;
    // The regions to compare: everything, or only the changed occurrences'
    // boxes when both versions have the chain and it can be aligned.
    std::vector<std::optional<Box>> regions = {std::nullopt};
    std::vector<std::string> ko, kn;
    std::map<std::pair<std::string, std::string>, Difference> found;
    // A witness replayed through both versions, for the chain's table.
    auto replayBoth = [&](Witness w) {
      Difference diff;
      diff.witness = std::move(w);
      auto ti = tableIndex(oldRs, table), tj = tableIndex(newRs, table);
      Replay ro, rn;
      if (ti) ro = replay(oldRs, *ti, h, diff.witness);
      else ro.ok = true, ro.verdict = ro.label = "ACCEPT";
      if (tj) rn = replay(newRs, *tj, h, diff.witness);
      else rn.ok = true, rn.verdict = rn.label = "ACCEPT";
      // By label, not kernel verdict: DROP and REJECT differ on the wire.
      diff.oldReplay = ro.label;
      diff.newReplay = rn.label;
      diff.oldRules = decider(oldRs, ro);
      diff.newRules = decider(newRs, rn);
      diff.replayed = ro.ok && rn.ok;
      return diff;
    };
    const bool sliceable = to && tn && to->policyLabel == tn->policyLabel && !hasHavoc(mo, *to) && !hasHavoc(mn, *tn);
    if (sliceable) {
      ko = occurrenceKeys(mo, *to), kn = occurrenceKeys(mn, *tn);
      Alignment al = align(*to, ko, *tn, kn);
      std::vector<Box> boxes = changedBoxes(mo, *to, al.changedA);
      for (const Box& b : changedBoxes(mn, *tn, al.changedB)) boxes.push_back(b);
      regions.clear();
      // A moved rule leaves the same box in both versions.
      std::vector<Box> distinct;
      for (const Box& b : boxes)
        if (std::none_of(distinct.begin(), distinct.end(), [&](const Box& d) { return d.contains(b); }))
          distinct.push_back(b);
      boxes = std::move(distinct);
      if (boxes.size() > kMaxBoxes) {
        Box hull = Box::none();
        for (const Box& b : boxes) hull = hull.hull(b);
        boxes = {hull};
      }
      for (const Box& b : boxes) regions.push_back(b);
      if (stats) stats->regions += regions.size();
      d.definite = !anyUnknown(mo, *to) && !anyUnknown(mn, *tn);
      if (regions.empty() && stats) ++stats->identicalChains;
      // Concrete differences first (verifier/DiffProbes.h). The host model's
      // constraints are the solver's to meet, so probes run without one.
      if (!regions.empty() && !opts.host) {
        std::set<std::string> labelsO = possibleLabels(*to), labelsN = possibleLabels(*tn);
        size_t wanted = 0;
        for (const auto& a : labelsO) wanted += labelsN.size() - labelsN.count(a);
        auto visit = [&](const Witness& w) {
          Difference diff = replayBoth(w);
          if (diff.replayed && diff.oldReplay != diff.newReplay) {
            diff.oldVerdict = diff.oldReplay, diff.newVerdict = diff.newReplay;
            found.emplace(std::make_pair(diff.oldVerdict, diff.newVerdict), std::move(diff));
          }
          return found.size() < wanted;
        };
        probeChangedOccurrences(mo, *to, al.changedA, kMaxProbes, visit);
        if (found.size() < wanted) probeChangedOccurrences(mn, *tn, al.changedB, kMaxProbes, visit);
        if (stats) stats->probed += found.size();
      }
      if (std::getenv("NFJIT_VERIFY_DEBUG"))
        std::fprintf(stderr, "nfjit diff: %s: %zu/%zu occurrences, %zu changed regions\n", chain.c_str(),
                     to->occs.size(), tn->occs.size(), regions.size());
    }
    // A table without the chain accepts everything.
    auto walkOf = [&](const ChainModel& m, const Traversal* t, const Box* filter) {
      WalkOptions wo;
      wo.filter = filter;
      if (t) return m.walk(*t, wo);
      WalkResult w;
      w.decided.push_back({"ACCEPT", c.bool_val(true)});
      return w;
    };
    bool undecided = false;
    for (const auto& region : regions) {
      const Box* filter = region ? &*region : nullptr;
      std::optional<RegionVerdicts> rv;
      if (region && sliceable) {
        BlockComposer blocks(*region, hs);
        auto vo = blocks.verdicts(mo, *to, ko), vn = blocks.verdicts(mn, *tn, kn);
        if (vo && vn) rv = RegionVerdicts{boxCondition(pkt, *region), std::move(*vo), std::move(*vn)};
      }
      if (!rv) {
        WalkResult wo = walkOf(mo, to, filter), wn = walkOf(mn, tn, filter);
        if (!region) d.definite = wo.unknowns.empty() && wn.unknowns.empty();
        rv = RegionVerdicts{region ? boxCondition(pkt, *region) : c.bool_val(true), labelConditions(mo, wo),
                            labelConditions(mn, wn)};
      }
      std::set<std::string> lo, ln;
      for (const auto& [l, e] : rv->o) lo.insert(l);
      for (const auto& [l, e] : rv->n) ln.insert(l);
      // Each verdict condition is asserted once behind a literal: the queries
      // below differ only in their assumptions, so the solver bit-blasts the
      // two walks once per region instead of once per query.
      std::map<std::string, z3::expr> litO, litN;
      for (const auto& [a, e] : rv->o) litO.emplace(a, hs.literalFor(e));
      for (const auto& [b, e] : rv->n) litN.emplace(b, hs.literalFor(e));
      const z3::expr litInside = hs.literalFor(rv->inside);
      // Ask for any differing pair not found yet; the model names one, which
      // gets a readable witness and leaves the set. The last query, the
      // proof that no pair is left, is the only unsatisfiable one.
      std::set<std::pair<std::string, std::string>> open;
      for (const auto& a : lo)
        for (const auto& b : ln)
          if (a != b && !found.count({a, b})) open.insert({a, b});
      bool timedOut = false;
      while (!open.empty()) {
        z3::expr_vector anyPair(c);
        for (const auto& [a, b] : open) anyPair.push_back(litO.at(a) && litN.at(b));
        auto res = hs.check(c.bool_val(true), h, {litInside, hs.literalFor(z3::mk_or(anyPair))});
        if (res == z3::unknown) {
          timedOut = true;
          if (stats) ++stats->timeouts;
        }
        if (res != z3::sat) break;
        std::optional<std::pair<std::string, std::string>> pair;
        for (const auto& ab : open)
          if (hs.lastModel().eval(litO.at(ab.first) && litN.at(ab.second), true).is_true()) pair = ab;
        if (!pair) throw std::logic_error("diff: the model satisfies no verdict pair");
        open.erase(*pair);
        const auto& [a, b] = *pair;
        const z3::model any = hs.lastModel();
        // A readable witness where the solver finds one in time; the pair's own model otherwise.
        const bool nice = findWitness(hs, pkt, opts.host, {litInside, litO.at(a), litN.at(b)}, h) == z3::sat;
        const z3::model& model = nice ? hs.lastModel() : any;
        Witness w = witnessFromModel(model, pkt);
        mo.assumeUnparsed(model, w);
        mn.assumeUnparsed(model, w);
        Difference diff = replayBoth(std::move(w));
        diff.oldVerdict = a;
        diff.newVerdict = b;
        diff.replayed = diff.replayed && a == diff.oldReplay && b == diff.newReplay;
        found.emplace(*pair, std::move(diff));
      }
      // The solver gave up: "equivalent" would be a guess.
      if (timedOut) undecided = true;
    }
    if (undecided) d.definite = false;
    for (auto& [k, diff] : found) {
      diff.definite = d.definite;
      d.differences.push_back(std::move(diff));
    }
    d.equivalent = d.differences.empty();
    out.push_back(std::move(d));
  }
  if (stats) stats->solverCalls += hs.calls;
  return out;
}

QueryResult queryRuleset(const Ruleset& rs, const std::string& table, const std::string& chain, const Rule& where,
                         const std::string& verdict) {
  return queryRuleset(rs, table, chain, where, verdict, std::nullopt);
}

QueryResult queryRuleset(const Ruleset& rs, const std::string& table, const std::string& chain, const Rule& where,
                         const std::string& verdict, const std::optional<HostModel>& host) {
  z3::context c;
  const std::vector<Rule> hostRules = host ? hostIfaceRules(*host) : std::vector<Rule>{};
  std::vector<const Rule*> extra = rulePtrs(hostRules);
  extra.push_back(&where);
  IfaceUniverse ifs;
  ifs.build({&rs}, extra);
  SymPacket pkt(c, rs.family, ifs);
  ChainModel m(c, rs, pkt, "q");
  HookSolver hs(c, pkt);
  if (host) addHostConstraints(hs, pkt, *host);
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
  if (findWitness(hs, pkt, host, w.cond && z3::mk_or(any), *hook) != z3::sat) return q;
  q.found = true;
  q.witness = witnessFromModel(hs.lastModel(), pkt);
  m.assumeUnparsed(hs.lastModel(), *q.witness);
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
