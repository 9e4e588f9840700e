// IPv6-to-IPv6 network prefix translation (RFC 6296), shared by SNPT and
// DNPT (kernel: ip6t_NPT.c): the prefix is swapped and one 16-bit word of
// the interface identifier absorbs the checksum difference, so transport
// checksums stay valid.
#pragma once
#include <algorithm>
#include <utility>

#include "compiler/extensions/tgt_util.h"

namespace nfjit::tgt {

class NptTarget : public TargetExt {
 public:
  NptTarget(bool source, std::string_view name) : source_(source), name_(name) {}
  std::string_view name() const override { return name_; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"src-pfx", ArgKind::Required}, {"dst-pfx", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    std::string_view s = a.value;
    auto slash = s.find('/');
    auto addr = parseIpAddr(Family::IPv6, s.substr(0, slash));
    if (!addr) a.fail("bad IPv6 prefix `" + a.value + "' for --" + std::string(a.name));
    unsigned len = 128;
    if (slash != std::string_view::npos) len = static_cast<unsigned>(args::uintOrFail(a, s.substr(slash + 1), 0, 128));
    Prefix& p = a.index == 0 ? src_ : dst_;
    p.addr = *addr;
    p.len = len;
    p.set = true;
    p.loc = a.valueLoc;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!src_.set) ctx.fail(std::string(name_) + " target: option `--src-pfx' must be specified");
    if (!dst_.set) ctx.fail(std::string(name_) + " target: option `--dst-pfx' must be specified");
    for (const Prefix* p : {&src_, &dst_}) {
      if (p->len > 64) throw ParseError(p->loc, std::string(name_) + " target: prefix length " + std::to_string(p->len) + " is longer than 64");
      if (!(applyMask(p->addr, prefixMask(Family::IPv6, p->len)) == p->addr))
        throw ParseError(p->loc, std::string(name_) + " target: prefix " + formatIpAddr(Family::IPv6, p->addr) + "/" +
                                     std::to_string(p->len) + " has host bits set");
    }
    requireTable(ctx, name_, {"mangle"});
  }
  HookMask allowedHooks(std::string_view) const override { return source_ ? (kIn | kPost) : (kPre | kOut); }
  void save(SaveWriter& w) const override {
    for (auto [opt, p] : {std::pair{"src-pfx", &src_}, std::pair{"dst-pfx", &dst_}})
      if (!(p->addr == IpAddr{}) || p->len != 0)
        w.opt(opt).word(formatIpAddr(Family::IPv6, p->addr) + "/" + std::to_string(p->len));
  }
  Verdict apply(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    if (p.family != Family::IPv6 || p.len < 40) return Verdict::Continue;
    uint8_t* a = p.data + (source_ ? 8 : 24);
    if (!mapPrefix(a)) {
      // The kernel answers with a parameter problem pointing at the address.
      ctx.effects.rejectSent = true;
      ctx.effects.rejectType = 4;  // ICMPV6_PARAMPROB
      ctx.effects.rejectCode = 0;  // ICMPV6_HDR_FIELD
      return Verdict::Drop;
    }
    IpAddr& meta = source_ ? p.src : p.dst;
    std::copy(a, a + 16, meta.b.begin());
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  struct Prefix {
    IpAddr addr;
    unsigned len = 0;
    bool set = false;
    SourceLoc loc;
  };
  static uint32_t onesAdd(uint32_t a, uint32_t b) {
    uint32_t s = a + b;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return s;
  }
  // Ones'-complement sum of the prefix words of src minus those of dst.
  uint16_t adjustment() const {
    uint32_t s = 0;
    for (int i = 0; i < 8; ++i) {
      s = onesAdd(s, be16(src_.addr.b.data() + 2 * i));
      s = onesAdd(s, static_cast<uint16_t>(~be16(dst_.addr.b.data() + 2 * i)));
    }
    return static_cast<uint16_t>(s);
  }
  bool mapPrefix(uint8_t* a) const {
    unsigned len = std::max(src_.len, dst_.len);
    for (unsigned i = 0; i < len; ++i) {
      // Bits inside the prefix come from the translated prefix.
      uint8_t bit = static_cast<uint8_t>(0x80u >> (i % 8));
      a[i / 8] = static_cast<uint8_t>((a[i / 8] & ~bit) | (dst_.addr.b[i / 8] & bit));
    }
    unsigned idx = 3;
    if (len > 48) {
      // The first word of the interface id that is not 0xffff.
      for (idx = 4; idx < 8 && be16(a + 2 * idx) == 0xffff; ++idx) {}
      if (idx == 8) return false;
    }
    uint16_t sum = static_cast<uint16_t>(onesAdd(be16(a + 2 * idx), adjustment()));
    if (sum == 0xffff) sum = 0;
    put16(a + 2 * idx, sum);
    return true;
  }

  bool source_;
  std::string_view name_;
  Prefix src_, dst_;
};

}  // namespace nfjit::tgt
