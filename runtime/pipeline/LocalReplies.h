// Packets the host itself sends in answer to a received one: the local
// stack's replies to delivered packets (TCP RST for closed ports, ICMP port
// and protocol unreachable, echo replies), REJECT's replies, and ICMP time
// exceeded from forwarding. They leave through the OUTPUT path, so they
// count in OUTPUT and POSTROUTING chains like the kernel's own.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/packet/PacketView.h"

namespace nfjit {

struct LocalReplyConfig {
  uint8_t defaultTtl = 64;  // net.ipv4.ip_default_ttl / IPv6 hop_limit
};

// ICMP(v6) error quoting `orig`, from `src`; nullopt where the kernel sends
// none (errors about errors, later fragments, broadcast/multicast...).
std::optional<std::vector<uint8_t>> buildIcmpError(const PacketView& orig, uint8_t type, uint8_t code,
                                                   const IpAddr& src, const LocalReplyConfig& cfg = {});
// The RST the kernel answers a TCP segment with (nf_send_reset / tcp_v4_send_reset):
// addresses and ports swapped; nullopt for RSTs and unreadable headers.
std::optional<std::vector<uint8_t>> buildTcpReset(const PacketView& orig, const LocalReplyConfig& cfg = {});
// What the local stack of a host with no open sockets answers to a packet
// delivered to it; `errorSrc` is the source for ICMP errors.
std::optional<std::vector<uint8_t>> localStackReply(const PacketView& delivered, const LocalReplyConfig& cfg = {});

}  // namespace nfjit
