// -m rt: IPv6 routing header type, segments left, length, and for type 0
// the reserved field and address list (kernel: ip6t_rt.c).
#include <vector>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

constexpr unsigned kMaxAddrs = 16;  // IP6T_RT_HOPS

class RtMatch final : public MatchExt {
 public:
  explicit RtMatch(Family) {}
  std::string_view name() const override { return "rt"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"rt-type", ArgKind::Required, true}, {"rt-segsleft", ArgKind::Required, true},
        {"rt-len", ArgKind::Required, true},  {"rt-0-res", ArgKind::None},
        {"rt-0-addrs", ArgKind::Required},    {"rt-0-not-strict", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    auto needType0 = [&] {
      if (!haveType_ || type_ != 0 || invType_)
        a.fail("`--rt-type 0' required before `--" + std::string(a.name) + "'");
    };
    switch (a.index) {
      case 0:
        type_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        haveType_ = true;
        invType_ = a.inverted;
        break;
      case 1:
        segs_ = args::rangeOrFail(a, a.value, 0, UINT32_MAX);
        invSegs_ = a.inverted;
        break;
      case 2:
        len_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        haveLen_ = true;
        invLen_ = a.inverted;
        break;
      case 3:
        needType0();
        res_ = true;
        break;
      case 4:
        needType0();
        addrs_.clear();
        for (auto part : args::split(a.value, ',')) {
          if (addrs_.size() == kMaxAddrs) a.fail("too many addresses in --rt-0-addrs (at most 16)");
          addrs_.push_back(args::addrOrFail(a, Family::IPv6, part));
        }
        haveAddrs_ = true;
        break;
      case 5:
        if (!haveAddrs_) a.fail("`--rt-0-addrs ...' required before `--rt-0-not-strict'");
        notStrict_ = true;
        break;
    }
  }
  void save(SaveWriter& w) const override {
    if (haveType_) w.opt("rt-type", invType_).num(type_);
    if (!(segs_ == args::Range{0, UINT32_MAX}) || invSegs_) hdr::saveRange(w, "rt-segsleft", segs_, invSegs_);
    if (haveLen_) w.opt("rt-len", invLen_).num(len_);
    if (res_) w.opt("rt-0-res");
    if (haveAddrs_) {
      w.opt("rt-0-addrs");
      std::string s;
      for (const auto& ip : addrs_) {
        if (!s.empty()) s += ',';
        s += formatIpAddr(Family::IPv6, ip);
      }
      w.word(s);
    }
    if (notStrict_) w.opt("rt-0-not-strict");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint32_t ptr = 0;
    if (!hdr::findOrDrop(ctx, hdr::kNhRouting, ptr)) return false;
    uint8_t rh[4];  // next header, length, type, segments left
    if (!headerAt(p, ptr, rh, sizeof rh)) {
      ctx.hotdrop = true;
      return false;
    }
    uint32_t hdrlen = (uint32_t(rh[1]) + 1) << 3;
    if (p.len - ptr < hdrlen) return false;
    bool ret = (hdr::inRange(rh[3], segs_) != invSegs_) && (!haveLen_ || ((len_ == hdrlen) != invLen_)) &&
               (!haveType_ || ((type_ == rh[2]) != invType_));
    if (ret && res_) {
      uint8_t r[4];
      if (!headerAt(p, ptr + 4, r, 4)) {
        ctx.hotdrop = true;
        return false;
      }
      ret = be32(r) == 0;
    }
    if (!haveAddrs_) return ret;
    // Type 0 header: 8 fixed bytes, then the addresses.
    uint32_t n = hdrlen >= 8 ? (hdrlen - 8) / 16 : 0;
    auto addrAt = [&](uint32_t i, IpAddr& out) {
      if (!headerAt(p, ptr + 8 + i * 16, out.b.data(), 16)) {
        ctx.hotdrop = true;
        return false;
      }
      return true;
    };
    if (notStrict_) {
      // The given addresses must appear in this order, others may interleave.
      size_t k = 0;
      for (uint32_t i = 0; i < n && k < addrs_.size(); ++i) {
        IpAddr ip;
        if (!addrAt(i, ip)) return false;
        if (ip == addrs_[k]) ++k;
      }
      return k == addrs_.size() ? ret : false;
    }
    // Strict: exactly these addresses.
    if (addrs_.size() > n) return false;
    size_t k = 0;
    for (; k < addrs_.size(); ++k) {
      IpAddr ip;
      if (!addrAt(static_cast<uint32_t>(k), ip)) return false;
      if (!(ip == addrs_[k])) break;
    }
    return (k == addrs_.size() && k == n) ? ret : false;
  }

  uint32_t type_ = 0, len_ = 0;
  args::Range segs_{0, UINT32_MAX};
  bool haveType_ = false, invType_ = false, invSegs_ = false, haveLen_ = false, invLen_ = false;
  bool res_ = false, haveAddrs_ = false, notStrict_ = false;
  std::vector<IpAddr> addrs_;
};

}  // namespace

NFJIT_REGISTER_MATCH("rt", kFamV6, RtMatch);

}  // namespace nfjit
