// -m connbytes: packets, bytes or average packet size counted by conntrack
// accounting for the connection (kernel: xt_connbytes.c).
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

enum class What : uint8_t { None, Packets, Bytes, AvgPkt };
enum class Dir : uint8_t { None, Original, Reply, Both };

class ConnbytesMatch final : public MatchExt {
 public:
  explicit ConnbytesMatch(Family) {}
  std::string_view name() const override { return "connbytes"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"connbytes", ArgKind::Required, true},
                                      {"connbytes-dir", ArgKind::Required, false},
                                      {"connbytes-mode", ArgKind::Required, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: {
        auto r = args::rangeOrFail(a, a.value, 0, UINT64_MAX);
        from_ = r.lo;
        to_ = a.value.find(':') == std::string::npos ? UINT64_MAX : r.hi;
        // Inversion is stored by swapping the bounds, as the kernel expects.
        if (a.inverted) std::swap(from_, to_);
        haveCount_ = true;
        break;
      }
      case 1:
        if (a.value == "original") dir_ = Dir::Original;
        else if (a.value == "reply") dir_ = Dir::Reply;
        else if (a.value == "both") dir_ = Dir::Both;
        else a.fail("unknown --connbytes-dir `" + a.value + "' (original, reply or both)");
        break;
      case 2:
        if (a.value == "packets") what_ = What::Packets;
        else if (a.value == "bytes") what_ = What::Bytes;
        else if (a.value == "avgpkt") what_ = What::AvgPkt;
        else a.fail("unknown --connbytes-mode `" + a.value + "' (packets, bytes or avgpkt)");
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveCount_) ctx.fail("connbytes match: --connbytes is required");
    if (dir_ == Dir::None) ctx.fail("connbytes match: --connbytes-dir is required");
    if (what_ == What::None) ctx.fail("connbytes match: --connbytes-mode is required");
  }
  void save(SaveWriter& w) const override {
    uint64_t from = from_, to = to_;
    bool inv = from_ > to_;
    if (inv) std::swap(from, to);
    std::string s = std::to_string(from);
    if (to && to < UINT64_MAX) s += ":" + std::to_string(to);
    w.opt("connbytes", inv).word(s);
    static constexpr const char* kWhat[] = {"unknown", "packets", "bytes", "avgpkt"};
    static constexpr const char* kDir[] = {"unknown", "original", "reply", "both"};
    w.opt("connbytes-mode").word(kWhat[static_cast<int>(what_)]);
    w.opt("connbytes-dir").word(kDir[static_cast<int>(dir_)]);
  }
  bool match(EvalContext& ctx) const override {
    if (!meta::ctPresent(ctx.pkt.ct)) return false;
    const ConnInfo& ct = ctx.pkt.ct;
    if (!ct.accounted) return false;  // the kernel's nf_conn_acct_find() found none
    uint64_t what = 0;
    auto sumOrDir = [&](const uint64_t (&v)[2]) {
      return dir_ == Dir::Original ? v[0] : dir_ == Dir::Reply ? v[1] : v[0] + v[1];
    };
    switch (what_) {
      case What::Packets: what = sumOrDir(ct.acctPackets); break;
      case What::Bytes: what = sumOrDir(ct.acctBytes); break;
      case What::AvgPkt: {
        uint64_t pk = sumOrDir(ct.acctPackets), by = sumOrDir(ct.acctBytes);
        what = pk ? by / pk : 0;
        break;
      }
      case What::None: break;
    }
    if (to_ >= from_) return what >= from_ && what <= to_;
    return what < to_ || what > from_;  // inverted range
  }
  // The counters are connection state.
  bool isStateful() const override { return true; }

  uint64_t from_ = 0, to_ = 0;
  bool haveCount_ = false;
  What what_ = What::None;
  Dir dir_ = Dir::None;
};

}  // namespace

NFJIT_REGISTER_MATCH("connbytes", kFamBoth, ConnbytesMatch);

}  // namespace nfjit
