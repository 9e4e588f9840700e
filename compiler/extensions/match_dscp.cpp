// -m dscp: the 6-bit DSCP of the TOS / traffic-class byte (kernel: xt_dscp.c).
#include <strings.h>

#include <cstdio>
#include <cstring>

#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

struct DscpClass {
  const char* name;
  uint8_t dscp;
};
constexpr DscpClass kClasses[] = {
    {"CS0", 0x00},  {"CS1", 0x08},  {"CS2", 0x10},  {"CS3", 0x18},  {"CS4", 0x20},  {"CS5", 0x28},
    {"CS6", 0x30},  {"CS7", 0x38},  {"BE", 0x00},   {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
    {"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
    {"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
};

class DscpMatch final : public MatchExt {
 public:
  explicit DscpMatch(Family) {}
  std::string_view name() const override { return "dscp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"dscp", ArgKind::Required, true},
                                      {"dscp-class", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (set_) a.fail("--dscp and --dscp-class cannot be used together");
    set_ = true;
    inv_ = a.inverted;
    if (a.index == 0) {
      dscp_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 63));
      return;
    }
    // iptables compares only the length of each class name (a prefix test).
    for (const auto& c : kClasses)
      if (strncasecmp(a.value.c_str(), c.name, std::strlen(c.name)) == 0) {
        dscp_ = c.dscp;
        return;
      }
    a.fail("Invalid DSCP class `" + a.value + "' for --dscp-class");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("DSCP match: Parameter --dscp is required");
  }
  void save(SaveWriter& w) const override {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", dscp_);
    w.opt("dscp", inv_).word(buf);
  }
  bool lower(LoweringContext& c) const override {
    auto t = c.maskEq(Field::Tos, uint64_t(dscp_) << 2, 0xfc);
    c.require(inv_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override { return ((hdr::dsfield(ctx.pkt) >> 2) == dscp_) != inv_; }

  uint8_t dscp_ = 0;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("dscp", kFamBoth, DscpMatch);

}  // namespace nfjit
