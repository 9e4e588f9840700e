// -m quota: matches until a byte budget is spent (kernel: xt_quota.c).
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class QuotaMatch final : public MatchExt {
 public:
  explicit QuotaMatch(Family) {}
  std::string_view name() const override { return "quota"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"quota", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    quota_ = remaining_ = args::uintOrFail(a, 0, UINT64_MAX);
    inv_ = a.inverted;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("quota match: --quota is required");
  }
  void save(SaveWriter& w) const override { w.opt("quota", inv_).num(quota_); }
  bool match(EvalContext& ctx) const override {
    // Each packet that fits is charged; once short, the quota drops to zero.
    if (remaining_ >= ctx.pkt.len) {
      remaining_ -= ctx.pkt.len;
      return !inv_;
    }
    remaining_ = 0;
    return inv_;
  }
  bool isStateful() const override { return true; }
  void resetState() const override { remaining_ = quota_; }

  uint64_t quota_ = 0;
  mutable uint64_t remaining_ = 0;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("quota", kFamBoth, QuotaMatch);

}  // namespace nfjit
