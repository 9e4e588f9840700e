// -m udp and -m udplite share one kernel implementation (xt_tcpudp.c):
// source/destination port ranges on an 8-byte header.
#pragma once
#include "compiler/extensions/hdr_common.h"
#include "compiler/ir/Lowering.h"

namespace nfjit::hdr {

template <uint8_t Proto>
class UdpLikeMatch final : public MatchExt {
 public:
  explicit UdpLikeMatch(Family) {}
  static constexpr const char* kName = Proto == 17 ? "udp" : "udplite";
  std::string_view name() const override { return kName; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"source-port", ArgKind::Required, true},
        {"sport", ArgKind::Required, true},
        {"destination-port", ArgKind::Required, true},
        {"dport", ArgKind::Required, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    bool src = a.index < 2;
    bool& seen = src ? haveS_ : haveD_;
    // --sport and --source-port are one option for iptables.
    if (seen) a.fail(std::string("multiple ") + (src ? "--sport" : "--dport") + " flags not allowed");
    seen = true;
    // Service names are looked up for the protocol iptables uses ("udp").
    (src ? sport_ : dport_) = args::portRangeOrFail(a, a.value, "udp");
    (src ? invS_ : invD_) = a.inverted;
  }
  void finalCheck(const RuleContext& ctx) override { requireProto(ctx, Proto, kName, kName); }
  void save(SaveWriter& w) const override {
    // A full range without `!' is no test at all and is omitted.
    if (!(sport_ == args::Range{0, 65535}) || invS_) saveRange(w, "sport", sport_, invS_);
    if (!(dport_ == args::Range{0, 65535}) || invD_) saveRange(w, "dport", dport_, invD_);
  }
  bool lower(LoweringContext& c) const override {
    c.require(c.range(Field::Frag, 0, 0));
    auto t = c.range(Field::Sport, sport_.lo, sport_.hi);
    c.require(invS_ ? c.negate(t) : t);
    t = c.range(Field::Dport, dport_.lo, dport_.hi);
    c.require(invD_ ? c.negate(t) : t);
    return true;
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;  // ports live in the first fragment only
    uint8_t h[8];
    if (!headerAt(p, p.thoff, h, sizeof h)) {
      ctx.hotdrop = true;  // truncated header
      return false;
    }
    return inRange(be16(h), sport_) != invS_ && inRange(be16(h + 2), dport_) != invD_;
  }

  args::Range sport_{0, 65535}, dport_{0, 65535};
  bool invS_ = false, invD_ = false, haveS_ = false, haveD_ = false;
};

}  // namespace nfjit::hdr
