#include "runtime/pipeline/HookPipeline.h"

#include "runtime/packet/PacketParser.h"

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
  }
  return "?";
}

HookPipeline::HookPipeline(const Ruleset& rs, HostModel host) : rs_(rs), host_(std::move(host)), interp_(rs) {}

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

PipelineResult HookPipeline::process(uint8_t* l3, uint32_t len, PktType pktType, std::array<uint8_t, 6> srcMac,
                                     bool hasMac, uint64_t nowNs, uint64_t wallSec) {
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
  pv.inIface = host_.inIface;

  auto hook = [&](const char* table, Hook h) -> bool {
    EvalContext ctx{pv};
    ctx.nowNs = nowNs;
    ctx.wallSec = wallSec;
    HookStep step{table, h, interp_.run(table, h, ctx)};
    bool ran = !step.result.matched.empty() || step.result.hotdrop;
    const Verdict v = step.result.verdict;
    // Side effects accumulate over the packet's whole path.
    auto& e = ctx.effects;
    if (e.nat) out.effects.nat = e.nat;
    for (auto& l : e.logs) out.effects.logs.push_back(l);
    out.effects.notrack |= e.notrack;
    if (!e.ctHelper.empty()) out.effects.ctHelper = e.ctHelper;
    if (e.rejectSent) {
      out.effects.rejectSent = true;
      out.effects.rejectType = e.rejectType;
      out.effects.rejectCode = e.rejectCode;
    }
    out.effects.trace |= e.trace;
    if (ran) out.steps.push_back(std::move(step));
    switch (v) {
      case Verdict::Accept:
      case Verdict::Continue:
      case Verdict::Return:
      case Verdict::Jump:
      case Verdict::Goto:
        return true;
      case Verdict::Drop: out.fate = F::Dropped; return false;
      case Verdict::Stolen: out.fate = F::Stolen; return false;
      case Verdict::Queue: out.fate = F::Queued; return false;
    }
    return false;
  };
  auto has = [&](const char* table) { return rs_.findTable(table) != nullptr; };

  const bool first = firstPacketOfFlow(pv);
  if (has("raw") && !hook("raw", Hook::PreRouting)) return out;
  if (has("mangle") && !hook("mangle", Hook::PreRouting)) return out;
  if (first && has("nat") && !hook("nat", Hook::PreRouting)) return out;

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
    if (has("mangle") && !hook("mangle", Hook::LocalIn)) return out;
    if (has("filter") && !hook("filter", Hook::LocalIn)) return out;
    if (has("security") && !hook("security", Hook::LocalIn)) return out;
    if (first && has("nat") && !hook("nat", Hook::LocalIn)) return out;
    out.fate = F::Delivered;
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
  pv.outIface = host_.outIface;
  if (has("mangle") && !hook("mangle", Hook::Forward)) return out;
  if (has("filter") && !hook("filter", Hook::Forward)) return out;
  if (has("security") && !hook("security", Hook::Forward)) return out;
  if (has("mangle") && !hook("mangle", Hook::PostRouting)) return out;
  if (first && has("nat") && !hook("nat", Hook::PostRouting)) return out;
  out.fate = F::Forwarded;
  return out;
}

}  // namespace nfjit
