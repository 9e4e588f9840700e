// -j DNAT: rewrite the destination of a new connection (kernel: xt_nat.c,
// revision 2 with shifted port maps "p-q/base"). nat table, PREROUTING/OUTPUT.
#include "compiler/extensions/tgt_nat.h"
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class DnatTarget final : public TargetExt {
 public:
  explicit DnatTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "DNAT"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"to-destination", ArgKind::Required},
        {"random", ArgKind::None},
        {"persistent", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: tgt::parseNatTo(a, family_, a.value, r_); haveTo_ = true; break;
      case 1: r_.random = true; break;
      case 2: r_.persistent = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveTo_) ctx.fail("DNAT target: option `--to-destination' must be specified");
    tgt::checkNatPorts(ctx, r_);
    tgt::requireTable(ctx, "DNAT", {"nat"});
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kPre | tgt::kOut; }
  void save(SaveWriter& w) const override {
    auto s = tgt::formatNatRange(family_, r_, false);
    if (!s.empty()) w.opt("to-destination").word(s);
    tgt::saveNatFlags(w, r_);
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.nat = tgt::natRequest(NatRequest::Kind::Dnat, r_);
    return Verdict::Accept;
  }
  bool isTerminating() const override { return true; }

 private:
  Family family_;
  tgt::NatRange r_;
  bool haveTo_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("DNAT", kFamBoth, DnatTarget);

}  // namespace nfjit
