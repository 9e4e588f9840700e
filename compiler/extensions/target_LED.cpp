// -j LED: blink the LED trigger "netfilter-ID" (kernel: xt_LED.c).
#include <strings.h>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kMaxId = 27 - sizeof("netfilter-");  // xt_led_info.id minus the prefix

class LedTarget final : public TargetExt {
 public:
  explicit LedTarget(Family) {}
  std::string_view name() const override { return "LED"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"led-trigger-id", ArgKind::Required}, {"led-delay", ArgKind::Required},
        {"led-always-blink", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        if (a.value.size() > kMaxId)
          a.fail("--led-trigger-id is " + std::to_string(a.value.size()) + " characters long, at most " +
                 std::to_string(kMaxId) + " allowed");
        id_ = a.value;
        haveId_ = true;
        break;
      case 1:
        if (strncasecmp(a.value.c_str(), "inf", 3) == 0)
          delay_ = UINT32_MAX;  // stays lit until the next packet
        else
          delay_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        break;
      case 2: alwaysBlink_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveId_) ctx.fail("LED target: option `--led-trigger-id' must be specified");
    if (id_.empty()) ctx.fail("LED target: --led-trigger-id must not be empty");
  }
  void save(SaveWriter& w) const override {
    // Always double-quoted, escaping only '"' and '\'.
    std::string q = "\"";
    for (char c : id_) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    q += '"';
    w.opt("led-trigger-id").word(q);
    // iptables prints the unsigned delay with %d: "inf" comes out as -1.
    if (delay_ != 0) w.opt("led-delay").word(std::to_string(static_cast<int32_t>(delay_)));
    if (alwaysBlink_) w.opt("led-always-blink");
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.ledTriggers.push_back("netfilter-" + id_);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  std::string id_;
  uint32_t delay_ = 0;
  bool alwaysBlink_ = false, haveId_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("LED", kFamBoth, LedTarget);

}  // namespace nfjit
