// -m realm: routing realm (tclassid) of the packet's route (kernel: xt_realm.c).
//
// The packet model carries no route, so the realm is 0 (no realm), which
// is what the kernel sees unless routes or rules set one.
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

// /etc/iproute2/rt_realms: "ID NAME" lines.
const std::map<uint32_t, std::string>& realmNames() {
  static std::map<uint32_t, std::string> names;
  static std::once_flag once;
  std::call_once(once, [] {
    std::ifstream in("/etc/iproute2/rt_realms");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string id, name;
      if (!(ss >> id >> name) || id[0] == '#') continue;
      if (auto v = args::parseUInt(id, 0, UINT32_MAX)) names.emplace(static_cast<uint32_t>(*v), name);
    }
  });
  return names;
}

class RealmMatch final : public MatchExt {
 public:
  explicit RealmMatch(Family) {}
  std::string_view name() const override { return "realm"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"realm", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    inv_ = a.inverted;
    set_ = true;
    if (!a.value.empty() && std::isdigit(static_cast<unsigned char>(a.value[0]))) {
      auto vm = args::valueMaskOrFail(a, a.value);
      id_ = vm.value;
      mask_ = vm.mask;
      return;
    }
    for (const auto& [id, nm] : realmNames())
      if (nm == a.value) {
        id_ = id;
        mask_ = 0xffffffffu;
        return;
      }
    a.fail("unknown realm `" + a.value + "' for --realm (not a number nor in /etc/iproute2/rt_realms)");
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("realm match requires --realm");
  }
  HookMask allowedHooks(std::string_view) const override {
    return hookBit(Hook::PostRouting) | hookBit(Hook::Forward) | hookBit(Hook::LocalOut) |
           hookBit(Hook::LocalIn);
  }
  void save(SaveWriter& w) const override {
    w.opt("realm", inv_);
    char buf[32];
    if (mask_ != 0xffffffffu) {
      std::snprintf(buf, sizeof buf, "0x%x/0x%x", id_, mask_);
      w.word(buf);
      return;
    }
    const auto& names = realmNames();
    if (auto it = names.find(id_); it != names.end()) {
      w.word(it->second);
      return;
    }
    w.hex(id_);
  }
  bool match(EvalContext&) const override {
    const uint32_t realm = 0;  // route realm, see above
    return (id_ == (realm & mask_)) != inv_;
  }

  uint32_t id_ = 0, mask_ = 0xffffffffu;
  bool inv_ = false, set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("realm", kFamV4, RealmMatch);

}  // namespace nfjit
