#include "runtime/pipeline/HookPipeline.h"

#include <algorithm>

#include "compiler/extensions/meta_common.h"
#include "compiler/extensions/tgt_util.h"
#include "runtime/packet/PacketParser.h"
#include "runtime/pipeline/LocalReplies.h"

namespace nfjit {

const char* fateName(PipelineResult::Fate f) {
  using F = PipelineResult::Fate;
  switch (f) {
    case F::Malformed: return "malformed";
    case F::NotIp: return "not-ip";
    case F::Dropped: return "drop";
    case F::Stolen: return "stolen";
    case F::Queued: return "queue";
    case F::RouteDrop: return "route-drop";
    case F::Delivered: return "deliver";
    case F::Forwarded: return "forward";
    case F::Sent: return "sent";
  }
  return "?";
}

HookPipeline::HookPipeline(const Ruleset& rs, HostModel host, std::unique_ptr<Classifier> engine)
    : rs_(rs), host_(std::move(host)), engine_(engine ? std::move(engine) : std::make_unique<Interpreter>(rs)) {}

bool HookPipeline::isLocal(const IpAddr& a) const {
  for (const auto& l : host_.localAddrs)
    if (l == a) return true;
  return false;
}

bool HookPipeline::isMartianSource(const PacketView& p) const {
  if (p.family == Family::IPv4) {
    uint32_t s = p.src.v4();
    uint8_t top = static_cast<uint8_t>(s >> 24);
    // One of the host's own addresses arriving from outside is a martian as
    // well (fib_validate_source, without accept_local); IPv6 has no such check.
    return top == 0 || top == 127 || (top & 0xf0) == 0xe0 || s == 0xffffffffu || isLocal(p.src);
  }
  // IPv6: multicast or loopback sources.
  IpAddr loop;
  loop.b[15] = 1;
  return p.src.b[0] == 0xff || p.src == loop;
}

namespace {

bool hasPorts(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132 || proto == 136 || proto == 33; }

// The kernel mangles the destination at PREROUTING and OUTPUT, the source
// at POSTROUTING and INPUT (HOOK2MANIP).
bool sourceManipHook(Hook h) { return h == Hook::PostRouting || h == Hook::LocalIn; }

using tgt::put16;
// Checksums are updated incrementally rather than recomputed, as the kernel
// does: a first fragment's transport checksum covers bytes it does not hold.
using tgt::csumReplaceBytes;

// CRC32c (Castagnoli, reflected), SCTP's checksum.
uint32_t crc32c(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
  }
  return ~c;
}

bool inRange(const IpAddr& a, const IpAddr& lo, const IpAddr& hi) { return !(a.b < lo.b) && !(hi.b < a.b); }

}  // namespace

std::string NatRewrite::describe(Family f) const {
  auto ep = [&](const IpAddr& a, uint16_t port) {
    std::string s = formatIpAddr(f, a);
    if (f == Family::IPv6) s = "[" + s + "]";
    return fromPort == toPort ? s : s + ":" + std::to_string(port);
  };
  return std::string(hookChainName(hook)) + (reply ? " reply " : " ") + (source ? "src " : "dst ") +
         ep(fromAddr, fromPort) + " -> " + ep(toAddr, toPort);
}

HookPipeline::Tuple HookPipeline::Flow::reply() const {
  Tuple r = orig.inverse();
  if (dnat) r.src = dnat->addr, r.sport = dnat->port;
  if (snat) r.dst = snat->addr, r.dport = snat->port;
  return r;
}

HookPipeline::Tuple HookPipeline::tupleOf(const PacketView& p) const {
  Tuple t;
  t.src = p.src;
  t.dst = p.dst;
  t.proto = p.protocol;
  uint8_t ports[4];
  if (hasPorts(p.protocol) && p.fragoff == 0 && headerAt(p, p.thoff, ports, 4)) {
    t.sport = be16(ports);
    t.dport = be16(ports + 2);
  }
  return t;
}

namespace {
// ICMP types whose tuple conntrack can invert (the query/answer pairs): a
// quoted ICMP packet of another type relates to nothing.
bool invertibleIcmp(Family f, uint8_t type) {
  if (f == Family::IPv4) return type == 0 || type == 8 || (type >= 13 && type <= 18);
  return type == 128 || type == 129 || type == 139 || type == 140;
}
bool icmpQuery(Family f, uint8_t type) {
  if (f == Family::IPv4) return type == 8 || type == 13 || type == 15 || type == 17;
  return type == 128 || type == 139;
}
// The answer to an ICMP query type (and the query to an answer).
uint8_t icmpAnswerType(Family f, uint8_t type) {
  if (f == Family::IPv4) return type == 8 ? 0 : type == 0 ? 8 : (type & 1) ? type + 1 : type - 1;  // 13-18 pair up
  return type == 128 ? 129 : type == 129 ? 128 : type == 139 ? 140 : 139;
}
// An ICMP query or answer as conntrack keys it, from the first 6 bytes of
// its header: the id and which of the two it is (1 query, 2 answer). None
// for other ICMP types.
std::optional<std::pair<uint16_t, uint8_t>> icmpKey(Family f, const uint8_t* icmp) {
  if (!invertibleIcmp(f, icmp[0])) return std::nullopt;
  return std::make_pair(be16(icmp + 4), uint8_t(icmpQuery(f, icmp[0]) ? 1 : 2));
}
}  // namespace

