#include "runtime/pipeline/HookPipeline.h"

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
    return top == 0 || top == 127 || (top & 0xf0) == 0xe0 || s == 0xffffffffu;
  }
  // IPv6: multicast or loopback sources.
  IpAddr loop;
  loop.b[15] = 1;
  return p.src.b[0] == 0xff || p.src == loop;
}

// A 5-tuple key, direction-independent, for "first packet of this flow".
bool HookPipeline::firstPacketOfFlow(const PacketView& p) {
  std::vector<uint8_t> a(p.src.b.begin(), p.src.b.end()), b(p.dst.b.begin(), p.dst.b.end());
  uint8_t ports[4] = {0, 0, 0, 0};
  if ((p.protocol == 6 || p.protocol == 17 || p.protocol == 132 || p.protocol == 136 || p.protocol == 33) &&
      p.fragoff == 0)
    headerAt(p, p.thoff, ports, 4);
  a.push_back(ports[0]);
  a.push_back(ports[1]);
  b.push_back(ports[2]);
  b.push_back(ports[3]);
  std::vector<uint8_t> key = a < b ? a : b;
  const auto& other = a < b ? b : a;
  key.insert(key.end(), other.begin(), other.end());
  key.push_back(p.protocol);
  return flows_.insert(std::move(key)).second;
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
                           uint64_t wallSec) {
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

void HookPipeline::sendLocal(std::vector<uint8_t> l3, PipelineResult& parent, uint64_t nowNs, uint64_t wallSec) {
  using F = PipelineResult::Fate;
  PipelineResult out;
  out.outputPath = true;
  PacketView pv;
  if (parseL3(rs_.family, l3.data(), uint32_t(l3.size()), pv) != L3Status::Ok) return;
  pv.localSource = true;
  pv.outIface = routeIface(pv.dst);
  const bool first = firstPacketOfFlow(pv);
  bool ok = runHook(pv, "raw", Hook::LocalOut, out, nowNs, wallSec) &&
            runHook(pv, "mangle", Hook::LocalOut, out, nowNs, wallSec) &&
            (!first || runHook(pv, "nat", Hook::LocalOut, out, nowNs, wallSec)) &&
            runHook(pv, "filter", Hook::LocalOut, out, nowNs, wallSec) &&
            runHook(pv, "security", Hook::LocalOut, out, nowNs, wallSec) &&
            runHook(pv, "mangle", Hook::PostRouting, out, nowNs, wallSec) &&
            (!first || runHook(pv, "nat", Hook::PostRouting, out, nowNs, wallSec));
  if (ok) {
    out.fate = F::Sent;
    parent.emitted.push_back({EmittedPacket::Kind::Reply, pv.outIface, std::vector<uint8_t>(l3.begin(), l3.begin() + pv.len)});
  }
  // A generated packet that is itself rejected gets no further reply here:
  // the kernel would loop it back through the input path.
  parent.replies.push_back(std::move(out));
}

PipelineResult HookPipeline::process(uint8_t* l3, uint32_t len, PktType pktType, std::array<uint8_t, 6> srcMac,
                                     bool hasMac, uint64_t nowNs, uint64_t wallSec, const std::string& inIface) {
  using F = PipelineResult::Fate;
  PipelineResult out;
  PacketView pv;
  out.l3 = parseL3(rs_.family, l3, len, pv);
  if (out.l3 != L3Status::Ok) {
    out.fate = F::Malformed;
    out.reason = l3StatusName(out.l3);
    return out;
  }
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
  // REJECT's reply leaves through the OUTPUT path.
  auto afterReject = [&]() {
    if (!out.effects.rejectSent || !host_.localReplies) return;
    std::optional<std::vector<uint8_t>> reply;
    if (out.effects.rejectType == 255) {
      reply = buildTcpReset(pv);
    } else {
      reply = buildIcmpError(pv, out.effects.rejectType, out.effects.rejectCode, icmpErrorSource(pv));
    }
    if (reply) sendLocal(std::move(*reply), out, nowNs, wallSec);
  };

  const bool first = firstPacketOfFlow(pv);
  if (!hook("raw", Hook::PreRouting) || !hook("mangle", Hook::PreRouting) ||
      (first && !hook("nat", Hook::PreRouting))) {
    afterReject();
    return out;
  }

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
        (first && !hook("nat", Hook::LocalIn))) {
      afterReject();
      return out;
    }
    out.fate = F::Delivered;
    if (host_.localReplies)
      if (auto reply = localStackReply(pv)) sendLocal(std::move(*reply), out, nowNs, wallSec);
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
      !hook("mangle", Hook::PostRouting) || (first && !hook("nat", Hook::PostRouting))) {
    afterReject();
    return out;
  }
  out.fate = F::Forwarded;
  out.emitted.push_back({EmittedPacket::Kind::Forwarded, pv.outIface, std::vector<uint8_t>(l3, l3 + pv.len)});
  return out;
}

}  // namespace nfjit
