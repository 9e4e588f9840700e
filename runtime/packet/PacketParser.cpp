#include "runtime/packet/PacketParser.h"

namespace nfjit {

const char* l3StatusName(L3Status s) {
  switch (s) {
    case L3Status::Ok: return "ok";
    case L3Status::Truncated: return "truncated";
    case L3Status::BadVersion: return "bad-version";
    case L3Status::BadHeaderLength: return "bad-header-length";
    case L3Status::BadTotalLength: return "bad-total-length";
    case L3Status::BadChecksum: return "bad-checksum";
  }
  return "?";
}

uint16_t internetChecksum(const uint8_t* data, uint32_t len, uint32_t sum) {
  for (uint32_t i = 0; i + 1 < len; i += 2) sum += uint32_t(data[i]) << 8 | data[i + 1];
  if (len & 1) sum += uint32_t(data[len - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

namespace {

bool isIpv6ExtHeader(uint8_t nh) {
  return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 59 || nh == 60;
}

// ipv6_find_hdr() looking for the upper-layer header: walks hop-by-hop,
// routing, fragment, AH and destination options headers.
void findUpperLayer(PacketView& p) {
  uint8_t nexthdr = p.data[6];
  uint32_t offset = 40;
  p.fragoff = 0;
  p.fragmented = false;
  for (;;) {
    if (!isIpv6ExtHeader(nexthdr) || nexthdr == 59) break;
    uint8_t hdr[2];
    if (!headerAt(p, offset, hdr, 2)) {
      p.protocolFound = false;
      return;
    }
    uint32_t hdrlen;
    if (nexthdr == 44) {
      uint8_t fo[2];
      if (!headerAt(p, offset + 2, fo, 2)) {
        p.protocolFound = false;
        return;
      }
      p.fragmented = true;
      uint16_t fragOff = static_cast<uint16_t>(be16(fo) & ~0x7);
      if (fragOff) {
        // A later fragment: the upper-layer header is elsewhere.
        p.fragoff = fragOff;
        if (!isIpv6ExtHeader(hdr[0]) || hdr[0] == 59) {
          p.protocol = hdr[0];
          p.thoff = offset + 8;
          p.protocolFound = true;
        } else {
          p.protocolFound = false;
        }
        return;
      }
      hdrlen = 8;
    } else if (nexthdr == 51) {
      hdrlen = (uint32_t(hdr[1]) + 2) << 2;
    } else {
      hdrlen = (uint32_t(hdr[1]) + 1) << 3;
    }
    nexthdr = hdr[0];
    offset += hdrlen;
  }
  p.protocol = nexthdr;
  p.thoff = offset;
  p.protocolFound = true;
}

}  // namespace

L3Status parseL3(Family family, uint8_t* data, uint32_t len, PacketView& out) {
  out.family = family;
  out.data = data;
  out.len = len;
  out.capacity = len;
  if (family == Family::IPv4) {
    if (len < 20) return L3Status::Truncated;
    if ((data[0] >> 4) != 4) return L3Status::BadVersion;
    uint32_t ihl = (data[0] & 0x0f) * 4u;
    if (ihl < 20 || ihl > len) return L3Status::BadHeaderLength;
    if (internetChecksum(data, ihl) != 0) return L3Status::BadChecksum;
    uint32_t total = be16(data + 2);
    if (total < ihl || total > len) return L3Status::BadTotalLength;
    out.len = total;
    out.tos = data[1];
    uint16_t frag = be16(data + 6);
    out.fragoff = frag & 0x1fff;
    out.fragmented = (frag & 0x3fff) != 0;
    out.ttl = data[8];
    out.protocol = data[9];
    out.protocolFound = true;
    out.src = IpAddr::fromV4(be32(data + 12));
    out.dst = IpAddr::fromV4(be32(data + 16));
    out.thoff = ihl;
    return L3Status::Ok;
  }
  if (len < 40) return L3Status::Truncated;
  if ((data[0] >> 4) != 6) return L3Status::BadVersion;
  uint32_t payload = be16(data + 4);
  if (payload + 40 > len) return L3Status::BadTotalLength;
  out.len = payload + 40;
  out.tos = static_cast<uint8_t>((data[0] & 0x0f) << 4 | data[1] >> 4);
  out.ttl = data[7];
  for (int i = 0; i < 16; ++i) {
    out.src.b[i] = data[8 + i];
    out.dst.b[i] = data[24 + i];
  }
  findUpperLayer(out);
  return L3Status::Ok;
}

}  // namespace nfjit
