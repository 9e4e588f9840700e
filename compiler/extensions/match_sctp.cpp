// -m sctp: ports and chunk types/flags (kernel: xt_sctp.c).
#include <array>
#include <bitset>
#include <cctype>
#include <cstring>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

struct ChunkName {
  const char* name;
  uint8_t type;
  const char* flags;  // flag letters for bits 7..0, '-' where none
};

// iptables' chunk table; its order matters (see flag entries below).
constexpr ChunkName kChunks[] = {
    {"DATA", 0, "----IUBE"},
    {"INIT", 1, "--------"},
    {"INIT_ACK", 2, "--------"},
    {"SACK", 3, "--------"},
    {"HEARTBEAT", 4, "--------"},
    {"HEARTBEAT_ACK", 5, "--------"},
    {"ABORT", 6, "-------T"},
    {"SHUTDOWN", 7, "--------"},
    {"SHUTDOWN_ACK", 8, "--------"},
    {"ERROR", 9, "--------"},
    {"COOKIE_ECHO", 10, "--------"},
    {"COOKIE_ACK", 11, "--------"},
    {"ECN_ECNE", 12, "--------"},
    {"ECN_CWR", 13, "--------"},
    {"SHUTDOWN_COMPLETE", 14, "-------T"},
    {"I_DATA", 64, "----IUBE"},
    {"RE_CONFIG", 130, "--------"},
    {"PAD", 132, "--------"},
    {"ASCONF", 193, "--------"},
    {"ASCONF_ACK", 128, "--------"},
    {"FORWARD_TSN", 192, "--------"},
    {"I_FORWARD_TSN", 194, "--------"},
};

enum class ChunkMatch : uint8_t { Any = 1, All = 2, Only = 4 };

struct FlagInfo {
  uint8_t chunktype = 0, flag = 0, mask = 0;
};
constexpr int kMaxFlagInfo = 4;  // XT_NUM_SCTP_FLAGS

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

