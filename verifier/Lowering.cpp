// Z3 lowering of rules: the IP header part here, extension matches through
// their lower() over the LoweringContext implemented below.
#include "verifier/Lowering.h"

#include <algorithm>
#include <set>

#include "compiler/extensions/Unparsed.h"
#include "compiler/interp/Interpreter.h"

namespace nfjit::verifier {

namespace {

u128 addrValue(Family f, const IpAddr& a) {
  u128 v = 0;
  for (unsigned i = 0; i < addrBytes(f); ++i) v = v << 8 | a.b[i];
  return v;
}

z3::expr bvConst(z3::context& c, u128 v, unsigned width) {
  if (width <= 64) return c.bv_val(static_cast<uint64_t>(v), width);
  return z3::concat(c.bv_val(static_cast<uint64_t>(v >> 64), 64), c.bv_val(static_cast<uint64_t>(v), 64));
}

std::optional<BoxDim> dimOf(Field f) {
  switch (f) {
    case Field::Src: return kDimSrc;
    case Field::Dst: return kDimDst;
    case Field::Proto: return kDimProto;
    case Field::Sport: return kDimSport;
    case Field::Dport: return kDimDport;
    case Field::Frag: return kDimFrag;
    default: return std::nullopt;
  }
}

// The verifier's LoweringContext: terms are Z3 expressions paired with the
// box that over-approximates them.
class Z3Context final : public LoweringContext {
 public:
  Z3Context(z3::context& c, const SymPacket& p) : c_(c), p_(p) {}
  Family family() const override { return p_.family; }
  Term constant(bool v) override { return add(c_.bool_val(v), v ? Box{} : Box::none(), true); }
  Term range(Field f, uint64_t lo, uint64_t hi) override {
    used |= fieldBit(f);
    unsigned w = p_.width(f);
    const z3::expr& x = p_.field(f);
    u128 maxv = w >= 128 ? ~u128(0) : (u128(1) << w) - 1;
    if (lo > hi) return constant(false);
    z3::expr e = c_.bool_val(true);
    if (lo > 0) e = e && z3::uge(x, bvConst(c_, lo, w));
    if (u128(hi) < maxv) e = e && z3::ule(x, bvConst(c_, hi, w));
    e = e.simplify();
    return add(e, boxFor(f, lo, hi), dimOf(f).has_value() || e.is_true());
  }
  Term maskEq(Field f, uint64_t value, uint64_t mask) override {
    used |= fieldBit(f);
    unsigned w = p_.width(f);
    const z3::expr& x = p_.field(f);
    z3::expr m = bvConst(c_, mask, w);
    z3::expr e = (x & m) == bvConst(c_, value & mask, w);
    u128 full = (u128(1) << w) - 1;
    if ((u128(mask) & full) == 0) return constant(true);
    bool whole = (u128(mask) & full) == full;
    Box b = whole ? boxFor(f, value, value) : Box{};
    return add(e, b, whole && dimOf(f).has_value());
  }
  Term addrRange(Field f, const IpAddr& lo, const IpAddr& hi) override {
    used |= fieldBit(f);
    unsigned w = p_.width(f);
    u128 l = addrValue(p_.family, lo), h = addrValue(p_.family, hi);
    if (l > h) return constant(false);
    z3::expr e = z3::uge(p_.field(f), bvConst(c_, l, w)) && z3::ule(p_.field(f), bvConst(c_, h, w));
    return add(e, boxFor(f, l, h), true);
  }
  Term addrMaskEq(Field f, const IpAddr& value, const IpAddr& mask) override {
    used |= fieldBit(f);
    unsigned w = p_.width(f);
    u128 v = addrValue(p_.family, value), m = addrValue(p_.family, mask);
    if (m == 0) return constant(true);
    z3::expr e = (p_.field(f) & bvConst(c_, m, w)) == bvConst(c_, v & m, w);
    Box b;
    int len = maskPrefixLen(p_.family, mask);
    if (len >= 0) {
      u128 hostBits = len >= int(w) ? 0 : ((u128(1) << (w - len)) - 1);
      if (w == 128 && len == 0) hostBits = ~u128(0);
      b = boxFor(f, v & m, (v & m) | hostBits);
    }
    return add(e, b, len >= 0);
  }
  Term anyOf(const std::vector<Term>& ts) override {
    if (ts.empty()) return constant(false);
    z3::expr_vector v(c_);
    Box b = Box::none();
    for (Term t : ts) {
      v.push_back(ex_[t]);
      b = b.hull(bx_[t]);
    }
    return add(z3::mk_or(v), b, ts.size() == 1 && exact_[ts[0]]);
  }
  Term allOf(const std::vector<Term>& ts) override {
    z3::expr_vector v(c_);
    Box b;
    bool exact = true;
    for (Term t : ts) {
      v.push_back(ex_[t]);
      b = b.meet(bx_[t]);
      exact = exact && exact_[t];
    }
    return add(z3::mk_and(v), b, exact);
  }
  Term negate(Term t) override { return add(!ex_[t], Box{}, false); }
  void require(Term t) override { reqs_.push_back(t); }
  void setXor(Field f, uint64_t value, uint64_t mask) override {
    if (f != Field::Mark) {
      effectUnknown = true;
      return;
    }
    setsMark = true;
    markValue = static_cast<uint32_t>(value);
    markMask = static_cast<uint32_t>(mask);
  }

