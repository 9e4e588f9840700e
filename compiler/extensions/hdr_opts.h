// -m hbh and -m dst share one kernel module (ip6t_hbh.c): the length of a
// hop-by-hop / destination options header and the sequence of its options.
#pragma once
#include <vector>

#include "compiler/extensions/hdr_common.h"

namespace nfjit::hdr {

template <uint8_t NextHdr>
class OptsMatch final : public MatchExt {
 public:
  explicit OptsMatch(Family) {}
  static constexpr const char* kName = NextHdr == kNhHop ? "hbh" : "dst";
  static constexpr unsigned kMaxOpts = 16;  // IP6T_OPTS_OPTSNR
  std::string_view name() const override { return kName; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {NextHdr == kNhHop ? "hbh-len" : "dst-len", ArgKind::Required, true},
        {NextHdr == kNhHop ? "hbh-opts" : "dst-opts", ArgKind::Required},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 0) {
      len_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
      haveLen_ = true;
      invLen_ = a.inverted;
      return;
    }
    // TYPE[:LEN],...; an option without LEN matches any length (stored as 0xff).
    opts_.clear();
    for (auto part : args::split(a.value, ',')) {
      if (opts_.size() == kMaxOpts) a.fail("too many options in --" + std::string(a.name) + " (at most 16)");
      auto colon = part.find(':');
      auto type = args::parseUInt(part.substr(0, colon));
      if (!type)
        a.fail("invalid option type `" + std::string(part.substr(0, colon)) + "' in --" +
               std::string(a.name));
      uint16_t o = static_cast<uint16_t>((*type & 0xff) << 8);
      if (colon != std::string_view::npos) {
        if (o == 0) a.fail("PAD0 has no length in --" + std::string(a.name));
        auto len = args::parseUInt(part.substr(colon + 1));
        if (!len)
          a.fail("invalid option length `" + std::string(part.substr(colon + 1)) + "' in --" +
                 std::string(a.name));
        o |= static_cast<uint16_t>(*len & 0xff);
      } else {
        o |= 0xff;
      }
      opts_.push_back(o);
    }
    haveOpts_ = true;
  }
  void save(SaveWriter& w) const override {
    if (haveLen_) w.opt(NextHdr == kNhHop ? "hbh-len" : "dst-len", invLen_).num(len_);
    if (haveOpts_) {
      w.opt(NextHdr == kNhHop ? "hbh-opts" : "dst-opts");
      std::string s;
      for (uint16_t o : opts_) {
        if (!s.empty()) s += ',';
        s += std::to_string(o >> 8);
        if ((o & 0xff) != 0xff) s += ":" + std::to_string(o & 0xff);
      }
      w.word(s);
    }
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint32_t ptr = 0;
    if (!findOrDrop(ctx, NextHdr, ptr)) return false;
    uint8_t h[2];
    if (!headerAt(p, ptr, h, 2)) {
      ctx.hotdrop = true;
      return false;
    }
    uint32_t hdrlen = (uint32_t(h[1]) + 1) << 3;
    if (p.len - ptr < hdrlen) return false;  // shorter than its length field says
    // --hbh-len is compared with the header length in bytes, like the kernel does.
    bool ret = !haveLen_ || ((len_ == hdrlen) != invLen_);
    if (!haveOpts_) return ret;
    ptr += 2;
    hdrlen -= 2;
    size_t i = 0;
    for (; i < opts_.size(); ++i) {
      if (hdrlen < 1) break;
      uint8_t type;
      if (!headerAt(p, ptr, &type, 1)) break;
      if (type != (opts_[i] >> 8)) break;
      uint32_t optlen;
      if (type) {
        if (hdrlen < 2) break;
        uint8_t l;
        if (!headerAt(p, ptr + 1, &l, 1)) break;
        uint8_t want = opts_[i] & 0xff;
        if (want != 0xff && want != l) break;
        optlen = uint32_t(l) + 2;
      } else {
        optlen = 1;  // Pad1
      }
      if ((ptr > p.len - optlen || hdrlen < optlen) && i + 1 < opts_.size()) break;
      ptr += optlen;
      hdrlen -= optlen;
    }
    return i == opts_.size() ? ret : false;
  }

  uint32_t len_ = 0;
  bool haveLen_ = false, invLen_ = false, haveOpts_ = false;
  std::vector<uint16_t> opts_;  // type << 8 | length (0xff = any)
};

}  // namespace nfjit::hdr
