// -m rateest: compares rate estimators (made by the RATEEST target) with
// fixed rates or with each other (kernel: xt_rateest.c).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <strings.h>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

enum Flags : uint8_t { kAbs = 1, kRel = 2, kDelta = 4, kBps = 8, kPps = 16, kInvert = 32 };
enum class Mode : uint8_t { None, Eq, Lt, Gt };
enum Opt { kRateest1, kRateestAlias, kRateest2, kBps1, kPps1, kBps2, kPps2, kBpsAlias, kPpsAlias, kDeltaOpt, kLt, kGt, kEq };

// A rate in bytes/s from "N[unit]" (tc's units; a bare number is bits/s).
std::optional<uint32_t> parseRate(const std::string& s) {
  static constexpr std::pair<const char*, double> kSuffixes[] = {
      {"bit", 1.},  {"Kibit", 1024.}, {"kbit", 1000.}, {"Mibit", 1024. * 1024.}, {"mbit", 1e6},
      {"Gibit", 1024. * 1024. * 1024.}, {"gbit", 1e9}, {"Tibit", 1024. * 1024. * 1024. * 1024.}, {"tbit", 1e12},
      {"Bps", 8.},  {"KiBps", 8. * 1024.}, {"KBps", 8000.}, {"MiBps", 8. * 1024. * 1024.}, {"MBps", 8e6},
      {"GiBps", 8. * 1024. * 1024. * 1024.}, {"GBps", 8e9}, {"TiBps", 8. * 1024. * 1024. * 1024. * 1024.},
      {"TBps", 8e12}};
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return std::nullopt;
  if (*end == '\0') return static_cast<uint32_t>(v / 8.);
  for (auto& [n, scale] : kSuffixes)
    if (strcasecmp(n, end) == 0) return static_cast<uint32_t>(v * scale / 8.);
  return std::nullopt;
}

// tc-style rate printing: bits/s in bit, Kbit or Mbit.
std::string formatRate(uint32_t rate) {
  double bits = double(rate) * 8;
  char buf[64];
  if (bits >= 1000.0 * 1000000.0) std::snprintf(buf, sizeof buf, "%.0fMbit", bits / 1000000.0);
  else if (bits >= 1000.0 * 1000.0) std::snprintf(buf, sizeof buf, "%.0fKbit", bits / 1000.0);
  else std::snprintf(buf, sizeof buf, "%.0fbit", bits);
  return buf;
}