HookPipeline::Tuple HookPipeline::connTupleOf(const PacketView& p) const {
  Tuple t = tupleOf(p);
  uint8_t icmp[6];
  if (p.protocol == (p.family == Family::IPv4 ? 1 : 58) && p.fragoff == 0 && headerAt(p, p.thoff, icmp, 6))
    if (auto key = icmpKey(p.family, icmp)) {
      t.sport = t.dport = key->first;
      t.icmp = key->second;
    }
  return t;
}

namespace {
// The ICMP errors conntrack relates to the connection they quote
// (icmp_error / icmpv6_error); anything else is looked up by its own tuple.
bool isIcmpError(const PacketView& p) {
  uint8_t type;
  if (p.fragoff != 0 || !headerAt(p, p.thoff, &type, 1)) return false;
  if (p.family == Family::IPv4 && p.protocol == 1)
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
  return p.family == Family::IPv6 && p.protocol == 58 && type < 128;
}

}  // namespace

std::optional<HookPipeline::FlowRef> HookPipeline::relatedFlow(const PacketView& p) const {
  // The quoted packet's header follows the 8-byte ICMP header; it is
  // usually cut short, so only the fields of its tuple are read.
  const bool v4 = p.family == Family::IPv4;
  const uint32_t at = p.thoff + 8;
  uint8_t ih[40];
  Tuple q;
  uint32_t l4;
  if (v4) {
    if (!headerAt(p, at, ih, 20) || (ih[0] >> 4) != 4 || (ih[0] & 15) < 5) return std::nullopt;
    if ((be16(ih + 6) & 0x1fff) != 0) return std::nullopt;  // a later fragment: no ports to match
    q.proto = ih[9];
    std::copy(ih + 12, ih + 16, q.src.b.begin());
    std::copy(ih + 16, ih + 20, q.dst.b.begin());
    l4 = at + (ih[0] & 15) * 4u;
  } else {
    // Simplification: the quoted packet's extension headers are not walked.
    if (!headerAt(p, at, ih, 40) || (ih[0] >> 4) != 6) return std::nullopt;
    q.proto = ih[6];
    std::copy(ih + 8, ih + 24, q.src.b.begin());
    std::copy(ih + 24, ih + 40, q.dst.b.begin());
    l4 = at + 40;
  }
  uint8_t h4[4];
  if (hasPorts(q.proto)) {
    if (!headerAt(p, l4, h4, 4)) return std::nullopt;
    q.sport = be16(h4);
    q.dport = be16(h4 + 2);
  } else if (q.proto == (v4 ? 1 : 58)) {
    uint8_t qi[6];
    const auto key = headerAt(p, l4, qi, 6) ? icmpKey(p.family, qi) : std::nullopt;
    if (!key) return std::nullopt;
    q.sport = q.dport = key->first;
    q.icmp = key->second;
  }
  // The quoted packet went the other way: its inverse is a tuple of the connection.
  const Tuple inv = q.inverse();
  auto it = flowIndex_.find(inv);
  if (it == flowIndex_.end()) return std::nullopt;
  // The error must go where that direction of the connection goes, or a
  // host could make any packet RELATED by quoting someone else's connection.
  if (!(p.dst == inv.dst)) return std::nullopt;
  return FlowRef{it->second.first, it->second.second, false, true};
}

void HookPipeline::forget(size_t idx) {
  for (const Tuple& t : {flows_[idx].orig, flows_[idx].reply()})
    if (auto it = flowIndex_.find(t); it != flowIndex_.end() && it->second.first == idx) flowIndex_.erase(it);
}

HookPipeline::Unconfirmed::~Unconfirmed() {
  using F = PipelineResult::Fate;
  if (flow.first && out.fate != F::Forwarded && out.fate != F::Delivered && out.fate != F::Sent) pipe.forget(flow.idx);
}

