// -j IDLETIMER: restart a named timer that notifies userspace (sysfs or an
// alarm) when no packet has hit it for --timeout seconds (kernel:
// xt_IDLETIMER.c, revision 1).
#include <climits>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kLabelField = 28;  // MAX_IDLETIMER_LABEL_SIZE

class IdletimerTarget final : public TargetExt {
 public:
  explicit IdletimerTarget(Family) {}
  std::string_view name() const override { return "IDLETIMER"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"timeout", ArgKind::Required}, {"label", ArgKind::Required}, {"alarm", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: timeout_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)), haveTimeout_ = true; break;
      case 1: label_ = tgt::truncated(a.value, kLabelField), haveLabel_ = true; break;
      case 2: alarm_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveTimeout_) ctx.fail("IDLETIMER target: option `--timeout' must be specified");
    if (!haveLabel_) ctx.fail("IDLETIMER target: option `--label' must be specified");
    // Kernel checks: the timer becomes a sysfs attribute named after the label.
    if (timeout_ == 0) ctx.fail("IDLETIMER target: timeout value is zero");
    if (timeout_ >= INT_MAX / 1000) ctx.fail("IDLETIMER target: timeout value is too big");
    if (label_.empty() || label_ == "." || label_ == ".." || label_.find('/') != std::string::npos ||
        label_ == "power" || label_ == "subsystem" || label_ == "uevent")
      ctx.fail("IDLETIMER target: label `" + label_ + "' is not a valid timer name");
  }
  void save(SaveWriter& w) const override {
    w.opt("timeout").num(timeout_).opt("label").word(label_);
    if (alarm_) w.opt("alarm");
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.idleTimers.push_back(label_);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint32_t timeout_ = 0;
  std::string label_;
  bool alarm_ = false, haveTimeout_ = false, haveLabel_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("IDLETIMER", kFamBoth, IdletimerTarget);

}  // namespace nfjit
