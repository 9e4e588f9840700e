// -j MASQUERADE: SNAT to the address of the outgoing interface, forgotten
// when the interface goes down (kernel: xt_MASQUERADE.c). nat POSTROUTING.
#include "compiler/extensions/tgt_nat.h"
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class MasqueradeTarget final : public TargetExt {
 public:
  explicit MasqueradeTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "MASQUERADE"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"to-ports", ArgKind::Required},
        {"random", ArgKind::None},
        {"random-fully", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        tgt::parseNatPorts(a, a.value, r_);
        r_.basePort = 0;  // the compat range has no base port
        break;
      case 1: r_.random = true; break;
      case 2: r_.fullyRandom = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    tgt::checkNatPorts(ctx, r_);
    tgt::requireTable(ctx, "MASQUERADE", {"nat"});
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kPost; }
  void save(SaveWriter& w) const override {
    auto s = tgt::formatNatRange(family_, r_, true);
    if (!s.empty()) w.opt("to-ports").word(s);
    tgt::saveNatFlags(w, r_);
  }
  Verdict apply(EvalContext& ctx) const override {
    // The runtime picks the outgoing interface's primary address (and drops
    // the packet when it has none).
    ctx.effects.nat = tgt::natRequest(NatRequest::Kind::Masquerade, r_);
    return Verdict::Accept;
  }
  bool isTerminating() const override { return true; }

 private:
  Family family_;
  tgt::NatRange r_;
};

}  // namespace

NFJIT_REGISTER_TARGET("MASQUERADE", kFamBoth, MasqueradeTarget);

}  // namespace nfjit