// The packet's connection: known by its original or its reply tuple, or a
// new one. ICMP queries and answers are keyed by their id (connTupleOf); any
// other ICMP between two hosts is one flow.
// An ICMP error is never looked up by its own tuple: it belongs to the
// connection it quotes, or (a first packet that cannot open one) to none.
HookPipeline::FlowRef HookPipeline::lookupFlow(const PacketView& p) {
  const Tuple t = connTupleOf(p);
  const bool error = isIcmpError(p);
  if (error) {
    if (auto rel = relatedFlow(p)) return *rel;
  } else if (auto it = flowIndex_.find(t); it != flowIndex_.end()) {
    return {it->second.first, it->second.second, false};
  }
  Flow f;
  f.orig = t;
  uint8_t typeCode[2];
  if (t.icmp && headerAt(p, p.thoff, typeCode, 2)) f.icmpType = typeCode[0], f.icmpCode = typeCode[1];
  flows_.push_back(f);
  const size_t idx = flows_.size() - 1;
  flowIndex_.emplace(t, std::make_pair(idx, false));
  flowIndex_.emplace(f.reply(), std::make_pair(idx, true));
  return {idx, false, true};
}

namespace {
// Can this packet open a connection (nf_conntrack_proto_*: tcp_new, icmp_new)?
// TCP: a SYN, or (nf_conntrack_tcp_loose, the default) a bare ACK picked up
// mid-stream; not a SYN/ACK, FIN or RST. ICMP: the request types; errors and
// replies open nothing (an error about a known connection is RELATED: see
// relatedFlow).
// A TCP segment's FIN, SYN, RST and ACK bits; none for other packets and
// later fragments.
std::optional<uint8_t> tcpFinSynRstAck(const PacketView& p) {
  uint8_t h[14];
  if (p.protocol != 6 || p.fragoff != 0 || !headerAt(p, p.thoff, h, 14)) return std::nullopt;
  return uint8_t(h[13] & 0x17);
}

bool opensConnection(const PacketView& p) {
  if (p.fragoff != 0) return true;  // later fragments: the kernel tracks the reassembled packet
  uint8_t h[1];
  switch (p.protocol) {
    case 6: {
      const auto f = tcpFinSynRstAck(p);
      return f && (*f == 0x02 || *f == 0x10);
    }
    case 1:
      if (p.family != Family::IPv4 || !headerAt(p, p.thoff, h, 1)) return false;
      return h[0] == 8 || h[0] == 13 || h[0] == 15 || h[0] == 17;
    case 58:
      if (p.family != Family::IPv6 || !headerAt(p, p.thoff, h, 1)) return false;
      return h[0] == 128 || h[0] == 139;
    default: return true;
  }
}
// A TCP SYN without ACK, FIN or RST.
bool isBareSyn(const PacketView& p) { return tcpFinSynRstAck(p) == uint8_t(0x02); }
}  // namespace

void HookPipeline::track(PacketView& pv, const FlowRef& f, bool notrack) {
  // An untracked or invalid first packet makes no conntrack entry: the
  // next packet of its tuple starts afresh.
  if (notrack) {
    if (f.first) forget(f.idx);
    pv.ct.state = kCtUntracked;
    return;
  }
  Flow& flow = flows_[f.idx];
  if (f.first) flow.valid = opensConnection(pv);
  if (!flow.valid) {
    forget(f.idx);
    pv.ct.state = kCtInvalid;
    return;
  }
  pv.ct.mark = flow.mark;
  if (f.related) {
    // An ICMP error leaves its connection's state alone.
    pv.ct.state = kCtRelated;
  } else {
    // NEW until the other side answered; ESTABLISHED from the first reply on.
    if (f.reply) flow.replySeen = true;
    pv.ct.state = flow.replySeen ? kCtEstablished : kCtNew;
    // nf_ct_refresh_acct: the packets the protocol tracker handled (an
    // ICMP error about the connection returns before it).
    // Another SYN while the connection waits for its answer (SYN_SENT),
    // whatever its sequence number, passes unaccounted (the kernel's
    // oracle shows it; nf_conntrack_tcp_packet accepts it before
    // nf_ct_refresh_acct).
    const bool synAgain = !f.first && !f.reply && !flow.replySeen && isBareSyn(pv);
    if (!synAgain) {
      ++flow.packets[f.reply];
      flow.bytes[f.reply] += pv.len;
    }
  }
  // SEEN_REPLY is set before the packet's later hooks; only a first packet
  // is unconfirmed.
  pv.ct.status = (flow.replySeen ? meta::kIpsSeenReply : 0) | (f.first ? 0 : meta::kIpsConfirmed);
  pv.ct.dir = f.reply ? 1 : 0;
  pv.ct.l4proto = flow.orig.proto;
  exposeEntry(pv, flow);
}

