// -j HL: set, increment or decrement the IPv6 hop limit (kernel: xt_HL.c hl_tg6). mangle table.
#include <algorithm>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

enum class Mode : uint8_t { None, Set, Inc, Dec };

class HLTarget final : public TargetExt {
 public:
  explicit HLTarget(Family) {}
  std::string_view name() const override { return "HL"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"hl-set", ArgKind::Required}, {"hl-dec", ArgKind::Required}, {"hl-inc", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    // Incrementing or decrementing by 0 is refused (by iptables and the kernel).
    value_ = static_cast<uint8_t>(args::uintOrFail(a, a.index == 0 ? 0 : 1, 255));
    mode_ = a.index == 0 ? Mode::Set : a.index == 1 ? Mode::Dec : Mode::Inc;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (mode_ == Mode::None) ctx.fail("HL target: you must specify an action (--hl-set, --hl-dec or --hl-inc)");
    tgt::requireTable(ctx, "HL", {"mangle"});
  }
  void save(SaveWriter& w) const override {
    w.opt(mode_ == Mode::Set ? "hl-set" : mode_ == Mode::Dec ? "hl-dec" : "hl-inc").num(value_);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.family != Family::IPv6 || p.len < 40) return Verdict::Continue;
    int hl = p.data[7];
    int nh = mode_ == Mode::Set ? value_ : mode_ == Mode::Inc ? std::min(hl + value_, 255)
                                                              : std::max(hl - value_, 0);
    p.data[7] = static_cast<uint8_t>(nh);  // no IPv6 header checksum
    p.ttl = static_cast<uint8_t>(nh);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  Mode mode_ = Mode::None;
  uint8_t value_ = 0;
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("HL", kFamV6, HLTarget);

}  // namespace nfjit
