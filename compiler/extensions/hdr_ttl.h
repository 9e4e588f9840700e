// -m ttl (IPv4) and -m hl (IPv6) are the same comparison on the TTL / hop
// limit byte (kernel: ipt_ttl.c, ip6t_hl.c, both in xt_hl.c).
#pragma once
#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit::hdr {

template <bool V6>
class TtlMatch final : public MatchExt {
 public:
  explicit TtlMatch(Family) {}
  static constexpr const char* kName = V6 ? "hl" : "ttl";
  enum class Mode : uint8_t { Eq, Ne, Lt, Gt };
  std::string_view name() const override { return kName; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {V6 ? "hl-eq" : "ttl-eq", ArgKind::Required, true},
        {V6 ? "hl-lt" : "ttl-lt", ArgKind::Required},
        {V6 ? "hl-gt" : "ttl-gt", ArgKind::Required},
        {V6 ? "hl" : "ttl", ArgKind::Required},  // old spelling of -eq
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (set_)
      a.fail(std::string("only one of --") + kName + "-eq, --" + kName + "-lt, --" + kName + "-gt allowed");
    set_ = true;
    value_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 255));
    switch (a.index) {
      case 0:
      case 3: mode_ = a.inverted ? Mode::Ne : Mode::Eq; break;
      case 1: mode_ = Mode::Lt; break;
      case 2: mode_ = Mode::Gt; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_)
      ctx.fail(std::string(V6 ? "HL" : "TTL") + " match: You must specify one of `--" + kName + "-eq', `--" +
               kName + "-lt', `--" + kName + "-gt'");
  }
  void save(SaveWriter& w) const override {
    std::string base = std::string(kName) + "-";
    switch (mode_) {
      case Mode::Eq: w.opt(base + "eq"); break;
      case Mode::Ne: w.opt(base + "eq", true); break;
      case Mode::Lt: w.opt(base + "lt"); break;
      case Mode::Gt: w.opt(base + "gt"); break;
    }
    w.num(value_);
  }
  bool lower(LoweringContext& c) const override {
    switch (mode_) {
      case Mode::Eq: c.require(c.range(Field::Ttl, value_, value_)); break;
      case Mode::Ne: c.require(c.negate(c.range(Field::Ttl, value_, value_))); break;
      case Mode::Lt: c.require(value_ == 0 ? c.constant(false) : c.range(Field::Ttl, 0, value_ - 1u)); break;
      case Mode::Gt: c.require(value_ == 255 ? c.constant(false) : c.range(Field::Ttl, value_ + 1u, 255)); break;
    }
    return true;
  }
  bool match(EvalContext& ctx) const override {
    uint8_t t = ttlOrHopLimit(ctx.pkt);
    switch (mode_) {
      case Mode::Eq: return t == value_;
      case Mode::Ne: return t != value_;
      case Mode::Lt: return t < value_;
      case Mode::Gt: return t > value_;
    }
    return false;
  }

  Mode mode_ = Mode::Eq;
  uint8_t value_ = 0;
  bool set_ = false;
};

}  // namespace nfjit::hdr