void HookPipeline::keepConnMark(const PacketView& pv, const FlowRef& f) {
  if (meta::ctPresent(pv.ct)) flows_[f.idx].mark = pv.ct.mark;
}

void HookPipeline::natStatus(PacketView& pv, const FlowRef& f) const {
  if (pv.ct.state & (kCtInvalid | kCtUntracked)) return;
  const Flow& flow = flows_[f.idx];
  if (flow.dnat) pv.ct.state |= kCtDnat;
  if (flow.snat) pv.ct.state |= kCtSnat;
  exposeEntry(pv, flow);
}

void HookPipeline::exposeEntry(PacketView& pv, const Flow& flow) const {
  const Tuple orig = flow.orig, reply = flow.reply();
  ConnInfo& ct = pv.ct;
  ct.origSrc = orig.src, ct.origDst = orig.dst;
  ct.replSrc = reply.src, ct.replDst = reply.dst;
  ct.origSrcPort = orig.sport, ct.origDstPort = orig.dport;
  ct.replSrcPort = reply.sport, ct.replDstPort = reply.dport;
  ct.accounted = true;
  for (int dir = 0; dir < 2; ++dir) ct.acctPackets[dir] = flow.packets[dir], ct.acctBytes[dir] = flow.bytes[dir];
  if (orig.icmp) {
    // An ICMP tuple holds the id as its source "port" and the type and
    // code as its destination's (read in network order: type * 256 + code);
    // the reply tuple has the answer's type (nf_conntrack_proto_icmp's
    // invert map).
    ct.origDstPort = uint16_t(flow.icmpType << 8 | flow.icmpCode);
    ct.replDstPort = uint16_t(icmpAnswerType(rs_.family, flow.icmpType) << 8 | flow.icmpCode);
  }
}

// Kernel semantics (nf_nat_core get_unique_tuple, xt_nat, nf_nat_redirect,
// nf_nat_masquerade, xt_NETMAP), with two stated simplifications where the
// kernel's choice is not reproducible here: for an address range the kernel
// hashes over the range, replay takes its lowest address; for a source port
// outside the range (and for --random) the kernel picks one at random,
// replay takes the lowest port of the range. Port clashes with other
// connections are not modelled.
void HookPipeline::bind(const PacketView& pv, Hook h, const NatRequest& n, Flow& flow) {
  using K = NatRequest::Kind;
  const bool source = sourceManipHook(h);
  const bool wantsSource = n.kind == K::Snat || n.kind == K::Masquerade || (n.kind == K::Netmap && n.netmapSource);
  if (source != wantsSource) return;  // the target's hook check keeps this from happening
  const Tuple cur = connTupleOf(pv);  // an ICMP id stays the reply tuple's "port"
  const IpAddr curAddr = source ? cur.src : cur.dst;
  const uint16_t curPort = source ? cur.sport : cur.dport;
  IpAddr lo = n.minAddr, hi = n.maxAddr;
  bool mapIps = n.hasAddr;
  switch (n.kind) {
    case K::Masquerade:
      // The out interface's address (inet_select_addr). The kernel drops
      // the packet when the interface has none; a host model that names no
      // address says nothing about it, so the source is left alone.
      lo = hi = ifaceAddr(pv.outIface);
      mapIps = true;
      if (lo == IpAddr{}) return;
      break;
    case K::Redirect:
      // Generated packets go to loopback, received ones to the arrival
      // interface's primary address (none known: left alone, as MASQUERADE).
      if (h == Hook::LocalOut) {
        lo = rs_.family == Family::IPv4 ? IpAddr::fromV4(0x7f000001) : IpAddr{};
        if (rs_.family == Family::IPv6) lo.b[15] = 1;
      } else {
        lo = ifaceAddr(pv.inIface.empty() ? host_.inIface : pv.inIface);
        if (lo == IpAddr{}) return;
      }
      hi = lo;
      mapIps = true;
      break;
    case K::Netmap: {
      // Exact: the prefix bits from --to, the host bits kept.
      const IpAddr& mask = n.maxAddr;
      for (size_t i = 0; i < 16; ++i)
        lo.b[i] = static_cast<uint8_t>((curAddr.b[i] & ~mask.b[i]) | (n.minAddr.b[i] & mask.b[i]));
      hi = lo;
      mapIps = true;
      break;
    }
    default: break;
  }
  const bool portsApply = n.hasPorts && hasPorts(cur.proto) && pv.fragoff == 0;
  const bool portIn = curPort >= n.minPort && curPort <= n.maxPort;
  Manip m{curAddr, curPort};
  // A source already inside the range (address and port) is kept.
  const bool keepAll = source && (!mapIps || inRange(curAddr, lo, hi)) && (!portsApply || portIn);
  if (!keepAll) {
    if (mapIps) m.addr = lo;
    if (portsApply) {
      if (n.portOffset && n.kind != K::Masquerade && n.kind != K::Snat) {
        // DNAT "p-q/base": shifted by the distance from the base port.
        const uint32_t size = uint32_t(n.maxPort) - n.minPort + 1;
        m.port = static_cast<uint16_t>(n.minPort + uint16_t(curPort - n.basePort) % size);
      } else if (!portIn) {
        m.port = n.minPort;  // DNAT without --random: the kernel's deterministic first try
      }
    }
  }
  if (m.addr == curAddr && m.port == curPort) return;  // nothing to rewrite: no binding (as the kernel)
  // The reply tuple changes with the binding.
  const Tuple oldReply = flow.reply();
  (source ? flow.snat : flow.dnat) = m;
  const size_t idx = static_cast<size_t>(&flow - flows_.data());
  if (auto it = flowIndex_.find(oldReply); it != flowIndex_.end() && it->second == std::make_pair(idx, true))
    flowIndex_.erase(it);
  flowIndex_[flow.reply()] = {idx, true};
}

