// -j TEE: route a copy of the packet to another gateway, the original goes
// on (kernel: xt_TEE.c).
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kIfField = 16;  // IFNAMSIZ

class TeeTarget final : public TargetExt {
 public:
  explicit TeeTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "TEE"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"gateway", ArgKind::Required}, {"oif", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 0) {
      gw_ = args::addrOrFail(a, family_, a.value);
      haveGw_ = true;
    } else {
      oif_ = tgt::truncated(a.value, kIfField);
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveGw_) ctx.fail("TEE target: option `--gateway' must be specified");
    if (gw_ == IpAddr{}) ctx.fail("TEE target: the gateway must not be the zero address");
  }
  void save(SaveWriter& w) const override {
    w.opt("gateway").word(formatIpAddr(family_, gw_));
    if (!oif_.empty()) w.opt("oif").word(oif_);
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.teeGateways.push_back(gw_);
    ctx.effects.teeOif = oif_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  Family family_;
  IpAddr gw_;
  std::string oif_;
  bool haveGw_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("TEE", kFamBoth, TeeTarget);

}  // namespace nfjit
