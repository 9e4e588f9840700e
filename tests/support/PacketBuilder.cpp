#include "tests/support/PacketBuilder.h"

#include <stdexcept>

#include "runtime/packet/PacketParser.h"

namespace nfjit::testing {
namespace {

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

uint32_t pseudoSum(Family f, const IpAddr& s, const IpAddr& d, uint8_t proto, uint32_t len) {
  uint32_t sum = 0;
  unsigned n = addrBytes(f);
  for (unsigned i = 0; i < n; i += 2) {
    sum += uint32_t(s.b[i]) << 8 | s.b[i + 1];
    sum += uint32_t(d.b[i]) << 8 | d.b[i + 1];
  }
  sum += proto;
  sum += len >> 16;
  sum += len & 0xffff;
  return sum;
}

}  // namespace

std::vector<uint8_t> buildPacket(const PacketSpec& s) {
  auto src = parseIpAddr(s.family, s.src), dst = parseIpAddr(s.family, s.dst);
  if (!src || !dst) throw std::invalid_argument("bad address in PacketSpec");
  std::vector<uint8_t> l4;
  if (s.proto == 6) {
    std::vector<uint8_t> opts = s.tcpOptions;
    while (opts.size() % 4) opts.push_back(0);
    l4.assign(20 + opts.size() + s.payload, 0);
    put16(l4, 0, s.sport);
    put16(l4, 2, s.dport);
    l4[12] = static_cast<uint8_t>(((20 + opts.size()) / 4) << 4);
    l4[13] = s.tcpFlags;
    put16(l4, 14, 65535);
    std::copy(opts.begin(), opts.end(), l4.begin() + 20);
  } else if (s.proto == 17 || s.proto == 136) {
    l4.assign(8 + s.payload, 0);
    put16(l4, 0, s.sport);
    put16(l4, 2, s.dport);
    put16(l4, 4, static_cast<uint16_t>(l4.size()));
  } else if (s.proto == 1 || s.proto == 58) {
    l4.assign(8 + s.payload, 0);
    l4[0] = s.icmpType;
    l4[1] = s.icmpCode;
  } else {
    l4.assign(s.payload, 0);
  }
  std::vector<uint8_t> pkt;
  if (s.family == Family::IPv4) {
    pkt.assign(20, 0);
    pkt[0] = 0x45;
    pkt[1] = s.tos;
    put16(pkt, 2, static_cast<uint16_t>(20 + l4.size()));
    put16(pkt, 6, static_cast<uint16_t>((s.moreFragments ? 0x2000 : 0) | (s.fragOffset & 0x1fff)));
    pkt[8] = s.ttl;
    pkt[9] = s.proto;
    std::copy(src->b.begin(), src->b.begin() + 4, pkt.begin() + 12);
    std::copy(dst->b.begin(), dst->b.begin() + 4, pkt.begin() + 16);
    put16(pkt, 10, internetChecksum(pkt.data(), 20));
  } else {
    pkt.assign(40, 0);
    pkt[0] = static_cast<uint8_t>(0x60 | s.tos >> 4);
    pkt[1] = static_cast<uint8_t>(s.tos << 4);
    put16(pkt, 4, static_cast<uint16_t>(l4.size()));
    pkt[6] = s.proto;
    pkt[7] = s.ttl;
    std::copy(src->b.begin(), src->b.end(), pkt.begin() + 8);
    std::copy(dst->b.begin(), dst->b.end(), pkt.begin() + 24);
  }
  // Transport checksums (not for later fragments, which carry no header).
  if (s.fragOffset == 0) {
    size_t csumAt = s.proto == 6 ? 16 : (s.proto == 17 || s.proto == 136) ? 6 : (s.proto == 1 || s.proto == 58) ? 2 : 0;
    if (csumAt && l4.size() >= csumAt + 2) {
      uint32_t init = s.proto == 1 ? 0 : pseudoSum(s.family, *src, *dst, s.proto, static_cast<uint32_t>(l4.size()));
      uint16_t c = internetChecksum(l4.data(), static_cast<uint32_t>(l4.size()), init);
      if (s.proto == 17 && c == 0) c = 0xffff;
      put16(l4, csumAt, c);
    }
  }
  pkt.insert(pkt.end(), l4.begin(), l4.end());
  return pkt;
}

}  // namespace nfjit::testing