void HookPipeline::rewrite(PacketView& pv, bool source, const Manip& m, Hook h, bool reply, PipelineResult& out) {
  const Tuple cur = tupleOf(pv);
  const IpAddr& oldAddr = source ? cur.src : cur.dst;
  const uint16_t oldPort = source ? cur.sport : cur.dport;
  const bool portsHere = hasPorts(cur.proto) && pv.fragoff == 0 && pv.protocolFound && pv.thoff + 4 <= pv.len;
  const uint16_t newPort = portsHere ? m.port : oldPort;
  if (oldAddr == m.addr && oldPort == newPort) return;
  uint8_t* l3 = pv.data;
  const bool v4 = pv.family == Family::IPv4;
  const size_t alen = v4 ? 4 : 16;
  const size_t aoff = v4 ? (source ? 12 : 16) : (source ? 8 : 24);
  uint8_t oldA[16], newA[16], oldP[2], newP[2];
  std::copy(l3 + aoff, l3 + aoff + alen, oldA);
  std::copy(m.addr.b.begin(), m.addr.b.begin() + alen, newA);
  put16(oldP, oldPort);
  put16(newP, newPort);
  const uint32_t th = pv.thoff;
  const bool l4 = pv.fragoff == 0 && pv.protocolFound;
  auto has = [&](uint32_t n) { return l4 && th + n <= pv.len; };
  // Transport checksums that cover the pseudo-header (and the ports).
  uint8_t* csum = nullptr;
  bool csumPorts = true;
  switch (pv.protocol) {
    case 6: if (has(18)) csum = l3 + th + 16; break;
    case 17:
      // A UDP checksum of 0 means "none" and stays so.
      if (has(8) && be16(l3 + th + 6) != 0) csum = l3 + th + 6;
      break;
    case 136:
    case 33: if (has(8)) csum = l3 + th + 6; break;
    case 58: if (!v4 && has(4)) csum = l3 + th + 2, csumPorts = false; break;
    default: break;
  }
  if (csum) {
    csumReplaceBytes(csum, oldA, newA, alen);
    if (csumPorts && portsHere) csumReplaceBytes(csum, oldP, newP, 2);
    // A computed 0 goes out as 0xffff where 0 means "no checksum".
    if ((pv.protocol == 17 || pv.protocol == 136) && be16(csum) == 0) put16(csum, 0xffff);
  }
  if (portsHere) put16(l3 + th + (source ? 0 : 2), newPort);
  std::copy(newA, newA + alen, l3 + aoff);
  if (v4) csumReplaceBytes(l3 + 10, oldA, newA, 4);
  // SCTP's CRC32c covers no addresses; recompute it when a port changed
  // (only over a whole, unfragmented packet).
  if (pv.protocol == 132 && portsHere && oldPort != newPort && !pv.fragmented && has(12)) {
    put16(l3 + th + 8, 0);
    put16(l3 + th + 10, 0);
    const uint32_t c = crc32c(l3 + th, pv.len - th);
    // Stored little-endian, as the kernel's sctp_compute_cksum result.
    l3[th + 8] = uint8_t(c), l3[th + 9] = uint8_t(c >> 8), l3[th + 10] = uint8_t(c >> 16), l3[th + 11] = uint8_t(c >> 24);
  }
  // Re-parse: routing and later chains see the new header; the skb
  // metadata stays.
  PacketView fresh;
  parseL3(pv.family, pv.data, pv.len, fresh);
  pv.src = fresh.src;
  pv.dst = fresh.dst;
  pv.protocol = fresh.protocol;
  pv.thoff = fresh.thoff;
  NatRewrite r;
  r.hook = h;
  r.source = source;
  r.reply = reply;
  r.fromAddr = oldAddr;
  r.toAddr = m.addr;
  r.fromPort = oldPort;
  r.toPort = newPort;
  out.natApplied.push_back(r);
}

