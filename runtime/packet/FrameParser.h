// Link-layer framing in front of the IP header: Ethernet II with 802.1Q /
// 802.1ad VLAN tags, or raw IP. What netfilter's iptables hooks see starts at
// the IP header; frames that carry no IP of the family are not classified.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "runtime/packet/PacketParser.h"

namespace nfjit {

enum class LinkType : uint8_t { Ethernet, RawIp, RawIpv4, RawIpv6 };

struct Frame {
  bool hasMac = false;
  std::array<uint8_t, 6> dstMac{}, srcMac{};
  std::vector<uint16_t> vlanIds;   // outer first
  uint16_t etherType = 0;          // after VLAN tags
  uint32_t l3Offset = 0;           // where the IP header starts
  bool isIp = false;
  Family family = Family::IPv4;
};

// Finds the IP header inside a frame; false when the frame is too short for
// its own link header (counted as malformed by the caller).
bool parseFrame(LinkType link, const uint8_t* data, uint32_t len, Frame& out);

// skb->pkt_type from the destination MAC, as eth_type_trans() decides it.
PktType classifyPktType(const Frame& f, const std::array<uint8_t, 6>& ifaceMac, bool knowIfaceMac);

}  // namespace nfjit
