#include "runtime/packet/FrameParser.h"

namespace nfjit {

bool parseFrame(LinkType link, const uint8_t* data, uint32_t len, Frame& out) {
  out = Frame{};
  if (link != LinkType::Ethernet) {
    if (len < 1) return false;
    unsigned version = data[0] >> 4;
    out.l3Offset = 0;
    if (link == LinkType::RawIpv4 || (link == LinkType::RawIp && version == 4)) {
      out.isIp = true;
      out.family = Family::IPv4;
    } else if (link == LinkType::RawIpv6 || (link == LinkType::RawIp && version == 6)) {
      out.isIp = true;
      out.family = Family::IPv6;
    }
    return true;
  }
  if (len < 14) return false;
  out.hasMac = true;
  for (int i = 0; i < 6; ++i) {
    out.dstMac[i] = data[i];
    out.srcMac[i] = data[6 + i];
  }
  uint32_t off = 12;
  uint16_t type = be16(data + off);
  // Stacked tags: 802.1ad (0x88a8), 802.1Q (0x8100) and the old QinQ 0x9100.
  while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
    if (off + 6 > len) return false;
    out.vlanIds.push_back(static_cast<uint16_t>(be16(data + off + 2) & 0x0fff));
    off += 4;
    type = be16(data + off);
  }
  out.etherType = type;
  out.l3Offset = off + 2;
  if (type == 0x0800) {
    out.isIp = true;
    out.family = Family::IPv4;
  } else if (type == 0x86dd) {
    out.isIp = true;
    out.family = Family::IPv6;
  }
  return true;
}

PktType classifyPktType(const Frame& f, const std::array<uint8_t, 6>& ifaceMac, bool knowIfaceMac) {
  if (!f.hasMac) return PktType::Host;
  if (f.dstMac[0] & 1) {
    bool bcast = true;
    for (auto b : f.dstMac) bcast = bcast && b == 0xff;
    return bcast ? PktType::Broadcast : PktType::Multicast;
  }
  if (knowIfaceMac && f.dstMac != ifaceMac) return PktType::OtherHost;
  return PktType::Host;
}

}  // namespace nfjit
