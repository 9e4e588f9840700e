// -j REDIRECT: DNAT to the incoming interface's primary address (loopback
// for locally generated packets), optionally to other ports (kernel:
// xt_REDIRECT.c). nat table, PREROUTING/OUTPUT.
#include "compiler/extensions/tgt_nat.h"
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class RedirectTarget final : public TargetExt {
 public:
  explicit RedirectTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "REDIRECT"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"to-ports", ArgKind::Required}, {"random", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        tgt::parseNatPorts(a, a.value, r_);
        // REDIRECT has no range2 revision: iptables refuses "/base".
        if (r_.protoOffset) a.fail("shifted portmap ranges are not supported by REDIRECT (`" + a.value + "')");
        break;
      case 1: r_.random = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    tgt::checkNatPorts(ctx, r_);
    tgt::requireTable(ctx, "REDIRECT", {"nat"});
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kPre | tgt::kOut; }
  void save(SaveWriter& w) const override {
    auto s = tgt::formatNatRange(family_, r_, true);
    if (!s.empty()) w.opt("to-ports").word(s);
    tgt::saveNatFlags(w, r_);
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.nat = tgt::natRequest(NatRequest::Kind::Redirect, r_);
    return Verdict::Accept;
  }
  bool isTerminating() const override { return true; }

 private:
  Family family_;
  tgt::NatRange r_;
};

}  // namespace

NFJIT_REGISTER_TARGET("REDIRECT", kFamBoth, RedirectTarget);

}  // namespace nfjit
