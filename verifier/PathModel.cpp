// The chains of one path composed into one fate (hook order of
// HookPipeline::process / sendLocal).
#include "verifier/PathModel.h"

#include <atomic>

#include "compiler/frontend/Printer.h"
#include "verifier/HostModel.h"

namespace nfjit::verifier {

namespace {

// A fate no chain decided (accepted all along, or routed elsewhere).
PathFate endsAs(const char* fate) {
  PathFate f;
  f.fate = fate;
  return f;
}

// Fresh names for the choices NAT ranges leave to the kernel.
std::string freshName(const char* what) {
  static std::atomic<unsigned> n{0};
  return std::string("path_") + what + "_" + std::to_string(n++);
}

struct Step {
  const char* table;
  Hook hook;
  bool natOnly;  // nat chains see only a connection's first (NEW) packet
};

}  // namespace

const char* pathKindName(PathKind k) {
  switch (k) {
    case PathKind::Input: return "input";
    case PathKind::Forward: return "forward";
    case PathKind::Output: return "output";
  }
  return "?";
}

namespace {
// A NEW packet opens its connection, as the pipeline that replays path
// witnesses (HookPipeline's opensConnection) and the kernel's trackers
// see it: TCP with SYN or a bare ACK picked up mid-stream (tcp_loose), an
// ICMP query; any other first packet is INVALID and skips the nat chains.
z3::expr newPacketOpens(const SymPacket& p) {
  z3::context& c = p.src.ctx();
  auto bv8 = [&](unsigned v) { return c.bv_val(v, 8); };
  const z3::expr isNew = (p.ctstate & bv8(0x1f)) == bv8(kCtNew);
  const z3::expr tcpFlags = p.tcpFlags & bv8(0x17);  // FIN SYN RST ACK
  const z3::expr tcpOpens = tcpFlags == bv8(0x02) || tcpFlags == bv8(0x10);
  z3::expr icmpOpens = c.bool_val(true);
  z3::expr icmpProto = bv8(1);
  if (p.family == Family::IPv4) {
    icmpOpens = p.icmpType == bv8(8) || p.icmpType == bv8(13) || p.icmpType == bv8(15) || p.icmpType == bv8(17);
  } else {
    icmpProto = bv8(58);
    icmpOpens = p.icmpType == bv8(128) || p.icmpType == bv8(139);
  }
  const z3::expr firstFragment = p.frag == c.bv_val(0, 1);
  return z3::implies(isNew && firstFragment,
                     z3::implies(p.proto == bv8(6), tcpOpens) && z3::implies(p.proto == icmpProto, icmpOpens));
}
}  // namespace

PathModel::PathModel(const ChainModel& m, PathKind kind, const std::optional<HostModel>& host)
    : m_(m),
      kind_(kind),
      alive_(m.packet().src.ctx().bool_val(true)),
      mark_(m.packet().mark),
      dst_(m.packet().dst),
      dport_(m.packet().dport),
      domain_(alive_),
      routed_(alive_) {
  const SymPacket& p = m.packet();
  z3::context& c = p.src.ctx();
  static const Step kPre[] = {{"raw", Hook::PreRouting, false},
                              {"mangle", Hook::PreRouting, false},
                              {"nat", Hook::PreRouting, true}};
  static const Step kIn[] = {{"mangle", Hook::LocalIn, false},
                             {"filter", Hook::LocalIn, false},
                             {"security", Hook::LocalIn, false},
                             {"nat", Hook::LocalIn, true}};
  static const Step kFwd[] = {{"mangle", Hook::Forward, false},   {"filter", Hook::Forward, false},
                              {"security", Hook::Forward, false}, {"mangle", Hook::PostRouting, false},
                              {"nat", Hook::PostRouting, true}};
  static const Step kOut[] = {{"raw", Hook::LocalOut, false},      {"mangle", Hook::LocalOut, false},
                              {"nat", Hook::LocalOut, true},       {"filter", Hook::LocalOut, false},
                              {"security", Hook::LocalOut, false}, {"mangle", Hook::PostRouting, false},
                              {"nat", Hook::PostRouting, true}};
  auto run = [&](const auto& steps) {
    for (const Step& s : steps) step(s.table, s.hook, s.natOnly);
  };
  if (kind == PathKind::Output) {
    // A socket may set any mark (SO_MARK); the source is the host's.
    domain_ = p.wellFormed(Hook::LocalOut) && newPacketOpens(p);
    if (host) domain_ = domain_ && hostConstraint(p, *host, Hook::LocalOut);
    preRouting_ = false;
    run(kOut);
    outcomes_.push_back({endsAs("sent"), alive_});
    return;
  }
  // Received packets carry no mark. pkt.ttl is what FORWARD sees: on the
  // forward path the chains before routing see it one higher.
  mark_ = c.bv_val(0, 32);
  const Hook at = kind == PathKind::Input ? Hook::LocalIn : Hook::Forward;
  domain_ = p.wellFormed(at) && newPacketOpens(p);
  domain_ = domain_ && receivedConstraint(p, kind == PathKind::Forward);
  if (host) domain_ = domain_ && hostConstraint(p, *host, Hook::PreRouting);
  preRouting_ = kind == PathKind::Forward;
  run(kPre);
  preRouting_ = false;
  // The routing decision, on the destination after DNAT. Without a host
  // model any address may be local or not: both paths stay possible.
  if (host) {
    z3::expr_vector from(c), to(c);
    from.push_back(p.dst);
    to.push_back(dst_);
    routed_ = hostConstraint(p, *host, at).substitute(from, to);
  } else if (kind == PathKind::Input && p.family == Family::IPv4) {
    // The destination is the host's own address, and an IPv4 packet from
    // one of those is a martian (as with a host model, HostModel.cpp).
    routed_ = p.src != dst_;
  }
  const z3::expr beforeRoute = alive_;
  alive_ = alive_ && routed_;
  if (kind == PathKind::Input) run(kIn);
  else run(kFwd);
  outcomes_.push_back({endsAs(kind == PathKind::Input ? "deliver" : "forward"), alive_});
  if (host) outcomes_.push_back({endsAs("elsewhere"), beforeRoute && !routed_});
}

void PathModel::step(const std::string& table, Hook hook, bool natOnly) {
  const SymPacket& p = m_.packet();
  z3::context& c = p.src.ctx();
  const Ruleset& rs = m_.ruleset();
  const Traversal* tr = nullptr;
  size_t ti = 0;
  for (size_t i = 0; i < m_.traversals().size(); ++i) {
    const Traversal& t = m_.traversals()[i];
    if (t.hook == hook && rs.tables[t.table].name == table) tr = &t, ti = i;
  }
  if (!tr) return;  // a table without the chain accepts everything
  const z3::expr runs = natOnly ? (p.ctstate & c.bv_val(0x1f, 8)) == c.bv_val(kCtNew, 8) : c.bool_val(true);
  z3::expr_vector from(c), to(c);
  auto subst = [&](const z3::expr& f, const z3::expr& t) {
    if (!z3::eq(f, t)) from.push_back(f), to.push_back(t);
  };
  subst(p.dst, dst_);
  subst(p.dport, dport_);
  if (preRouting_) subst(p.ttl, p.ttl + c.bv_val(1, 8));
  WalkOptions wo;
  wo.entryMark = mark_;
  wo.substFrom = &from;
  wo.substTo = &to;
  wo.entryHavoc = havoc_;
  WalkResult w = m_.walk(*tr, wo);
  for (const auto& u : w.unknowns) unknowns_.push_back(u);
  const std::string& chainName = rs.tables[tr->table].chains[tr->chain].name;
  z3::expr_vector accepted(c);
  for (size_t i = 0; i < w.decided.size(); ++i) {
    const auto& [label, cond] = w.decided[i];
    const int occ = w.decidedAt[i];
    std::string fate = label == "REJECT" ? "REJECT" : verdictClass(label);
    if (fate == "ACCEPT") {
      accepted.push_back(cond);
      if (occ >= 0 && (label == "DNAT" || label == "REDIRECT" || label == "NETMAP"))
        applyNat(tr->occs[occ], alive_ && runs && cond, hook);
      continue;
    }
    PathFate f{fate, table, chainName, label, occ, "", 0, ti};
    if (occ >= 0) {
      const Occurrence& oc = tr->occs[occ];
      const Chain& ch = rs.tables[oc.table].chains[oc.chain];
      f.ruleText = printRule(ch.rules[oc.rule], ch.name, rs.family);
      f.line = ch.rules[oc.rule].loc.line;
    }
    outcomes_.push_back({std::move(f), alive_ && runs && cond});
  }
  mark_ = z3::ite(runs, *w.exitMark, mark_);
  havoc_ = w.exitHavoc;  // over-approximated: as if the unmodelled targets fired for every packet
  alive_ = alive_ && (!runs || z3::mk_or(accepted));
}

// DNAT/REDIRECT/NETMAP that fired for `fired` packets: later chains and the
// routing decision see the new destination.
void PathModel::applyNat(const Occurrence& o, const z3::expr& fired, Hook hook) {
  const SymPacket& p = m_.packet();
  z3::context& c = p.src.ctx();
  const Rule& rule = m_.ruleset().tables[o.table].chains[o.chain].rules[o.rule];
  PacketView pv;
  pv.family = p.family;
  EvalContext ctx(pv);
  ctx.hook = hook;
  rule.target.ext->apply(ctx);  // the NAT targets only record what they ask for
  const uint32_t line = rule.loc.line;
  auto unknown = [&](const std::string& what) {
    unknowns_.push_back({c.bool_const(freshName("u").c_str()), what + " at line " + std::to_string(line), line});
  };
  if (!ctx.effects.nat) {
    havoc_ |= fieldBit(Field::Dst) | fieldBit(Field::Dport);
    unknown(std::string(rule.target.ext->name()) + " (not modelled)");
    return;
  }
  const NatRequest& n = *ctx.effects.nat;
  const unsigned aw = p.dst.get_sort().bv_size();
  z3::expr newDst = dst_, newPort = dport_;
  if (n.kind == NatRequest::Kind::Dnat && n.hasAddr) {
    if (n.minAddr == n.maxAddr) {
      newDst = addressExpr(c, p.family, n.minAddr);
    } else {
      // The kernel picks one address of the range (by a hash): any of them.
      z3::expr v = c.bv_const(freshName("dst").c_str(), aw);
      newDst = z3::ite(z3::uge(v, addressExpr(c, p.family, n.minAddr)) && z3::ule(v, addressExpr(c, p.family, n.maxAddr)),
                       v, addressExpr(c, p.family, n.minAddr));
      unknown("DNAT address choice");
    }
  } else if (n.kind != NatRequest::Kind::Dnat) {
    // REDIRECT: the incoming interface's address; NETMAP: a prefix mapping.
    // Neither is modelled: later tests of the destination become unknown.
    havoc_ |= fieldBit(Field::Dst);
    newDst = c.bv_const(freshName("dst").c_str(), aw);
    unknown(std::string(rule.target.ext->name()) + " destination (not modelled)");
  }
  if (n.hasPorts && !n.portOffset) {
    if (n.minPort == n.maxPort) {
      newPort = c.bv_val(n.minPort, 16);
    } else {
      z3::expr v = c.bv_const(freshName("dport").c_str(), 16);
      newPort = z3::ite(z3::uge(v, c.bv_val(n.minPort, 16)) && z3::ule(v, c.bv_val(n.maxPort, 16)), v,
                        c.bv_val(n.minPort, 16));
      unknown("NAT port choice");
    }
  } else if (n.hasPorts) {
    havoc_ |= fieldBit(Field::Dport);
    unknown("NAT port offset (not modelled)");
  }
  dst_ = z3::ite(fired, newDst, dst_);
  dport_ = z3::ite(fired, newPort, dport_);
}

}  // namespace nfjit::verifier
