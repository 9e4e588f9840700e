// -m set (revision 4): membership of the packet's addresses/ports in an
// ipset, with counter conditions (kernel: xt_set.c). Sets are created with
// the ipset tool outside the ruleset; a fresh network namespace has none,
// so the kernel (and iptables, which looks the set up) rejects every rule
// naming one, and so does nfjit.
#include <map>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

constexpr size_t kMaxName = 31;  // IPSET_MAXNAMELEN - 1
constexpr unsigned kDimMax = 6;  // IPSET_DIM_MAX

enum class CounterOp : uint8_t { None, Eq, Ne, Lt, Gt };
struct Counter {
  CounterOp op = CounterOp::None;
  uint64_t value = 0;
  bool test(uint64_t v) const {
    switch (op) {
      case CounterOp::Eq: return v == value;
      case CounterOp::Ne: return v != value;
      case CounterOp::Lt: return v < value;
      case CounterOp::Gt: return v > value;
      case CounterOp::None: return true;
    }
    return true;
  }
};

// The ipsets that exist: none in the model (they live outside iptables).
bool setExists(const std::string&) { return false; }

class SetMatch final : public MatchExt {
 public:
  explicit SetMatch(Family) {}
  std::string_view name() const override { return "set"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"match-set", ArgKind::Two, true},      {"set", ArgKind::Two, true},  // deprecated alias
        {"return-nomatch", ArgKind::None, false}, {"update-counters", ArgKind::None, true},
        {"packets-eq", ArgKind::Required, true},  {"packets-lt", ArgKind::Required, false},
        {"packets-gt", ArgKind::Required, false}, {"bytes-eq", ArgKind::Required, true},
        {"bytes-lt", ArgKind::Required, false},   {"bytes-gt", ArgKind::Required, false},
        {"update-subcounters", ArgKind::None, true},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
      case 1: {
        if (dim_) a.fail("--match-set can be specified only once");
        if (a.value.size() > kMaxName)
          a.fail("set name `" + a.value + "' is too long, at most 31 characters");
        // iptables resolves the set when it parses the option.
        if (!setExists(a.value))
          a.fail("set `" + a.value + "' doesn't exist (ipsets are created with `ipset create' before the rules load)");
        name_ = a.value;
        inv_ = a.inverted;
        for (auto dir : args::split(a.value2, ',')) {
          if (dim_ == kDimMax) a.failAt(a.value2Loc, "at most 6 src/dst flags are allowed in --match-set");
          ++dim_;
          if (dir.substr(0, 3) == "src") srcMask_ |= 1u << dim_;
          else if (dir.substr(0, 3) != "dst")
            a.failAt(a.value2Loc, "--match-set flags must be a comma-separated list of `src' and `dst'");
        }
        break;
      }
      case 2: returnNomatch_ = true; break;
      case 3: if (a.inverted) skipCounterUpdate_ = true; break;
      case 10: if (a.inverted) skipSubcounterUpdate_ = true; break;
      default: {
        const bool packets = a.index <= 6;
        Counter& c = packets ? packets_ : bytes_;
        if (c.op != CounterOp::None)
          a.fail(std::string("only one of the --") + (packets ? "packets" : "bytes") + "-[eq|lt|gt] is allowed");
        int k = (a.index - 4) % 3;
        c.op = k == 0 ? (a.inverted ? CounterOp::Ne : CounterOp::Eq) : k == 1 ? CounterOp::Lt : CounterOp::Gt;
        c.value = args::uintOrFail(a, 0, UINT64_MAX);
        break;
      }
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!dim_) ctx.fail("set match: you must specify --match-set with name and flags");
  }
  void save(SaveWriter& w) const override {
    std::string dirs;
    for (unsigned i = 1; i <= dim_; ++i) dirs += std::string(i == 1 ? "" : ",") + ((srcMask_ >> i) & 1 ? "src" : "dst");
    w.opt("match-set", inv_).word(name_).word(dirs);
    if (returnNomatch_) w.opt("return-nomatch");
    if (skipCounterUpdate_) w.opt("update-counters", true);
    if (skipSubcounterUpdate_) w.opt("update-subcounters", true);
    for (auto [c, n] : {std::pair{&packets_, "packets"}, std::pair{&bytes_, "bytes"}}) {
      std::string base(n);
      switch (c->op) {
        case CounterOp::Eq: w.opt(base + "-eq").num(c->value); break;
        case CounterOp::Ne: w.opt(base + "-eq", true).num(c->value); break;
        case CounterOp::Lt: w.opt(base + "-lt").num(c->value); break;
        case CounterOp::Gt: w.opt(base + "-gt").num(c->value); break;
        case CounterOp::None: break;
      }
    }
  }
  bool match(EvalContext&) const override {
    // A set that does not exist holds no element: the lookup fails, and
    // an element's counters are only tested when it is found.
    const bool found = false;
    bool ret = found && packets_.test(0) && bytes_.test(0);
    return ret != inv_;
  }
  bool isStateful() const override { return true; }  // set contents live outside the ruleset

  std::string name_;
  unsigned dim_ = 0;
  uint32_t srcMask_ = 0;
  bool inv_ = false, returnNomatch_ = false, skipCounterUpdate_ = false, skipSubcounterUpdate_ = false;
  Counter packets_, bytes_;
};

}  // namespace

NFJIT_REGISTER_MATCH("set", kFamBoth, SetMatch);

}  // namespace nfjit
