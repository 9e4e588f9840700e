// -j TCPMSS: lower the MSS option of TCP SYNs to a value or to the path MTU
// minus headers, adding the option when absent (kernel: xt_TCPMSS.c).
// Needs `-p tcp' and a match on the SYN flag.
#include <algorithm>
#include <cstring>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr uint16_t kClampPmtu = 0xffff;  // XT_TCPMSS_CLAMP_PMTU
// nfjit has no routing table: the path MTU is taken to be Ethernet's.
constexpr unsigned kAssumedMtu = 1500;

class TcpmssTarget final : public TargetExt {
 public:
  explicit TcpmssTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "TCPMSS"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"set-mss", ArgKind::Required}, {"clamp-mss-to-pmtu", ArgKind::None}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    // The maximum leaves room for the IP header; the last option given wins.
    unsigned ipHdr = family_ == Family::IPv4 ? 20 : 40;
    mss_ = a.index == 0 ? static_cast<uint16_t>(args::uintOrFail(a, 0, 65535 - ipHdr)) : kClampPmtu;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("TCPMSS target: at least one parameter (--set-mss or --clamp-mss-to-pmtu) is required");
    if (!tgt::protoIs(ctx, 6)) ctx.fail("TCPMSS target: only valid for protocol 6 (`-p tcp')");
    if (!tgt::ruleHasSynMatch(ctx))
      ctx.fail("TCPMSS target: only works on TCP SYN packets (add `-m tcp --tcp-flags SYN,RST SYN')");
  }
  HookMask allowedHooks(std::string_view) const override {
    if (mss_ == kClampPmtu) return tgt::kFwd | tgt::kOut | tgt::kPost;
    return kAllHooks;
  }
  void save(SaveWriter& w) const override {
    if (mss_ == kClampPmtu) w.opt("clamp-mss-to-pmtu");
    else w.opt("set-mss").num(mss_);
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return Verdict::Continue;  // no TCP header here
    if (p.thoff > p.len) return Verdict::Drop;
    uint32_t len = p.len - p.thoff;
    if (len < 20) return Verdict::Drop;
    uint8_t* th = p.data + p.thoff;
    uint32_t hdrLen = (th[12] >> 4) * 4u;
    if (len < hdrLen || hdrLen < 20) return Verdict::Drop;
    unsigned minLen = (family_ == Family::IPv4 ? 20 : 40) + 20;
    unsigned newMss = mss_;
    if (mss_ == kClampPmtu) {
      if (kAssumedMtu <= minLen) return Verdict::Drop;
      newMss = kAssumedMtu - minLen;
    }
    for (uint32_t i = 20; i + 4 <= hdrLen;) {
      if (th[i] == 2 && th[i + 1] == 4) {
        uint16_t oldMss = be16(th + i + 2);
        if (oldMss <= newMss) return Verdict::Continue;  // never raise the MSS
        tgt::put16(th + i + 2, static_cast<uint16_t>(newMss));
        tgt::csumReplace16(th + 16, oldMss, static_cast<uint16_t>(newMss));
        return Verdict::Continue;
      }
      i += (th[i] <= 1 || th[i + 1] == 0) ? 1 : th[i + 1];
    }
    return addMssOption(p, th, hdrLen, len, newMss);
  }

 private:
  // No MSS option: the kernel inserts one first among the options, with at
  // most the MSS a peer must assume without it (RFC 1122: 536; IPv6, from
  // the minimum MTU: 1220), unless the SYN carries data or the header is
  // full. The packet grows by 4 bytes, into the buffer's room; without
  // room it passes unchanged (the kernel would reallocate).
  Verdict addMssOption(PacketView& p, uint8_t* th, uint32_t hdrLen, uint32_t tcpLen, unsigned newMss) const {
    if (tcpLen > hdrLen || hdrLen >= 60 || p.capacity < p.len + 4) return Verdict::Continue;
    newMss = std::min(newMss, family_ == Family::IPv4 ? 536u : 1220u);
    const uint16_t oldFlagsWord = be16(th + 12);
    std::memmove(th + 24, th + 20, hdrLen - 20);
    const uint8_t opt[4] = {2, 4, uint8_t(newMss >> 8), uint8_t(newMss)};
    std::memcpy(th + 20, opt, 4);
    th[12] = uint8_t(th[12] + (1 << 4));  // data offset + 1 word
    // The checksum covers the pseudo-header's length, the new option and
    // the new data offset; the moved options keep their 16-bit alignment.
    tgt::csumReplace16(th + 16, uint16_t(tcpLen), uint16_t(tcpLen + 4));
    tgt::csumReplace16(th + 16, 0, be16(opt));
    tgt::csumReplace16(th + 16, 0, be16(opt + 2));
    tgt::csumReplace16(th + 16, oldFlagsWord, be16(th + 12));
    p.len += 4;
    if (family_ == Family::IPv4) {
      const uint16_t oldTotal = be16(p.data + 2);
      tgt::put16(p.data + 2, uint16_t(oldTotal + 4));
      tgt::csumReplace16(p.data + 10, oldTotal, uint16_t(oldTotal + 4));
    } else {
      tgt::put16(p.data + 4, uint16_t(be16(p.data + 4) + 4));
    }
    return Verdict::Continue;
  }

  bool isTerminating() const override { return false; }

  Family family_;
  uint16_t mss_ = 0;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_TARGET("TCPMSS", kFamBoth, TcpmssTarget);

}  // namespace nfjit
