// -m eui64: the IPv6 source address's interface identifier is the EUI-64
// derived from the Ethernet source address (kernel: ip6t_eui64.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

class Eui64Match final : public MatchExt {
 public:
  explicit Eui64Match(Family) {}
  std::string_view name() const override { return "eui64"; }
  std::span<const OptionSpec> options() const override { return {}; }
  void parseOption(const OptionArg&) override {}
  HookMask allowedHooks(std::string_view) const override {
    return hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn) | hookBit(Hook::Forward);
  }
  void save(SaveWriter&) const override {}
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (!p.hasMac) {
      // No link-layer header: the kernel drops non-first fragments.
      if (p.fragoff != 0) ctx.hotdrop = true;
      return false;
    }
    uint8_t eui[8];
    eui[0] = p.srcMac[0] ^ 0x02;  // universal/local bit flipped
    eui[1] = p.srcMac[1];
    eui[2] = p.srcMac[2];
    eui[3] = 0xff;
    eui[4] = 0xfe;
    eui[5] = p.srcMac[3];
    eui[6] = p.srcMac[4];
    eui[7] = p.srcMac[5];
    uint8_t ver;
    if (!headerAt(p, 0, &ver, 1) || (ver >> 4) != 6) return false;
    for (int i = 0; i < 8; ++i)
      if (p.src.b[8 + i] != eui[i]) return false;
    return true;
  }
};

}  // namespace

NFJIT_REGISTER_MATCH("eui64", kFamV6, Eui64Match);

}  // namespace nfjit
