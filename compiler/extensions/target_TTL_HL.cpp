// -j TTL (IPv4) and -j HL (IPv6): set, increment or decrement the TTL / hop
// limit, saturating at 0 and 255 (kernel: xt_HL.c ttl_tg / hl_tg6). One
// target for both, as in the kernel; only the header field differs. mangle table.
#include <algorithm>
#include <string>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

enum class Mode : uint8_t { None, Set, Inc, Dec };

struct TtlField {
  static constexpr std::string_view kTarget = "TTL", kSet = "ttl-set", kDec = "ttl-dec", kInc = "ttl-inc";
  static constexpr Family kFamily = Family::IPv4;
  static constexpr uint32_t kHeaderLen = 20, kOffset = 8;
};
struct HopLimitField {
  static constexpr std::string_view kTarget = "HL", kSet = "hl-set", kDec = "hl-dec", kInc = "hl-inc";
  static constexpr Family kFamily = Family::IPv6;
  static constexpr uint32_t kHeaderLen = 40, kOffset = 7;
};

template <class F>
class HopCountTarget final : public TargetExt {
 public:
  explicit HopCountTarget(Family) {}
  std::string_view name() const override { return F::kTarget; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{F::kSet, ArgKind::Required}, {F::kDec, ArgKind::Required},
                                      {F::kInc, ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    // Incrementing or decrementing by 0 is refused (by iptables and the kernel).
    value_ = static_cast<uint8_t>(args::uintOrFail(a, a.index == 0 ? 0 : 1, 255));
    mode_ = a.index == 0 ? Mode::Set : a.index == 1 ? Mode::Dec : Mode::Inc;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (mode_ == Mode::None)
      ctx.fail(std::string(F::kTarget) + " target: you must specify an action (--" + std::string(F::kSet) + ", --" +
               std::string(F::kDec) + " or --" + std::string(F::kInc) + ")");
    tgt::requireTable(ctx, F::kTarget, {"mangle"});
  }
  void save(SaveWriter& w) const override {
    w.opt(mode_ == Mode::Set ? F::kSet : mode_ == Mode::Dec ? F::kDec : F::kInc).num(value_);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.family != F::kFamily || p.len < F::kHeaderLen) return Verdict::Continue;
    const int old = p.data[F::kOffset];
    const int now = mode_ == Mode::Set ? value_
                    : mode_ == Mode::Inc ? std::min(old + value_, 255)
                                         : std::max(old - value_, 0);
    if (now == old) return Verdict::Continue;
    if constexpr (F::kFamily == Family::IPv4) {
      // The TTL shares a 16-bit checksum word with the protocol byte; IPv6 has no header checksum.
      uint16_t oldWord = be16(p.data + F::kOffset);
      p.data[F::kOffset] = static_cast<uint8_t>(now);
      tgt::csumReplace16(p.data + 10, oldWord, be16(p.data + F::kOffset));
    } else {
      p.data[F::kOffset] = static_cast<uint8_t>(now);
    }
    p.ttl = static_cast<uint8_t>(now);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  Mode mode_ = Mode::None;
  uint8_t value_ = 0;
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("TTL", kFamV4, HopCountTarget<TtlField>);
NFJIT_REGISTER_TARGET("HL", kFamV6, HopCountTarget<HopLimitField>);

}  // namespace nfjit