  // Takes the required terms gathered since the last call.
  std::pair<z3::expr, Box> takeRequired() {
    z3::expr_vector v(c_);
    Box b;
    for (Term t : reqs_) {
      v.push_back(ex_[t]);
      b = b.meet(bx_[t]);
      if (!exact_[t]) inexact = true;
    }
    reqs_.clear();
    return {z3::mk_and(v), b};
  }
  void dropRequired() { reqs_.clear(); }

  uint32_t used = 0;
  bool inexact = false;  // a required term is wider than its box
  bool setsMark = false, effectUnknown = false;
  uint32_t markValue = 0, markMask = 0;

 private:
  Term add(z3::expr e, Box b, bool exact) {
    ex_.push_back(std::move(e));
    bx_.push_back(b);
    exact_.push_back(exact);
    return static_cast<Term>(ex_.size() - 1);
  }
  Box boxFor(Field f, u128 lo, u128 hi) {
    Box b;
    if (auto d = dimOf(f)) b.restrict(*d, lo, hi);
    return b;
  }
  z3::context& c_;
  const SymPacket& p_;
  std::vector<z3::expr> ex_;
  std::vector<Box> bx_;
  std::vector<bool> exact_;  // the term holds exactly on its box
  std::vector<Term> reqs_;
};

}  // namespace

z3::expr addressExpr(z3::context& c, Family f, const IpAddr& a) {
  return bvConst(c, addrValue(f, a), f == Family::IPv4 ? 32 : 128);
}

IfaceUniverse ifaceUniverse(const Ruleset& rs, const std::vector<Rule>& extra) {
  std::vector<const Rule*> ptrs;
  for (const auto& r : extra) ptrs.push_back(&r);
  IfaceUniverse u;
  u.build({&rs}, ptrs);
  return u;
}

void IfaceUniverse::build(const std::vector<const Ruleset*>& rulesets, const std::vector<const Rule*>& extra) {
  std::set<std::string> exact, wild;
  auto add = [&](const Rule& r) {
    for (const std::string* s : {&r.ip.inIface, &r.ip.outIface}) {
      if (s->empty()) continue;
      if (s->back() == '+') wild.insert(s->substr(0, s->size() - 1));
      else exact.insert(*s);
    }
  };
  for (const Ruleset* rs : rulesets)
    for (const auto& t : rs->tables)
      for (const auto& ch : t.chains)
        for (const auto& r : ch.rules) add(r);
  for (const Rule* r : extra) add(*r);
  names = {""};
  for (const auto& e : exact) names.push_back(e);
  auto taken = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  static const std::string kSuffixChars = "0123456789abcdefghijklmnopqrstuvwxyz";
  // One name per wildcard that no longer wildcard or exact name claims.
  for (const auto& p : wild) {
    for (char ch : kSuffixChars) {
      std::string cand = p + ch;
      if (cand.size() > 15 || taken(cand)) continue;
      bool longer = false;
      for (const auto& q : wild)
        if (q.size() > p.size() && cand.compare(0, q.size(), q) == 0) longer = true;
      if (longer) continue;
      names.push_back(cand);
      break;
    }
  }
  // And one that matches no pattern (if any can).
  for (int i = 0; i < 100; ++i) {
    std::string cand = "nfx" + std::to_string(i);
    if (taken(cand)) continue;
    bool hit = exact.count(cand) > 0;
    for (const auto& q : wild)
      if (cand.compare(0, q.size(), q) == 0) hit = true;
    if (!hit || i == 99) {
      names.push_back(cand);
      break;
    }
  }
  bits = 1;
  while ((size_t(1) << bits) < names.size()) ++bits;
}

SymPacket::SymPacket(z3::context& c, Family f, const IfaceUniverse& ifs)
    : family(f),
      src(c.bv_const("src", addrBits(f))),
      dst(c.bv_const("dst", addrBits(f))),
      proto(c.bv_const("proto", 8)),
      sport(c.bv_const("sport", 16)),
      dport(c.bv_const("dport", 16)),
      icmpType(c.bv_const("icmp_type", 8)),
      icmpCode(c.bv_const("icmp_code", 8)),
      tcpFlags(c.bv_const("tcp_flags", 8)),
      ttl(c.bv_const("ttl", 8)),
      length(c.bv_const("length", 16)),
      tos(c.bv_const("tos", 8)),
      mark(c.bv_const("mark", 32)),
      ctstate(c.bv_const("ctstate", 8)),
      pktType(c.bv_const("pkttype", 8)),
      frag(c.bv_const("frag", 1)),
      inIf(c.bv_const("in_if", ifs.bits)),
      outIf(c.bv_const("out_if", ifs.bits)),
      ifaces(ifs) {}

const z3::expr& SymPacket::field(Field f) const {
  switch (f) {
    case Field::Src: return src;
    case Field::Dst: return dst;
    case Field::Proto: return proto;
    case Field::Sport: return sport;
    case Field::Dport: return dport;
    case Field::IcmpType: return icmpType;
    case Field::IcmpCode: return icmpCode;
    case Field::TcpFlags: return tcpFlags;
    case Field::Ttl: return ttl;
    case Field::Length: return length;
    case Field::Tos: return tos;
    case Field::Mark: return mark;
    case Field::CtState: return ctstate;
    case Field::PktType: return pktType;
    case Field::Frag: return frag;
    case Field::kCount: break;
  }
  return src;
}

unsigned SymPacket::width(Field f) const { return field(f).get_sort().bv_size(); }

z3::expr SymPacket::wellFormed(Hook hook) const {
  z3::context& c = src.ctx();
  auto bv = [&](uint64_t v, unsigned w) { return c.bv_val(v, w); };
  z3::expr base = ctstate & bv(0x1f, 8);
  z3::expr oneBase = base == bv(kCtInvalid, 8) || base == bv(kCtNew, 8) || base == bv(kCtEstablished, 8) ||
                     base == bv(kCtRelated, 8) || base == bv(kCtUntracked, 8);
  z3::expr tracked = base == bv(kCtNew, 8) || base == bv(kCtEstablished, 8) || base == bv(kCtRelated, 8);
  z3::expr natOk = (ctstate & bv(0x60, 8)) == bv(0, 8) || tracked;
  z3::expr e = oneBase && natOk && (ctstate & bv(0x80, 8)) == bv(0, 8);
  e = e && z3::ule(pktType, bv(3, 8));
  unsigned n = static_cast<unsigned>(ifaces.names.size());
  e = e && z3::ule(inIf, bv(n - 1, ifaces.bits)) && z3::ule(outIf, bv(n - 1, ifaces.bits));
  z3::expr none = bv(0, ifaces.bits);
  switch (hook) {
    case Hook::PreRouting:
    case Hook::LocalIn: e = e && inIf != none && outIf == none; break;
    case Hook::LocalOut: e = e && inIf == none && outIf != none; break;
    case Hook::Forward: e = e && inIf != none && outIf != none; break;
    case Hook::PostRouting: e = e && outIf != none; break;
  }
  unsigned hdr = family == Family::IPv4 ? 20 : 40;
  // Room for the transport header the witness builder writes.
  z3::expr l4 = z3::ite(proto == bv(6, 8) && frag == bv(0, 1), bv(20, 16), bv(8, 16));
  e = e && z3::uge(length, bv(hdr, 16) + l4);
  if (family == Family::IPv6) {
    e = e && frag == bv(0, 1);
    for (unsigned x : {0u, 43u, 44u, 51u, 60u}) e = e && proto != bv(x, 8);
  }
  return e;
}

LoweredRule lowerRule(z3::context& c, const SymPacket& pkt, const Rule& rule, const std::string& tag) {
  LoweredRule out(c);
  Z3Context ctx(c, pkt);
  const IpHeaderMatch& ip = rule.ip;
  const Family f = pkt.family;
  auto addInv = [&](LoweringContext::Term t, bool inv) { ctx.require(inv ? ctx.negate(t) : t); };
  addInv(ctx.addrMaskEq(Field::Src, ip.src, ip.srcMask), ip.invSrc);
  addInv(ctx.addrMaskEq(Field::Dst, ip.dst, ip.dstMask), ip.invDst);
  if (ip.proto) addInv(ctx.range(Field::Proto, ip.proto, ip.proto), ip.invProto);
  else if (ip.invProto && f == Family::IPv6) ctx.require(ctx.negate(ctx.range(Field::Proto, 0, 0)));
  if (ip.fragment && f == Family::IPv4) addInv(ctx.range(Field::Frag, 1, 1), ip.invFragment);
  auto [hdrCond, hdrBox] = ctx.takeRequired();
  z3::expr_vector parts(c);
  parts.push_back(hdrCond);
  out.box = hdrBox;
  bool exact = true;
  auto iface = [&](const std::string& pat, bool inv, const z3::expr& var, BoxDim dim) {
    if (pat.empty()) return;
    z3::expr_vector any(c);
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < pkt.ifaces.names.size(); ++i)
      if (ifaceMatches(pat, pkt.ifaces.names[i])) {
        any.push_back(var == c.bv_val(i, pkt.ifaces.bits));
        lo = std::min(lo, i);
        hi = std::max(hi, i);
      }
    z3::expr m = z3::mk_or(any);
    parts.push_back(inv ? !m : m);
    if (!inv) {
      if (lo == SIZE_MAX) out.box = Box::none();
      else out.box.restrict(dim, lo, hi);
      if (lo != SIZE_MAX && any.size() != hi - lo + 1) exact = false;  // gaps inside [lo, hi]
    } else {
      exact = false;
    }
  };
  iface(ip.inIface, ip.invIn, pkt.inIf, kDimIn);
  iface(ip.outIface, ip.invOut, pkt.outIf, kDimOut);
  for (size_t k = 0; k < rule.matches.size(); ++k) {
    const MatchInstance& m = rule.matches[k];
    if (m.ext->lower(ctx)) {
      auto [e, b] = ctx.takeRequired();
      parts.push_back(e);
      out.box = out.box.meet(b);
    } else {
      ctx.dropRequired();
      z3::expr u = c.bool_const((tag + "_u" + std::to_string(k)).c_str());
      // Unparsed options are named by their words: "unparsed --mac-source XX:... at line 9".
      const auto* un = dynamic_cast<const UnparsedMatch*>(m.ext.get());
      std::string what = un ? "unparsed " + un->failed() : std::string(m.ext->name());
      out.unknowns.push_back({u, what + " at line " + std::to_string(m.loc.line), m.loc.line, m.ext->isStateful(),
                              m.ext.get()});
      parts.push_back(u);
    }
  }
  out.fieldsUsed = ctx.used;
  out.cond = z3::mk_and(parts);
  out.boxExact = exact && !ctx.inexact;
  return out;
}

