// -m iprange (revision 1): source / destination address ranges (kernel: xt_iprange.c).
#include <algorithm>

#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

// Compares addresses as big-endian numbers.
bool addrLess(const IpAddr& a, const IpAddr& b, Family f) {
  return std::lexicographical_compare(a.b.begin(), a.b.begin() + addrBytes(f), b.b.begin(),
                                      b.b.begin() + addrBytes(f));
}

class IprangeMatch final : public MatchExt {
 public:
  explicit IprangeMatch(Family f) : fam_(f) {}
  std::string_view name() const override { return "iprange"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"src-range", ArgKind::Required, true},
                                      {"dst-range", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    Side& s = a.index == 0 ? src_ : dst_;
    auto dash = a.value.find('-');
    auto parse = [&](std::string_view t) {
      if (auto ip = parseIpAddr(fam_, t)) return *ip;
      a.fail("iprange match: bad IP address `" + std::string(t) + "' in --" + std::string(a.name));
    };
    s.min = parse(std::string_view(a.value).substr(0, dash));
    s.max = dash == std::string::npos ? s.min : parse(std::string_view(a.value).substr(dash + 1));
    s.set = true;
    s.inv = a.inverted;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!src_.set && !dst_.set) ctx.fail("iprange match: You must specify `--src-range' or `--dst-range'");
  }
  void save(SaveWriter& w) const override {
    for (int i = 0; i < 2; ++i) {
      const Side& s = i == 0 ? src_ : dst_;
      if (!s.set) continue;
      w.opt(i == 0 ? "src-range" : "dst-range", s.inv)
          .word(formatIpAddr(fam_, s.min) + "-" + formatIpAddr(fam_, s.max));
    }
  }
  bool lower(LoweringContext& c) const override {
    if (src_.set) {
      auto t = c.addrRange(Field::Src, src_.min, src_.max);
      c.require(src_.inv ? c.negate(t) : t);
    }
    if (dst_.set) {
      auto t = c.addrRange(Field::Dst, dst_.min, dst_.max);
      c.require(dst_.inv ? c.negate(t) : t);
    }
    return true;
  }
  bool match(EvalContext& ctx) const override {
    auto test = [&](const Side& s, const IpAddr& a) {
      bool outside = addrLess(a, s.min, fam_) || addrLess(s.max, a, fam_);
      return outside == s.inv;
    };
    if (src_.set && !test(src_, ctx.pkt.src)) return false;
    if (dst_.set && !test(dst_, ctx.pkt.dst)) return false;
    return true;
  }

 private:
  struct Side {
    IpAddr min, max;
    bool set = false, inv = false;
  };
  Family fam_;
  Side src_, dst_;
};

}  // namespace

NFJIT_REGISTER_MATCH("iprange", kFamBoth, IprangeMatch);

}  // namespace nfjit
