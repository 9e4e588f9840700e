// -m statistic: random sampling or every n-th packet (kernel: xt_statistic.c).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class StatisticMatch final : public MatchExt {
 public:
  explicit StatisticMatch(Family) {}
  std::string_view name() const override { return "statistic"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"mode", ArgKind::Required, false},
                                      {"probability", ArgKind::Required, true},
                                      {"every", ArgKind::Required, true},
                                      {"packet", ArgKind::Required, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    // Any inverted option inverts the whole match, as iptables does.
    if (a.inverted) inv_ = true;
    switch (a.index) {
      case 0:
        if (a.value == "random") mode_ = Mode::Random;
        else if (a.value == "nth") mode_ = Mode::Nth;
        else a.fail("bad mode `" + a.value + "' for --mode (random or nth)");
        break;
      case 1: {
        if (haveEvery_ || havePacket_) a.fail("--probability cannot be combined with --every/--packet");
        std::string s = a.value;
        char* end = nullptr;
        double d = s.empty() ? -1 : std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0' || !(d >= 0.0 && d <= 1.0))
          a.fail("invalid value `" + a.value + "' for --probability (expected 0.0-1.0)");
        prob_ = static_cast<uint32_t>(std::lround(2147483648.0 * d));
        haveProb_ = true;
        break;
      }
      case 2:
        if (haveProb_) a.fail("--every cannot be combined with --probability");
        every_ = static_cast<uint32_t>(args::uintOrFail(a, 1, UINT32_MAX)) - 1;
        haveEvery_ = true;
        break;
      case 3:
        if (haveProb_) a.fail("--packet cannot be combined with --probability");
        packet_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        havePacket_ = true;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (mode_ == Mode::None) ctx.fail("statistic match: --mode is required");
    if (haveEvery_ != havePacket_) ctx.fail("statistic match: --every and --packet must be given together");
    if (mode_ == Mode::Random && !haveProb_)
      ctx.fail("statistic match: --probability must be specified when using random mode");
    if (mode_ == Mode::Nth && !haveEvery_)
      ctx.fail("statistic match: --every and --packet must be specified when using nth mode");
    if (packet_ > every_) ctx.fail("statistic match: the --packet p must be 0 <= p <= n-1");
    count_ = every_ - packet_;
  }
  void save(SaveWriter& w) const override {
    if (mode_ == Mode::Random) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.11f", prob_ / 2147483648.0);
      w.opt("mode").word("random").opt("probability", inv_).raw(buf);
    } else {
      w.opt("mode").word("nth").opt("every", inv_).num(uint64_t(every_) + 1);
      w.opt("packet").num(packet_);
    }
  }
  bool match(EvalContext&) const override {
    bool ret = inv_;
    if (mode_ == Mode::Random) {
      // xorshift stands in for get_random_u32(); 31 bits like the kernel.
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 17;
      rng_ ^= rng_ << 5;
      if ((rng_ & 0x7fffffffu) < prob_) ret = !ret;
    } else {
      count_ = count_ == every_ ? 0 : count_ + 1;
      if (count_ == 0) ret = !ret;
    }
    return ret;
  }
  bool isStateful() const override { return true; }
  void resetState() const override { count_ = every_ - packet_, rng_ = kRngSeed; }

  enum class Mode { None, Random, Nth } mode_ = Mode::None;
  uint32_t prob_ = 0, every_ = 0, packet_ = 0;
  static constexpr uint32_t kRngSeed = 0x9e3779b9u;
  mutable uint32_t count_ = 0, rng_ = kRngSeed;
  bool inv_ = false, haveProb_ = false, haveEvery_ = false, havePacket_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("statistic", kFamBoth, StatisticMatch);

}  // namespace nfjit
