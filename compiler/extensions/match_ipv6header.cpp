// -m ipv6header: which extension headers the packet carries
// (kernel: ip6t_ipv6header.c).
#include <strings.h>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

// Header bits in the kernel's order (MASK_* of ip6t_ipv6header.h).
struct HeaderBit {
  uint8_t proto;
  uint8_t bit;
};
constexpr uint8_t kProtoRaw = 255;  // "protocol": any upper-layer header
constexpr HeaderBit kBits[] = {
    {hdr::kNhHop, 128}, {hdr::kNhDest, 64}, {hdr::kNhRouting, 32}, {hdr::kNhFragment, 16},
    {hdr::kNhAuth, 8},  {hdr::kNhEsp, 4},   {hdr::kNhNone, 2},     {kProtoRaw, 1},
};

struct HeaderName {
  const char* name;
  uint8_t proto;
};
// iptables' own names, used when /etc/protocols does not know one.
constexpr HeaderName kNames[] = {
    {"hop-by-hop", 0}, {"protocol", 255}, {"hop", 0},   {"dst", 60},   {"route", 43}, {"frag", 44},
    {"auth", 51},      {"esp", 50},       {"none", 59}, {"prot", 255}, {"0", 0},      {"60", 60},
    {"43", 43},        {"44", 44},        {"51", 51},   {"50", 50},    {"59", 59},    {"255", 255},
};

class Ipv6headerMatch final : public MatchExt {
 public:
  explicit Ipv6headerMatch(Family) {}
  std::string_view name() const override { return "ipv6header"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"header", ArgKind::Required, true}, {"soft", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 1) {
      soft_ = true;
      return;
    }
    flags_ = 0;
    for (auto part : args::split(a.value, ',')) {
      if (part.empty()) continue;
      std::string nm(part);
      std::optional<uint8_t> proto = hdr::protoByName(nm);
      if (!proto)
        for (const auto& n : kNames)
          if (nm == n.name) proto = n.proto;
      if (!proto) a.fail("unknown header `" + nm + "' specified in --header");
      uint8_t bit = 0;
      for (const auto& b : kBits)
        if (b.proto == *proto) bit = b.bit;
      if (!bit)
        a.fail("header `" + nm + "' (" + std::to_string(*proto) + ") is not an IPv6 extension header");
      flags_ |= bit;
    }
    if (!flags_) a.fail("ip6t_ipv6header: cannot parse header names in `" + a.value + "'");
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("ipv6header match requires --header");
  }
  void save(SaveWriter& w) const override {
    std::string s;
    for (const auto& b : kBits) {
      if (!(flags_ & b.bit)) continue;
      if (!s.empty()) s += ',';
      s += headerName(b.proto);
    }
    w.opt("header", inv_).word(s.empty() ? "NONE" : s);
    if (soft_) w.opt("soft");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint8_t fixed[40];
    if (!headerAt(p, 0, fixed, sizeof fixed)) {
      ctx.hotdrop = true;
      return false;
    }
    uint8_t nh = fixed[6];
    uint32_t ptr = 40;
    int64_t avail = int64_t(p.len) - 40;
    uint8_t seen = 0;
    // The walk also stops at ESP and "no next header"; both are recorded.
    while (hdr::ipv6ExtHdr(nh) || nh == hdr::kNhEsp) {
      if (nh == hdr::kNhNone) {
        seen |= 2;
        break;
      }
      if (avail < 2) return false;
      if (nh == hdr::kNhEsp) {
        seen |= 4;
        break;
      }
      uint8_t h[2];
      if (!headerAt(p, ptr, h, 2)) {
        ctx.hotdrop = true;
        return false;
      }
      uint32_t hlen = nh == hdr::kNhFragment ? 8
                      : nh == hdr::kNhAuth   ? (uint32_t(h[1]) + 2) << 2
                                             : (uint32_t(h[1]) + 1) << 3;
      for (const auto& b : kBits)
        if (b.proto == nh) seen |= b.bit;
      nh = h[0];
      avail -= hlen;
      ptr += hlen;
      if (ptr > p.len) break;
    }
    if (nh != hdr::kNhNone && nh != hdr::kNhEsp) seen |= 1;
    if (soft_) return ((seen ^ flags_ ^ (inv_ ? 0xff : 0)) & flags_) == 0;
    return inv_ ? seen != flags_ : seen == flags_;
  }

 private:
  // iptables prints the /etc/protocols name, except for protocol 0.
  static std::string headerName(uint8_t proto) {
    if (proto != 0)
      if (auto n = hdr::protoNameOf(proto)) return *n;
    for (const auto& n : kNames)
      if (n.proto == proto) return n.name;
    return std::to_string(proto);
  }

  uint8_t flags_ = 0;
  bool inv_ = false, soft_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("ipv6header", kFamV6, Ipv6headerMatch);

}  // namespace nfjit
