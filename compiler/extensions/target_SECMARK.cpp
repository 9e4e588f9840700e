// -j SECMARK --selctx CTX: give the packet an SELinux security mark
// (kernel: xt_SECMARK.c). mangle or security table.
#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kCtxField = 256;  // SECMARK_SECCTX_MAX

class SecmarkTarget final : public TargetExt {
 public:
  explicit SecmarkTarget(Family) {}
  std::string_view name() const override { return "SECMARK"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"selctx", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.value.empty()) a.fail("--selctx needs a security context");
    ctx_ = tgt::truncated(a.value, kCtxField);
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("SECMARK target: option `--selctx' must be specified");
    tgt::requireTable(ctx, "SECMARK", {"mangle", "security"});
  }
  void save(SaveWriter& w) const override { w.opt("selctx").word(ctx_); }  // printed unquoted
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.secmarkCtx = ctx_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  std::string ctx_;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("SECMARK", kFamBoth, SecmarkTarget);

}  // namespace nfjit
