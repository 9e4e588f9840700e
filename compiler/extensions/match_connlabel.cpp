// -m connlabel: a bit of the connection's 128-bit label set, optionally
// setting it (kernel: xt_connlabel.c).
#include <bitset>
#include <fstream>
#include <map>
#include <mutex>
#include <tuple>
#include <sstream>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

constexpr unsigned kMaxBits = 128;  // NF_CT_LABELS_MAX_SIZE * 8

// The label names of libnetfilter_conntrack's map: "bit name" lines.
const std::map<unsigned, std::string>& labelNames() {
  static const std::map<unsigned, std::string> names = [] {
    std::map<unsigned, std::string> m;
    std::ifstream in("/etc/xtables/connlabel.conf");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string bit, name;
      if (!(ss >> bit >> name) || bit[0] == '#') continue;
      if (auto v = args::parseUInt(bit, 0, kMaxBits - 1)) m.emplace(static_cast<unsigned>(*v), name);
    }
    return m;
  }();
  return names;
}

struct LabelStore {
  struct Entry {
    std::bitset<kMaxBits> bits;
    uint64_t deadline = 0;  // ns; dropped when the conntrack would have expired
  };
  std::mutex mu;
  std::map<std::tuple<std::array<uint8_t, 16>, std::array<uint8_t, 16>, uint16_t, uint16_t, uint8_t>, Entry> labels;
};
LabelStore& store() {
  static LabelStore s;
  return s;
}

class ConnlabelMatch final : public MatchExt {
 public:
  explicit ConnlabelMatch(Family) {}
  std::string_view name() const override { return "connlabel"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"label", ArgKind::Required, true}, {"set", ArgKind::None, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 1) {
      set_ = true;
      return;
    }
    std::optional<unsigned> bit;
    if (auto v = args::parseUInt(a.value, 0, INT32_MAX)) bit = static_cast<unsigned>(*v);
    else
      for (const auto& [b, n] : labelNames())
        if (n == a.value) bit = b;
    if (!bit) a.fail("label `" + a.value + "' not found in /etc/xtables/connlabel.conf or invalid value for --label");
    bit_ = *bit;
    inv_ = a.inverted;
    have_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!have_) ctx.fail("connlabel match: --label is required");
    if (bit_ >= kMaxBits)
      ctx.fail("connlabel match: label bit " + std::to_string(bit_) + " is out of range (0-" +
               std::to_string(kMaxBits - 1) + ")");
  }
  void save(SaveWriter& w) const override {
    auto it = labelNames().find(bit_);
    std::string shown = it != labelNames().end() ? it->second : std::to_string(bit_);
    w.opt("label", inv_).word("\"" + shown + "\"");
    if (set_) w.opt("set");
  }
  bool match(EvalContext& ctx) const override {
    const ConnInfo& ct = ctx.pkt.ct;
    if (!meta::ctPresent(ct)) return inv_;
    // Once a rule uses connlabel every conntrack carries a label set; the
    // sets live in a store keyed by the original tuple, shared by all
    // connlabel matches (ConnInfo has no labels of its own).
    LabelStore& st = store();
    std::lock_guard<std::mutex> lock(st.mu);
    uint64_t deadline = ctx.nowNs + (ct.expires ? ct.expires : 1) * 1000000000ull;
    for (auto it = st.labels.begin(); it != st.labels.end();)
      it = it->second.deadline < ctx.nowNs ? st.labels.erase(it) : std::next(it);
    auto& e = st.labels[std::make_tuple(ct.origSrc.b, ct.origDst.b, ct.origSrcPort, ct.origDstPort, ct.l4proto)];
    e.deadline = deadline;
    if (e.bits.test(bit_)) return !inv_;
    if (set_) {
      e.bits.set(bit_);
      return !inv_;
    }
    return inv_;
  }
  bool isStateful() const override { return true; }

  unsigned bit_ = 0;
  bool inv_ = false, set_ = false, have_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("connlabel", kFamBoth, ConnlabelMatch);

}  // namespace nfjit
