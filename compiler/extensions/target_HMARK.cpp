// -j HMARK: skb->mark = hash(addresses, ports, protocol) % mod + offset,
// symmetric in both directions (kernel: xt_HMARK.c).
#include <strings.h>

#include <algorithm>
#include <cstring>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

// The kernel's XT_HMARK_* flag bits (also the option ids iptables tracks).
enum : uint32_t {
  kSaddrMask = 1u << 0, kDaddrMask = 1u << 1, kSpi = 1u << 2, kSpiMask = 1u << 3,
  kSport = 1u << 4, kDport = 1u << 5, kSportMask = 1u << 6, kDportMask = 1u << 7,
  kProtoMask = 1u << 8, kRnd = 1u << 9, kModulus = 1u << 10, kOffset = 1u << 11, kCt = 1u << 12,
};

class HmarkTarget final : public TargetExt {
 public:
  explicit HmarkTarget(Family f) : family_(f) {}
  std::string_view name() const override { return "HMARK"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"hmark-tuple", ArgKind::Required},      {"hmark-src-prefix", ArgKind::Required},
        {"hmark-dst-prefix", ArgKind::Required}, {"hmark-sport-mask", ArgKind::Required},
        {"hmark-dport-mask", ArgKind::Required}, {"hmark-spi-mask", ArgKind::Required},
        {"hmark-sport", ArgKind::Required},      {"hmark-dport", ArgKind::Required},
        {"hmark-spi", ArgKind::Required},        {"hmark-proto-mask", ArgKind::Required},
        {"hmark-rnd", ArgKind::Required},        {"hmark-mod", ArgKind::Required},
        {"hmark-offset", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    auto u16 = [&] { return static_cast<uint16_t>(args::uintOrFail(a, 0, 65535)); };
    auto u32 = [&] { return static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX)); };
    switch (a.index) {
      case 0: parseTuple(a); break;
      case 1: srcLen_ = static_cast<unsigned>(args::uintOrFail(a, 0, addrBits(family_))), flags_ |= kSaddrMask; break;
      case 2: dstLen_ = static_cast<unsigned>(args::uintOrFail(a, 0, addrBits(family_))), flags_ |= kDaddrMask; break;
      case 3: portMask_ = (portMask_ & 0xffff) | uint32_t(u16()) << 16, flags_ |= kSportMask; break;
      case 4: portMask_ = (portMask_ & 0xffff0000u) | u16(), flags_ |= kDportMask; break;
      case 5: portMask_ = u32(), flags_ |= kSpiMask; break;
      case 6: portSet_ = (portSet_ & 0xffff) | uint32_t(u16()) << 16, flags_ |= kSport; break;
      case 7: portSet_ = (portSet_ & 0xffff0000u) | u16(), flags_ |= kDport; break;
      case 8: portSet_ = u32(), flags_ |= kSpi; break;
      case 9: protoMask_ = u16(), flags_ |= kProtoMask; break;
      case 10: rnd_ = u32(), flags_ |= kRnd; break;
      case 11: mod_ = static_cast<uint32_t>(args::uintOrFail(a, 1, UINT32_MAX)), flags_ |= kModulus; break;
      case 12: offset_ = u32(), flags_ |= kOffset; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!(flags_ & kModulus)) ctx.fail("HMARK target: --hmark-mod is mandatory");
    if (!(flags_ & kRnd)) ctx.fail("HMARK target: --hmark-rnd is mandatory");
    if ((flags_ & kSpiMask) && (flags_ & (kSportMask | kDportMask)))
      ctx.fail("HMARK target: you cannot use --hmark-spi-mask and --hmark-?port-mask at the same time");
    if ((flags_ & kSpi) && (flags_ & (kSport | kDport)))
      ctx.fail("HMARK target: --hmark-spi and --hmark-?port cannot be combined");
    if (!(flags_ & (kSaddrMask | kDaddrMask | kSpi | kSpiMask | kSport | kDport | kSportMask |
                    kDportMask | kProtoMask | kCt)))
      ctx.fail("HMARK target: you have to specify --hmark-tuple at least");
  }
  void save(SaveWriter& w) const override {
    if (flags_ & kSaddrMask) w.opt("hmark-src-prefix").num(srcLen_);
    if (flags_ & kDaddrMask) w.opt("hmark-dst-prefix").num(dstLen_);
    if (flags_ & kSportMask) w.opt("hmark-sport-mask").word(tgt::hexw(portMask_ >> 16, 4));
    if (flags_ & kDportMask) w.opt("hmark-dport-mask").word(tgt::hexw(portMask_ & 0xffff, 4));
    if (flags_ & kSpiMask) w.opt("hmark-spi-mask").word(tgt::hexw(portMask_, 8));
    if (flags_ & kSport) w.opt("hmark-sport").word(tgt::hexw(portSet_ >> 16, 4));
    if (flags_ & kDport) w.opt("hmark-dport").word(tgt::hexw(portSet_ & 0xffff, 4));
    if (flags_ & kSpi) w.opt("hmark-spi").word(tgt::hexw(portSet_, 8));
    if (flags_ & kProtoMask) w.opt("hmark-proto-mask").word(tgt::hexw(protoMask_, 2));
    if (flags_ & kRnd) w.opt("hmark-rnd").word(tgt::hexw(rnd_, 8));
    if (flags_ & kModulus) w.opt("hmark-mod").num(mod_);
    if (flags_ & kOffset) w.opt("hmark-offset").num(offset_);
    if (flags_ & kCt) w.opt("hmark-tuple").word("ct");
  }
  Verdict apply(EvalContext& ctx) const override {
    Tuple t;
    bool ok = (flags_ & kCt) ? fromConntrack(ctx.pkt, t) : fromPacket(ctx.pkt, t);
    if (!ok) return Verdict::Continue;
    uint32_t src = t.src, dst = t.dst;
    if (dst < src) std::swap(src, dst);
    uint32_t h = tgt::jhash3(src, dst, t.ports, rnd_) ^ (t.proto & protoMask_);
    ctx.pkt.mark = tgt::reciprocalScale(h, mod_) + offset_;
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  struct Tuple {
    uint32_t src = 0, dst = 0, ports = 0;
    uint8_t proto = 0;
  };

  // "ct" and "src,dst,sport,dport,proto,spi": each word may be abbreviated.
  void parseTuple(const OptionArg& a) {
    static const std::pair<const char*, uint32_t> kWords[] = {
        {"ct", kCt},          {"src", kSaddrMask},    {"dst", kDaddrMask}, {"sport", kSportMask},
        {"dport", kDportMask}, {"proto", kProtoMask}, {"spi", kSpiMask},
    };
    for (auto word : args::split(a.value, ',')) {
      bool found = false;
      for (auto& [kw, bit] : kWords) {
        if (word.empty() || word.size() > std::strlen(kw) ||
            strncasecmp(std::string(word).c_str(), kw, word.size()) != 0)
          continue;
        found = true;
        flags_ |= bit;
        switch (bit) {
          case kSaddrMask: srcLen_ = addrBits(family_); break;
          case kDaddrMask: dstLen_ = addrBits(family_); break;
          case kSportMask: portMask_ |= 0xffff0000u; break;
          case kDportMask: portMask_ |= 0xffffu; break;
          case kProtoMask: protoMask_ = 0xffff; break;
          case kSpiMask: portMask_ = 0xffffffffu; break;
          default: break;
        }
        break;
      }
      if (!found) a.fail("bad type `" + std::string(word) + "' in --hmark-tuple (ct, src, dst, sport, dport, proto, spi)");
    }
  }

  // Address folded to 32 bits under the prefix mask (IPv6: xor of the words).
  uint32_t fold(const IpAddr& addr, unsigned len) const {
    IpAddr m = applyMask(addr, prefixMask(family_, len));
    if (family_ == Family::IPv4) return be32(m.b.data());
    return be32(m.b.data()) ^ be32(m.b.data() + 4) ^ be32(m.b.data() + 8) ^ be32(m.b.data() + 12);
  }
  uint32_t hasMask(uint32_t bit, unsigned len) const { return (flags_ & bit) ? len : 0; }

  // Ports (or the SPI) under the masks, smaller port in the low half.
  uint32_t swapPorts(uint32_t raw) const {
    uint32_t v = (raw & portMask_) | portSet_;
    uint16_t s = static_cast<uint16_t>(v >> 16), d = static_cast<uint16_t>(v);
    return d > s ? (uint32_t(d) << 16 | s) : (uint32_t(s) << 16 | d);
  }

  static int portsOffset(uint8_t proto) {
    switch (proto) {
      case 6: case 17: case 33: case 50: case 132: case 136: return 0;
      case 51: return 4;  // AH: the SPI follows next header, length, reserved
      default: return -1;
    }
  }

  bool fromPacket(const PacketView& p, Tuple& t) const {
    IpAddr src = p.src, dst = p.dst;
    uint8_t proto = p.protocol;
    uint32_t l4 = p.thoff;
    bool noPorts = p.fragmented;
    uint8_t icmpErr = family_ == Family::IPv4 ? 1 : 58;
    if (proto == icmpErr && p.protocolFound && p.fragoff == 0) {
      // ICMP errors hash as the packet they quote.
      uint8_t type;
      if (!headerAt(p, p.thoff, &type, 1)) return false;
      bool isErr = family_ == Family::IPv4 ? (type == 3 || type == 4 || type == 5 || type == 11 || type == 12)
                                           : type < 128;
      if (isErr) {
        uint32_t in = p.thoff + 8;
        if (family_ == Family::IPv4) {
          uint8_t ih[20];
          if (!headerAt(p, in, ih, sizeof ih)) return false;
          std::copy(ih + 12, ih + 16, src.b.begin());
          std::copy(ih + 16, ih + 20, dst.b.begin());
          proto = ih[9];
          l4 = in + (ih[0] & 0x0f) * 4u;
          noPorts = (be16(ih + 6) & 0x3fff) != 0;
        } else {
          uint8_t ih[40];
          if (!headerAt(p, in, ih, sizeof ih)) return false;
          std::copy(ih + 8, ih + 24, src.b.begin());
          std::copy(ih + 24, ih + 40, dst.b.begin());
          proto = ih[6];
          l4 = in + 40;
          noPorts = false;
        }
      }
    }
    t.src = fold(src, hasMask(kSaddrMask, srcLen_));
    t.dst = fold(dst, hasMask(kDaddrMask, dstLen_));
    t.proto = proto;
    if (proto == icmpErr || noPorts) return true;  // no ports: ICMP, fragments
    int off = portsOffset(proto);
    if (off < 0) return true;
    uint8_t ports[4];
    if (!headerAt(p, l4 + static_cast<uint32_t>(off), ports, 4)) return true;
    t.ports = swapPorts(be32(ports));
    return true;
  }

  bool fromConntrack(const PacketView& p, Tuple& t) const {
    if (!tgt::hasConntrack(p)) return false;
    const ConnInfo& c = p.ct;
    t.src = fold(c.origSrc, hasMask(kSaddrMask, srcLen_));
    t.dst = fold(c.replSrc, hasMask(kDaddrMask, dstLen_));
    t.proto = c.l4proto;
    if (t.proto != 1)
      t.ports = swapPorts(uint32_t(c.origSrcPort) << 16 | c.replSrcPort);
    return true;
  }

  Family family_;
  uint32_t flags_ = 0;
  unsigned srcLen_ = 0, dstLen_ = 0;
  uint32_t portMask_ = 0, portSet_ = 0, rnd_ = 0, mod_ = 0, offset_ = 0;
  uint16_t protoMask_ = 0;
};

}  // namespace

NFJIT_REGISTER_TARGET("HMARK", kFamBoth, HmarkTarget);

}  // namespace nfjit
