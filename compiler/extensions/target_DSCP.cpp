// -j DSCP: rewrite the 6 DSCP bits of the TOS/traffic class, keeping ECN
// (kernel: xt_DSCP.c dscp_tg/dscp_tg6). mangle table.
#include <strings.h>

#include <cstring>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

struct DsClass {
  const char* name;
  uint8_t dscp;
};
constexpr DsClass kClasses[] = {
    {"CS0", 0x00},  {"CS1", 0x08},  {"CS2", 0x10},  {"CS3", 0x18},  {"CS4", 0x20},  {"CS5", 0x28},
    {"CS6", 0x30},  {"CS7", 0x38},  {"BE", 0x00},   {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
    {"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
    {"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
};

class DscpTarget final : public TargetExt {
 public:
  explicit DscpTarget(Family) {}
  std::string_view name() const override { return "DSCP"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"set-dscp", ArgKind::Required}, {"set-dscp-class", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    if (a.index == 0) {
      dscp_ = static_cast<uint8_t>(args::uintOrFail(a, 0, 0x3f));
      return;
    }
    // iptables compares only the class name's length, case-insensitively.
    for (const auto& c : kClasses)
      if (strncasecmp(a.value.c_str(), c.name, std::strlen(c.name)) == 0) {
        dscp_ = c.dscp;
        return;
      }
    a.fail("invalid DSCP class `" + a.value + "' for --set-dscp-class");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!excl_.any()) ctx.fail("DSCP target: parameter --set-dscp is required");
    tgt::requireTable(ctx, "DSCP", {"mangle"});
  }
  void save(SaveWriter& w) const override { w.opt("set-dscp").word(tgt::hexw(dscp_, 2)); }
  Verdict apply(EvalContext& ctx) const override {
    uint8_t ds;
    if (!tgt::getDsfield(ctx.pkt, ds)) return Verdict::Continue;
    if ((ds >> 2) != dscp_) tgt::setDsfield(ctx.pkt, static_cast<uint8_t>((ds & 0x03) | (dscp_ << 2)));
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  uint8_t dscp_ = 0;
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("DSCP", kFamBoth, DscpTarget);

}  // namespace nfjit
