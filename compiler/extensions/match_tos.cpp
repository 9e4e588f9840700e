// -m tos (revision 1): TOS / traffic class under a mask (kernel: xt_dscp.c tos_mt).
#include <strings.h>

#include <cstdio>

#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

struct TosName {
  const char* name;
  uint8_t value;
};
// RFC 1349 names; they compare under mask 0x3f (the ECN bits are left out).
constexpr TosName kTosNames[] = {
    {"Minimize-Delay", 0x10}, {"Maximize-Throughput", 0x08}, {"Maximize-Reliability", 0x04},
    {"Minimize-Cost", 0x02},  {"Normal-Service", 0x00},
};

class TosMatch final : public MatchExt {
 public:
  explicit TosMatch(Family) {}
  std::string_view name() const override { return "tos"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"tos", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    inv_ = a.inverted;
    set_ = true;
    std::string_view s = a.value;
    auto slash = s.find('/');
    if (auto v = args::parseUInt(s.substr(0, slash), 0, 255)) {
      value_ = static_cast<uint8_t>(*v);
      mask_ = 0xff;
      if (slash != std::string_view::npos) {
        auto m = args::parseUInt(s.substr(slash + 1), 0, 255);
        if (!m) a.fail("invalid mask in --tos `" + a.value + "' (expected 0-255)");
        mask_ = static_cast<uint8_t>(*m);
      }
      return;
    }
    for (const auto& n : kTosNames)
      if (strcasecmp(n.name, a.value.c_str()) == 0) {
        value_ = n.value;
        mask_ = 0x3f;
        return;
      }
    a.fail("invalid value `" + a.value + "' for --tos (expected value[/mask] or a TOS name)");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("tos match requires --tos");
  }
  void save(SaveWriter& w) const override {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%02x/0x%02x", value_, mask_);
    w.opt("tos", inv_).word(buf);
  }
  bool lower(LoweringContext& c) const override {
    auto t = c.maskEq(Field::Tos, value_, mask_);
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override { return ((hdr::dsfield(ctx.pkt) & mask_) == value_) != inv_; }

  uint8_t value_ = 0, mask_ = 0xff;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("tos", kFamBoth, TosMatch);

}  // namespace nfjit
