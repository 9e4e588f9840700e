// -j AUDIT: emit an audit record of type accept/drop/reject for the packet
// (kernel: xt_AUDIT.c); the verdict is left to the following rules.
#include <strings.h>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr const char* kTypes[] = {"accept", "drop", "reject"};  // XT_AUDIT_TYPE_*

class AuditTarget final : public TargetExt {
 public:
  explicit AuditTarget(Family) {}
  std::string_view name() const override { return "AUDIT"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"type", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    for (uint8_t i = 0; i < 3; ++i)
      if (strcasecmp(a.value.c_str(), kTypes[i]) == 0) {
        type_ = i;
        set_ = true;
        return;
      }
    a.fail("bad action type `" + a.value + "' for --type (accept, drop or reject)");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("AUDIT target: option `--type' must be specified");
  }
  void save(SaveWriter& w) const override { w.opt("type").word(kTypes[type_]); }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.audits.push_back(type_);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint8_t type_ = 0;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("AUDIT", kFamBoth, AuditTarget);

}  // namespace nfjit
