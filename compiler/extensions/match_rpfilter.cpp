// -m rpfilter: reverse path filter, the source must be routable back
// through the input interface (kernel: ipt_rpfilter.c / ip6t_rpfilter.c).
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class RpfilterMatch final : public MatchExt {
 public:
  explicit RpfilterMatch(Family f) : family_(f) {}
  std::string_view name() const override { return "rpfilter"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"loose", ArgKind::None, false},
                                      {"validmark", ArgKind::None, false},
                                      {"accept-local", ArgKind::None, false},
                                      {"invert", ArgKind::None, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override { flags_ |= 1u << a.index; }
  void finalCheck(const RuleContext& ctx) override {
    if (ctx.table != "mangle" && ctx.table != "raw")
      ctx.fail("rpfilter match is only valid in the raw or mangle table, not `" +
               std::string(ctx.table) + "'");
  }
  HookMask allowedHooks(std::string_view) const override { return hookBit(Hook::PreRouting); }
  void save(SaveWriter& w) const override {
    static constexpr const char* kNames[] = {"loose", "validmark", "accept-local", "invert"};
    for (unsigned i = 0; i < 4; ++i)
      if (flags_ & (1u << i)) w.opt(kNames[i]);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    const bool invert = flags_ & 8u;
    // Looped-back packets always pass.
    if (p.inIface == "lo") return !invert;
    if (family_ == Family::IPv4) {
      uint32_t s = p.src.v4(), d = p.dst.v4();
      // DHCP discovery from 0.0.0.0 to broadcast or local multicast passes.
      if ((s >> 24) == 0 && (d == 0xffffffffu || (d & 0xffffff00u) == 0xe0000000u)) return !invert;
      // Such sources have no unicast route back.
      if ((s >> 24) == 0 || (s & 0xf0000000u) == 0xe0000000u || s == 0xffffffffu) return invert;
    } else {
      bool unspecified = true;
      for (unsigned i = 0; i < 16; ++i) unspecified = unspecified && p.src.b[i] == 0;
      // The unspecified source is left for the forward path to drop.
      if (unspecified) return !invert;
      if (p.src.b[0] == 0xff) return invert;
    }
    // Without a FIB the model takes other sources as routed back through
    // the input interface (symmetric routing).
    return !invert;
  }
  // The outcome depends on the routing table.
  bool isStateful() const override { return true; }

  Family family_;
  uint8_t flags_ = 0;
};

}  // namespace

NFJIT_REGISTER_MATCH("rpfilter", kFamBoth, RpfilterMatch);

}  // namespace nfjit
