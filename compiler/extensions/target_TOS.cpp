// -j TOS: tos = (tos & ~mask) ^ value on the whole TOS/traffic class byte
// (kernel: xt_DSCP.c tos_tg/tos_tg6, revision 1). mangle table.
#include <strings.h>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

struct TosName {
  const char* name;
  uint8_t value;
};
constexpr TosName kNames[] = {
    {"Minimize-Delay", 0x10}, {"Maximize-Throughput", 0x08}, {"Maximize-Reliability", 0x04},
    {"Minimize-Cost", 0x02},  {"Normal-Service", 0x00},
};

class TosTarget final : public TargetExt {
 public:
  explicit TosTarget(Family) {}
  std::string_view name() const override { return "TOS"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"set-tos", ArgKind::Required}, {"and-tos", ArgKind::Required},
        {"or-tos", ArgKind::Required},  {"xor-tos", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    excl_.take(a);
    if (a.index == 0) {
      parseSet(a);
      return;
    }
    uint8_t v = static_cast<uint8_t>(args::uintOrFail(a, 0, 255));
    switch (a.index) {
      case 1: value_ = 0, mask_ = static_cast<uint8_t>(~v); break;
      case 2: value_ = mask_ = v; break;
      case 3: value_ = v, mask_ = 0; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!excl_.any()) ctx.fail("TOS target: an action (--set-tos, --and-tos, --or-tos, --xor-tos) is required");
    tgt::requireTable(ctx, "TOS", {"mangle"});
  }
  void save(SaveWriter& w) const override {
    w.opt("set-tos").word(tgt::hexw(value_, 2) + "/" + tgt::hexw(mask_, 2));
  }
  Verdict apply(EvalContext& ctx) const override {
    uint8_t ds;
    if (!tgt::getDsfield(ctx.pkt, ds)) return Verdict::Continue;
    uint8_t nv = static_cast<uint8_t>((ds & ~mask_) ^ value_);
    if (nv != ds) tgt::setDsfield(ctx.pkt, nv);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  // "value[/mask]" (mask defaults to 0xff) or a symbolic name, whose mask is
  // the 0x3f of revision 1.
  void parseSet(const OptionArg& a) {
    uint64_t v;
    std::string_view rest;
    if (tgt::prefixUInt(a.value, 0, 255, v, rest)) {
      value_ = static_cast<uint8_t>(v);
      mask_ = 0xff;
      if (!rest.empty() && rest[0] == '/') {
        uint64_t m;
        std::string_view tail;
        if (!tgt::prefixUInt(rest.substr(1), 0, 255, m, tail))
          a.fail("illegal value `" + a.value + "' for --set-tos");
        mask_ = static_cast<uint8_t>(m);
        rest = tail;
      }
      if (!rest.empty()) a.fail("illegal value `" + a.value + "' for --set-tos");
      return;
    }
    for (const auto& n : kNames)
      if (strcasecmp(a.value.c_str(), n.name) == 0) {
        value_ = n.value;
        mask_ = 0x3f;
        return;
      }
    a.fail("symbolic TOS name `" + a.value + "' is unknown");
  }

  uint8_t value_ = 0, mask_ = 0;
  tgt::Exclusive excl_;
};

}  // namespace

NFJIT_REGISTER_TARGET("TOS", kFamBoth, TosTarget);

}  // namespace nfjit
