// -m length: IP packet length range (kernel: xt_length.c). IPv4 uses the
// total-length field, IPv6 the payload length plus the 40-byte header.
#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class LengthMatch final : public MatchExt {
 public:
  explicit LengthMatch(Family) {}
  std::string_view name() const override { return "length"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"length", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    range_ = args::rangeOrFail(a, a.value, 0, 65535);
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("length match requires --length");
  }
  void save(SaveWriter& w) const override { hdr::saveRange(w, "length", range_, inv_); }
  bool lower(LoweringContext& c) const override {
    auto t = c.range(Field::Length, range_.lo, range_.hi);
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint8_t b[2];
    uint32_t len;
    if (p.family == Family::IPv4) {
      len = headerAt(p, 2, b, 2) ? be16(b) : p.len;
    } else {
      len = headerAt(p, 4, b, 2) ? be16(b) + 40u : p.len;
      len &= 0xffff;  // the kernel keeps the sum in 16 bits
    }
    return hdr::inRange(len, range_) != inv_;
  }

  args::Range range_{0, 65535};
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("length", kFamBoth, LengthMatch);

}  // namespace nfjit
