// nfjit check: shadowed rules, rules that never match, unreachable chains.
#include "verifier/Checks.h"
#include "verifier/Anomalies.h"
#include "verifier/ContextLifetime.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "compiler/frontend/Printer.h"
#include "verifier/ConcreteSearch.h"
#include "verifier/HostModel.h"

namespace nfjit::verifier {

RuleRefV makeRuleRef(const Ruleset& rs, size_t table, size_t chain, size_t rule) {
  RuleRefV r;
  const Table& t = rs.tables[table];
  const Chain& ch = t.chains[chain];
  r.table = table;
  r.chain = chain;
  r.rule = rule;
  r.tableName = t.name;
  r.chainName = ch.name;
  if (rule < ch.rules.size()) {
    r.loc = ch.rules[rule].loc;
    r.text = printRule(ch.rules[rule], ch.name, rs.family);
    while (!r.text.empty() && r.text.back() == '\n') r.text.pop_back();
    r.label = targetLabel(ch.rules[rule].target);
  } else {
    r.loc = ch.loc;
    r.text = ":" + ch.name;
  }
  return r;
}

std::vector<z3::expr> readablePacket(const SymPacket& pkt, const Box* within) {
  z3::context& c = pkt.src.ctx();
  const bool v4 = pkt.family == Family::IPv4;
  // The preferred value, or the box's low end (a host, not the network address, where it can).
  auto fit = [&](BoxDim d, u128 v, bool address) -> u128 {
    if (!within || within->empty) return v;
    const auto& iv = within->d[d];
    if (iv.lo <= v && v <= iv.hi) return v;
    return address && iv.hi - iv.lo >= 2 ? iv.lo + 1 : iv.lo;
  };
  auto bv = [&](uint64_t v, unsigned w) { return c.bv_val(v, w); };
  auto addr = [&](BoxDim d, const char* a) {
    const IpAddr preferred = *parseIpAddr(pkt.family, a);
    u128 v = 0;
    if (v4) v = preferred.v4();
    else for (uint8_t b : preferred.b) v = v << 8 | b;
    v = fit(d, v, true);
    IpAddr chosen;
    if (v4) chosen = IpAddr::fromV4(static_cast<uint32_t>(v));
    else for (int i = 15; i >= 0; --i, v >>= 8) chosen.b[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
    return addressExpr(c, pkt.family, chosen);
  };
  const uint64_t proto = static_cast<uint64_t>(fit(kDimProto, 6, false));
  return {pkt.frag == bv(static_cast<uint64_t>(fit(kDimFrag, 0, false)), 1),
          pkt.ctstate == bv(kCtNew, 8),
          pkt.mark == bv(0, 32),
          pkt.tos == bv(0, 8),
          pkt.pktType == bv(0, 8),
          pkt.ttl == bv(64, 8),
          pkt.tcpFlags == bv(0x02, 8),
          pkt.proto == bv(proto, 8),
          pkt.length == bv(v4 ? 20 : 40, 16) + z3::ite(pkt.proto == bv(6, 8), bv(20, 16), bv(8, 16)),
          pkt.sport == bv(static_cast<uint64_t>(fit(kDimSport, 40000, false)), 16),
          pkt.dport == bv(static_cast<uint64_t>(fit(kDimDport, 80, false)), 16),
          pkt.icmpType == bv(v4 ? 8 : 128, 8) && pkt.icmpCode == bv(0, 8),
          pkt.src == addr(kDimSrc, v4 ? "192.0.2.10" : "2001:db8:1::10"),
          pkt.dst == addr(kDimDst, v4 ? "198.51.100.20" : "2001:db8:2::20")};
}

namespace {
struct SolverScope {
  explicit SolverScope(z3::solver& s) : s_(s) { s_.push(); }
  ~SolverScope() { s_.pop(); }
  SolverScope(const SolverScope&) = delete;
  SolverScope& operator=(const SolverScope&) = delete;
  z3::solver& s_;
};

}  // namespace

HookSolver::HookSolver(z3::context& c, const SymPacket& pkt) : pkt_(pkt), prefs_(readablePacket(pkt)), s_(c, "QF_BV") {
  // A query that takes longer is answered "unknown" and yields no finding.
  z3::params p(c);
  p.set("timeout", 3000u);
  s_.set(p);
  for (int h = 0; h < 5; ++h) {
    lits_.push_back(c.bool_const(("hook_" + std::to_string(h)).c_str()));
    s_.add(z3::implies(lits_.back(), pkt.wellFormed(static_cast<Hook>(h))));
  }
}

z3::check_result HookSolver::check(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra) {
  return run(e, h, extra, true);
}

z3::check_result HookSolver::decide(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra) {
  return run(e, h, extra, false);
}

z3::check_result HookSolver::run(const z3::expr& e, Hook h, const std::vector<z3::expr>& extra, bool keepModel) {
  ++calls;
  z3::expr_vector as(s_.ctx());
  as.push_back(hookLit(h));
  for (const auto& x : extra) as.push_back(x);
  // Pure assumption queries leave the solver's state alone (push/pop makes
  // the incremental SAT core redo its preprocessing).
  const bool scoped = !e.is_true();
  if (scoped) {
    s_.push();
    s_.add(e);
  }
  auto r = s_.check(as);
  if (r == z3::sat && keepModel) model_.emplace(s_.get_model());
  if (scoped) s_.pop();
  return r;
}

z3::expr HookSolver::literalFor(const z3::expr& e) {
  z3::expr lit = s_.ctx().bool_const(("goal_" + std::to_string(++goals_)).c_str());
  s_.add(z3::implies(lit, e));
  return lit;
}

z3::check_result HookSolver::checkNice(const z3::expr& goal, Hook h, const std::vector<z3::expr>& extra,
                                        const Box* within) {
  // The goal is asserted once for the whole series of queries below, which
  // are then pure assumption queries: one pop instead of one per query
  // (a pop of the big incremental solver is costly).
  std::optional<SolverScope> scope;
  if (!goal.is_true()) {
    scope.emplace(s_);
    s_.add(goal);
  }
  const z3::expr e = s_.ctx().bool_val(true);
  auto r = decide(e, h, extra);
  if (r != z3::sat) return r;
  const std::vector<z3::expr> fitted = within ? readablePacket(pkt_, within) : std::vector<z3::expr>{};
  const std::vector<z3::expr>& prefs = within ? fitted : prefs_;
  // All preferences at once first: when they fit, the greedy loop below
  // would keep every one of them and end with this very query.
  std::vector<z3::expr> keep = extra;
  keep.insert(keep.end(), prefs.begin(), prefs.end());
  if (check(e, h, keep) == z3::sat) return z3::sat;
  keep = extra;
  for (const auto& p : prefs) {
    keep.push_back(p);
    if (decide(e, h, keep) != z3::sat) keep.pop_back();
  }
  return check(e, h, keep);
}

namespace {

// HostUnseen: the rule matches packets, but none that the host model lets
// arrive at its hook (`-i eth9` in INPUT under --in-iface eth0).
enum class Status : uint8_t { NoOccurrence, Unsat, HostUnseen, Shadowed, PossiblyShadowed, Reachable };

struct OccRef {
  size_t trav, occ;
};


class Checker {
 public:
  Checker(const Ruleset& rs, const CheckOptions& opts)
      : rs_(rs),
        opts_(opts),
        hostRules_(opts.host ? hostIfaceRules(*opts.host) : std::vector<Rule>{}),
        ifs_(ifaceUniverse(rs, hostRules_)),
        pkt_(c_, rs.family, ifs_),
        model_(c_, rs, pkt_, "r"),
        hs_(c_, pkt_),
        search_(model_, rs.family) {
    // The host model (--in-iface, --local...): every witness is a packet
    // replay sends down the hook's path; the concrete search keeps only
    // packets that satisfy it.
    if (opts.host) {
      addHostConstraints(hs_, pkt_, *opts.host);
      search_.setHostConstraints(hostConstraintsByHook(pkt_, *opts.host));
    }
    if (debug_)
      std::fprintf(stderr, "nfjit check: model built, %zu traversals\n", model_.traversals().size());
  }

  ~Checker() {
    // Z3_del_context takes minutes after a large run (it frees every term
    // the bit-blaster made); large runs leave the context to process exit.
    if (model_.occurrences() > kKeepContextAbove) keepUntilExit(std::move(ownedCtx_));
  }
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  CheckResult run() {
    auto t0 = std::chrono::steady_clock::now();
    std::map<std::tuple<size_t, size_t, size_t>, std::vector<OccRef>> occs;
    const auto& tr = model_.traversals();
    for (size_t ti = 0; ti < tr.size(); ++ti)
      for (size_t oi = 0; oi < tr[ti].occs.size(); ++oi) {
        const Occurrence& o = tr[ti].occs[oi];
        occs[{o.table, o.chain, o.rule}].push_back({ti, oi});
      }
    size_t total = 0, done = 0;
    for (const auto& t : rs_.tables)
      for (const auto& ch : t.chains) total += ch.rules.size();
    status_.resize(rs_.tables.size());
    for (size_t t = 0; t < rs_.tables.size(); ++t) {
      status_[t].resize(rs_.tables[t].chains.size());
      for (size_t ch = 0; ch < rs_.tables[t].chains.size(); ++ch) {
        const Chain& chain = rs_.tables[t].chains[ch];
        status_[t][ch].assign(chain.rules.size(), Status::NoOccurrence);
        for (size_t r = 0; r < chain.rules.size(); ++r) {
          auto it = occs.find({t, ch, r});
          if (it != occs.end()) {
            auto r0 = std::chrono::steady_clock::now();
            checkRule(t, ch, r, it->second);
            double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
            if (debug_ && dt > 0.05)
              std::fprintf(stderr, "nfjit check: line %u took %.3f s (%zu occurrences)\n", chain.rules[r].loc.line, dt,
                           it->second.size());
          }
          if (opts_.progress && (++done % 100 == 0 || done == 1)) opts_.progress(done, total);
        }
      }
    }
    unreachableChains();
    auto byLine = [](const Finding& a, const Finding& b) { return a.rule.loc.line < b.rule.loc.line; };
    std::stable_sort(out_.findings.begin(), out_.findings.end(), byLine);
    foldStatefulBlockers();
    std::stable_sort(out_.findings.begin(), out_.findings.end(), byLine);
    out_.stats.rules = total;
    out_.stats.solverCalls = hs_.calls;
    out_.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::move(out_);
  }

 private:

  // The conditions of the jumps that lead to an occurrence: a witness that
  // satisfies them reaches the rule's chain unless an earlier rule decides.
  z3::expr parentConds(const Traversal& tr, size_t oi) {
    z3::expr_vector v(c_);
    for (int p = tr.occs[oi].parent; p >= 0; p = tr.occs[p].parent) {
      const Occurrence& o = tr.occs[p];
      v.push_back(model_.lowered(o.table, o.chain, o.rule).cond);
    }
    return z3::mk_and(v);
  }

  void checkRule(size_t t, size_t ch, size_t r, const std::vector<OccRef>& occs) {
    const LoweredRule& lr = model_.lowered(t, ch, r);
    const auto& travs = model_.traversals();
    Status st = Status::Unsat;
    bool anyReachableOcc = false, allBlockedSomehow = true;
    std::vector<std::string> possibleDeps;
    std::optional<OccRef> firstLive;
    // Cheap first: a concrete packet that gets there decides "reachable".
    if (!lr.box.empty)
      for (const OccRef& ref : occs)
        if (search_.reaches(travs[ref.trav], ref.occ)) {
          status_[t][ch][r] = Status::Reachable;
          ++out_.stats.pruned;
          return;
        }
    // Reachable when stateful matches do not hold, blocked by one plain
    // earlier rule when they do: possibly shadowed, without the solver.
    if (!lr.box.empty) {
      std::optional<std::pair<OccRef, int>> plain;
      std::optional<Witness> plainWitness;
      bool allPlain = true;
      for (const OccRef& ref : occs) {
        const Traversal& tr = travs[ref.trav];
        if (tr.occs[ref.occ].pathBox.empty) continue;
        bool free = search_.reaches(tr, ref.occ, false);
        int b = free ? search_.forcedBlocker(tr, ref.occ) : -1;
        if (b >= 0 && !plain) plainWitness = search_.lastPacket();
        if (debug_ && b < 0)
          std::fprintf(stderr, "nfjit check: line %u: %s\n", rs_.tables[t].chains[ch].rules[r].loc.line,
                       free ? "no plain forced blocker" : "no concrete packet reaches it");
        if (b < 0) {
          allPlain = false;
          break;
        }
        if (!plain) plain = {ref, b};
      }
      if (allPlain && plain) {
        const Occurrence& bo = travs[plain->first.trav].occs[static_cast<size_t>(plain->second)];
        std::vector<std::string> deps;
        for (const auto& u : model_.lowered(bo.table, bo.chain, bo.rule).unknowns) deps.push_back(u.what);
        status_[t][ch][r] = Status::PossiblyShadowed;
        ++out_.stats.pruned;
        reportShadowed(t, ch, r, plain->first, false, deps, plain->second, std::move(plainWitness));
        return;
      }
    }
    int firstLiveBlocker = -1;
    if (!lr.box.empty) {
      for (const OccRef& ref : occs) {
        const Traversal& tr = travs[ref.trav];
        const Occurrence& o = tr.occs[ref.occ];
        if (o.pathBox.empty) continue;
        const bool isFirstLive = !firstLive;
        if (!firstLive) firstLive = ref;
        if (int q = coveringSibling(tr, ref.occ); q >= 0) {
          if (isFirstLive) firstLiveBlocker = q;
          continue;  // never matches where it is reached
        }
        // Only the occurrences whose boxes meet this one's can matter.
        WalkOptions wo;
        wo.stopAt = static_cast<int>(ref.occ);
        wo.filter = &o.pathBox;
        const WalkResult w = model_.walk(tr, wo);
        SolverScope scope(hs_.solver());  // the goal's definition goes with the rule
        const std::vector<z3::expr> at = {hs_.literalFor(*w.reach && *w.matchAtStop)};
        const z3::expr goal = c_.bool_val(true);
        auto res = hs_.decide(goal, tr.hook, at);
        if (res == z3::unsat) continue;  // unknown (timeout) counts as reachable: no finding
        anyReachableOcc = true;
        // Three-valued: is there a behaviour of the earlier unknown matches
        // (all of them matching) under which nothing reaches the rule?
        std::vector<z3::expr> forced = at;
        std::vector<std::string> deps;
        std::set<unsigned> own;
        for (const auto& u : lr.unknowns) own.insert(u.var.id());
        for (const auto& u : w.unknowns)
          if (u.stateful && !own.count(u.var.id())) {
            forced.push_back(u.var);
            // Name only the ones written before the rule (forcing later ones is harmless).
            if (u.line < rs_.tables[t].chains[ch].rules[r].loc.line) deps.push_back(u.what);
          }
        if (forced.size() == at.size() || hs_.decide(goal, tr.hook, forced) != z3::unsat) {
          allBlockedSomehow = false;
          break;
        }
        possibleDeps.insert(possibleDeps.end(), deps.begin(), deps.end());
      }
    }
    if (!anyReachableOcc) {
      // Nothing reaches it: does it match anything at all?
      Hook h = travs[occs.front().trav].hook;
      if (!lr.box.empty) {
        auto res = hs_.decide(lr.cond, h);
        st = res == z3::sat ? Status::Shadowed : res == z3::unsat ? Status::Unsat : Status::Reachable;
        if (res == z3::unknown) ++timeouts_;
        if (st == Status::Unsat && opts_.host && hostFree().check(lr.cond, h) == z3::sat) st = Status::HostUnseen;
      }
    } else {
      st = allBlockedSomehow ? Status::PossiblyShadowed : Status::Reachable;
    }
    status_[t][ch][r] = st;
    if (st == Status::Unsat) reportUnsat(t, ch, r, travs[occs.front().trav].hook);
    else if (st == Status::HostUnseen) reportHostUnseen(t, ch, r, travs[occs.front().trav].hook);
    else if (st == Status::Shadowed || st == Status::PossiblyShadowed)
      reportShadowed(t, ch, r, firstLive ? *firstLive : occs.front(), st == Status::Shadowed, possibleDeps,
                     st == Status::Shadowed ? firstLiveBlocker : -1);
  }

  // An earlier terminal rule of the same chain invocation that matches
  // every packet this occurrence matches (a broader rule without unknown
  // matches, nothing in between rewriting the packet) shadows it: a
  // two-rule query instead of a walk of the chain, which on large IPv6
  // rulesets costs tenths of a second per rule. -1: none found.
  int coveringSibling(const Traversal& tr, size_t oi) {
    static constexpr int kCandidates = 4;
    const Occurrence& o = tr.occs[oi];
    const LoweredRule& lo = model_.lowered(o.table, o.chain, o.rule);
    // Candidates start after the last rewrite before the occurrence; the
    // earliest cover is reported, as it is the rule that decides those packets.
    size_t from = o.parent < 0 ? 0 : static_cast<size_t>(o.parent) + 1;
    for (size_t qi = oi; qi-- > from;)
      if (rewritesPacket(tr.occs[qi])) {
        from = qi + 1;
        break;
      }
    int tried = 0;
    for (size_t qi = from; qi < oi && tried < kCandidates; ++qi) {
      const Occurrence& q = tr.occs[qi];
      if (q.parent != o.parent || q.action != Action::Terminal) continue;
      const LoweredRule& lq = model_.lowered(q.table, q.chain, q.rule);
      if (!lq.unknowns.empty() || !q.pathBox.contains(o.pathBox)) continue;
      ++tried;
      if (hs_.decide(lo.cond && !lq.cond, tr.hook) == z3::unsat) return static_cast<int>(qi);
    }
    return -1;
  }

  // A rule that lets the packet go on changed (MARK, TTL, DSCP...): only
  // logging targets are known to leave it alone.
  bool rewritesPacket(const Occurrence& q) const {
    const Target& tg = rs_.tables[q.table].chains[q.chain].rules[q.rule].target;
    if (tg.kind != Target::Kind::Extension || tg.isTerminating()) return false;
    const std::string_view n = tg.ext ? tg.ext->name() : std::string_view("?");
    return n != "LOG" && n != "NFLOG" && n != "ULOG";
  }

  void reportUnsat(size_t t, size_t ch, size_t r, Hook h) {
    Finding f;
    f.name = "unsatisfiable";
    f.rule = makeRuleRef(rs_, t, ch, r);
    f.hook = h;
    const LoweredRule& lr = model_.lowered(t, ch, r);
    f.message = "rule can never match: its conditions contradict each other";
    if (!lr.unknowns.empty()) f.message += " (whatever its unmodelled matches do)";
    f.witnessRole = "none: no packet matches";
    f.replayed = true;  // nothing to replay
    out_.findings.push_back(std::move(f));
  }

  // The witness matches the rule (hostFree()'s last model) and is a packet
  // the host model never lets arrive at the hook.
  void reportHostUnseen(size_t t, size_t ch, size_t r, Hook h) {
    Finding f;
    f.name = "unsatisfiable";
    f.rule = makeRuleRef(rs_, t, ch, r);
    f.hook = h;
    f.message = std::string("rule is unreachable under the host model: it matches only packets this host never sees in ") +
                std::string(hookChainName(h)) + " (--in-iface/--out-iface/--local/--route)";
    f.witnessRole = "matches this rule, but the host never sees it at this hook";
    Witness wit = witnessFromModel(hostFree().lastModel(), pkt_);
    model_.assumeUnparsed(hostFree().lastModel(), wit);
    const bool seen = hostFree().lastModel().eval(hostConstraint(pkt_, *opts_.host, h), true).is_true();
    f.replayed = !seen && ruleMatchesAlone(rs_, rs_.tables[t].chains[ch].rules[r], rs_.tables[t].name, h, wit);
    f.witness = std::move(wit);
    out_.findings.push_back(std::move(f));
  }

  // A solver without the host model (made when first needed).
  HookSolver& hostFree() {
    if (!hostFree_) hostFree_ = std::make_unique<HookSolver>(c_, pkt_);
    return *hostFree_;
  }

  // knownBlocker: the occurrence that blocks it, when already known.
  // packet: a packet known to match the rule (its unparsed matches holding).
  void reportShadowed(size_t t, size_t ch, size_t r, OccRef ref, bool definite, std::vector<std::string> deps,
                      int knownBlocker = -1, std::optional<Witness> packet = std::nullopt) {
    const Traversal& tr = model_.traversals()[ref.trav];
    const LoweredRule& lr = model_.lowered(t, ch, r);
    Finding f;
    f.name = "shadowed";
    f.rule = makeRuleRef(rs_, t, ch, r);
    f.hook = tr.hook;
    f.definite = definite;
    f.severity = definite ? Severity::Warning : Severity::Note;
    for (const auto& u : lr.unknowns) deps.push_back(u.what);
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    f.dependsOn = deps;
    // The smallest set of earlier rules that blocks it, from an unsat core.
    const Occurrence& o = tr.occs[ref.occ];
    WalkOptions wo;
    wo.stopAt = static_cast<int>(ref.occ);
    wo.filter = &o.pathBox;
    wo.guards = true;
    // An empty path box: the jumps that lead here contradict the rule, for
    // every behaviour of unknown matches, so no earlier rule is to blame.
    WalkResult w = knownBlocker >= 0 || o.pathBox.empty ? WalkResult{} : model_.walk(tr, wo);
    std::vector<z3::expr> extra;
    std::map<unsigned, int> guardOcc;
    for (const auto& [g, oi] : w.guards) {
      extra.push_back(g);
      guardOcc[g.id()] = oi;
    }
    if (!definite)
      for (const auto& u : w.unknowns)
        if (u.stateful) extra.push_back(u.var);
    z3::expr goal = w.reach && w.matchAtStop ? (*w.reach && *w.matchAtStop) : c_.bool_val(false);
    std::vector<z3::expr> core;
    if (w.reach && hs_.decide(goal, tr.hook, extra) == z3::unsat) {
      auto cv = hs_.solver().unsat_core();
      for (unsigned i = 0; i < cv.size(); ++i)
        if (guardOcc.count(cv[i].id())) core.push_back(cv[i]);
      // Greedy minimisation (cores are small in practice).
      std::vector<z3::expr> rest;
      for (const auto& u : extra)
        if (!guardOcc.count(u.id())) rest.push_back(u);
      for (size_t i = 0; core.size() > 1 && core.size() <= 16 && i < core.size();) {
        std::vector<z3::expr> trial = rest;
        for (size_t j = 0; j < core.size(); ++j)
          if (j != i) trial.push_back(core[j]);
        if (hs_.decide(goal, tr.hook, trial) == z3::unsat) core.erase(core.begin() + static_cast<long>(i));
        else ++i;
      }
    }
    const std::string myLabel = targetLabel(rs_.tables[t].chains[ch].rules[r].target);
    bool differs = false;
    std::vector<int> blockers;
    for (const auto& g : core) blockers.push_back(guardOcc[g.id()]);
    if (knownBlocker >= 0) blockers = {knownBlocker};
    for (int bi : blockers) {
      const Occurrence& b = tr.occs[static_cast<size_t>(bi)];
      RuleRefV ref2 = makeRuleRef(rs_, b.table, b.chain, b.rule);
      if (b.action == Action::Terminal && verdictClass(b.label) != verdictClass(myLabel)) differs = true;
      f.related.push_back(std::move(ref2));
    }
    std::sort(f.related.begin(), f.related.end(),
              [](const RuleRefV& a, const RuleRefV& b) { return a.loc.line < b.loc.line; });
    std::string by;
    for (const auto& x : f.related) by += (by.empty() ? "" : ", ") + std::to_string(x.loc.line);
    f.message = std::string(definite ? "rule is shadowed" : "rule may be shadowed") + ": no packet reaches it";
    if (!by.empty()) f.message += std::string(" (blocked by line") + (f.related.size() > 1 ? "s " : " ") + by + ")";
    else f.message += " (the jumps into its chain never lead here)";
    if (differs) f.message += "; an earlier rule has a different action";
    if (!definite) f.message += "; only if " + (deps.empty() ? std::string("unknown matches") : deps.front()) + " matches";
    // Witness: a packet that matches the rule on its own (and the jumps
    // that lead to it) and is decided earlier.
    z3::expr want = lr.cond;
    if (packet)
      for (const auto& u : lr.unknowns)
        if (u.ext) packet->assumed.push_back({u.ext, true});
    bool found = packet.has_value();
    if (!found && opts_.host)
      found = hs_.checkNice(want && parentConds(tr, ref.occ) && hostPreference(pkt_, *opts_.host, tr.hook), tr.hook, {},
                            &o.pathBox) == z3::sat;
    if (found || hs_.checkNice(want && parentConds(tr, ref.occ), tr.hook, {}, &o.pathBox) == z3::sat ||
        hs_.checkNice(want, tr.hook, {}, &lr.box) == z3::sat) {
      Witness wit = packet ? std::move(*packet) : witnessFromModel(hs_.lastModel(), pkt_);
      if (!packet) model_.assumeUnparsed(hs_.lastModel(), wit);
      f.witnessRole = "matches this rule on its own but is decided before reaching it";
      Replay rp = replay(rs_, t, tr.hook, wit);
      bool alone = ruleMatchesAlone(rs_, rs_.tables[t].chains[ch].rules[r], rs_.tables[t].name, tr.hook, wit);
      bool reached = false;
      for (const auto& m : rp.result.matched)
        if (!m.isPolicy && m.table == t && m.chain == ch && m.rule == r) reached = true;
      f.replayed = rp.ok && alone && !reached;
      f.witness = std::move(wit);
    }
    out_.findings.push_back(std::move(f));
  }

  // A stateful rule that may match any packet (`-m recent --update -j DROP`)
  // possibly shadows everything after it: one note on that rule says it
  // better than one per later rule. Rules that something else may block
  // too keep their own notes.
  void foldStatefulBlockers() {
    static constexpr size_t kFoldAtLeast = 8, kExamples = 3;
    std::map<std::tuple<size_t, size_t, size_t>, std::vector<size_t>> byBlocker;
    for (size_t i = 0; i < out_.findings.size(); ++i) {
      const Finding& f = out_.findings[i];
      if (f.name != "shadowed" || f.definite || f.related.size() != 1) continue;
      const RuleRefV& b = f.related[0];
      if (statefulUnknowns(b).empty()) continue;
      byBlocker[{b.table, b.chain, b.rule}].push_back(i);
    }
    std::vector<bool> folded(out_.findings.size(), false);
    std::vector<Finding> notes;
    for (const auto& [key, idx] : byBlocker) {
      if (idx.size() < kFoldAtLeast) continue;
      const auto& [t, ch, r] = key;
      Finding n;
      n.name = "shadowed";
      n.severity = Severity::Note;
      n.definite = false;
      n.rule = makeRuleRef(rs_, t, ch, r);
      n.dependsOn = statefulUnknowns(n.rule);
      n.hook = out_.findings[idx.front()].hook;
      n.message = "a stateful match (" + n.dependsOn.front() + ") may block every later rule of chain " +
                  n.rule.chainName + ": " + std::to_string(idx.size()) +
                  " rules are possibly shadowed only through it (examples below; --json lists them all)";
      n.witnessRole = "none: each example carries its own";
      n.replayed = true;
      for (size_t i : idx) {
        folded[i] = true;
        n.folded.push_back(out_.findings[i].rule);
        if (n.examples.size() < kExamples) {
          n.examples.push_back(out_.findings[i]);
          n.replayed = n.replayed && out_.findings[i].replayed;
        }
      }
      notes.push_back(std::move(n));
    }
    size_t i = 0;
    std::erase_if(out_.findings, [&](const Finding&) { return folded[i++]; });
    for (auto& n : notes) out_.findings.push_back(std::move(n));
  }

  std::vector<std::string> statefulUnknowns(const RuleRefV& r) const {
    std::vector<std::string> out;
    if (r.rule >= rs_.tables[r.table].chains[r.chain].rules.size()) return out;
    for (const auto& u : model_.lowered(r.table, r.chain, r.rule).unknowns)
      if (u.stateful) out.push_back(u.what);
    return out;
  }

  void unreachableChains() {
    for (size_t t = 0; t < rs_.tables.size(); ++t) {
      const Table& tab = rs_.tables[t];
      std::vector<bool> live(tab.chains.size(), false);
      for (size_t ch = 0; ch < tab.chains.size(); ++ch) {
        if (tab.chains[ch].builtin) live[ch] = true;
        for (size_t r = 0; r < tab.chains[ch].rules.size(); ++r) {
          const Rule& rule = tab.chains[ch].rules[r];
          if (rule.target.kind != Target::Kind::Jump && rule.target.kind != Target::Kind::Goto) continue;
          Status s = status_[t][ch][r];
          if (s == Status::Reachable || s == Status::PossiblyShadowed)
            if (const Chain* c = tab.findChain(rule.target.chain)) live[static_cast<size_t>(c - tab.chains.data())] = true;
        }
      }
      for (size_t ch = 0; ch < tab.chains.size(); ++ch) {
        if (live[ch]) continue;
        Finding f;
        f.name = "unreachable-chain";
        f.rule = makeRuleRef(rs_, t, ch, SIZE_MAX);
        bool referenced = false;
        for (const auto& c2 : tab.chains)
          for (const auto& rule : c2.rules)
            if ((rule.target.kind == Target::Kind::Jump || rule.target.kind == Target::Kind::Goto) &&
                rule.target.chain == tab.chains[ch].name)
              referenced = true;
        f.message = "chain '" + tab.chains[ch].name + "' in table " + tab.name + " is unreachable: " +
                    (referenced ? "every rule that jumps to it is shadowed, never matches or is itself unreachable"
                                : "no rule jumps to it");
        f.witnessRole = "none: no packet reaches the chain";
        f.replayed = true;
        out_.findings.push_back(std::move(f));
        // Its rules are dead as a consequence; do not report each one.
        std::erase_if(out_.findings, [&](const Finding& x) {
          return x.name != "unreachable-chain" && x.rule.table == t && x.rule.chain == ch;
        });
      }
    }
  }

  const Ruleset& rs_;
  const CheckOptions& opts_;
  std::vector<Rule> hostRules_;
  bool debug_ = std::getenv("NFJIT_VERIFY_DEBUG") != nullptr;
  std::unique_ptr<z3::context> ownedCtx_ = std::make_unique<z3::context>();
  z3::context& c_ = *ownedCtx_;
  IfaceUniverse ifs_;
  SymPacket pkt_;
  ChainModel model_;
  HookSolver hs_;
  std::unique_ptr<HookSolver> hostFree_;
  std::vector<std::vector<std::vector<Status>>> status_;
  CheckResult out_;
  ConcreteSearch search_;
  size_t timeouts_ = 0;
};

}  // namespace

std::string verdictClass(const std::string& label) {
  static const std::set<std::string> accept = {"ACCEPT", "DNAT", "SNAT", "MASQUERADE", "NETMAP", "REDIRECT", "TPROXY"};
  if (accept.count(label)) return "ACCEPT";
  if (label == "DROP" || label == "REJECT") return "DROP";
  if (label == "QUEUE" || label == "NFQUEUE") return "QUEUE";
  return label;
}

CheckResult checkRuleset(const Ruleset& rs, const CheckOptions& opts) {
  Checker ck(rs, opts);
  CheckResult r = ck.run();
  findAnomalies(rs, opts, r);  // -Wredundant, -Wconflict, -Wgeneralization (verifier/Anomalies.h)
  return r;
}

}  // namespace nfjit::verifier
