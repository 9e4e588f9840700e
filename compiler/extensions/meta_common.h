// Helpers shared by the state/metadata matches (conntrack, ipvs, policy,
// mark, connmark...): conntrack presence, address/mask printing and
// comparison in the forms libxtables uses.
#pragma once
#include <arpa/inet.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit::meta {

// Case-insensitive comparison of the first n characters, as strncasecmp().
inline bool prefixCaseEq(std::string_view word, std::string_view name) {
  if (word.size() > name.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(word[i])) !=
        std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  return true;
}
inline bool caseEq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && prefixCaseEq(a, b);
}

// IPS_* conntrack status bits (include/uapi/linux/netfilter/nf_conntrack_common.h).
constexpr uint32_t kIpsExpected = 1u << 0, kIpsSeenReply = 1u << 1, kIpsAssured = 1u << 2,
                   kIpsConfirmed = 1u << 3, kIpsSrcNat = 1u << 4, kIpsDstNat = 1u << 5;

// nf_ct_get() returns a conntrack only for NEW/ESTABLISHED/RELATED packets;
// INVALID and UNTRACKED packets carry none.
inline bool ctPresent(const ConnInfo& c) {
  return (c.state & (kCtNew | kCtEstablished | kCtRelated)) != 0;
}

// The model kernel's timer frequency (Debian's CONFIG_HZ_250): rate
// matches count time in jiffies like the kernel does.
constexpr uint64_t kHz = 250;
inline uint64_t jiffiesAt(uint64_t nowNs) { return nowNs / (1000000000ull / kHz); }
inline uint64_t msecsToJiffies(uint64_t ms) { return (ms * kHz + 999) / 1000; }

