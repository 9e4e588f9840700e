// -m owner: the local socket that sent the packet: existence, file owner
// uid/gid ranges, supplementary groups (kernel: xt_owner.c).
#include <grp.h>
#include <pwd.h>

#include <mutex>

#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

enum Bits : uint8_t { kUid = 1, kGid = 2, kSocket = 4, kSupplGroups = 8 };

class OwnerMatch final : public MatchExt {
 public:
  explicit OwnerMatch(Family) {}
  std::string_view name() const override { return "owner"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"uid-owner", ArgKind::Required, true},
                                      {"gid-owner", ArgKind::Required, true},
                                      {"socket-exists", ArgKind::None, true},
                                      {"suppl-groups", ArgKind::None, false}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
      case 1: {
        const bool user = a.index == 0;
        std::optional<uint32_t> id = lookupName(a.value, user);
        args::Range r;
        if (id) r = {*id, *id};
        else r = parseIdRange(a);
        (user ? uid_ : gid_) = r;
        match_ |= user ? kUid : kGid;
        if (a.inverted) invert_ |= user ? kUid : kGid;
        break;
      }
      case 2:
        match_ |= kSocket;
        if (a.inverted) invert_ |= kSocket;
        break;
      case 3:
        if (!(match_ & kGid)) a.fail("--suppl-groups needs --gid-owner before it");
        match_ |= kSupplGroups;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!(match_ & (kUid | kGid | kSocket)))
      ctx.fail("owner match: one of --uid-owner, --gid-owner or --socket-exists is required");
  }
  HookMask allowedHooks(std::string_view) const override {
    return hookBit(Hook::LocalOut) | hookBit(Hook::PostRouting);
  }
  void save(SaveWriter& w) const override {
    if (match_ & kSocket) w.opt("socket-exists", invert_ & kSocket);
    if (match_ & kUid) w.opt("uid-owner", invert_ & kUid).word(args::formatRange(uid_, '-'));
    if (match_ & kGid) w.opt("gid-owner", invert_ & kGid).word(args::formatRange(gid_, '-'));
    if (match_ & kSupplGroups) w.opt("suppl-groups");
  }
  bool match(EvalContext& ctx) const override {
    const PacketView& p = ctx.pkt;
    // No local socket: only the inverted options can hold.
    if (!p.hasSocket) return (match_ ^ invert_) == 0;
    if (match_ & invert_ & kSocket) return false;
    if ((match_ & kUid) && ((p.uid >= uid_.lo && p.uid <= uid_.hi) == bool(invert_ & kUid))) return false;
    if (match_ & kGid) {
      // PacketView has no supplementary group list: only the primary gid.
      bool in = p.gid >= gid_.lo && p.gid <= gid_.hi;
      if (in == bool(invert_ & kGid)) return false;
    }
    return true;
  }

 private:
  static std::optional<uint32_t> lookupName(const std::string& n, bool user) {
    static std::mutex mu;  // getpwnam/getgrnam are not reentrant
    std::lock_guard<std::mutex> lock(mu);
    if (user) {
      if (const passwd* pw = getpwnam(n.c_str())) return pw->pw_uid;
    } else {
      if (const group* gr = getgrnam(n.c_str())) return gr->gr_gid;
    }
    return std::nullopt;
  }
  // "id" or "id-id" / "id:id"; (uid_t)-1 is reserved, so the max is one less.
  static args::Range parseIdRange(const OptionArg& a) {
    const std::string& s = a.value;
    auto bad = [&]() -> args::Range {
      a.fail("unknown " + std::string(a.index == 0 ? "user" : "group") + " or invalid id range `" + s +
             "' for --" + std::string(a.name));
    };
    auto sep = s.find_first_of("-:");
    if (sep == 0) return bad();
    auto lo = args::parseUInt(std::string_view(s).substr(0, sep), 0, UINT32_MAX - 1);
    if (!lo) return bad();
    if (sep == std::string::npos) return {*lo, *lo};
    auto hi = args::parseUInt(std::string_view(s).substr(sep + 1), 0, UINT32_MAX - 1);
    if (!hi) return bad();
    return {*lo, *hi};
  }

  uint8_t match_ = 0, invert_ = 0;
  args::Range uid_, gid_;
};

}  // namespace

NFJIT_REGISTER_MATCH("owner", kFamBoth, OwnerMatch);

}  // namespace nfjit
