// Fills a PacketView from raw IP bytes the way the kernel's IP layer does
// before the first netfilter hook: malformed headers are dropped there
// (ip_rcv / ipv6_rcv), so they are reported, never classified.
#pragma once
#include <cstdint>

#include "runtime/packet/PacketView.h"

namespace nfjit {

enum class L3Status : uint8_t {
  Ok,
  Truncated,      // shorter than the fixed header
  BadVersion,
  BadHeaderLength,  // IHL < 5 or beyond the data
  BadTotalLength,   // total/payload length beyond the data or below the header
  BadChecksum,      // IPv4 header checksum
};
const char* l3StatusName(L3Status s);

// Parses the IP header at data[0..len). On Ok, `out.len` is trimmed to the
// IP total length (trailing link padding is not part of the packet);
// `out.capacity` is len, all of which a target may write.
L3Status parseL3(Family family, uint8_t* data, uint32_t len, PacketView& out);

// RFC 1071 checksum over a buffer (used for IPv4 header checks and rewrites).
uint16_t internetChecksum(const uint8_t* data, uint32_t len, uint32_t initial = 0);

}  // namespace nfjit
