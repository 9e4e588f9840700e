#include "tests/support/RulesetPackets.h"

#include <set>
#include <sstream>

#include "compiler/extensions/ArgParse.h"
#include "compiler/frontend/Printer.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RandomRuleset.h"

namespace nfjit::testing {
namespace {

bool usableUnicast(Family f, const IpAddr& a, const std::vector<IpAddr>& local) {
  for (const auto& l : local)
    if (l == a) return false;
  if (f == Family::IPv4) {
    uint32_t v = a.v4();
    uint8_t top = uint8_t(v >> 24);
    return top != 0 && top != 127 && top < 224 && (v & 0xff) != 0xff && (v & 0xff) != 0;
  }
  // Global unicast only: no ::, ::1, v4-mapped, link-local or multicast.
  return (a.b[0] & 0xe0) == 0x20;
}

IpAddr lastInPrefix(Family f, const IpAddr& net, const IpAddr& mask) {
  IpAddr r;
  for (unsigned i = 0; i < addrBytes(f); ++i) r.b[i] = uint8_t(net.b[i] | ~mask.b[i]);
  return r;
}

IpAddr plusOne(Family f, IpAddr a) {
  for (int i = int(addrBytes(f)) - 1; i >= 0; --i)
    if (++a.b[size_t(i)] != 0) break;
  return a;
}

}  // namespace

std::vector<std::vector<uint8_t>> packetsForRuleset(const Ruleset& rs, const std::vector<IpAddr>& local,
                                                    uint64_t seed, unsigned count) {
  const Family f = rs.family;
  Rng rng(seed);
  std::vector<IpAddr> addrs;
  std::set<unsigned> ports = {22, 53, 80, 443, 1024, 65535};
  std::set<uint8_t> protos = {6, 17, uint8_t(f == Family::IPv4 ? 1 : 58)};
  for (const auto& t : rs.tables)
    for (const auto& c : t.chains)
      for (const auto& r : c.rules) {
        for (const auto* pair : {&r.ip.src, &r.ip.dst}) {
          const IpAddr& mask = pair == &r.ip.src ? r.ip.srcMask : r.ip.dstMask;
          IpAddr last = lastInPrefix(f, *pair, mask);
          for (const IpAddr& a : {*pair, plusOne(f, *pair), last, plusOne(f, last)})
            if (usableUnicast(f, a, local)) addrs.push_back(a);
        }
        if (r.ip.proto && r.ip.proto != 58 && r.ip.proto != 1) protos.insert(uint8_t(r.ip.proto));
        // Port values from the canonical text of port options.
        std::istringstream words(printRule(r, c.name, f));
        std::string w, prev;
        while (words >> w) {
          if (prev.find("port") != std::string::npos && prev.rfind("--", 0) == 0) {
            for (auto part : args::split(w, ','))
              for (auto end : args::split(part, ':'))
                if (auto v = args::parseUInt(end, 0, 65535)) {
                  ports.insert(unsigned(*v));
                  if (*v > 0) ports.insert(unsigned(*v - 1));
                  if (*v < 65535) ports.insert(unsigned(*v + 1));
                }
          }
          prev = w;
        }
      }
  std::vector<IpAddr> fallback = {*parseIpAddr(f, f == Family::IPv4 ? "203.0.113.9" : "2001:db8:3::9"),
                                  *parseIpAddr(f, f == Family::IPv4 ? "100.64.0.9" : "2001:db8:4::9")};
  addrs.insert(addrs.end(), fallback.begin(), fallback.end());
  std::vector<IpAddr> dsts = addrs;
  dsts.insert(dsts.end(), local.begin(), local.end());
  std::vector<unsigned> portList(ports.begin(), ports.end());
  std::vector<uint8_t> protoList(protos.begin(), protos.end());
  std::vector<std::vector<uint8_t>> out;
  for (unsigned i = 0; i < count; ++i) {
    PacketSpec s;
    s.family = f;
    IpAddr src = rng.pick(addrs), dst = rng.pick(dsts);
    s.src = formatIpAddr(f, src);
    s.dst = formatIpAddr(f, dst);
    bool toLocal = false;
    for (const auto& l : local) toLocal = toLocal || l == dst;
    s.proto = rng.pick(protoList);
    // The host's answers to unknown protocols are not modelled: local traffic is tcp/udp/icmp.
    if (toLocal && s.proto != 6 && s.proto != 17 && s.proto != 1 && s.proto != 58) s.proto = 17;
    s.sport = uint16_t(rng.pick(portList));
    s.dport = uint16_t(rng.pick(portList));
    static const std::vector<uint8_t> flags = {0x02, 0x12, 0x10, 0x04, 0x11, 0x00};
    s.tcpFlags = rng.pick(flags);
    s.icmpType = f == Family::IPv4 ? uint8_t(rng.chance(50) ? 8 : 3) : uint8_t(rng.chance(50) ? 128 : 1);
    s.ttl = rng.chance(10) ? 1 : 64;
    s.payload = rng.below(40);
    out.push_back(buildPacket(s));
  }
  return out;
}

}  // namespace nfjit::testing