TargetEffect targetEffect(const Target& t, Family f) {
  TargetEffect eff;
  if (t.kind != Target::Kind::Extension || !t.ext || t.ext->isTerminating()) return eff;
  // Targets that change nothing a match here can see.
  static const std::set<std::string, std::less<>> kInert = {
      "LOG", "NFLOG", "ULOG", "AUDIT", "TRACE", "CT", "NOTRACK", "SET", "IDLETIMER", "LED", "RATEEST",
      "CLASSIFY", "SECMARK", "CONNSECMARK", "CHECKSUM", "TCPMSS", "TCPOPTSTRIP", "TEE", "NFQUEUE"};
  std::string_view name = t.ext->name();
  if (kInert.count(name)) return eff;
  // A throwaway solver context: the effect is read from plain fields.
  z3::context c;
  IfaceUniverse none;
  SymPacket p(c, f, none);
  Z3Context ctx(c, p);
  if (t.ext->lowerEffect(ctx) && !ctx.effectUnknown) {
    eff.setsMark = ctx.setsMark;
    eff.markValue = ctx.markValue;
    eff.markMask = ctx.markMask;
    return eff;
  }
  eff.known = false;
  if (name == "CONNMARK") eff.havoc = fieldBit(Field::Mark);
  else if (name == "TOS" || name == "DSCP") eff.havoc = fieldBit(Field::Tos);
  else if (name == "ECN") eff.havoc = fieldBit(Field::Tos) | fieldBit(Field::TcpFlags);
  else if (name == "TTL" || name == "HL") eff.havoc = fieldBit(Field::Ttl);
  else eff.havoc = ~0u;
  return eff;
}

z3::expr boxCondition(const SymPacket& pkt, const Box& b) {
  z3::context& c = pkt.src.ctx();
  if (b.empty) return c.bool_val(false);
  const z3::expr* vars[kNumDims] = {&pkt.src, &pkt.dst, &pkt.proto, &pkt.sport, &pkt.dport, &pkt.inIf, &pkt.outIf, &pkt.frag};
  z3::expr_vector parts(c);
  for (int i = 0; i < kNumDims; ++i) {
    unsigned w = vars[i]->get_sort().bv_size();
    u128 maxv = w >= 128 ? ~u128(0) : (u128(1) << w) - 1;
    if (b.d[i].lo > 0) parts.push_back(z3::uge(*vars[i], bvConst(c, b.d[i].lo, w)));
    if (b.d[i].hi < maxv) parts.push_back(z3::ule(*vars[i], bvConst(c, b.d[i].hi, w)));
  }
  return z3::mk_and(parts);
}

}  // namespace nfjit::verifier
