// Builds IPv4/IPv6 packets with valid checksums for tests.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compiler/ir/Types.h"

namespace nfjit::testing {

struct PacketSpec {
  Family family = Family::IPv4;
  std::string src = "192.0.2.10", dst = "198.51.100.20";
  uint8_t proto = 6;  // 6 tcp, 17 udp, 1 icmp, 58 icmpv6, other: raw payload
  uint16_t sport = 40000, dport = 80;
  uint8_t tcpFlags = 0x02;  // SYN
  uint8_t icmpType = 8, icmpCode = 0;
  uint8_t ttl = 64, tos = 0;
  uint16_t fragOffset = 0;  // IPv4: in 8-byte units
  bool moreFragments = false;
  std::vector<uint8_t> tcpOptions;  // padded to 4 bytes
  size_t payload = 0;
};

// A flow's packet by its addresses and ports, the rest at the defaults.
inline PacketSpec flowPacket(Family f, std::string src, std::string dst, uint8_t proto, uint16_t sport,
                             uint16_t dport) {
  PacketSpec p;
  p.family = f;
  p.src = std::move(src);
  p.dst = std::move(dst);
  p.proto = proto;
  p.sport = sport;
  p.dport = dport;
  return p;
}

// The packet from the IP header on.
std::vector<uint8_t> buildPacket(const PacketSpec& spec);

}  // namespace nfjit::testing