// atoi()/atoll(): optional blanks and sign, then leading digits; the rest
// is ignored (rate strings such as "5/sec" rely on that).
inline int64_t atoll(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  uint64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + uint64_t(s[i++] - '0');
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

// The unit after '/' in a rate: a case-insensitive prefix of second,
// minute, hour or day; returns the seconds per unit, 0 if unknown.
inline uint32_t rateUnitSeconds(std::string_view unit) {
  if (unit.empty()) return 0;
  if (prefixCaseEq(unit, "second")) return 1;
  if (prefixCaseEq(unit, "minute")) return 60;
  if (prefixCaseEq(unit, "hour")) return 3600;
  if (prefixCaseEq(unit, "day")) return 86400;
  return 0;
}

// Prints a period (scale units per packet) as iptables does: the largest
// unit that expresses it without losing more than the rounding allows.
// Returns the chosen unit in milliseconds.
inline uint64_t saveRate(SaveWriter& w, uint64_t period, uint64_t scale) {
  const std::pair<const char*, uint64_t> units[] = {
      {"day", scale * 86400}, {"hour", scale * 3600}, {"min", scale * 60}, {"sec", scale}};
  if (period == 0) {
    w.word("inf");
    return 0;
  }
  size_t i = 1;
  for (; i < 4; ++i)
    if (period > units[i].second || units[i].second / period < units[i].second % period) break;
  w.word(std::to_string(units[i - 1].second / period) + "/" + units[i - 1].first);
  return units[i - 1].second / scale * 1000;
}

// The conntrack state bits a packet presents to -m state / --ctstate.
// SNAT/DNAT are added from the status only where conntrack asks for them.
inline uint16_t packetStateBits(const ConnInfo& c, bool withNat) {
  if (!ctPresent(c)) return (c.state & kCtUntracked) ? kCtUntracked : kCtInvalid;
  uint16_t bits = c.state & (kCtNew | kCtEstablished | kCtRelated);
  if (withNat) {
    if ((c.status & kIpsSrcNat) || (c.state & kCtSnat)) bits |= kCtSnat;
    if ((c.status & kIpsDstNat) || (c.state & kCtDnat)) bits |= kCtDnat;
  }
  return bits;
}

// Parses a comma list of state names (each may be abbreviated, matched
// case-insensitively in libxtables' order); returns 0 on a bad word.
inline uint16_t parseStateList(std::string_view list, bool allowNat) {
  static constexpr std::pair<std::string_view, uint16_t> kNames[] = {
      {"INVALID", kCtInvalid}, {"NEW", kCtNew},         {"ESTABLISHED", kCtEstablished},
      {"RELATED", kCtRelated}, {"UNTRACKED", kCtUntracked}, {"SNAT", kCtSnat},
      {"DNAT", kCtDnat}};
  uint16_t mask = 0;
  for (auto word : args::split(list, ',')) {
    if (word.empty()) return 0;
    uint16_t bit = 0;
    for (auto& [n, b] : kNames) {
      if (!allowNat && (b == kCtSnat || b == kCtDnat)) continue;
      if (word.size() <= n.size()) {
        bool eq = true;
        for (size_t i = 0; i < word.size(); ++i)
          eq = eq && std::toupper(static_cast<unsigned char>(word[i])) == n[i];
        if (eq) { bit = b; break; }
      }
    }
    if (!bit) return 0;
    mask |= bit;
  }
  return mask;
}

// iptables-save's order: INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT.
inline std::string formatStateList(uint16_t mask) {
  static constexpr std::pair<const char*, uint16_t> kOrder[] = {
      {"INVALID", kCtInvalid}, {"NEW", kCtNew},         {"RELATED", kCtRelated},
      {"ESTABLISHED", kCtEstablished}, {"UNTRACKED", kCtUntracked}, {"SNAT", kCtSnat},
      {"DNAT", kCtDnat}};
  std::string s;
  for (auto& [n, b] : kOrder)
    if (mask & b) {
      if (!s.empty()) s += ',';
      s += n;
    }
  return s;
}

// xtables_print_mark_mask(): " 0xV" or " 0xV/0xM" unless the mask is full.
inline void saveMarkMask(SaveWriter& w, uint32_t v, uint32_t m) {
  char buf[40];
  if (m == 0xffffffffu)
    std::snprintf(buf, sizeof buf, " 0x%x", v);
  else
    std::snprintf(buf, sizeof buf, " 0x%x/0x%x", v, m);
  w.raw(buf);
}

// `[!] --mark value[/mask]`, the one option of -m mark and -m connmark
// (xt_mark.c and xt_connmark.c compare the same way, on different marks).
struct MarkOption {
  uint32_t mark = 0, mask = 0xffffffff;
  bool inverted = false, given = false;
  void parse(const OptionArg& a) {
    auto vm = args::valueMaskOrFail(a, a.value);
    mark = vm.value;
    mask = vm.mask;
    inverted = a.inverted;
    given = true;
  }
  void requireGiven(const RuleContext& ctx, std::string_view match) const {
    if (!given) ctx.fail(std::string(match) + " match: --mark is required");
  }
  void save(SaveWriter& w) const {
    w.opt("mark", inverted);
    saveMarkMask(w, mark, mask);
  }
  bool holdsFor(uint32_t value) const { return ((value & mask) == mark) != inverted; }
};

// libxtables' numeric address printing: the mask is left out when it is a
// full host mask, printed as a prefix length when contiguous, else dotted.
inline std::string addrNoHostMask(Family f, const IpAddr& a, const IpAddr& mask) {
  std::string s = formatIpAddr(f, a);
  int len = maskPrefixLen(f, mask);
  if (len == static_cast<int>(addrBits(f))) return s;
  if (len >= 0) return s + "/" + std::to_string(len);
  return s + "/" + formatIpAddr(f, mask);
}

// XTTYPE_HOST: one numeric address as getaddrinfo() reads it, so IPv4
// takes inet_aton() forms ("10" is 0.0.0.10, "10.1" is 10.0.0.1, hex and
// octal parts).
inline std::optional<IpAddr> parseHost(Family f, std::string_view s) {
  if (f == Family::IPv6) return parseIpAddr(f, s);
  std::string tmp(s);
  in_addr a{};
  if (tmp.empty() || inet_aton(tmp.c_str(), &a) == 0) return std::nullopt;
  return IpAddr::fromV4(ntohl(a.s_addr));
}
inline IpAddr hostOrFail(const OptionArg& a, Family f, std::string_view s) {
  if (auto ip = parseHost(f, s)) return *ip;
  a.fail("host `" + std::string(s) + "' not found for --" + std::string(a.name) + " (numeric " +
         (f == Family::IPv4 ? "IPv4" : "IPv6") + " address expected)");
}

// XTTYPE_HOSTMASK: "host[/len|/mask]", the host bits kept as written (the
// kernel masks at match time); a dotted mask may be non-contiguous.
inline args::AddrMask hostMaskOrFail(const OptionArg& a, Family f, std::string_view s) {
  args::AddrMask am;
  auto slash = s.find('/');
  am.addr = hostOrFail(a, f, s.substr(0, slash));
  am.mask = prefixMask(f, addrBits(f));
  if (slash == std::string_view::npos) return am;
  auto maskPart = s.substr(slash + 1);
  if (auto len = args::parseUInt(maskPart, 0, addrBits(f))) {
    am.mask = prefixMask(f, static_cast<unsigned>(*len));
  } else if (auto m = parseHost(f, maskPart)) {
    am.mask = *m;
  } else {
    a.fail("bad mask `" + std::string(maskPart) + "' for --" + std::string(a.name) +
           " (neither a network mask nor a prefix length 0-" + std::to_string(addrBits(f)) + ")");
  }
  return am;
}

// XTTYPE_PLEN / XTTYPE_PLENMASK: a prefix length, or a mask written as an
// address (255.255.0.0); returns the mask.
inline IpAddr plenMaskOrFail(const OptionArg& a, Family f, std::string_view s) {
  if (auto len = args::parseUInt(s, 0, addrBits(f))) return prefixMask(f, static_cast<unsigned>(*len));
  // Anything else is read as an address, as getaddrinfo() does ("33" is 0.0.0.33).
  if (auto m = parseHost(f, s)) return *m;
  a.fail("bad value `" + std::string(s) + "' for --" + std::string(a.name) +
         ", neither a valid network mask nor a valid CIDR (0-" + std::to_string(addrBits(f)) + ")");
}

inline bool maskedEqual(Family f, const IpAddr& x, const IpAddr& addr, const IpAddr& mask) {
  for (unsigned i = 0; i < addrBytes(f); ++i)
    if ((x.b[i] & mask.b[i]) != (addr.b[i] & mask.b[i])) return false;
  return true;
}


}  // namespace nfjit::meta
