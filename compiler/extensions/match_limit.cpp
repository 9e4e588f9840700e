// -m limit: token bucket rate limit per rule (kernel: xt_limit.c).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

constexpr uint32_t kScale = 10000;  // XT_LIMIT_SCALE: avg is in 1/10000 s
constexpr uint32_t kDefaultBurst = 5;
// Credits per jiffy: the largest power of two that keeps a day of credits
// in 32 bits.
constexpr uint32_t kCreditsPerJiffy = [] {
  uint32_t maxCpj = 0xffffffffu / (meta::kHz * 86400);
  uint32_t p = 1;
  while (p * 2 <= maxCpj) p *= 2;
  return p;
}();

uint32_t user2credits(uint32_t user) {
  // Divide first when the product would overflow, as the kernel does.
  if (user > 0xffffffffu / (meta::kHz * kCreditsPerJiffy))
    return static_cast<uint32_t>((user / kScale) * meta::kHz * kCreditsPerJiffy);
  return static_cast<uint32_t>((uint64_t(user) * meta::kHz * kCreditsPerJiffy) / kScale);
}

// "N[/unit]" to scale-units per packet; 0 when malformed. Fails on rates
// too fast to express.
uint32_t parseRate(const OptionArg& a, std::string_view s) {
  uint32_t mult = 1;
  auto slash = s.find('/');
  if (slash != std::string_view::npos) {
    mult = meta::rateUnitSeconds(s.substr(slash + 1));
    if (!mult) return 0;
  }
  uint32_t r = static_cast<uint32_t>(meta::atoll(s));
  if (!r) return 0;
  uint32_t v = static_cast<uint32_t>(uint64_t(kScale) * mult / r);
  if (v == 0) a.fail("rate `" + std::string(s) + "' is too fast for --limit");
  return v;
}

class LimitMatch final : public MatchExt {
 public:
  explicit LimitMatch(Family) {}
  std::string_view name() const override { return "limit"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"limit", ArgKind::Required, false},
                                      {"limit-burst", ArgKind::Required, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 0) {
      avg_ = parseRate(a, a.value);
      if (!avg_) a.fail("bad rate `" + a.value + "' for --limit (expected N/sec, N/minute, N/hour or N/day)");
    } else {
      burst_ = static_cast<uint32_t>(args::uintOrFail(a, 0, 10000));
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    // The kernel refuses a zero burst and an avg*burst that overflows.
    if (burst_ == 0 || user2credits(avg_ * burst_) < user2credits(avg_))
      ctx.fail("limit match: --limit-burst " + std::to_string(burst_) +
               " overflows the credit counter for that rate, try lower");
    cost_ = user2credits(avg_);
    creditCap_ = credit_ = user2credits(avg_ * burst_);
  }
  void save(SaveWriter& w) const override {
    w.opt("limit");
    meta::saveRate(w, avg_, kScale);
    if (burst_ != kDefaultBurst) w.opt("limit-burst").num(burst_);
  }
  bool match(EvalContext& ctx) const override {
    uint64_t now = meta::jiffiesAt(ctx.nowNs);
    if (!started_) {
      prev_ = now;
      started_ = true;
    }
    uint64_t refill = (now - prev_) * kCreditsPerJiffy;
    prev_ = now;
    // The kernel adds into a 32-bit credit counter, which wraps after a long
    // idle time (2^25 jiffies at 1/sec); then caps it.
    credit_ = static_cast<uint32_t>(uint64_t(credit_) + refill);
    if (credit_ > creditCap_) credit_ = creditCap_;
    if (credit_ >= cost_) {
      credit_ -= cost_;
      return true;
    }
    return false;
  }
  bool isStateful() const override { return true; }
  void resetState() const override {
    credit_ = creditCap_;
    started_ = false;
  }

  uint32_t avg_ = kScale * 3600 / 3;  // default 3/hour
  uint32_t burst_ = kDefaultBurst;
  uint32_t cost_ = 0, creditCap_ = 0;
  mutable uint32_t credit_ = 0;
  mutable uint64_t prev_ = 0;
  mutable bool started_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("limit", kFamBoth, LimitMatch);

}  // namespace nfjit
