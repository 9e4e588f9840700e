// ICMP and ICMPv6 type names as iptables knows them, and the
// "type[/code]" / name parser shared by -m icmp and -m icmp6.
#pragma once
#include <strings.h>

#include <span>

#include "compiler/extensions/hdr_common.h"

namespace nfjit::hdr {

struct IcmpName {
  const char* name;
  uint8_t type, codeMin, codeMax;
};

inline constexpr IcmpName kIcmpNames[] = {
    {"any", 0xff, 0, 0xff},
    {"echo-reply", 0, 0, 0xff},
    {"pong", 0, 0, 0xff},
    {"destination-unreachable", 3, 0, 0xff},
    {"network-unreachable", 3, 0, 0},
    {"host-unreachable", 3, 1, 1},
    {"protocol-unreachable", 3, 2, 2},
    {"port-unreachable", 3, 3, 3},
    {"fragmentation-needed", 3, 4, 4},
    {"source-route-failed", 3, 5, 5},
    {"network-unknown", 3, 6, 6},
    {"host-unknown", 3, 7, 7},
    {"network-prohibited", 3, 9, 9},
    {"host-prohibited", 3, 10, 10},
    {"TOS-network-unreachable", 3, 11, 11},
    {"TOS-host-unreachable", 3, 12, 12},
    {"communication-prohibited", 3, 13, 13},
    {"host-precedence-violation", 3, 14, 14},
    {"precedence-cutoff", 3, 15, 15},
    {"source-quench", 4, 0, 0xff},
    {"redirect", 5, 0, 0xff},
    {"network-redirect", 5, 0, 0},
    {"host-redirect", 5, 1, 1},
    {"TOS-network-redirect", 5, 2, 2},
    {"TOS-host-redirect", 5, 3, 3},
    {"echo-request", 8, 0, 0xff},
    {"ping", 8, 0, 0xff},
    {"router-advertisement", 9, 0, 0xff},
    {"router-solicitation", 10, 0, 0xff},
    {"time-exceeded", 11, 0, 0xff},
    {"ttl-exceeded", 11, 0, 0xff},
    {"ttl-zero-during-transit", 11, 0, 0},
    {"ttl-zero-during-reassembly", 11, 1, 1},
    {"parameter-problem", 12, 0, 0xff},
    {"ip-header-bad", 12, 0, 0},
    {"required-option-missing", 12, 1, 1},
    {"timestamp-request", 13, 0, 0xff},
    {"timestamp-reply", 14, 0, 0xff},
    {"info-request", 15, 0, 0xff},
    {"info-reply", 16, 0, 0xff},
    {"address-mask-request", 17, 0, 0xff},
    {"address-mask-reply", 18, 0, 0xff},
};

inline constexpr IcmpName kIcmp6Names[] = {
    {"destination-unreachable", 1, 0, 0xff},
    {"no-route", 1, 0, 0},
    {"communication-prohibited", 1, 1, 1},
    {"beyond-scope", 1, 2, 2},
    {"address-unreachable", 1, 3, 3},
    {"port-unreachable", 1, 4, 4},
    {"failed-policy", 1, 5, 5},
    {"reject-route", 1, 6, 6},
    {"packet-too-big", 2, 0, 0xff},
    {"time-exceeded", 3, 0, 0xff},
    {"ttl-exceeded", 3, 0, 0xff},
    {"ttl-zero-during-transit", 3, 0, 0},
    {"ttl-zero-during-reassembly", 3, 1, 1},
    {"parameter-problem", 4, 0, 0xff},
    {"bad-header", 4, 0, 0},
    {"unknown-header-type", 4, 1, 1},
    {"unknown-option", 4, 2, 2},
    {"echo-request", 128, 0, 0xff},
    {"ping", 128, 0, 0xff},
    {"echo-reply", 129, 0, 0xff},
    {"pong", 129, 0, 0xff},
    {"mld-listener-query", 130, 0, 0xff},
    {"mld-listener-report", 131, 0, 0xff},
    {"mld-listener-done", 132, 0, 0xff},
    {"mld-listener-reduction", 132, 0, 0xff},
    {"router-solicitation", 133, 0, 0xff},
    {"router-advertisement", 134, 0, 0xff},
    {"neighbour-solicitation", 135, 0, 0xff},
    {"neighbor-solicitation", 135, 0, 0xff},
    {"neighbour-advertisement", 136, 0, 0xff},
    {"neighbor-advertisement", 136, 0, 0xff},
    {"redirect", 137, 0, 0xff},
};

struct IcmpSpec {
  uint8_t type = 0, codeMin = 0, codeMax = 0xff;
};

// Reads "N" or "N:M" (0-255) at s[pos], advancing pos.
inline bool icmpNumRange(std::string_view s, size_t& pos, unsigned& lo, unsigned& hi) {
  auto readNum = [&](unsigned& out) {
    size_t end = pos;
    while (end < s.size() && std::isalnum(static_cast<unsigned char>(s[end]))) ++end;
    auto v = args::parseUInt(s.substr(pos, end - pos), 0, 255);
    if (!v) return false;
    out = static_cast<unsigned>(*v);
    pos = end;
    return true;
  };
  if (!readNum(lo)) return false;
  hi = lo;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!readNum(hi)) return false;
  }
  return true;
}

// iptables' rule: a name is matched case-insensitively by unique prefix;
// otherwise "type[/code[:code]]" numerically; type ranges are refused.
inline IcmpSpec parseIcmpType(const OptionArg& a, std::span<const IcmpName> names, const char* what) {
  const IcmpName* hit = nullptr;
  for (const auto& n : names) {
    if (strncasecmp(n.name, a.value.c_str(), a.value.size()) != 0 || a.value.empty()) continue;
    if (hit)
      a.fail(std::string("Ambiguous ") + what + " type `" + a.value + "': `" + hit->name + "' or `" + n.name +
             "'?");
    hit = &n;
  }
  if (hit) return {hit->type, hit->codeMin, hit->codeMax};
  std::string_view s = a.value;
  size_t pos = 0;
  unsigned tlo, thi;
  if (!icmpNumRange(s, pos, tlo, thi)) a.fail(std::string("Unknown ") + what + " type `" + a.value + "'");
  IcmpSpec spec;
  spec.type = static_cast<uint8_t>(tlo);
  if (pos < s.size()) {
    if (s[pos] != '/')
      a.fail(std::string("unknown character `") + s[pos] + "' in " + what + " type `" + a.value + "'");
    ++pos;
    unsigned clo, chi;
    if (!icmpNumRange(s, pos, clo, chi))
      a.fail(std::string("Unknown ") + what + " code in `" + a.value + "'");
    if (pos < s.size())
      a.fail(std::string("unknown character `") + s[pos] + "' in " + what + " type `" + a.value + "'");
    spec.codeMin = static_cast<uint8_t>(clo);
    spec.codeMax = static_cast<uint8_t>(chi);
  }
  if (tlo != thi) a.fail(std::string(what) + " type range `" + a.value + "' not supported");
  return spec;
}

}  // namespace nfjit::hdr
