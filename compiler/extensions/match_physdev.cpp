// -m physdev: the bridge ports a bridged packet entered/leaves by
// (kernel: xt_physdev.c).
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

enum Bits : uint8_t { kIn = 1, kOut = 2, kIsIn = 4, kIsOut = 8, kBridged = 16 };

// Interface name comparison with iptables' '+' wildcard suffix.
bool ifaceMatches(const std::string& dev, const std::string& pattern) {
  if (!pattern.empty() && pattern.back() == '+')
    return dev.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return dev == pattern;
}

class PhysdevMatch final : public MatchExt {
 public:
  explicit PhysdevMatch(Family) {}
  std::string_view name() const override { return "physdev"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"physdev-in", ArgKind::Required, true},  {"physdev-out", ArgKind::Required, true},
        {"physdev-is-in", ArgKind::None, true},   {"physdev-is-out", ArgKind::None, true},
        {"physdev-is-bridged", ArgKind::None, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    static constexpr uint8_t kBit[] = {kIn, kOut, kIsIn, kIsOut, kBridged};
    const uint8_t bit = kBit[a.index];
    if (a.index <= 1) {
      if (a.value.size() > 15)
        a.fail("interface name `" + a.value + "' for --" + std::string(a.name) +
               " must be shorter than 16 characters");
      (a.index == 0 ? in_ : out_) = a.value;
    }
    bitmask_ |= bit;
    if (a.inverted) invert_ |= bit;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!bitmask_) ctx.fail("physdev match: no physdev option specified");
  }
  HookMask allowedHooks(std::string_view) const override {
    // The output bridge port is unknown when a locally generated packet is
    // routed: only bridged traffic may ask for it, and not in OUTPUT.
    if ((bitmask_ & (kOut | kIsOut)) && (!(bitmask_ & kBridged) || (invert_ & kBridged)))
      return kAllHooks & ~hookBit(Hook::LocalOut);
    return kAllHooks;
  }
  void save(SaveWriter& w) const override {
    if (bitmask_ & kIsIn) w.opt("physdev-is-in", invert_ & kIsIn);
    if (bitmask_ & kIn) w.opt("physdev-in", invert_ & kIn).word(in_);
    if (bitmask_ & kIsOut) w.opt("physdev-is-out", invert_ & kIsOut);
    if (bitmask_ & kOut) w.opt("physdev-out", invert_ & kOut).word(out_);
    if (bitmask_ & kBridged) w.opt("physdev-is-bridged", invert_ & kBridged);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    const bool bridged = !p.physIn.empty() || !p.physOut.empty();
    if (!bridged) {
      // Not a bridged packet: only options that are all inverted hold.
      for (uint8_t bit : {kBridged, kIsIn, kIsOut, kIn, kOut})
        if ((bitmask_ & bit) && !(invert_ & bit)) return false;
      return true;
    }
    const bool hasOut = !p.physOut.empty(), hasIn = !p.physIn.empty();
    if ((bitmask_ & kBridged) && hasOut == bool(invert_ & kBridged)) return false;
    if ((bitmask_ & kIsIn) && hasIn == bool(invert_ & kIsIn)) return false;
    if ((bitmask_ & kIsOut) && hasOut == bool(invert_ & kIsOut)) return false;
    if ((bitmask_ & kIn) && hasIn && ifaceMatches(p.physIn, in_) == bool(invert_ & kIn)) return false;
    if (!(bitmask_ & kOut)) return true;
    if (!hasOut) return false;
    return ifaceMatches(p.physOut, out_) != bool(invert_ & kOut);
  }

  uint8_t bitmask_ = 0, invert_ = 0;
  std::string in_, out_;
};

}  // namespace

NFJIT_REGISTER_MATCH("physdev", kFamBoth, PhysdevMatch);

}  // namespace nfjit