class RateestMatch final : public MatchExt {
 public:
  explicit RateestMatch(Family) {}
  std::string_view name() const override { return "rateest"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"rateest1", ArgKind::Required},      {"rateest", ArgKind::Required},
        {"rateest2", ArgKind::Required},      {"rateest-bps1", ArgKind::Optional},
        {"rateest-pps1", ArgKind::Optional},  {"rateest-bps2", ArgKind::Optional},
        {"rateest-pps2", ArgKind::Optional},  {"rateest-bps", ArgKind::Optional},
        {"rateest-pps", ArgKind::Optional},   {"rateest-delta", ArgKind::None},
        {"rateest-lt", ArgKind::None, true},  {"rateest-gt", ArgKind::None, true},
        {"rateest-eq", ArgKind::None, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    int o = a.index;
    // The short names are aliases of the "1"/"2" options.
    if (o == kRateestAlias) o = kRateest1;
    if (o == kBpsAlias) o = kBps2;
    if (o == kPpsAlias) o = kPps2;
    if (o == kLt || o == kGt || o == kEq) {
      if (mode_ != Mode::None) a.fail("only one of --rateest-lt, --rateest-gt and --rateest-eq is allowed");
      mode_ = o == kLt ? Mode::Lt : o == kGt ? Mode::Gt : Mode::Eq;
      if (a.inverted) flags_ |= kInvert;
      return;
    }
    if (seen_ & (1u << o)) a.fail("--" + std::string(a.name) + " can only be given once");
    seen_ |= 1u << o;
    switch (o) {
      case kRateest1:
      case kRateest2:
        // The kernel keeps IFNAMSIZ bytes of the name.
        (o == kRateest1 ? name1_ : name2_) = a.value.substr(0, 15);
        if (o == kRateest2) flags_ |= kRel;
        break;
      case kBps1:
      case kBps2:
        flags_ |= kBps;
        if (a.hasValue) {
          auto r = parseRate(a.value);
          if (!r) a.fail("could not parse rate `" + a.value + "' for --" + std::string(a.name));
          (o == kBps1 ? bps1_ : bps2_) = *r;
        }
        break;
      case kPps1:
      case kPps2:
        flags_ |= kPps;
        if (a.hasValue)
          (o == kPps1 ? pps1_ : pps2_) = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        break;
      case kDeltaOpt: flags_ |= kDelta; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!(flags_ & kRel)) flags_ |= kAbs;
    if (name1_.empty()) ctx.fail("rateest match: --rateest1 (or --rateest) is required");
    if ((flags_ & kRel) && name2_.empty()) ctx.fail("rateest match: --rateest2 is empty");
    if (!(flags_ & (kBps | kPps))) ctx.fail("rateest match: one of --rateest-bps or --rateest-pps is required");
    if (mode_ == Mode::None) ctx.fail("rateest match: one of --rateest-lt, --rateest-gt or --rateest-eq is required");
  }
  void save(SaveWriter& w) const override {
    if (flags_ & kDelta) w.opt("rateest-delta");
    w.opt((flags_ & kRel) ? "rateest1" : "rateest").word(name1_);
    if (flags_ & kBps) saveRate(w, "bps", formatRate(bps1_), formatRate(bps2_));
    if (flags_ & kPps) saveRate(w, "pps", std::to_string(pps1_), std::to_string(pps2_));
    if (flags_ & kRel) w.opt("rateest2").word(name2_);
  }
  bool match(EvalContext&) const override {
    // Estimates come from RATEEST targets; the model's estimators have
    // measured nothing yet (0 bytes/s, 0 packets/s).
    constexpr uint32_t kSampleBps = 0, kSamplePps = 0;
    uint32_t bps1, pps1, bps2, pps2;
    if (flags_ & kDelta) {
      bps1 = bps1_ >= kSampleBps ? bps1_ - kSampleBps : 0;
      pps1 = pps1_ >= kSamplePps ? pps1_ - kSamplePps : 0;
    } else {
      bps1 = kSampleBps;
      pps1 = kSamplePps;
    }
    if (flags_ & kAbs) {
      bps2 = bps2_;
      pps2 = pps2_;
    } else if (flags_ & kDelta) {
      bps2 = bps2_ >= kSampleBps ? bps2_ - kSampleBps : 0;
      pps2 = pps2_ >= kSamplePps ? pps2_ - kSamplePps : 0;
    } else {
      bps2 = kSampleBps;
      pps2 = kSamplePps;
    }
    bool ret = true;
    auto cmp = [&](uint32_t x, uint32_t y) {
      return mode_ == Mode::Lt ? x < y : mode_ == Mode::Gt ? x > y : x == y;
    };
    if (flags_ & kBps) ret = ret && cmp(bps1, bps2);
    if (flags_ & kPps) ret = ret && cmp(pps1, pps2);
    return ret != bool(flags_ & kInvert);
  }
  bool isStateful() const override { return true; }

 private:
  void saveMode(SaveWriter& w) const {
    const char* m = mode_ == Mode::Lt ? "rateest-lt" : mode_ == Mode::Gt ? "rateest-gt" : "rateest-eq";
    w.opt(m, flags_ & kInvert);
  }
  void saveRate(SaveWriter& w, const std::string& what, const std::string& r1, const std::string& r2) const {
    if (flags_ & kDelta) {
      w.opt("rateest-" + what + "1").word(r1);
      saveMode(w);
      w.opt("rateest-" + what + "2");
    } else {
      saveMode(w);
      w.opt("rateest-" + what);
    }
    if (flags_ & (kAbs | kDelta)) w.word(r2);
  }

  std::string name1_, name2_;
  uint8_t flags_ = 0;
  uint32_t seen_ = 0;
  Mode mode_ = Mode::None;
  uint32_t bps1_ = 0, bps2_ = 0, pps1_ = 0, pps2_ = 0;
};

}  // namespace

NFJIT_REGISTER_MATCH("rateest", kFamBoth, RateestMatch);

}  // namespace nfjit
