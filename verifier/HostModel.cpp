// Host model constraints, mirroring HookPipeline::process (runtime/pipeline/HookPipeline.cpp).
#include "verifier/HostModel.h"

#include <algorithm>

namespace nfjit::verifier {

namespace {

z3::expr inPrefix(const SymPacket& p, const z3::expr& x, const IpAddr& net, unsigned len) {
  z3::context& c = x.ctx();
  IpAddr m = prefixMask(p.family, len);
  return (x & addressExpr(c, p.family, m)) == addressExpr(c, p.family, applyMask(net, m));
}

z3::expr ifaceIs(const SymPacket& p, const z3::expr& var, const std::string& name) {
  const auto& n = p.ifaces.names;
  auto it = std::find(n.begin(), n.end(), name);
  if (it == n.end()) return var.ctx().bool_val(false);  // not in the universe: hostIfaceRules was not used
  return var == var.ctx().bv_val(static_cast<uint64_t>(it - n.begin()), p.ifaces.bits);
}

// HookPipeline::isLocal, plus the multicast destinations it delivers locally.
z3::expr deliveredLocally(const SymPacket& p, const HostModel& h) {
  z3::context& c = p.dst.ctx();
  z3::expr_vector any(c);
  for (const auto& a : h.localAddrs) any.push_back(p.dst == addressExpr(c, p.family, a));
  unsigned w = p.dst.get_sort().bv_size();
  if (p.family == Family::IPv4) any.push_back(p.dst.extract(w - 1, w - 4) == c.bv_val(0xe, 4));
  else any.push_back(p.dst.extract(w - 1, w - 8) == c.bv_val(0xff, 8));
  return z3::mk_or(any);
}

// HookPipeline::isMartianSource (the host's own addresses only where known).
z3::expr martianSource(const SymPacket& p, const std::vector<IpAddr>& localAddrs = {}) {
  z3::context& c = p.src.ctx();
  unsigned w = p.src.get_sort().bv_size();
  if (p.family == Family::IPv4) {
    z3::expr top = p.src.extract(31, 24);
    z3::expr_vector any(c);
    any.push_back(top == c.bv_val(0, 8) || top == c.bv_val(127, 8) || p.src.extract(31, 28) == c.bv_val(0xe, 4) ||
                  p.src == c.bv_val(0xffffffffu, 32));
    for (const auto& a : localAddrs) any.push_back(p.src == addressExpr(c, p.family, a));
    return z3::mk_or(any);
  }
  IpAddr loop;
  loop.b[15] = 1;
  return p.src.extract(w - 1, w - 8) == c.bv_val(0xff, 8) || p.src == addressExpr(c, p.family, loop);
}

// HookPipeline::routeIface: the longest matching route, else out-iface.
z3::expr routedOut(const SymPacket& p, const HostModel& h, const z3::expr& addr) {
  std::vector<const Route*> rs;
  for (const auto& r : h.routes) rs.push_back(&r);
  std::stable_sort(rs.begin(), rs.end(), [](const Route* a, const Route* b) { return a->prefixLen < b->prefixLen; });
  z3::expr e = ifaceIs(p, p.outIf, h.outIface);
  for (const Route* r : rs) e = z3::ite(inPrefix(p, addr, r->net, r->prefixLen), ifaceIs(p, p.outIf, r->iface), e);
  return e;
}

}  // namespace

std::vector<Rule> hostIfaceRules(const HostModel& host) {
  std::vector<Rule> out(2 + host.routes.size());
  out[0].ip.inIface = host.inIface;
  out[1].ip.outIface = host.outIface;
  for (size_t i = 0; i < host.routes.size(); ++i) out[2 + i].ip.outIface = host.routes[i].iface;
  return out;
}

z3::expr hostConstraint(const SymPacket& p, const HostModel& h, Hook hook) {
  z3::context& c = p.src.ctx();
  const z3::expr host = p.pktType == c.bv_val(static_cast<unsigned>(PktType::Host), 8);  // raw IP pcaps carry no MAC
  const z3::expr arrives = ifaceIs(p, p.inIf, h.inIface) && host;
  // Forwarded: the TTL was at least 2 on arrival, and is seen decremented.
  const z3::expr forwarded = arrives && !martianSource(p, h.localAddrs) && !deliveredLocally(p, h) &&
                             z3::uge(p.ttl, c.bv_val(1, 8)) && z3::ule(p.ttl, c.bv_val(254, 8)) &&
                             routedOut(p, h, p.dst);
  switch (hook) {
    case Hook::PreRouting: return arrives;
    case Hook::LocalIn: return arrives && !martianSource(p, h.localAddrs) && deliveredLocally(p, h);
    case Hook::Forward:
    case Hook::PostRouting: return forwarded;  // the host's own packets cannot come from a pcap
    case Hook::LocalOut: {
      z3::expr_vector from(c);
      for (const auto& a : h.localAddrs) from.push_back(p.src == addressExpr(c, p.family, a));
      z3::expr src = from.empty() ? c.bool_val(true) : z3::mk_or(from);
      return src && routedOut(p, h, p.dst);
    }
  }
  return c.bool_val(true);
}

z3::expr receivedConstraint(const SymPacket& p, bool forward) {
  z3::context& c = p.src.ctx();
  z3::expr e = !martianSource(p);
  if (!forward) return e;
  HostModel none;  // no local address: only the multicast part of deliveredLocally
  none.localAddrs.clear();
  return e && !deliveredLocally(p, none) && p.pktType == c.bv_val(static_cast<unsigned>(PktType::Host), 8) &&
         z3::uge(p.ttl, c.bv_val(1, 8)) && z3::ule(p.ttl, c.bv_val(254, 8));
}

z3::expr hostPreference(const SymPacket& p, const HostModel& h, Hook hook) {
  z3::context& c = p.dst.ctx();
  if (hook != Hook::LocalIn || h.localAddrs.empty()) return c.bool_val(true);
  z3::expr_vector any(c);
  for (const auto& a : h.localAddrs) any.push_back(p.dst == addressExpr(c, p.family, a));
  return z3::mk_or(any);
}

std::array<z3::expr, 5> hostConstraintsByHook(const SymPacket& pkt, const HostModel& host) {
  z3::context& c = pkt.src.ctx();
  std::array<z3::expr, 5> byHook = {c.bool_val(true), c.bool_val(true), c.bool_val(true), c.bool_val(true),
                                    c.bool_val(true)};
  for (int h = 0; h < 5; ++h) byHook[static_cast<size_t>(h)] = hostConstraint(pkt, host, static_cast<Hook>(h));
  return byHook;
}

void addHostConstraints(HookSolver& hs, const SymPacket& pkt, const HostModel& host) {
  for (Hook h : {Hook::PreRouting, Hook::LocalIn, Hook::Forward, Hook::LocalOut, Hook::PostRouting})
    hs.solver().add(z3::implies(hs.hookLit(h), hostConstraint(pkt, host, h)));
}

Witness arrivalForm(const Witness& w, Hook hook) {
  Witness a = w;
  const bool forwarded = (hook == Hook::Forward || hook == Hook::PostRouting) && !w.inIface.empty();
  if (forwarded && a.ttl < 255) {
    ++a.ttl;
    buildBytes(a);
  }
  return a;
}

}  // namespace nfjit::verifier
