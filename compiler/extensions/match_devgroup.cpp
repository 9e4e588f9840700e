// -m devgroup: the group of the input/output device (kernel: xt_devgroup.c).
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

// /etc/iproute2/group: "id name" lines, as libxtables' lmap reads them.
const std::map<uint32_t, std::string>& groupNames() {
  static const std::map<uint32_t, std::string> names = [] {
    std::map<uint32_t, std::string> m;
    std::ifstream in("/etc/iproute2/group");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string id, name;
      if (!(ss >> id >> name) || id[0] == '#') continue;
      if (auto v = args::parseUInt(id, 0, UINT32_MAX)) m.emplace(static_cast<uint32_t>(*v), name);
    }
    return m;
  }();
  return names;
}

class DevgroupMatch final : public MatchExt {
 public:
  explicit DevgroupMatch(Family) {}
  std::string_view name() const override { return "devgroup"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"src-group", ArgKind::Required, true},
                                      {"dst-group", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    Side& s = side_[a.index];
    s.on = true;
    s.inv = a.inverted;
    s.mask = 0xffffffff;
    auto slash = a.value.find('/');
    if (auto v = args::parseUInt(std::string_view(a.value).substr(0, slash), 0, UINT32_MAX)) {
      s.group = static_cast<uint32_t>(*v);
      if (slash != std::string::npos)
        s.mask = static_cast<uint32_t>(args::uintOrFail(a, std::string_view(a.value).substr(slash + 1), 0, UINT32_MAX));
      return;
    }
    for (const auto& [id, n] : groupNames())
      if (n == a.value) {
        s.group = id;
        return;
      }
    a.fail("could not map device group name `" + a.value + "' to a number for --" +
           std::string(a.name));
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!side_[0].on && !side_[1].on)
      ctx.fail("devgroup match: --src-group or --dst-group is required");
  }
  HookMask allowedHooks(std::string_view) const override {
    HookMask m = kAllHooks;
    if (side_[0].on) m &= hookBit(Hook::PreRouting) | hookBit(Hook::LocalIn) | hookBit(Hook::Forward);
    if (side_[1].on) m &= hookBit(Hook::Forward) | hookBit(Hook::LocalOut) | hookBit(Hook::PostRouting);
    return m;
  }
  void save(SaveWriter& w) const override {
    static constexpr const char* kNames[] = {"src-group", "dst-group"};
    for (int i = 0; i < 2; ++i) {
      const Side& s = side_[i];
      if (!s.on) continue;
      w.opt(kNames[i], s.inv);
      char buf[40];
      if (s.mask != 0xffffffff) {
        std::snprintf(buf, sizeof buf, " 0x%x/0x%x", s.group, s.mask);
      } else if (auto it = groupNames().find(s.group); it != groupNames().end()) {
        w.word(it->second);
        continue;
      } else {
        std::snprintf(buf, sizeof buf, " 0x%x", s.group);
      }
      w.raw(buf);
    }
  }
  bool match(EvalContext&) const override {
    // PacketView has no device groups: every device is in group 0 (default).
    constexpr uint32_t kDevGroup = 0;
    for (const Side& s : side_)
      if (s.on && (((s.group ^ kDevGroup) & s.mask) != 0) != s.inv) return false;
    return true;
  }

  struct Side {
    bool on = false, inv = false;
    uint32_t group = 0, mask = 0xffffffff;
  } side_[2];
};

}  // namespace

NFJIT_REGISTER_MATCH("devgroup", kFamBoth, DevgroupMatch);

}  // namespace nfjit
