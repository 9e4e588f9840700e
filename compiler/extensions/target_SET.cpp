// -j SET: add the packet's addresses/ports to an ipset, delete them, or map
// an entry's skbinfo (mark, priority, queue) onto the packet (kernel:
// xt_set.c, revision 3).
#include <cstdlib>

#include "compiler/extensions/tgt_util.h"

namespace nfjit {
namespace {

constexpr size_t kMaxSetName = 31;  // IPSET_MAXNAMELEN - 1
constexpr size_t kMaxDims = 6;      // IPSET_DIM_MAX

// iptables asks the kernel whether the set exists. nfjit has no ipset state
// yet: the sets that exist are named in NFJIT_IPSETS (comma-separated).
bool setExists(std::string_view name) {
  const char* env = std::getenv("NFJIT_IPSETS");
  if (!env) return false;
  for (auto s : args::split(env, ','))
    if (s == name) return true;
  return false;
}

class SetTarget final : public TargetExt {
 public:
  explicit SetTarget(Family) {}
  std::string_view name() const override { return "SET"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"add-set", ArgKind::Two},  {"del-set", ArgKind::Two},   {"exist", ArgKind::None},
        {"timeout", ArgKind::Required}, {"map-set", ArgKind::Two}, {"map-mark", ArgKind::None},
        {"map-prio", ArgKind::None}, {"map-queue", ArgKind::None},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0: parseSet(a, add_); break;
      case 1: parseSet(a, del_); break;
      case 2: exist_ = true; break;
      case 3: timeout_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX - 1)); break;
      case 4: parseSet(a, map_); break;
      case 5: mapMark_ = true; break;
      case 6: mapPrio_ = true; break;
      case 7: mapQueue_ = true; break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (add_.name.empty() && del_.name.empty() && map_.name.empty())
      ctx.fail("SET target: you must specify either `--add-set' or `--del-set' or `--map-set'");
    if (add_.name.empty() && exist_) ctx.fail("SET target: flag `--exist' can be used with `--add-set' only");
    if (add_.name.empty() && timeout_ != UINT32_MAX)
      ctx.fail("SET target: option `--timeout' can be used with `--add-set' only");
    bool anyMap = mapMark_ || mapPrio_ || mapQueue_;
    if (map_.name.empty() && anyMap)
      ctx.fail("SET target: flags `--map-mark', `--map-prio' and `--map-queue' can be used with `--map-set' only");
    if (!map_.name.empty() && !anyMap)
      ctx.fail("SET target: you must specify flags `--map-mark' or `--map-prio' or `--map-queue'");
  }
  HookMask allowedHooks(std::string_view) const override {
    // Priority and queue only make sense once the packet is being sent.
    if (!map_.name.empty() && (mapPrio_ || mapQueue_)) return tgt::kOut | tgt::kFwd | tgt::kPost;
    return kAllHooks;
  }
  void save(SaveWriter& w) const override {
    saveSet(w, "add-set", add_);
    if (exist_) w.opt("exist");
    if (timeout_ != UINT32_MAX) w.opt("timeout").num(timeout_);
    saveSet(w, "del-set", del_);
    saveSet(w, "map-set", map_);
    if (mapMark_) w.opt("map-mark");
    if (mapPrio_) w.opt("map-prio");
    if (mapQueue_) w.opt("map-queue");
  }
  Verdict apply(EvalContext& ctx) const override {
    auto push = [&](SetOp::Kind k, const SetRef& s) {
      if (s.name.empty()) return;
      SetOp op;
      op.kind = k;
      op.set = s.name;
      op.dirIsSrc = s.dirs;
      if (k == SetOp::Kind::Add) op.exist = exist_, op.timeout = timeout_;
      if (k == SetOp::Kind::Map) op.mapMark = mapMark_, op.mapPrio = mapPrio_, op.mapQueue = mapQueue_;
      ctx.effects.setOps.push_back(std::move(op));
    };
    push(SetOp::Kind::Add, add_);
    push(SetOp::Kind::Del, del_);
    push(SetOp::Kind::Map, map_);
    return Verdict::Continue;
  }
  bool isTerminating() const override { return false; }

 private:
  struct SetRef {
    std::string name;
    std::vector<bool> dirs;  // per dimension, true = src
  };
  static void parseSet(const OptionArg& a, SetRef& r) {
    if (a.value.size() > kMaxSetName)
      a.fail("setname `" + a.value + "' too long, max " + std::to_string(kMaxSetName) + " characters");
    if (!setExists(a.value)) a.fail("set `" + a.value + "' doesn't exist");
    r.name = a.value;
    auto parts = args::split(a.value2, ',');
    if (parts.size() > kMaxDims)
      a.failAt(a.value2Loc, "can't be more src/dst options than " + std::to_string(kMaxDims));
    // Only the first three letters are looked at, as iptables does.
    for (auto p : parts) {
      if (p.substr(0, 3) == "src") r.dirs.push_back(true);
      else if (p.substr(0, 3) == "dst") r.dirs.push_back(false);
      else a.failAt(a.value2Loc, "you must specify (the comma separated list of) 'src' or 'dst'");
    }
  }
  static void saveSet(SaveWriter& w, std::string_view opt, const SetRef& r) {
    if (r.name.empty()) return;
    std::string dirs;
    for (bool src : r.dirs) {
      if (!dirs.empty()) dirs += ',';
      dirs += src ? "src" : "dst";
    }
    w.opt(opt).word(r.name).word(dirs);
  }

  SetRef add_, del_, map_;
  bool exist_ = false, mapMark_ = false, mapPrio_ = false, mapQueue_ = false;
  uint32_t timeout_ = UINT32_MAX;
};

}  // namespace

NFJIT_REGISTER_TARGET("SET", kFamBoth, SetTarget);

}  // namespace nfjit
