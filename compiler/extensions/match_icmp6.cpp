// -m icmp6 (also -m icmpv6 / -m ipv6-icmp): ICMPv6 type and code range
// (kernel: ip6_tables.c icmp6_match).
#include "compiler/extensions/hdr_icmp.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class Icmp6Match final : public MatchExt {
 public:
  explicit Icmp6Match(Family) {}
  std::string_view name() const override { return "icmp6"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"icmpv6-type", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    spec_ = hdr::parseIcmpType(a, hdr::kIcmp6Names, "ICMPv6");
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    hdr::requireProto(ctx, 58, "icmp6", "ipv6-icmp");
    if (!set_) ctx.fail("icmp6 match requires --icmpv6-type");
  }
  void save(SaveWriter& w) const override {
    std::string s = std::to_string(spec_.type);
    if (spec_.codeMin != 0 || spec_.codeMax != 0xff) s += "/" + std::to_string(spec_.codeMin);
    w.opt("icmpv6-type", inv_).word(s);
  }
  bool lower(LoweringContext& c) const override {
    c.require(c.range(Field::Frag, 0, 0));
    auto t = c.allOf({c.range(Field::IcmpType, spec_.type, spec_.type),
                      c.range(Field::IcmpCode, spec_.codeMin, spec_.codeMax)});
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[8];
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;
      return false;
    }
    // Unlike IPv4 there is no "any" type here.
    bool m = h[0] == spec_.type && h[1] >= spec_.codeMin && h[1] <= spec_.codeMax;
    return m != inv_;
  }

  hdr::IcmpSpec spec_;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("icmp6", kFamV6, Icmp6Match);
NFJIT_REGISTER_MATCH("icmpv6", kFamV6, Icmp6Match);
NFJIT_REGISTER_MATCH("ipv6-icmp", kFamV6, Icmp6Match);

}  // namespace nfjit
