// -j RATEEST: feed the packet to a named rate estimator that -m rateest
// reads (kernel: xt_RATEEST.c, gen_estimator). The interval and EWMA time
// constant are stored as the kernel's log2 encodings.
#include <strings.h>

#include <cmath>
#include <cstdio>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kNameField = 16;  // IFNAMSIZ
constexpr double kUsPerSec = 1000000.0;

class RateestTarget final : public TargetExt {
 public:
  explicit RateestTarget(Family) {}
  std::string_view name() const override { return "RATEEST"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"rateest-name", ArgKind::Required}, {"rateest-interval", ArgKind::Required},
        {"rateest-ewmalog", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: name_ = tgt::truncated(a.value, kNameField), haveName_ = true; break;
      case 1: intervalUs_ = timeOrFail(a), haveInterval_ = true; break;
      case 2: ewmaUs_ = timeOrFail(a), haveEwma_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveName_) ctx.fail("RATEEST target: option `--rateest-name' must be specified");
    if (!haveInterval_) ctx.fail("RATEEST target: option `--rateest-interval' must be specified");
    if (!haveEwma_) ctx.fail("RATEEST target: option `--rateest-ewmalog' must be specified");
    int8_t interval;
    uint8_t ewmaLog;
    if (const char* err = encode(interval, ewmaLog)) ctx.fail(std::string("RATEEST target: ") + err);
  }
  void save(SaveWriter& w) const override {
    int8_t iv = 0;
    uint8_t el = 0;
    encode(iv, el);
    unsigned interval = static_cast<unsigned>((1000000u << (iv + 2)) / 4);
    unsigned ewma = interval * (1u << el);
    w.opt("rateest-name").word(name_);
    w.opt("rateest-interval").word(formatTime(interval));
    w.opt("rateest-ewmalog").word(formatTime(ewma));
  }
  Verdict apply(EvalContext& ctx) const override {
    ctx.effects.rateEstimators.push_back(name_);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  // The kernel's encodings: interval = 2^(i+2) * 250ms for i in -2..3 (the
  // first not shorter than asked), EWMA weight 2^-e whose time constant
  // first exceeds the one asked. Returns an error or null.
  const char* encode(int8_t& interval, uint8_t& ewmaLog) const {
    int i = 0;
    while (i <= 5 && intervalUs_ > (1u << i) * (kUsPerSec / 4)) ++i;
    if (i > 5) return "interval value is too large (at most 8s)";
    interval = static_cast<int8_t>(i - 2);
    unsigned e = 1;
    for (; e < 32; ++e) {
      double w = 1.0 - 1.0 / double(1u << e);
      if (intervalUs_ / (-std::log(w)) > ewmaUs_) break;
    }
    --e;
    if (e == 0 || e >= 31) return "ewmalog value is out of range";
    ewmaLog = static_cast<uint8_t>(e);
    return nullptr;
  }

  // A number with an optional unit with an optional unit s/sec/secs, ms/msec/msecs, us/usec/usecs
  // (microseconds without one), in microseconds.
  static unsigned timeOrFail(const OptionArg& a) {
    const char* s = a.value.c_str();
    char* end = nullptr;
    double t = std::strtod(s, &end);
    if (end == s) a.fail("bad time `" + a.value + "' for --" + std::string(a.name));
    std::string unit(end);
    auto is = [&](std::initializer_list<const char*> names) {
      for (auto n : names)
        if (strcasecmp(unit.c_str(), n) == 0) return true;
      return false;
    };
    if (unit.empty()) {
      // no unit: microseconds
    } else if (is({"s", "sec", "secs"})) t *= kUsPerSec;
    else if (is({"ms", "msec", "msecs"})) t *= kUsPerSec / 1000;
    else if (!is({"us", "usec", "usecs"})) a.fail("bad time unit in `" + a.value + "' for --" + std::string(a.name));
    if (!(t >= 0) || t > 4294967295.0) a.fail("time `" + a.value + "' out of range for --" + std::string(a.name));
    return static_cast<unsigned>(t);
  }
  static std::string formatTime(unsigned us) {
    char buf[32];
    if (us >= kUsPerSec) std::snprintf(buf, sizeof buf, "%.1fs", us / kUsPerSec);
    else if (us >= kUsPerSec / 1000) std::snprintf(buf, sizeof buf, "%.1fms", us / (kUsPerSec / 1000));
    else std::snprintf(buf, sizeof buf, "%uus", us);
    return buf;
  }

  std::string name_;
  unsigned intervalUs_ = 0, ewmaUs_ = 0;
  bool haveName_ = false, haveInterval_ = false, haveEwma_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("RATEEST", kFamBoth, RateestTarget);

}  // namespace nfjit