bool HookPipeline::natHook(PacketView& pv, Hook h, const FlowRef& f, PipelineResult& out, uint64_t nowNs,
                           uint64_t wallSec) {
  // nf_nat_inet_fn: a packet without a conntrack entry passes nat untouched.
  if (pv.ct.state & (kCtInvalid | kCtUntracked)) return true;
  if (f.first) {
    std::optional<NatRequest> req;
    if (!runHook(pv, "nat", h, out, nowNs, wallSec, &req)) return false;
    if (req) bind(pv, h, *req, flows_[f.idx]);
  }
  const Flow& fl = flows_[f.idx];
  const bool source = sourceManipHook(h);
  // The original direction takes the binding, the reply direction its
  // reverse: un-SNAT the destination before routing, un-DNAT the source
  // on the way out.
  if (!f.reply) {
    if (source && fl.snat) rewrite(pv, true, *fl.snat, h, false, out);
    if (!source && fl.dnat) rewrite(pv, false, *fl.dnat, h, false, out);
  } else {
    if (source && fl.dnat) rewrite(pv, true, {fl.orig.dst, fl.orig.dport}, h, true, out);
    if (!source && fl.snat) rewrite(pv, false, {fl.orig.src, fl.orig.sport}, h, true, out);
  }
  return true;
}

std::string HookPipeline::routeIface(const IpAddr& dst) const {
  const Route* best = nullptr;
  for (const auto& r : host_.routes) {
    IpAddr m = prefixMask(rs_.family, r.prefixLen);
    if (applyMask(dst, m) == applyMask(r.net, m) && (!best || r.prefixLen > best->prefixLen)) best = &r;
  }
  return best ? best->iface : host_.outIface;
}

IpAddr HookPipeline::ifaceAddr(const std::string& iface) const {
  for (const auto& [name, addr] : host_.ifaceAddrs)
    if (name == iface) return addr;
  return host_.localAddrs.empty() ? IpAddr{} : host_.localAddrs.front();
}

// The source of an ICMP error about `orig`: its destination when that is
// ours; otherwise IPv4 lets the route back decide (icmp_send), while IPv6
// prefers an address of the interface the packet came in on (icmp6_send).
IpAddr HookPipeline::icmpErrorSource(const PacketView& orig) const {
  if (isLocal(orig.dst)) return orig.dst;
  if (rs_.family == Family::IPv6) return ifaceAddr(orig.inIface.empty() ? host_.inIface : orig.inIface);
  return ifaceAddr(routeIface(orig.src));
}

bool HookPipeline::runHook(PacketView& pv, const char* table, Hook h, PipelineResult& out, uint64_t nowNs,
                           uint64_t wallSec, std::optional<NatRequest>* nat) {
  using F = PipelineResult::Fate;
  if (!rs_.findTable(table)) return true;
  EvalContext ctx{pv};
  ctx.nowNs = nowNs;
  ctx.wallSec = wallSec;
  HookStep step{table, h, engine_->run(table, h, ctx)};
  const bool ran = !step.result.matched.empty() || step.result.hotdrop;
  const Verdict v = step.result.verdict;
  // Side effects accumulate over the packet's whole path.
  auto& e = ctx.effects;
  auto& acc = out.effects;
  if (e.nat) acc.nat = e.nat;
  if (nat) *nat = e.nat;
  acc.logs.insert(acc.logs.end(), e.logs.begin(), e.logs.end());
  acc.notrack |= e.notrack;
  if (!e.ctHelper.empty()) acc.ctHelper = e.ctHelper;
  if (e.rejectSent) {
    acc.rejectSent = true;
    acc.rejectType = e.rejectType;
    acc.rejectCode = e.rejectCode;
  }
  acc.trace |= e.trace;
  if (ran) out.steps.push_back(std::move(step));
  switch (v) {
    case Verdict::Drop: out.fate = F::Dropped; return false;
    case Verdict::Stolen: out.fate = F::Stolen; return false;
    case Verdict::Queue: out.fate = F::Queued; return false;
    default: return true;
  }
}

namespace {
// An skb's room past the packet, for a target that grows it (TCPMSS adds a
// 4-byte option).
constexpr uint32_t kTailroom = 64;

// Runs `process(buffer, capacity)` on a copy of the packet with tailroom,
// then gives the caller's buffer its first `len` bytes back.
template <class Process>
PipelineResult onWorkingCopy(uint8_t* l3, uint32_t len, Process process) {
  std::vector<uint8_t> work(l3, l3 + len);
  work.resize(size_t(len) + kTailroom);
  PipelineResult out = process(work.data(), uint32_t(work.size()));
  std::copy_n(work.data(), len, l3);
  return out;
}
}  // namespace

