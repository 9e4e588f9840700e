// Building the traversal of each built-in chain and walking it.
#include "verifier/ChainModel.h"

#include <functional>
#include <stdexcept>

#include "compiler/extensions/Unparsed.h"
#include "compiler/frontend/Printer.h"

namespace nfjit::verifier {

namespace {
constexpr size_t kMaxOccurrences = 400000;  // inlining a DAG of chains can explode

struct WalkState {
  explicit WalkState(z3::expr m) : mark(std::move(m)) {}
  z3::expr mark;
  uint32_t havoc = 0;
  bool stopped = false;
  WalkResult out;
};
}  // namespace

std::string targetLabel(const Target& t) {
  switch (t.kind) {
    case Target::Kind::Accept: return "ACCEPT";
    case Target::Kind::Drop: return "DROP";
    case Target::Kind::Queue: return "QUEUE";
    case Target::Kind::Return: return "RETURN";
    case Target::Kind::Jump:
    case Target::Kind::Goto: return t.chain;
    case Target::Kind::Extension: return t.ext ? std::string(t.ext->name()) : "?";
    case Target::Kind::None: return "";
  }
  return "";
}

ChainModel::ChainModel(z3::context& c, const Ruleset& rs, const SymPacket& pkt, std::string tag, bool tagByText)
    : c_(c), rs_(rs), pkt_(pkt), tag_(std::move(tag)) {
  lowered_.resize(rs.tables.size());
  effects_.resize(rs.tables.size());
  for (size_t t = 0; t < rs.tables.size(); ++t) {
    const Table& tab = rs.tables[t];
    lowered_[t].resize(tab.chains.size());
    effects_[t].resize(tab.chains.size());
    for (size_t ch = 0; ch < tab.chains.size(); ++ch)
      for (size_t r = 0; r < tab.chains[ch].rules.size(); ++r) {
        std::string rtag = tag_ + "_" + std::to_string(t) + "_" + std::to_string(ch) + "_" + std::to_string(r);
        if (tagByText)
          rtag = "t" + std::to_string(std::hash<std::string>{}(
                           tab.name + printRule(tab.chains[ch].rules[r], tab.chains[ch].name, rs.family)));
        lowered_[t][ch].push_back(lowerRule(c, pkt, tab.chains[ch].rules[r], rtag));
        effects_[t][ch].push_back(targetEffect(tab.chains[ch].rules[r].target, rs.family));
      }
  }
  for (size_t t = 0; t < rs.tables.size(); ++t) {
    const Table& tab = rs.tables[t];
    for (size_t ch = 0; ch < tab.chains.size(); ++ch) {
      const Chain& chain = tab.chains[ch];
      if (!chain.builtin) continue;
      auto hook = builtinChainHook(chain.name);
      if (!hook) continue;
      Traversal tr;
      tr.table = t;
      tr.chain = ch;
      tr.hook = *hook;
      tr.policyLabel = chain.policy == Policy::Drop ? "DROP" : "ACCEPT";
      // What the hook says about the interfaces narrows every box.
      Box base;
      const u128 last = pkt_.ifaces.names.size() - 1;
      switch (*hook) {
        case Hook::PreRouting:
        case Hook::LocalIn: base.restrict(kDimIn, 1, last), base.restrict(kDimOut, 0, 0); break;
        case Hook::LocalOut: base.restrict(kDimIn, 0, 0), base.restrict(kDimOut, 1, last); break;
        case Hook::Forward: base.restrict(kDimIn, 1, last), base.restrict(kDimOut, 1, last); break;
        case Hook::PostRouting: base.restrict(kDimOut, 1, last); break;
      }
      flatten(tr, t, ch, -1, base, 0);
      trav_.push_back(std::move(tr));
    }
  }
}

void ChainModel::flatten(Traversal& tr, size_t t, size_t ch, int parent, const Box& box, int depth) {
  const Table& tab = rs_.tables[t];
  const Chain& chain = tab.chains[ch];
  if (depth > 64) throw std::runtime_error("chain nesting deeper than 64 (a loop?) at chain " + chain.name);
  for (size_t r = 0; r < chain.rules.size(); ++r) {
    if (++total_ > kMaxOccurrences)
      throw std::runtime_error("user chains inline to more than 400000 rule occurrences");
    const Rule& rule = chain.rules[r];
    Occurrence o;
    o.table = t;
    o.chain = ch;
    o.rule = r;
    o.parent = parent;
    o.pathBox = lowered_[t][ch][r].box.meet(box);
    size_t idx = tr.occs.size();
    switch (rule.target.kind) {
      case Target::Kind::Accept:
      case Target::Kind::Drop:
      case Target::Kind::Queue:
        o.action = Action::Terminal;
        o.label = targetLabel(rule.target);
        break;
      case Target::Kind::Return: o.action = Action::Return; break;
      case Target::Kind::Extension:
        o.action = rule.target.ext && rule.target.ext->isTerminating() ? Action::Terminal : Action::Continue;
        if (o.action == Action::Terminal) o.label = targetLabel(rule.target);
        break;
      case Target::Kind::Jump:
      case Target::Kind::Goto: o.action = rule.target.kind == Target::Kind::Jump ? Action::Jump : Action::Goto; break;
      case Target::Kind::None: break;
    }
    const Chain* callee = nullptr;
    size_t calleeIdx = 0;
    if (o.action == Action::Jump || o.action == Action::Goto) {
      for (size_t k = 0; k < tab.chains.size(); ++k)
        if (tab.chains[k].name == rule.target.chain) {
          callee = &tab.chains[k];
          calleeIdx = k;
        }
      if (!callee) o.action = Action::Continue;  // the front end rejects this; be safe
    }
    Box pathBox = o.pathBox;
    tr.occs.push_back(std::move(o));
    if (callee) flatten(tr, t, calleeIdx, static_cast<int>(idx), pathBox, depth + 1);
    tr.occs[idx].calleeEnd = tr.occs.size();
  }
}

WalkResult ChainModel::walk(const Traversal& tr, const WalkOptions& opt) const {
  WalkState s(opt.entryMark ? *opt.entryMark : pkt_.mark);
  s.havoc = opt.entryHavoc;
  const bool substituted = opt.substFrom && opt.substTo && !opt.substFrom->empty();
  const std::string tp = tag_ + "t" + std::to_string(tr.table) + "c" + std::to_string(tr.chain);
  if (opt.define) {
    s.out.activeAt.assign(tr.occs.size(), c_.bool_val(false));
    s.out.matchAt.assign(tr.occs.size(), c_.bool_val(false));
  }
  // Returns the condition "the packet leaves this chain instance to its caller".
  std::function<z3::expr(size_t, size_t, z3::expr)> body = [&](size_t begin, size_t end, z3::expr a) {
    z3::expr_vector ret(c_);
    auto matchAt = [&](size_t i) {
      const Occurrence& o = tr.occs[i];
      const LoweredRule& lr = lowered_[o.table][o.chain][o.rule];
      for (const auto& u : lr.unknowns) s.out.unknowns.push_back(u);
      if (lr.fieldsUsed & s.havoc) {
        // An earlier target changed a field this rule tests in a way we do
        // not model: the rule's match is unknown from here on.
        z3::expr u = c_.bool_const((tp + "_h" + std::to_string(i)).c_str());
        s.out.unknowns.push_back({u, "a field changed by an earlier target", 0});
        return u;
      }
      const bool markChanged = (lr.fieldsUsed & fieldBit(Field::Mark)) && !z3::eq(s.mark, pkt_.mark);
      if (markChanged || substituted) {
        z3::expr_vector from(c_), to(c_);
        if (substituted)
          for (unsigned k = 0; k < opt.substFrom->size(); ++k) {
            from.push_back((*opt.substFrom)[k]);
            to.push_back((*opt.substTo)[k]);
          }
        if (markChanged) {
          from.push_back(pkt_.mark);
          to.push_back(s.mark);
        }
        z3::expr copy = lr.cond;
        return copy.substitute(from, to);
      }
      return lr.cond;
    };
    size_t i = begin;
    while (i < end && !s.stopped) {
      const Occurrence& o = tr.occs[i];
      size_t next = (o.action == Action::Jump || o.action == Action::Goto) ? o.calleeEnd : i + 1;
      if (static_cast<int>(i) == opt.stopAt) {
        s.out.reach = a;
        s.out.matchAtStop = matchAt(i);
        s.stopped = true;
        break;
      }
      if (opt.filter && !o.pathBox.meets(*opt.filter)) {
        i = next;
        continue;
      }
      z3::expr m = matchAt(i);
      if (opt.define) {
        std::string n = tp + "_" + std::to_string(i);
        z3::expr av = c_.bool_const(("A" + n).c_str()), mv = c_.bool_const(("M" + n).c_str());
        opt.define->add(av == a);
        opt.define->add(mv == m);
        a = av;
        m = mv;
        s.out.activeAt[i] = av;
        s.out.matchAt[i] = mv;
      }
      // Guards go on the rules that can decide or change what later rules see.
      if (opt.guards && (o.action != Action::Continue || effects_[o.table][o.chain][o.rule].setsMark)) {
        z3::expr g = c_.bool_const((tag_ + "_g" + std::to_string(i)).c_str());
        s.out.guards.push_back({g, static_cast<int>(i)});
        m = g && m;
      }
      switch (o.action) {
        case Action::Terminal:
          s.out.decided.push_back({o.label, a && m});
          s.out.decidedAt.push_back(static_cast<int>(i));
          a = a && !m;
          break;
        case Action::Return:
          ret.push_back(a && m);
          a = a && !m;
          break;
        case Action::Continue: {
          const TargetEffect& eff = effects_[o.table][o.chain][o.rule];
          if (eff.setsMark) {
            z3::expr nm = (s.mark & c_.bv_val(~eff.markMask, 32)) ^ c_.bv_val(eff.markValue, 32);
            s.mark = z3::ite(a && m, nm, s.mark);
            if (opt.define) {
              z3::expr mk = c_.bv_const(("K" + tp + "_" + std::to_string(i)).c_str(), 32);
              opt.define->add(mk == s.mark);
              s.mark = mk;
            }
          }
          if (!eff.known) s.havoc |= eff.havoc;
          break;
        }
        case Action::Jump: {
          z3::expr back = body(i + 1, o.calleeEnd, a && m);
          a = (a && !m) || back;
          if (opt.define) {
            z3::expr rv = c_.bool_const(("R" + tp + "_" + std::to_string(i)).c_str());
            opt.define->add(rv == a);
            a = rv;
          }
          break;
        }
        case Action::Goto: {
          z3::expr back = body(i + 1, o.calleeEnd, a && m);
          ret.push_back(back);
          a = a && !m;
          break;
        }
      }
      i = next;
    }
    ret.push_back(a);
    return z3::mk_or(ret);
  };
  z3::expr fell = body(0, tr.occs.size(), c_.bool_val(true));
  if (!s.stopped) {
    s.out.decided.push_back({tr.policyLabel, fell});
    s.out.decidedAt.push_back(-1);
  }
  s.out.exitMark = s.mark;
  s.out.exitHavoc = s.havoc;
  return s.out;
}

void ChainModel::assumeUnparsed(const z3::model& m, Witness& w) const {
  for (const auto& t : lowered_)
    for (const auto& ch : t)
      for (const auto& lr : ch)
        for (const auto& u : lr.unknowns)
          if (u.ext && dynamic_cast<const UnparsedMatch*>(u.ext))
            w.assumed.push_back({u.ext, m.eval(u.var, true).is_true()});
}

z3::expr ChainModel::verdict(const WalkResult& w, const std::string& label) const {
  z3::expr_vector v(c_);
  for (const auto& [l, e] : w.decided)
    if (l == label) v.push_back(e);
  return z3::mk_or(v);
}

}  // namespace nfjit::verifier
