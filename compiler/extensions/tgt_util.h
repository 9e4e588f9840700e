// Helpers shared by the target extensions: kernel-style table/hook/protocol
// checks, mutually exclusive options, incremental checksum updates and the
// DS field accessors that TOS/DSCP/ECN rewrite.
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit::tgt {

constexpr HookMask kPre = hookBit(Hook::PreRouting), kIn = hookBit(Hook::LocalIn),
                   kFwd = hookBit(Hook::Forward), kOut = hookBit(Hook::LocalOut),
                   kPost = hookBit(Hook::PostRouting);

// x_tables' check of xt_target.table: "X target: only valid in T table".
inline void requireTable(const RuleContext& ctx, std::string_view target,
                         std::initializer_list<std::string_view> tables) {
  for (auto t : tables)
    if (ctx.table == t) return;
  std::string list;
  for (auto t : tables) {
    if (!list.empty()) list += " or ";
    list += t;
  }
  ctx.fail(std::string(target) + " target: only valid in " + list + " table, not " +
           std::string(ctx.table));
}

// x_tables' check of xt_target.proto: the rule must say `-p P' uninverted.
inline bool protoIs(const RuleContext& ctx, uint16_t p) { return ctx.proto == p && !ctx.protoInverted; }

// Options that exclude each other (libxtables' .excl): remembers which of a
// group was given and rejects a second one naming both.
class Exclusive {
 public:
  void take(const OptionArg& a) {
    if (!first_.empty() && first_ != a.name)
      a.failAt(a.optLoc, "option `--" + std::string(a.name) + "' cannot be used together with `--" +
                             first_ + "'");
    first_ = std::string(a.name);
  }
  bool any() const { return !first_.empty(); }

 private:
  std::string first_;
};

// strtoul(base 0) of a prefix as xtables_strtoul() with an end pointer does:
// returns false when no digits or out of [lo, hi]; `rest` is what follows.
inline bool prefixUInt(std::string_view s, uint64_t lo, uint64_t hi, uint64_t& out,
                       std::string_view& rest) {
  std::string tmp(s);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(tmp.c_str(), &end, 0);
  if (end == tmp.c_str() || errno != 0) return false;
  if (v < lo || v > hi) return false;
  out = v;
  rest = s.substr(static_cast<size_t>(end - tmp.c_str()));
  return true;
}

// XTOPT_PUT strings are cut to the kernel field size minus the NUL.
inline std::string truncated(std::string_view s, size_t fieldSize) {
  return std::string(s.substr(0, fieldSize - 1));
}

inline std::string hexw(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

// RFC 1624 incremental update of a ones'-complement checksum (the kernel's
// csum_replace2/4): HC' = ~(~HC + ~m + m').
inline void csumReplace(uint8_t* sum, uint32_t fromFolded, uint32_t toFolded) {
  uint32_t hc = static_cast<uint16_t>(~be16(sum));
  hc += static_cast<uint16_t>(~fromFolded) & 0xffff;
  hc += toFolded & 0xffff;
  while (hc >> 16) hc = (hc & 0xffff) + (hc >> 16);
  uint16_t r = static_cast<uint16_t>(~hc);
  sum[0] = static_cast<uint8_t>(r >> 8);
  sum[1] = static_cast<uint8_t>(r);
}
inline void csumReplace16(uint8_t* sum, uint16_t from, uint16_t to) { csumReplace(sum, from, to); }
inline void csumReplace32(uint8_t* sum, uint32_t from, uint32_t to) {
  csumReplace(sum, from >> 16, to >> 16);
  csumReplace(sum, from & 0xffff, to & 0xffff);
}
// The same for `n` bytes (even) in network order: an address, a port.
inline void csumReplaceBytes(uint8_t* sum, const uint8_t* from, const uint8_t* to, size_t n) {
  for (size_t i = 0; i < n; i += 2) csumReplace16(sum, be16(from + i), be16(to + i));
}

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// The IPv4 TOS byte or the IPv6 traffic class; nullopt when the header is
// not all there.
inline bool getDsfield(const PacketView& p, uint8_t& ds) {
  uint8_t h[2];
  if (!headerAt(p, 0, h, 2)) return false;
  ds = p.family == Family::IPv4 ? h[1] : static_cast<uint8_t>((be16(h) >> 4) & 0xff);
  return true;
}

// ipv4_change_dsfield()/ipv6_change_dsfield() with mask 0: writes the whole
// byte, fixing the IPv4 header checksum incrementally.
inline bool setDsfield(PacketView& p, uint8_t ds) {
  if (p.family == Family::IPv4) {
    if (p.len < 20) return false;
    uint16_t oldWord = be16(p.data);
    p.data[1] = ds;
    csumReplace16(p.data + 10, oldWord, be16(p.data));
  } else {
    if (p.len < 40) return false;
    uint16_t w = be16(p.data);
    w = static_cast<uint16_t>((w & 0xf00f) | (uint16_t(ds) << 4));
    put16(p.data, w);
  }
  p.tos = ds;
  return true;
}

// Whether the rule has a -m tcp whose flag test requires SYN set (what the
// kernel's TCPMSS checkentry looks for). The tcp match's state is private to
// its file, so its canonical text is read back.
inline bool ruleHasSynMatch(const RuleContext& ctx) {
  if (!ctx.rule) return false;
  for (const auto& m : ctx.rule->matches) {
    if (m.ext->name() != "tcp") continue;
    SaveWriter w;
    m.ext->save(w);
    const std::string& t = w.text();
    auto pos = t.find("--tcp-flags ");
    if (pos == std::string::npos) continue;
    if (pos >= 2 && t.compare(pos - 2, 2, "! ") == 0) continue;
    std::string rest = t.substr(pos + 12);
    auto sp = rest.find(' ');
    if (sp == std::string::npos) continue;
    std::string mask = rest.substr(0, sp), cmp = rest.substr(sp + 1);
    cmp = cmp.substr(0, cmp.find(' '));
    auto hasSyn = [](const std::string& f) {
      return f == "ALL" || ("," + f + ",").find(",SYN,") != std::string::npos;
    };
    if (hasSyn(mask) && hasSyn(cmp)) return true;
  }
  return false;
}

// Does the packet have a connection the kernel would hand to targets
// (nf_ct_get() non-NULL)? Untracked and invalid packets do not.
inline bool hasConntrack(const PacketView& p) {
  return (p.ct.state & (kCtNew | kCtEstablished | kCtRelated)) != 0;
}

// The kernel's jhash_3words() (Bob Jenkins' lookup3 final mix) and
// reciprocal_scale(), used by HMARK and NFQUEUE to spread packets.
inline uint32_t rol32(uint32_t w, unsigned s) { return (w << s) | (w >> (32 - s)); }
inline uint32_t jhash3(uint32_t a, uint32_t b, uint32_t c, uint32_t initval) {
  uint32_t iv = initval + 0xdeadbeefu + (3u << 2);
  a += iv;
  b += iv;
  c += iv;
  c ^= b; c -= rol32(b, 14);
  a ^= c; a -= rol32(c, 11);
  b ^= a; b -= rol32(a, 25);
  c ^= b; c -= rol32(b, 16);
  a ^= c; a -= rol32(c, 4);
  b ^= a; b -= rol32(a, 14);
  c ^= b; c -= rol32(b, 24);
  return c;
}
inline uint32_t reciprocalScale(uint32_t v, uint32_t n) {
  return static_cast<uint32_t>((uint64_t(v) * n) >> 32);
}

}  // namespace nfjit::tgt
