#include "verifier/ConcreteSearch.h"

#include <cstdio>
#include <functional>
#include <type_traits>
#include <cstdlib>

namespace nfjit::verifier {

namespace {
constexpr int kTries = 40;  // blockers stepped around before giving up
}

ConcreteSearch::ConcreteSearch(const ChainModel& m, Family f) : m_(m), family_(f) {
  const Ruleset& rs = m.ruleset();
  for (size_t t = 0; t < rs.tables.size(); ++t)
    for (size_t ch = 0; ch < rs.tables[t].chains.size(); ++ch)
      for (size_t r = 0; r < rs.tables[t].chains[ch].rules.size(); ++r)
        for (const auto& u : m.lowered(t, ch, r).unknowns)
          if (u.stateful && statefulVars_.insert(u.var.id()).second) statefulExprs_.push_back(u.var);
}

z3::expr ConcreteSearch::bv(z3::context& c, u128 v, unsigned w) {
  if (w <= 64) return c.bv_val(static_cast<uint64_t>(v), w);
  return z3::concat(c.bv_val(static_cast<uint64_t>(v >> 64), 64), c.bv_val(static_cast<uint64_t>(v), 64));
}

void ConcreteSearch::fixLength() {
  // The smallest packet the witness builder writes: headers only.
  unsigned hdr = family_ == Family::IPv4 ? 20 : 40;
  p_.length = static_cast<uint16_t>(hdr + (p_.v[kDimProto] == 6 && p_.v[kDimFrag] == 0 ? 20 : 8));
}

z3::model ConcreteSearch::modelOf() const {
  const SymPacket& k = m_.packet();
  z3::context& c = k.src.ctx();
  z3::model md(c);
  // add_const_interp takes non-const references.
  auto put = [&](const z3::expr& var, z3::expr val) {
    z3::func_decl d = var.decl();
    md.add_const_interp(d, val);
  };
  forEachField(p_, [&](const z3::expr& var, const auto& v) { put(var, bv(c, u128(v), var.get_sort().bv_size())); });
  for (const auto& e : trueExprs_) put(e, c.bool_val(true));
  if (statefulOn_)
    for (const auto& e : statefulExprs_) put(e, c.bool_val(true));
  return md;
}

bool ConcreteSearch::evalCond(const z3::expr& e) {
  // The point's fields in forEachField's order, for variables and values alike.
  if (!eval_) {
    std::vector<z3::expr> vars;
    forEachField(p_, [&](const z3::expr& var, const auto&) { vars.push_back(var); });
    eval_.emplace(std::move(vars));
  }
  evalValues_.clear();
  forEachField(p_, [&](const z3::expr&, const auto& v) { evalValues_.push_back(u128(v)); });
  const auto holds = eval_->eval(e, evalValues_, [&](unsigned id) {
    return trueVars_.count(id) > 0 || (statefulOn_ && statefulVars_.count(id) > 0);
  });
  if (holds) return *holds;
  if (!model_) model_.emplace(modelOf());
  return model_->eval(e, true).is_true();
}

int ConcreteSearch::matches(const Traversal& tr, size_t i) {
  const Occurrence& o = tr.occs[i];
  const LoweredRule& lr = m_.lowered(o.table, o.chain, o.rule);
  for (const auto& u : lr.unknowns)
    if (!trueVars_.count(u.var.id()) && !(statefulOn_ && statefulVars_.count(u.var.id()))) return 0;
  // A mark changed on the way is not in the model: let the solver decide.
  if ((lr.fieldsUsed & fieldBit(Field::Mark)) && mark_ != p_.mark) return -1;
  if (lr.boxExact) return 1;
  return evalCond(lr.cond) ? 1 : 0;
}

const std::vector<uint64_t>& ConcreteSearch::candidatesFor(const Traversal& tr) {
  if (candTr_ != &tr || candPoint_ != p_.v) {
    auto it = indexes_.find(&tr);
    if (it == indexes_.end()) it = indexes_.emplace(&tr, BoxIndex(tr)).first;
    it->second.candidates(p_.v, cand_);
    candTr_ = &tr;
    candPoint_ = p_.v;
  }
  return cand_;
}

ConcreteSearch::Res ConcreteSearch::run(const Traversal& tr, size_t begin, size_t end) {
  // Only occurrences whose box holds the point can match it: go from one to
  // the next, but stop at the target or at the jump on this level that leads to it.
  const std::vector<uint64_t>& cand = candidatesFor(tr);
  size_t stopAt = end;
  if (target_ >= begin && target_ < end) {
    stopAt = target_;
    while (tr.occs[stopAt].parent >= static_cast<int>(begin)) stopAt = static_cast<size_t>(tr.occs[stopAt].parent);
  }
  size_t i = begin;
  while (i < end) {
    if (i != stopAt) i = BoxIndex::nextSet(cand, i, i < stopAt ? stopAt : end);
    if (i >= end) break;
    const Occurrence& o = tr.occs[i];
    const bool nests = o.action == Action::Jump || o.action == Action::Goto;
    const size_t next = nests ? o.calleeEnd : i + 1;
    if (skip_ && (*skip_)[i]) {
      i = next;
      continue;
    }
    if (i == target_) return {matches(tr, i) == 1 ? Out::Reached : Out::GiveUp};
    const bool holdsTarget = nests && target_ > i && target_ < o.calleeEnd;
    int m = o.pathBox.contains(p_.v) ? matches(tr, i) : 0;
    if (m < 0) return {Out::GiveUp};
    if (m == 0) {
      if (holdsTarget) return {Out::GiveUp};  // the way in is closed
      i = next;
      continue;
    }
    switch (o.action) {
      case Action::Terminal: return {Out::Blocked, static_cast<int>(i)};
      case Action::Return: return {Out::Exited, static_cast<int>(i)};
      case Action::Continue: {
        const TargetEffect& eff = m_.effect(o.table, o.chain, o.rule);
        if (!eff.known) return {Out::GiveUp};
        if (eff.setsMark) mark_ = (mark_ & ~eff.markMask) ^ eff.markValue;
        break;
      }
      case Action::Jump:
      case Action::Goto: {
        Res r = run(tr, i + 1, o.calleeEnd);
        if (r.out == Out::Reached || r.out == Out::Blocked || r.out == Out::GiveUp) return r;
        // Left the callee without reaching the target inside it.
        if (holdsTarget) return r.by >= 0 ? Res{Out::Blocked, r.by} : Res{Out::GiveUp};
        if (o.action == Action::Goto) return {Out::Exited, r.by >= 0 ? r.by : static_cast<int>(i)};
        break;
      }
    }
    i = next;
  }
  return {Out::Fell};
}

Witness ConcreteSearch::lastPacket() const {
  Witness w;
  w.family = family_;
  auto addr = [&](u128 v) {
    if (family_ == Family::IPv4) return IpAddr::fromV4(static_cast<uint32_t>(v));
    IpAddr a;
    for (int i = 15; i >= 0; --i, v >>= 8) a.b[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
    return a;
  };
  w.src = addr(p_.v[kDimSrc]);
  w.dst = addr(p_.v[kDimDst]);
  w.proto = static_cast<uint8_t>(p_.v[kDimProto]);
  w.sport = static_cast<uint16_t>(p_.v[kDimSport]);
  w.dport = static_cast<uint16_t>(p_.v[kDimDport]);
  w.fragment = p_.v[kDimFrag] != 0;
  const auto& names = m_.packet().ifaces.names;
  w.inIface = p_.v[kDimIn] < names.size() ? names[static_cast<size_t>(p_.v[kDimIn])] : "";
  w.outIface = p_.v[kDimOut] < names.size() ? names[static_cast<size_t>(p_.v[kDimOut])] : "";
  w.ttl = p_.ttl;
  w.tos = p_.tos;
  w.tcpFlags = p_.tcpFlags;
  w.icmpType = p_.icmpType;
  w.icmpCode = p_.icmpCode;
  w.ctstate = p_.ctstate;
  w.pktType = p_.pktType;
  w.length = p_.length;
  w.mark = p_.mark;
  buildBytes(w);
  return w;
}

std::optional<std::string> ConcreteSearch::outcomeWithout(const Traversal& tr, const std::vector<bool>& skip) {
  const size_t target = target_;
  target_ = SIZE_MAX;
  skip_ = &skip;
  mark_ = p_.mark;
  Res r = run(tr, 0, tr.occs.size());
  skip_ = nullptr;
  target_ = target;
  switch (r.out) {
    case Out::Blocked: return tr.occs[static_cast<size_t>(r.by)].label;
    case Out::Fell:
    case Out::Exited: return tr.policyLabel;  // a top-level RETURN ends with the policy too
    default: return std::nullopt;
  }
}

bool ConcreteSearch::coversForced(const Occurrence& o, const Box& box) const {
  const LoweredRule& lr = m_.lowered(o.table, o.chain, o.rule);
  if (!lr.boxExact || o.pathBox.empty) return false;
  for (const auto& u : lr.unknowns)
    if (!statefulVars_.count(u.var.id())) return false;
  return o.pathBox.contains(box);
}

int ConcreteSearch::forcedBlocker(const Traversal& tr, size_t target) const {
  const Box& box = tr.occs[target].pathBox;
  std::unordered_set<int> path = {-1};
  for (int a = tr.occs[target].parent; a >= 0; a = tr.occs[static_cast<size_t>(a)].parent) path.insert(a);
  for (size_t i = 0; i < target; ++i) {
    const Occurrence& o = tr.occs[i];
    if (!path.count(o.parent) || path.count(static_cast<int>(i)) || !coversForced(o, box)) continue;
    if (o.action == Action::Terminal) return static_cast<int>(i);
    if (o.action != Action::Jump && o.action != Action::Goto) continue;
    // The callee decides them: an all-covering terminal at its top level,
    // with nothing before it that could send them back or elsewhere.
    for (size_t k = i + 1; k < o.calleeEnd; ++k) {
      const Occurrence& c = tr.occs[k];
      if (c.parent != static_cast<int>(i)) continue;
      if (c.action == Action::Return || c.action == Action::Goto) break;
      if (c.action == Action::Continue && !m_.effect(c.table, c.chain, c.rule).known) break;
      if (c.action == Action::Terminal && coversForced(c, box)) return static_cast<int>(i);
    }
  }
  return -1;
}

bool ConcreteSearch::reaches(const Traversal& tr, size_t target, bool statefulMatch, Start start) {
  return reachesIn(tr, target, tr.occs[target].pathBox, statefulMatch, start);
}

bool ConcreteSearch::reachesWithin(const Traversal& tr, size_t target, const Box& within, bool statefulMatch,
                                   bool reuse) {
  const Box box = tr.occs[target].pathBox.meet(within);
  auto& known = reached_[{&tr, target}];
  if (reuse) {
    for (const Reached& r : known)
      if (r.statefulMatch == statefulMatch && box.contains(r.p.v)) {
        place(tr, target, box, statefulMatch, Start::Low);
        p_ = r.p;
        model_.reset();
        mark_ = p_.mark;
        return true;
      }
    return false;
  }
  if (!reachesIn(tr, target, box, statefulMatch, Start::Low)) return false;
  constexpr size_t kKeep = 4;
  if (known.size() == kKeep) known.erase(known.begin());
  known.push_back({statefulMatch, p_});
  return true;
}

int ConcreteSearch::matchesPath(const Traversal& tr, size_t j, bool ownUnknowns, bool rerun) {
  const size_t exprsBefore = trueExprs_.size();
  std::vector<unsigned> added;
  if (ownUnknowns) {
    const Occurrence& o = tr.occs[j];
    for (const auto& u : m_.lowered(o.table, o.chain, o.rule).unknowns)
      if (trueVars_.insert(u.var.id()).second) {
        added.push_back(u.var.id());
        trueExprs_.push_back(u.var);
      }
    if (!added.empty()) model_.reset();
  }
  int result = 1;
  if (rerun && !added.empty()) {
    // The unknowns matching may change the way to the target: go it again.
    mark_ = p_.mark;
    if (run(tr, 0, tr.occs.size()).out != Out::Reached) result = 0;
  }
  for (int p = static_cast<int>(j); p >= 0 && result == 1; p = tr.occs[static_cast<size_t>(p)].parent) {
    const Occurrence& o = tr.occs[static_cast<size_t>(p)];
    // The mark there depends on what ran in between: not for a concrete answer.
    if (m_.lowered(o.table, o.chain, o.rule).fieldsUsed & fieldBit(Field::Mark)) result = -1;
    else if (!o.pathBox.contains(p_.v)) result = 0;
    else result = matches(tr, static_cast<size_t>(p));
  }
  if (!added.empty()) {
    for (unsigned id : added) trueVars_.erase(id);
    trueExprs_.erase(trueExprs_.begin() + static_cast<long>(exprsBefore), trueExprs_.end());
    model_.reset();
  }
  return result;
}

bool ConcreteSearch::matchesWithin(const Traversal& tr, size_t target, const Box& box) {
  if (!place(tr, target, tr.occs[target].pathBox.meet(box), true, Start::Low) || !wellFormedPoint()) return false;
  model_.reset();
  mark_ = p_.mark;
  ++packetsTried;
  return matchesPath(tr, target) == 1 && (!host_ || evalCond((*host_)[static_cast<size_t>(tr.hook)]));
}

bool ConcreteSearch::wellFormedPoint() const {
  // The defaults are valid; the hook's interfaces are in every path box; the length fits.
  const u128 ifaces = m_.packet().ifaces.names.size();
  if (p_.v[kDimIn] >= ifaces || p_.v[kDimOut] >= ifaces) return false;
  if (family_ == Family::IPv4) return true;
  for (u128 x : {0, 43, 44, 51, 60})
    if (p_.v[kDimProto] == x) return false;
  return p_.v[kDimFrag] == 0;
}

bool ConcreteSearch::place(const Traversal& tr, size_t target, const Box& box, bool statefulMatch, Start start) {
  statefulOn_ = statefulMatch;
  if (box.empty) return false;
  target_ = target;
  trueVars_.clear();
  trueExprs_.clear();
  for (int i = static_cast<int>(target); i >= 0; i = tr.occs[static_cast<size_t>(i)].parent) {
    const Occurrence& o = tr.occs[static_cast<size_t>(i)];
    for (const auto& u : m_.lowered(o.table, o.chain, o.rule).unknowns) {
      trueVars_.insert(u.var.id());
      trueExprs_.push_back(u.var);
    }
  }
  p_ = Point{};
  for (int d = 0; d < kNumDims; ++d) {
    const Box::Iv& iv = box.d[d];
    p_.v[d] = start == Start::Low ? iv.lo : start == Start::High ? iv.hi : iv.lo + (iv.hi - iv.lo) / 2;
  }
  // Readable defaults where the box allows: TCP, a first fragment.
  if (box.d[kDimProto].lo <= 6 && 6 <= box.d[kDimProto].hi) p_.v[kDimProto] = 6;
  if (family_ == Family::IPv6) {
    p_.icmpType = 128;
    if (p_.v[kDimFrag] != 0) return false;
  }
  fixLength();
  applySeed(tr, target);
  return true;
}

void ConcreteSearch::applySeed(const Traversal& tr, size_t target) {
  Seed& seed = seeds_[{&tr, target}];
  if (!seed.needed && !seed.found) {
    // First time for this target: is its path more than its box?
    std::vector<z3::expr> conds;
    for (int a = static_cast<int>(target); a >= 0; a = tr.occs[static_cast<size_t>(a)].parent) {
      const Occurrence& o = tr.occs[static_cast<size_t>(a)];
      const LoweredRule& lr = m_.lowered(o.table, o.chain, o.rule);
      if (!lr.boxExact) conds.push_back(lr.cond);
    }
    // Most are met by the defaults (a comment, a NEW SYN): no solver then.
    model_.reset();
    bool met = true;
    for (const auto& e : conds) met = met && evalCond(e);
    model_.reset();
    if (met) {
      seed.found = true;
      return;
    }
    seed.needed = true;
    const SymPacket& k = m_.packet();
    z3::context& c = k.src.ctx();
    if (!seedSolver_) {
      seedSolver_.emplace(c, "QF_BV");
      z3::params prm(c);
      prm.set("timeout", 200u);
      seedSolver_->set(prm);
    }
    z3::solver& s = *seedSolver_;
    struct Scope {
      z3::solver& s;
      explicit Scope(z3::solver& x) : s(x) { s.push(); }
      ~Scope() { s.pop(); }
    } scope(s);
    for (const auto& e : conds) s.add(e);
    s.add(k.wellFormed(tr.hook));
    for (const auto& e : trueExprs_) s.add(e);
    // At the box fields of the first point, so that the answer fits it.
    auto at = [&](const z3::expr& var, u128 v) { s.add(var == bv(c, v, var.get_sort().bv_size())); };
    forEachBoxField(p_, [&](const z3::expr& var, const auto& v) { at(var, u128(v)); });
    at(k.mark, p_.mark);
    // Readable values where they fit: all at once, else one by one.
    std::vector<z3::expr> prefs = {k.ttl == bv(c, p_.ttl, 8),           k.tos == bv(c, p_.tos, 8),
                                   k.tcpFlags == bv(c, p_.tcpFlags, 8), k.icmpType == bv(c, p_.icmpType, 8),
                                   k.icmpCode == bv(c, p_.icmpCode, 8), k.ctstate == bv(c, p_.ctstate, 8),
                                   k.pktType == bv(c, p_.pktType, 8)};
    auto solve = [&](const std::vector<z3::expr>& as) {
      z3::expr_vector v(c);
      for (const auto& e : as) v.push_back(e);
      return s.check(v);
    };
    std::vector<z3::expr> keep = prefs;
    if (solve(keep) != z3::sat) {
      keep.clear();
      for (const auto& pr : prefs) {
        keep.push_back(pr);
        if (solve(keep) != z3::sat) keep.pop_back();
      }
      if (solve(keep) != z3::sat) return;  // seed.found stays false: the defaults it is
    }
    z3::model md = s.get_model();
    auto val = [&](const z3::expr& var) { return static_cast<uint8_t>(md.eval(var, true).get_numeral_uint()); };
    seed.ttl = val(k.ttl);
    seed.tos = val(k.tos);
    seed.tcpFlags = val(k.tcpFlags);
    seed.icmpType = val(k.icmpType);
    seed.icmpCode = val(k.icmpCode);
    seed.ctstate = val(k.ctstate);
    seed.pktType = val(k.pktType);
    seed.found = true;
  }
  if (!seed.needed || !seed.found) return;
  p_.ttl = seed.ttl;
  p_.tos = seed.tos;
  p_.tcpFlags = seed.tcpFlags;
  p_.icmpType = seed.icmpType;
  p_.icmpCode = seed.icmpCode;
  p_.ctstate = seed.ctstate;
  p_.pktType = seed.pktType;
}

bool ConcreteSearch::reachesIn(const Traversal& tr, size_t target, const Box& box, bool statefulMatch, Start start) {
  if (!place(tr, target, box, statefulMatch, start)) return false;
  return searchFromPoint(tr, box);
}

void ConcreteSearch::addTemplate(const z3::model& m) {
  Point p;
  forEachField(p, [&](const z3::expr& var, auto& field) {
    field = static_cast<std::remove_reference_t<decltype(field)>>(modelValue(m, var));
  });
  constexpr size_t kKeep = 4;
  templates_.insert(templates_.begin(), p);
  if (templates_.size() > kKeep) templates_.pop_back();
}

bool ConcreteSearch::reachesLike(const Traversal& tr, size_t target, size_t k, bool statefulMatch) {
  const Box& box = tr.occs[target].pathBox;
  if (k >= templates_.size() || !place(tr, target, box, statefulMatch, Start::Low)) return false;
  const Point& t = templates_[k];
  for (int d = 0; d < kNumDims; ++d)
    if (box.d[d].lo <= t.v[d] && t.v[d] <= box.d[d].hi) p_.v[d] = t.v[d];
  p_.ttl = t.ttl, p_.tos = t.tos, p_.tcpFlags = t.tcpFlags, p_.icmpType = t.icmpType, p_.icmpCode = t.icmpCode;
  p_.ctstate = t.ctstate, p_.pktType = t.pktType, p_.mark = t.mark;
  fixLength();
  return searchFromPoint(tr, box);
}

bool ConcreteSearch::searchFromPoint(const Traversal& tr, const Box& box) {
  for (int attempt = 0; attempt < kTries; ++attempt) {
    ++packetsTried;
    model_.reset();
    mark_ = p_.mark;
    if (!wellFormedPoint()) return false;
    Res r = run(tr, 0, tr.occs.size());
    if (debug_)
      std::fprintf(stderr, "  try %d: out %d by line %u (in %u)\n", attempt, int(r.out),
                   r.by >= 0 ? m_.ruleset().tables[tr.table].chains[tr.occs[size_t(r.by)].chain].rules[tr.occs[size_t(r.by)].rule].loc.line : 0,
                   unsigned(p_.v[kDimIn]));
    if (r.out == Out::Reached) return !host_ || evalCond((*host_)[static_cast<size_t>(tr.hook)]);
    if (r.out != Out::Blocked && r.out != Out::Exited) return false;
    if (r.by < 0) return false;
    // Step out of the blocker's box along one dimension, staying in ours.
    const Box& b = tr.occs[static_cast<size_t>(r.by)].pathBox;
    bool moved = false;
    for (int d : {kDimSrc, kDimDst, kDimSport, kDimDport, kDimProto, kDimIn, kDimOut, kDimFrag}) {
      // Upwards first, so that a walk through many blockers side by side
      // (one per interface, say) moves on instead of swinging back.
      if (b.d[d].hi < box.d[d].hi) {
        p_.v[d] = b.d[d].hi + 1;
        moved = true;
      } else if (b.d[d].lo > box.d[d].lo) {
        p_.v[d] = b.d[d].lo - 1;
        moved = true;
      }
      if (moved) break;
    }
    if (!moved) return false;
    fixLength();
  }
  return false;
}

}  // namespace nfjit::verifier
