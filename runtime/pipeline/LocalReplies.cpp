#include "runtime/pipeline/LocalReplies.h"

#include "runtime/packet/PacketParser.h"

namespace nfjit {
namespace {

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

uint32_t pseudoHeaderSum(Family f, const IpAddr& s, const IpAddr& d, uint8_t proto, uint32_t len) {
  uint32_t sum = 0;
  for (unsigned i = 0; i < addrBytes(f); i += 2) {
    sum += uint32_t(s.b[i]) << 8 | s.b[i + 1];
    sum += uint32_t(d.b[i]) << 8 | d.b[i + 1];
  }
  return sum + proto + (len >> 16) + (len & 0xffff);
}

// An IP header in front of `l4`, with the transport checksum at csumAt filled in.
std::vector<uint8_t> wrapIp(Family f, const IpAddr& src, const IpAddr& dst, uint8_t proto, uint8_t ttl, uint8_t tos,
                            std::vector<uint8_t> l4, size_t csumAt) {
  uint32_t init = (f == Family::IPv4 && proto == 1) ? 0 : pseudoHeaderSum(f, src, dst, proto, uint32_t(l4.size()));
  put16(l4, csumAt, 0);
  put16(l4, csumAt, internetChecksum(l4.data(), uint32_t(l4.size()), init));
  std::vector<uint8_t> ip;
  if (f == Family::IPv4) {
    ip.assign(20, 0);
    ip[0] = 0x45;
    ip[1] = tos;
    put16(ip, 2, uint16_t(20 + l4.size()));
    ip[8] = ttl;
    ip[9] = proto;
    std::copy(src.b.begin(), src.b.begin() + 4, ip.begin() + 12);
    std::copy(dst.b.begin(), dst.b.begin() + 4, ip.begin() + 16);
    put16(ip, 10, internetChecksum(ip.data(), 20));
  } else {
    ip.assign(40, 0);
    ip[0] = 0x60;
    put16(ip, 4, uint16_t(l4.size()));
    ip[6] = proto;
    ip[7] = ttl;
    std::copy(src.b.begin(), src.b.end(), ip.begin() + 8);
    std::copy(dst.b.begin(), dst.b.end(), ip.begin() + 24);
  }
  ip.insert(ip.end(), l4.begin(), l4.end());
  return ip;
}

bool isUnspecifiedOrMulticastSrc(const PacketView& p) {
  if (p.family == Family::IPv4) {
    uint32_t s = p.src.v4();
    return s == 0 || (s >> 28) == 0xe || s == 0xffffffffu;
  }
  IpAddr zero;
  return p.src == zero || p.src.b[0] == 0xff;
}

bool isMulticastOrBroadcastDst(const PacketView& p) {
  if (p.family == Family::IPv4) {
    uint32_t d = p.dst.v4();
    return (d >> 28) == 0xe || d == 0xffffffffu || p.pktType == PktType::Broadcast ||
           p.pktType == PktType::Multicast;
  }
  return p.dst.b[0] == 0xff;
}

}  // namespace

std::optional<std::vector<uint8_t>> buildIcmpError(const PacketView& orig, uint8_t type, uint8_t code,
                                                   const IpAddr& src, const LocalReplyConfig& cfg) {
  // RFC 1122 / icmp_send(): never about later fragments, multicast or
  // broadcast, or from a source that cannot be answered.
  if (orig.fragoff != 0 || isMulticastOrBroadcastDst(orig) || isUnspecifiedOrMulticastSrc(orig)) return std::nullopt;
  const bool v4 = orig.family == Family::IPv4;
  const uint8_t icmpProto = v4 ? 1 : 58;
  if (orig.protocol == icmpProto && orig.protocolFound) {
    uint8_t t = 0;
    if (!headerAt(orig, orig.thoff, &t, 1)) return std::nullopt;
    // Only informational messages may be answered with an error.
    bool isError = v4 ? !(t == 0 || t == 8 || t == 13 || t == 14 || t == 15 || t == 16 || t == 17 || t == 18)
                      : t < 128;
    if (isError) return std::nullopt;
  }
  // Quote as much of the original as fits the minimum MTU.
  uint32_t room = v4 ? 576 - 20 - 8 : 1280 - 40 - 8;
  uint32_t quote = std::min(orig.len, room);
  std::vector<uint8_t> l4(8 + quote, 0);
  l4[0] = type;
  l4[1] = code;
  std::copy(orig.data, orig.data + quote, l4.begin() + 8);
  uint8_t tos = v4 ? static_cast<uint8_t>((orig.tos & 0x1e) | 0xc0) : 0;
  return wrapIp(orig.family, src, orig.src, icmpProto, cfg.defaultTtl, tos, std::move(l4), 2);
}

std::optional<std::vector<uint8_t>> buildTcpReset(const PacketView& orig, const LocalReplyConfig& cfg) {
  if (orig.fragoff != 0 || orig.protocol != 6) return std::nullopt;
  if (isMulticastOrBroadcastDst(orig)) return std::nullopt;
  uint8_t th[20];
  if (!headerAt(orig, orig.thoff, th, 20)) return std::nullopt;
  uint8_t flags = th[13];
  if (flags & 0x04) return std::nullopt;  // never answer a RST
  std::vector<uint8_t> t(20, 0);
  t[0] = th[2];
  t[1] = th[3];
  t[2] = th[0];
  t[3] = th[1];
  t[12] = 5 << 4;
  if (flags & 0x10) {
    // ACK set: the RST takes its sequence number from the ACK.
    std::copy(th + 8, th + 12, t.begin() + 4);
    t[13] = 0x04;
  } else {
    uint32_t dataLen = orig.len - orig.thoff - (th[12] >> 4) * 4u;
    uint32_t ack = be32(th + 4) + dataLen + ((flags & 0x02) ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
    t[8] = uint8_t(ack >> 24);
    t[9] = uint8_t(ack >> 16);
    t[10] = uint8_t(ack >> 8);
    t[11] = uint8_t(ack);
    t[13] = 0x14;  // RST|ACK
  }
  return wrapIp(orig.family, orig.dst, orig.src, 6, cfg.defaultTtl, 0, std::move(t), 16);
}

std::optional<std::vector<uint8_t>> localStackReply(const PacketView& p, const LocalReplyConfig& cfg) {
  const bool v4 = p.family == Family::IPv4;
  if (!p.protocolFound) return std::nullopt;
  switch (p.protocol) {
    case 6:
      if (p.fragoff != 0) return std::nullopt;
      return buildTcpReset(p, cfg);
    case 17:
    case 136:
      // No socket listens: port unreachable (unicast only).
      return buildIcmpError(p, v4 ? 3 : 1, v4 ? 3 : 4, p.dst, cfg);
    case 1:
    case 58: {
      if ((p.protocol == 1) != v4 || p.fragoff != 0) return std::nullopt;
      uint8_t h[2];
      if (!headerAt(p, p.thoff, h, 2)) return std::nullopt;
      const uint8_t echoReq = v4 ? 8 : 128, echoRep = v4 ? 0 : 129;
      // The echo code is not checked: the reply copies it.
      if (h[0] != echoReq || isMulticastOrBroadcastDst(p)) return std::nullopt;
      std::vector<uint8_t> l4(p.data + p.thoff, p.data + p.len);
      l4[0] = echoRep;
      return wrapIp(p.family, p.dst, p.src, p.protocol, cfg.defaultTtl, v4 ? p.tos : 0, std::move(l4), 2);
    }
    case 2:   // IGMP is handled without a reply
      return std::nullopt;
    default:
      if (!v4) return buildIcmpError(p, 4, 1, p.dst, cfg);  // parameter problem: unknown next header
      return buildIcmpError(p, 3, 2, p.dst, cfg);           // protocol unreachable
  }
}

}  // namespace nfjit
