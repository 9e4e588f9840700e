// -m cgroup (revision 2): the cgroup of the packet's local socket, by
// cgroup v2 path or net_cls class id (kernel: xt_cgroup.c).
#include "compiler/extensions/ExtensionApi.h"

namespace nfjit {
namespace {

class CgroupMatch final : public MatchExt {
 public:
  explicit CgroupMatch(Family) {}
  std::string_view name() const override { return "cgroup"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"path", ArgKind::Required, true},
                                      {"cgroup", ArgKind::Required, true}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.index == 0) {
      // XT_CGROUP_PATH_MAX is 512 bytes including the NUL: iptables keeps
      // the first 511 characters.
      path_ = a.value.substr(0, 511);
      hasPath_ = true;
      invPath_ = a.inverted;
    } else {
      classid_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
      hasClassid_ = true;
      invClassid_ = a.inverted;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!hasPath_ && !hasClassid_) ctx.fail("cgroup match: --path or --cgroup is required");
    if (hasPath_ && hasClassid_)
      ctx.fail("cgroup match: --path and --cgroup cannot be used together (the kernel rejects both)");
  }
  HookMask allowedHooks(std::string_view) const override {
    return hookBit(Hook::LocalOut) | hookBit(Hook::PostRouting) | hookBit(Hook::LocalIn);
  }
  void save(SaveWriter& w) const override {
    if (hasPath_) w.opt("path", invPath_).str(path_);
    if (hasClassid_) w.opt("cgroup", invClassid_).num(classid_);
  }
  bool match(EvalContext& ctx) const override {
    // No full socket: no match, whatever the inversion.
    if (!ctx.pkt.hasSocket) return false;
    // PacketView carries no cgroup: sockets are taken to sit in the root
    // cgroup with the default net_cls class id 0.
    if (hasClassid_) return (classid_ == 0) != invClassid_;
    bool inRoot = path_ == "/" || path_.empty();
    return inRoot != invPath_;
  }
  bool isStateful() const override { return true; }

  std::string path_;
  uint32_t classid_ = 0;
  bool hasPath_ = false, hasClassid_ = false, invPath_ = false, invClassid_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("cgroup", kFamBoth, CgroupMatch);

}  // namespace nfjit
