// -m tcpmss: MSS option value range of TCP packets (kernel: xt_tcpmss.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class TcpmssMatch final : public MatchExt {
 public:
  explicit TcpmssMatch(Family) {}
  std::string_view name() const override { return "tcpmss"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"mss", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    range_ = args::rangeOrFail(a, a.value, 0, 65535);
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    hdr::requireProto(ctx, 6, "tcpmss", "tcp");
    if (!set_) ctx.fail("tcpmss match requires --mss");
  }
  void save(SaveWriter& w) const override { hdr::saveRange(w, "mss", range_, inv_); }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint8_t th[20];
    if (!headerAt(p, p.thoff, th, sizeof th)) {
      ctx.hotdrop = true;
      return false;
    }
    unsigned doff = (th[12] >> 4) * 4u;
    if (doff < 20) {
      ctx.hotdrop = true;  // malformed data offset
      return false;
    }
    unsigned optlen = doff - 20;
    if (optlen == 0) return inv_;  // no options: no MSS
    uint8_t op[40];
    if (!headerAt(p, p.thoff + 20, op, optlen)) {
      ctx.hotdrop = true;  // truncated options
      return false;
    }
    for (unsigned i = 0; i < optlen;) {
      if (op[i] == 2 && optlen - i >= 4 && op[i + 1] == 4) {
        unsigned mss = unsigned(op[i + 2]) << 8 | op[i + 3];
        return hdr::inRange(mss, range_) != inv_;
      }
      if (op[i] < 2)
        ++i;
      else
        i += (i + 1 < optlen && op[i + 1]) ? op[i + 1] : 1;
    }
    return inv_;
  }

  args::Range range_{0, 65535};
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("tcpmss", kFamBoth, TcpmssMatch);

}  // namespace nfjit
