// Helpers shared by the protocol/header matches: range tests, the IPv6
// extension-header walk (the kernel's ipv6_find_hdr), DS-field reads and
// /etc/protocols look-ups.
#pragma once
#include <netdb.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit::hdr {

inline bool inRange(uint64_t v, const args::Range& r) { return v >= r.lo && v <= r.hi; }

// Saves " [!] --name LO[:HI]" the way iptables prints numeric ranges.
inline void saveRange(SaveWriter& w, std::string_view name, const args::Range& r, bool inv) {
  w.opt(name, inv).word(args::formatRange(r));
}

// IPv6 next-header values.
constexpr uint8_t kNhHop = 0, kNhRouting = 43, kNhFragment = 44, kNhEsp = 50, kNhAuth = 51, kNhNone = 59,
                  kNhDest = 60;

// The headers ipv6_find_hdr() steps over (ESP is not one of them).
inline bool ipv6ExtHdr(uint8_t nh) {
  return nh == kNhHop || nh == kNhRouting || nh == kNhFragment || nh == kNhAuth || nh == kNhNone ||
         nh == kNhDest;
}

enum FindResult : int { kFound = 0, kNoEnt = -1, kBadMsg = -2 };

// Walks the extension-header chain from the fixed IPv6 header looking for
// `target`, as ipv6_find_hdr(skb, &off, target, NULL, NULL) does: a
// non-first fragment ends the walk (the rest is not parseable), a header
// that cannot be read is an error (the caller hotdrops).
inline FindResult ipv6FindHdr(const PacketView& p, uint8_t target, uint32_t& off) {
  uint8_t fixed[40];
  if (!headerAt(p, 0, fixed, sizeof fixed)) return kBadMsg;
  uint8_t nh = fixed[6];
  uint32_t start = 40;
  while (nh != target) {
    if (!ipv6ExtHdr(nh) || nh == kNhNone) return kNoEnt;
    uint8_t h[2];
    if (!headerAt(p, start, h, 2)) return kBadMsg;
    uint32_t hlen;
    if (nh == kNhFragment) {
      uint8_t fo[2];
      if (!headerAt(p, start + 2, fo, 2)) return kBadMsg;
      if ((be16(fo) & ~0x7u) != 0) return kNoEnt;
      hlen = 8;
    } else if (nh == kNhAuth) {
      hlen = (uint32_t(h[1]) + 2) << 2;
    } else {
      hlen = (uint32_t(h[1]) + 1) << 3;
    }
    nh = h[0];
    start += hlen;
  }
  off = start;
  return kFound;
}

// Shared tail of the kernel's extension-header matches: a missing header is
// a plain mismatch, an unreadable chain drops the packet.
inline bool findOrDrop(EvalContext& ctx, uint8_t target, uint32_t& off) {
  FindResult r = ipv6FindHdr(ctx.pkt, target, off);
  if (r == kBadMsg) ctx.hotdrop = true;
  return r == kFound;
}

// IPv4 TOS byte or IPv6 traffic class, read from the header itself so that
// rewrites by earlier targets are seen.
inline uint8_t dsfield(const PacketView& p) {
  uint8_t b[2];
  if (p.family == Family::IPv4) {
    if (headerAt(p, 0, b, 2)) return b[1];
  } else if (headerAt(p, 0, b, 2)) {
    return static_cast<uint8_t>((b[0] & 0x0f) << 4 | b[1] >> 4);
  }
  return p.tos;
}

// TTL (IPv4) or hop limit (IPv6) from the header.
inline uint8_t ttlOrHopLimit(const PacketView& p) {
  uint8_t b;
  if (headerAt(p, p.family == Family::IPv4 ? 8 : 7, &b, 1)) return b;
  return p.ttl;
}

// /etc/protocols look-ups (not reentrant, hence the lock).
inline std::mutex& protoDbMutex() {
  static std::mutex mu;
  return mu;
}
inline std::optional<uint8_t> protoByName(const std::string& name) {
  std::lock_guard<std::mutex> lock(protoDbMutex());
  if (const protoent* pe = getprotobyname(name.c_str())) return static_cast<uint8_t>(pe->p_proto);
  return std::nullopt;
}
inline std::optional<std::string> protoNameOf(uint8_t num) {
  std::lock_guard<std::mutex> lock(protoDbMutex());
  if (const protoent* pe = getprotobynumber(num)) return std::string(pe->p_name);
  return std::nullopt;
}

// x_tables' protocol check for matches bound to one protocol (.proto):
// `-p PROTO` is required and may not be inverted.
inline void requireProto(const RuleContext& ctx, uint16_t proto, std::string_view match,
                         std::string_view pname) {
  if (ctx.proto != proto || ctx.protoInverted)
    ctx.fail(std::string(match) + " match requires `-p " + std::string(pname) + "'");
}

}  // namespace nfjit::hdr
