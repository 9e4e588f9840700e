// -j TTL: set, increment or decrement the IPv4 TTL (kernel: xt_HL.c ttl_tg), fixing the header checksum. mangle table.
#include <algorithm>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

enum class Mode : uint8_t { None, Set, Inc, Dec };

class TTLTarget final : public TargetExt {
 public:
  explicit TTLTarget(Family) {}
  std::string_view name() const override { return "TTL"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"ttl-set", ArgKind::Required}, {"ttl-dec", ArgKind::Required}, {"ttl-inc", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    // Incrementing or decrementing by 0 is refused (by iptables and the kernel).
    value_ = static_cast<uint8_t>(args::uintOrFail(a, a.index == 0 ? 0 : 1, 255));
    mode_ = a.index == 0 ? Mode::Set : a.index == 1 ? Mode::Dec : Mode::Inc;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (mode_ == Mode::None) ctx.fail("TTL target: you must specify an action (--ttl-set, --ttl-dec or --ttl-inc)");
    tgt::requireTable(ctx, "TTL", {"mangle"});
  }
  void save(SaveWriter& w) const override {
    w.opt(mode_ == Mode::Set ? "ttl-set" : mode_ == Mode::Dec ? "ttl-dec" : "ttl-inc").num(value_);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.family != Family::IPv4 || p.len < 20) return Verdict::Continue;
    int ttl = p.data[8];
    int nt = mode_ == Mode::Set ? value_ : mode_ == Mode::Inc ? std::min(ttl + value_, 255)
                                                              : std::max(ttl - value_, 0);
    if (nt != ttl) {
      // The TTL shares a 16-bit checksum word with the protocol byte.
      uint16_t oldWord = be16(p.data + 8);
      p.data[8] = static_cast<uint8_t>(nt);
      tgt::csumReplace16(p.data + 10, oldWord, be16(p.data + 8));
      p.ttl = static_cast<uint8_t>(nt);
    }
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  Mode mode_ = Mode::None;
  uint8_t value_ = 0;
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("TTL", kFamV4, TTLTarget);

}  // namespace nfjit
