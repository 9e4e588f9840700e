// -m srh (revision 1): IPv6 Segment Routing Header fields and segment IDs
// (kernel: ip6t_srh.c).
#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

enum Field : int {
  kNextHdr,
  kLenEq,
  kLenGt,
  kLenLt,
  kSegsEq,
  kSegsGt,
  kSegsLt,
  kLastEq,
  kLastGt,
  kLastLt,
  kTag,
  kPsid,
  kNsid,
  kLsid,
  kNumFields
};

class SrhMatch final : public MatchExt {
 public:
  explicit SrhMatch(Family) {}
  std::string_view name() const override { return "srh"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"srh-next-hdr", ArgKind::Required, true},      {"srh-hdr-len-eq", ArgKind::Required, true},
        {"srh-hdr-len-gt", ArgKind::Required, true},    {"srh-hdr-len-lt", ArgKind::Required, true},
        {"srh-segs-left-eq", ArgKind::Required, true},  {"srh-segs-left-gt", ArgKind::Required, true},
        {"srh-segs-left-lt", ArgKind::Required, true},  {"srh-last-entry-eq", ArgKind::Required, true},
        {"srh-last-entry-gt", ArgKind::Required, true}, {"srh-last-entry-lt", ArgKind::Required, true},
        {"srh-tag", ArgKind::Required, true},           {"srh-psid", ArgKind::Required, true},
        {"srh-nsid", ArgKind::Required, true},          {"srh-lsid", ArgKind::Required, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    int f = a.index;
    set_[f] = true;
    inv_[f] = a.inverted;
    if (f == kTag) {
      tag_ = static_cast<uint16_t>(args::uintOrFail(a, 0, 65535));
    } else if (f >= kPsid) {
      // ADDR[/LEN]: the address is kept as written, the kernel masks both sides.
      auto slash = a.value.find('/');
      sid_[f - kPsid] = args::addrOrFail(a, Family::IPv6, std::string_view(a.value).substr(0, slash));
      unsigned len = 128;
      if (slash != std::string::npos)
        len = static_cast<unsigned>(args::uintOrFail(a, std::string_view(a.value).substr(slash + 1), 0, 128));
      sidLen_[f - kPsid] = len;
    } else {
      uint8_t v = static_cast<uint8_t>(args::uintOrFail(a, 0, 255));
      if (f == kNextHdr)
        nextHdr_ = v;
      else if (f <= kLenLt)
        hdrLen_ = v;
      else if (f <= kSegsLt)
        segsLeft_ = v;
      else
        lastEntry_ = v;
    }
  }
  void save(SaveWriter& w) const override {
    auto opts = options();
    for (int f = 0; f < kNumFields; ++f) {
      if (!set_[f]) continue;
      w.opt(opts[f].name, inv_[f]);
      if (f == kTag)
        w.num(tag_);
      else if (f >= kPsid)
        w.word(formatIpAddr(Family::IPv6, sid_[f - kPsid]) + "/" + std::to_string(sidLen_[f - kPsid]));
      else
        w.num(f == kNextHdr ? nextHdr_ : f <= kLenLt ? hdrLen_ : f <= kSegsLt ? segsLeft_ : lastEntry_);
    }
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    uint32_t off = 0;
    // Unlike the other header matches, srh never drops on a bad chain.
    if (hdr::ipv6FindHdr(p, hdr::kNhRouting, off) != hdr::kFound) return false;
    uint8_t h[8];  // next hdr, hdr len, type, segments left, last entry, flags, tag
    if (!headerAt(p, off, h, sizeof h)) return false;
    uint32_t hdrlen = (uint32_t(h[1]) + 1) << 3;
    if (p.len - off < hdrlen) return false;
    if (h[2] != 4) return false;  // not a segment routing header
    uint8_t segs = h[3], last = h[4];
    if (segs > last) return false;
    auto test = [&](int f, bool cond) { return !set_[f] || cond != inv_[f]; };
    if (!test(kNextHdr, h[0] == nextHdr_)) return false;
    if (!test(kLenEq, h[1] == hdrLen_) || !test(kLenGt, h[1] > hdrLen_) || !test(kLenLt, h[1] < hdrLen_))
      return false;
    if (!test(kSegsEq, segs == segsLeft_) || !test(kSegsGt, segs > segsLeft_) ||
        !test(kSegsLt, segs < segsLeft_))
      return false;
    if (!test(kLastEq, last == lastEntry_) || !test(kLastGt, last > lastEntry_) ||
        !test(kLastLt, last < lastEntry_))
      return false;
    if (!test(kTag, be16(h + 6) == tag_)) return false;
    // Previous, next and last segment IDs in the segment list.
    for (int f = kPsid; f <= kLsid; ++f) {
      if (!set_[f]) continue;
      uint32_t idx;
      if (f == kPsid) {
        if (segs == last) return false;
        idx = segs + 1u;
      } else if (f == kNsid) {
        if (segs == 0) return false;
        idx = segs - 1u;
      } else {
        idx = 0;  // the list is stored in reverse: entry 0 is the last segment
      }
      IpAddr sid;
      if (!headerAt(p, off + 8 + idx * 16, sid.b.data(), 16)) return false;
      IpAddr mask = prefixMask(Family::IPv6, sidLen_[f - kPsid]);
      bool equal = applyMask(sid, mask) == applyMask(sid_[f - kPsid], mask);
      if (equal == inv_[f]) return false;
    }
    return true;
  }

 private:
  bool set_[kNumFields] = {}, inv_[kNumFields] = {};
  uint8_t nextHdr_ = 0, hdrLen_ = 0, segsLeft_ = 0, lastEntry_ = 0;
  uint16_t tag_ = 0;
  IpAddr sid_[3];
  unsigned sidLen_[3] = {128, 128, 128};
};

}  // namespace

NFJIT_REGISTER_MATCH("srh", kFamV6, SrhMatch);

}  // namespace nfjit
