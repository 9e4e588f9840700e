// -m icmp (IPv4): type and code range (kernel: ip_tables.c icmp_match).
#include "compiler/extensions/hdr_icmp.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class IcmpMatch final : public MatchExt {
 public:
  explicit IcmpMatch(Family) {}
  std::string_view name() const override { return "icmp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"icmp-type", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    spec_ = hdr::parseIcmpType(a, hdr::kIcmpNames, "ICMP");
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    hdr::requireProto(ctx, 1, "icmp", "icmp");
    if (!set_) ctx.fail("icmp match requires --icmp-type");
  }
  void save(SaveWriter& w) const override {
    w.opt("icmp-type", inv_);
    // Type 255 with all codes is how iptables stores "any".
    if (spec_.type == 0xff && spec_.codeMin == 0 && spec_.codeMax == 0xff) {
      w.word("any");
      return;
    }
    std::string s = std::to_string(spec_.type);
    if (spec_.codeMin != 0 || spec_.codeMax != 0xff) s += "/" + std::to_string(spec_.codeMin);
    w.word(s);
  }
  bool lower(LoweringContext& c) const override {
    c.require(c.range(Field::Frag, 0, 0));
    auto t = spec_.type == 0xff ? c.constant(true)
                                : c.allOf({c.range(Field::IcmpType, spec_.type, spec_.type),
                                           c.range(Field::IcmpCode, spec_.codeMin, spec_.codeMax)});
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t h[8];
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;  // cannot even read the ICMP header
      return false;
    }
    bool m = (h[0] == spec_.type && h[1] >= spec_.codeMin && h[1] <= spec_.codeMax) || spec_.type == 0xff;
    return m != inv_;
  }

  hdr::IcmpSpec spec_;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("icmp", kFamV4, IcmpMatch);

}  // namespace nfjit
