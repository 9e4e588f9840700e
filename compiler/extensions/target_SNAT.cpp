// -j SNAT: rewrite the source of a new connection (kernel: xt_nat.c,
// nf_nat_setup_info with NF_NAT_MANIP_SRC). nat table, POSTROUTING/INPUT.
#include "compiler/extensions/tgt_nat.h"
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class SnatTarget final : public TargetExt {
 public:
  explicit SnatTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "SNAT"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"to-source", ArgKind::Required}, {"random", ArgKind::None},
        {"random-fully", ArgKind::None},  {"persistent", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        tgt::parseNatTo(a, family_, a.value, r_);
        // SNAT has no range2 revision: the base of "/base" never reaches the kernel.
        r_.basePort = 0;
        haveTo_ = true;
        break;
      case 1: r_.random = true; break;
      case 2: r_.fullyRandom = true; break;
      case 3: r_.persistent = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveTo_) ctx.fail("SNAT target: option `--to-source' must be specified");
    tgt::checkNatPorts(ctx, r_);
    tgt::requireTable(ctx, "SNAT", {"nat"});
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kPost | tgt::kIn; }
  void save(SaveWriter& w) const override {
    auto s = tgt::formatNatRange(family_, r_, false);
    if (!s.empty()) w.opt("to-source").word(s);
    tgt::saveNatFlags(w, r_);
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.nat = tgt::natRequest(NatRequest::Kind::Snat, r_);
    return Verdict::Accept;
  }
  bool isTerminating() const override { return true; }

 private:
  Family family_;
  tgt::NatRange r_;
  bool haveTo_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("SNAT", kFamBoth, SnatTarget);

}  // namespace nfjit