PipelineResult HookPipeline::processLocal(uint8_t* l3, uint32_t len, uint64_t nowNs, uint64_t wallSec,
                                          uint32_t mark) {
  return onWorkingCopy(l3, len, [&](uint8_t* work, uint32_t capacity) {
    return processLocalIn(work, len, capacity, nowNs, wallSec, mark);
  });
}

PipelineResult HookPipeline::processLocalIn(uint8_t* l3, uint32_t len, uint32_t capacity, uint64_t nowNs,
                                            uint64_t wallSec, uint32_t mark) {
  using F = PipelineResult::Fate;
  PipelineResult out;
  out.outputPath = true;
  PacketView pv;
  out.l3 = parseL3(rs_.family, l3, len, pv);
  if (out.l3 != L3Status::Ok) {
    out.fate = F::Malformed;
    out.reason = l3StatusName(out.l3);
    return out;
  }
  pv.capacity = capacity;
  pv.localSource = true;
  pv.mark = mark;
  pv.outIface = routeIface(pv.dst);
  const FlowRef flow = attached_ ? *attached_ : lookupFlow(pv);
  attached_.reset();
  const Unconfirmed unconfirmed{*this, flow, out};
  const KeepConnMark keepMark{*this, pv, flow};
  auto hook = [&](const char* table, Hook h) { return runHook(pv, table, h, out, nowNs, wallSec); };
  const IpAddr routedTo = pv.dst;
  if (!hook("raw", Hook::LocalOut)) return out;
  track(pv, flow, out.effects.notrack);
  if (!hook("mangle", Hook::LocalOut) || !natHook(pv, Hook::LocalOut, flow, out, nowNs, wallSec)) return out;
  natStatus(pv, flow);
  // ip_route_me_harder(): a new destination is routed again.
  if (!(pv.dst == routedTo)) {
    IpAddr loop6;
    loop6.b[15] = 1;
    const bool loop = rs_.family == Family::IPv4 ? (pv.dst.v4() >> 24) == 127 : pv.dst == loop6;
    pv.outIface = loop || isLocal(pv.dst) ? "lo" : routeIface(pv.dst);
  }
  if (!hook("filter", Hook::LocalOut) || !hook("security", Hook::LocalOut) || !hook("mangle", Hook::PostRouting) ||
      !natHook(pv, Hook::PostRouting, flow, out, nowNs, wallSec))
    return out;
  out.fate = F::Sent;
  out.emitted.push_back({EmittedPacket::Kind::Reply, pv.outIface, std::vector<uint8_t>(l3, l3 + pv.len)});
  return out;
}

void HookPipeline::sendLocal(std::vector<uint8_t> l3, PipelineResult& parent, uint64_t nowNs, uint64_t wallSec) {
  PipelineResult out = processLocal(l3.data(), uint32_t(l3.size()), nowNs, wallSec);
  if (out.fate == PipelineResult::Fate::Malformed) return;
  // The parent lists every packet that leaves; the reply keeps its path.
  for (auto& e : out.emitted) parent.emitted.push_back(std::move(e));
  out.emitted.clear();
  // A generated packet that is itself rejected gets no further reply here:
  // the kernel would loop it back through the input path.
  parent.replies.push_back(std::move(out));
}

PipelineResult HookPipeline::process(uint8_t* l3, uint32_t len, PktType pktType, std::array<uint8_t, 6> srcMac,
                                     bool hasMac, uint64_t nowNs, uint64_t wallSec, const std::string& inIface) {
  return onWorkingCopy(l3, len, [&](uint8_t* work, uint32_t capacity) {
    return processIn(work, len, capacity, pktType, srcMac, hasMac, nowNs, wallSec, inIface);
  });
}