class SctpMatch final : public MatchExt {
 public:
  explicit SctpMatch(Family) {}
  std::string_view name() const override { return "sctp"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"source-port", ArgKind::Required, true},      {"sport", ArgKind::Required, true},
        {"destination-port", ArgKind::Required, true}, {"dport", ArgKind::Required, true},
        {"chunk-types", ArgKind::Two, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
      case 1:
        if (haveS_) a.fail("Only one `--source-port' allowed");
        haveS_ = true;
        sport_ = args::portRangeOrFail(a, a.value, "sctp");
        invS_ = a.inverted;
        break;
      case 2:
      case 3:
        if (haveD_) a.fail("Only one `--destination-port' allowed");
        haveD_ = true;
        dport_ = args::portRangeOrFail(a, a.value, "sctp");
        invD_ = a.inverted;
        break;
      case 4:
        parseChunks(a);
        haveChunks_ = true;
        invChunks_ = a.inverted;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override { hdr::requireProto(ctx, 132, "sctp", "sctp"); }
  void save(SaveWriter& w) const override {
    // Ports are printed whenever given, even as a full range.
    if (haveS_) hdr::saveRange(w, "sport", sport_, invS_);
    if (haveD_) hdr::saveRange(w, "dport", dport_, invD_);
    if (!haveChunks_) return;
    w.opt("chunk-types", invChunks_);
    w.word(kind_ == ChunkMatch::Any ? "any" : kind_ == ChunkMatch::All ? "all" : "only");
    if (map_.none()) {
      w.word("NONE");
      return;
    }
    if (map_.all()) {
      w.word("ALL");
      return;
    }
    std::string s;
    for (unsigned t = 0; t < 256; ++t) {
      if (!map_.test(t)) continue;
      if (!s.empty()) s += ',';
      for (const auto& c : kChunks)
        if (c.type == t) s += c.name;
      // iptables keys flag entries by table index and prints them against
      // the chunk type: the same for types 0-14, where flags exist.
      for (int j = 0; j < flagCount_; ++j) {
        const FlagInfo& fi = flags_[j];
        if (fi.chunktype != t || t >= std::size(kChunks) || !fi.mask) continue;
        s += ':';
        for (int bit = 7; bit >= 0; --bit) {
          if (!(fi.mask & (1u << bit))) continue;
          char letter = kChunks[t].flags[7 - bit];
          s += (fi.flag & (1u << bit)) ? letter
                                       : static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
        }
      }
    }
    w.word(s);
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    if (p.fragoff != 0) return false;
    uint8_t sh[12];
    if (!headerAt(p, p.thoff, sh, sizeof sh)) {
      ctx.hotdrop = true;
      return false;
    }
    if (haveS_ && hdr::inRange(be16(sh), sport_) == invS_) return false;
    if (haveD_ && hdr::inRange(be16(sh + 2), dport_) == invD_) return false;
    if (haveChunks_) {
      bool m = matchChunks(ctx, p.thoff + 12);
      if (ctx.hotdrop) return false;
      if (m == invChunks_) return false;
    }
    return true;
  }

 private:
  void parseChunks(const OptionArg& a) {
    if (ieq(a.value, "any"))
      kind_ = ChunkMatch::Any;
    else if (ieq(a.value, "all"))
      kind_ = ChunkMatch::All;
    else if (ieq(a.value, "only"))
      kind_ = ChunkMatch::Only;
    else
      a.fail("Match type has to be one of \"ALL\", \"ANY\" or \"ONLY\" (got `" + a.value + "')");
    map_.reset();
    if (ieq(a.value2, "ALL")) {
      map_.set();
      return;
    }
    if (ieq(a.value2, "NONE")) return;
    for (auto part : args::split(a.value2, ',')) {
      if (part.empty()) continue;  // strtok skips empty fields
      std::string_view nm = part, fl;
      if (auto c = part.find(':'); c != std::string_view::npos) {
        nm = part.substr(0, c);
        fl = part.substr(c + 1);
      }
      size_t idx = std::size(kChunks);
      for (size_t i = 0; i < std::size(kChunks); ++i)
        if (ieq(kChunks[i].name, nm)) {
          idx = i;
          break;
        }
      if (idx == std::size(kChunks))
        a.failAt(a.value2Loc, "Unknown sctp chunk `" + std::string(nm) + "' in --chunk-types");
      map_.set(kChunks[idx].type);
      for (char f : fl) {
        const char* valid = kChunks[idx].flags;
        const char* pos = std::strchr(valid, std::toupper(static_cast<unsigned char>(f)));
        if (f == '-' || !pos)
          a.failAt(a.value2Loc,
                   "Invalid flag `" + std::string(1, f) + "' for sctp chunk " + kChunks[idx].name);
        int bit = 7 - static_cast<int>(pos - valid);
        addFlag(a, static_cast<uint8_t>(idx), bit, std::isupper(static_cast<unsigned char>(f)) != 0);
      }
    }
  }
  void addFlag(const OptionArg& a, uint8_t key, int bit, bool set) {
    for (int i = 0; i < flagCount_; ++i)
      if (flags_[i].chunktype == key) {
        flags_[i].mask |= uint8_t(1u << bit);
        if (set) flags_[i].flag |= uint8_t(1u << bit);
        return;
      }
    if (flagCount_ == kMaxFlagInfo)
      a.failAt(a.value2Loc, "Number of chunk types with flags exceeds the limit of 4");
    flags_[flagCount_] = {key, uint8_t(set ? 1u << bit : 0), uint8_t(1u << bit)};
    ++flagCount_;
  }
  // No flag entry for the type means any flags do.
  bool flagsOk(uint8_t type, uint8_t fl) const {
    for (int i = 0; i < flagCount_; ++i)
      if (flags_[i].chunktype == type) return (fl & flags_[i].mask) == flags_[i].flag;
    return true;
  }
  // Walks the chunks like the kernel's match_packet(): a zero-length or
  // unreadable chunk header drops the packet.
  bool matchChunks(EvalContext& ctx, uint32_t off) const {
    const PacketView& p = ctx.pkt;
    std::bitset<256> pending = kind_ == ChunkMatch::All ? map_ : std::bitset<256>();
    do {
      uint8_t ch[4];
      if (!headerAt(p, off, ch, 4) || be16(ch + 2) == 0) {
        ctx.hotdrop = true;
        return false;
      }
      uint8_t type = ch[0];
      off += (uint32_t(be16(ch + 2)) + 3) & ~3u;
      if (map_.test(type)) {
        switch (kind_) {
          case ChunkMatch::Any:
            if (flagsOk(type, ch[1])) return true;
            break;
          case ChunkMatch::All:
            if (flagsOk(type, ch[1])) pending.reset(type);
            break;
          case ChunkMatch::Only:
            if (!flagsOk(type, ch[1])) return false;
            break;
        }
      } else if (kind_ == ChunkMatch::Only) {
        return false;
      }
    } while (off < p.len);
    switch (kind_) {
      case ChunkMatch::All: return pending.none();
      case ChunkMatch::Any: return false;
      case ChunkMatch::Only: return true;
    }
    return false;
  }

  args::Range sport_{0, 65535}, dport_{0, 65535};
  bool haveS_ = false, haveD_ = false, invS_ = false, invD_ = false;
  bool haveChunks_ = false, invChunks_ = false;
  ChunkMatch kind_ = ChunkMatch::Any;
  std::bitset<256> map_;
  std::array<FlagInfo, kMaxFlagInfo> flags_{};
  int flagCount_ = 0;
};

}  // namespace

NFJIT_REGISTER_MATCH("sctp", kFamBoth, SctpMatch);

}  // namespace nfjit
