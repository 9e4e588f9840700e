// -j CLASSIFY: skb->priority = MAJOR:MINOR, a tc class (kernel:
// xt_CLASSIFY.c). OUTPUT/FORWARD/POSTROUTING.
#include <cstdio>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

class ClassifyTarget final : public TargetExt {
 public:
  explicit ClassifyTarget(Family) {}
  std::string_view name() const override { return "CLASSIFY"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"set-class", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    // iptables reads "%x:%x" and builds TC_H_MAKE(major << 16, minor): each
    // half keeps its low 16 bits.
    unsigned int major = 0, minor = 0;
    if (std::sscanf(a.value.c_str(), "%x:%x", &major, &minor) != 2)
      a.fail("bad class value `" + a.value + "' for --set-class (MAJOR:MINOR in hex)");
    priority_ = ((major << 16) & 0xffff0000u) | (minor & 0xffffu);
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("CLASSIFY target: option `--set-class' must be specified");
  }
  HookMask allowedHooks(std::string_view) const override { return tgt::kOut | tgt::kFwd | tgt::kPost; }
  void save(SaveWriter& w) const override {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.4x:%.4x", priority_ >> 16, priority_ & 0xffff);
    w.opt("set-class").word(buf);
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.pkt.priority = priority_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint32_t priority_ = 0;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("CLASSIFY", kFamBoth, ClassifyTarget);

}  // namespace nfjit