PipelineResult HookPipeline::processIn(uint8_t* l3, uint32_t len, uint32_t capacity, PktType pktType,
                                       std::array<uint8_t, 6> srcMac, bool hasMac, uint64_t nowNs, uint64_t wallSec,
                                       const std::string& inIface) {
  using F = PipelineResult::Fate;
  PipelineResult out;
  PacketView pv;
  out.l3 = parseL3(rs_.family, l3, len, pv);
  if (out.l3 != L3Status::Ok) {
    out.fate = F::Malformed;
    out.reason = l3StatusName(out.l3);
    return out;
  }
  pv.capacity = capacity;
  // ip_rcv() drops frames addressed to another host before any hook.
  if (pktType == PktType::OtherHost) {
    out.fate = F::RouteDrop;
    out.reason = "other-host";
    return out;
  }
  pv.pktType = pktType;
  pv.hasMac = hasMac;
  pv.srcMac = srcMac;
  pv.inIface = inIface.empty() ? host_.inIface : inIface;
  auto hook = [&](const char* table, Hook h) { return runHook(pv, table, h, out, nowNs, wallSec); };
  const FlowRef flow = lookupFlow(pv);
  const Unconfirmed unconfirmed{*this, flow, out};
  const KeepConnMark keepMark{*this, pv, flow};
  // REJECT's reply leaves through the OUTPUT path.
  auto afterReject = [&]() {
    if (!out.effects.rejectSent || !host_.localReplies) return;
    std::optional<std::vector<uint8_t>> reply;
    if (out.effects.rejectType == 255) {
      reply = buildTcpReset(pv);
      // nf_send_reset attaches the rejected packet's connection (if it has
      // one) to the reset: RELATED, in the other direction.
      if (reply && !(pv.ct.state & (kCtInvalid | kCtUntracked)) && pv.ct.state)
        attached_ = FlowRef{flow.idx, !flow.reply, false, true};
    } else {
      reply = buildIcmpError(pv, out.effects.rejectType, out.effects.rejectCode, icmpErrorSource(pv));
    }
    keepConnMark(pv, flow);
    if (reply) sendLocal(std::move(*reply), out, nowNs, wallSec);
  };

  auto nat = [&](Hook h) { return natHook(pv, h, flow, out, nowNs, wallSec); };
  if (!hook("raw", Hook::PreRouting)) {
    afterReject();
    return out;
  }
  track(pv, flow, out.effects.notrack);
  if (!hook("mangle", Hook::PreRouting) || !nat(Hook::PreRouting)) {
    afterReject();
    return out;
  }
  natStatus(pv, flow);

  // Routing decision.
  if (isMartianSource(pv)) {
    out.fate = F::RouteDrop;
    out.reason = "martian-source";
    return out;
  }
  bool local = isLocal(pv.dst) || pktType == PktType::Broadcast ||
               (rs_.family == Family::IPv4 && (pv.dst.v4() >> 28) == 0xe) ||
               (rs_.family == Family::IPv6 && pv.dst.b[0] == 0xff);
  if (local) {
    if (!hook("mangle", Hook::LocalIn) || !hook("filter", Hook::LocalIn) || !hook("security", Hook::LocalIn) ||
        !nat(Hook::LocalIn)) {
      afterReject();
      return out;
    }
    out.fate = F::Delivered;
    if (host_.localReplies) {
      keepConnMark(pv, flow);
      if (auto reply = localStackReply(pv)) sendLocal(std::move(*reply), out, nowNs, wallSec);
    }
    return out;
  }
  out.forwardPath = true;
  // ip_forward(): only frames for this host's MAC, and the hop limit must allow one more hop.
  if (pktType != PktType::Host) {
    out.fate = F::RouteDrop;
    out.reason = "not-for-this-host";
    return out;
  }
  if (pv.ttl <= 1) {
    out.fate = F::RouteDrop;
    out.reason = "ttl-exceeded";
    if (host_.localReplies) {
      keepConnMark(pv, flow);
      const bool v4 = rs_.family == Family::IPv4;
      if (auto reply = buildIcmpError(pv, v4 ? 11 : 3, 0, icmpErrorSource(pv)))
        sendLocal(std::move(*reply), out, nowNs, wallSec);
    }
    return out;
  }
  if (rs_.family == Family::IPv4) {
    // Decrement the TTL and patch the checksum exactly as ip_decrease_ttl()
    // does, so forwarded bytes equal the kernel's.
    uint32_t sum = uint32_t(l3[10]) << 8 | l3[11];
    sum += 0x0100;
    sum += sum >= 0xffff ? 1 : 0;
    l3[8]--;
    l3[10] = static_cast<uint8_t>(sum >> 8);
    l3[11] = static_cast<uint8_t>(sum);
  } else {
    l3[7]--;
  }
  pv.ttl--;
  pv.outIface = routeIface(pv.dst);
  if (!hook("mangle", Hook::Forward) || !hook("filter", Hook::Forward) || !hook("security", Hook::Forward) ||
      !hook("mangle", Hook::PostRouting) || !nat(Hook::PostRouting)) {
    afterReject();
    return out;
  }
  out.fate = F::Forwarded;
  out.emitted.push_back({EmittedPacket::Kind::Forwarded, pv.outIface, std::vector<uint8_t>(l3, l3 + pv.len)});
  return out;
}

}  // namespace nfjit
