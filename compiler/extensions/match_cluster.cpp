// -m cluster: hash-based load sharing of connections across cluster nodes
// (kernel: xt_cluster.c).
#include <cstdio>

#include "compiler/extensions/ExtensionApi.h"
#include "compiler/extensions/meta_common.h"

namespace nfjit {
namespace {

constexpr uint32_t kMaxNodes = 32;  // XT_CLUSTER_NODES_MAX

inline uint32_t rol32(uint32_t w, unsigned s) { return (w << s) | (w >> (32 - s)); }

// Bob Jenkins' lookup3 final mix and word hash, as linux/jhash.h.
void jhashFinal(uint32_t& a, uint32_t& b, uint32_t& c) {
  c ^= b; c -= rol32(b, 14);
  a ^= c; a -= rol32(c, 11);
  b ^= a; b -= rol32(a, 25);
  c ^= b; c -= rol32(b, 16);
  a ^= c; a -= rol32(c, 4);
  b ^= a; b -= rol32(a, 14);
  c ^= b; c -= rol32(b, 24);
}
void jhashMix(uint32_t& a, uint32_t& b, uint32_t& c) {
  a -= c; a ^= rol32(c, 4);  c += b;
  b -= a; b ^= rol32(a, 6);  a += c;
  c -= b; c ^= rol32(b, 8);  b += a;
  a -= c; a ^= rol32(c, 16); c += b;
  b -= a; b ^= rol32(a, 19); a += c;
  c -= b; c ^= rol32(b, 4);  b += a;
}
uint32_t jhash2(const uint32_t* k, uint32_t len, uint32_t initval) {
  uint32_t a, b, c;
  a = b = c = 0xdeadbeef + (len << 2) + initval;
  while (len > 3) {
    a += k[0]; b += k[1]; c += k[2];
    jhashMix(a, b, c);
    len -= 3;
    k += 3;
  }
  switch (len) {
    case 3: c += k[2]; [[fallthrough]];
    case 2: b += k[1]; [[fallthrough]];
    case 1: a += k[0]; jhashFinal(a, b, c); break;
    default: break;
  }
  return c;
}

// The kernel hashes the address words as they sit in memory (little-endian host).
uint32_t memWord(const IpAddr& a, unsigned i) {
  return uint32_t(a.b[4 * i]) | uint32_t(a.b[4 * i + 1]) << 8 | uint32_t(a.b[4 * i + 2]) << 16 |
         uint32_t(a.b[4 * i + 3]) << 24;
}

class ClusterMatch final : public MatchExt {
 public:
  explicit ClusterMatch(Family f) : family_(f) {}
  std::string_view name() const override { return "cluster"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {
        {"cluster-total-nodes", ArgKind::Required, false},
        {"cluster-local-node", ArgKind::Required, true},
        {"cluster-local-nodemask", ArgKind::Required, true},
        {"cluster-hash-seed", ArgKind::Required, false},
    };
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    switch (a.index) {
      case 0:
        total_ = static_cast<uint32_t>(args::uintOrFail(a, 1, kMaxNodes));
        haveTotal_ = true;
        break;
      case 1:
      case 2:
        if (haveNode_ || haveMask_)
          a.fail("--cluster-local-node and --cluster-local-nodemask cannot be combined");
        if (a.index == 1) {
          nodeMask_ = 1u << (args::uintOrFail(a, 1, kMaxNodes) - 1);
          haveNode_ = true;
        } else {
          nodeMask_ = static_cast<uint32_t>(args::uintOrFail(a, 1, kMaxNodes));
          haveMask_ = true;
        }
        inv_ = a.inverted;
        break;
      case 3:
        seed_ = static_cast<uint32_t>(args::uintOrFail(a, 0, UINT32_MAX));
        haveSeed_ = true;
        break;
    }
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!haveTotal_) ctx.fail("cluster match: --cluster-total-nodes is required");
    if (!haveSeed_) ctx.fail("cluster match: --cluster-hash-seed is required");
    if (!haveNode_ && !haveMask_)
      ctx.fail("cluster match: --cluster-local-node or --cluster-local-nodemask is required");
    if (uint64_t(nodeMask_) >= (uint64_t(1) << total_))
      ctx.fail(haveNode_ ? "cluster match: --cluster-local-node must be <= --cluster-total-nodes"
                         : "cluster match: --cluster-local-nodemask too big for --cluster-total-nodes");
  }
  void save(SaveWriter& w) const override {
    char buf[96];
    std::snprintf(buf, sizeof buf, " 0x%08x", nodeMask_);
    w.opt("cluster-local-nodemask", inv_).raw(buf);
    w.opt("cluster-total-nodes").num(total_);
    std::snprintf(buf, sizeof buf, " 0x%08x", seed_);
    w.opt("cluster-hash-seed").raw(buf);
  }
  bool match(EvalContext& ctx) const override {
    PacketView& p = ctx.pkt;
    // Frames sent to the cluster's multicast MAC are taken as for this host
    // unless the IP destination itself is multicast.
    bool ipMulticast = family_ == Family::IPv4 ? (p.dst.b[0] & 0xf0) == 0xe0 : p.dst.b[0] == 0xff;
    if (!ipMulticast && p.pktType == PktType::Multicast) p.pktType = PktType::Host;
    const ConnInfo& ct = p.ct;
    if (!meta::ctPresent(ct)) return false;
    // Related connections hash like their master; the model's original
    // tuple source stands for it.
    uint32_t h;
    if (family_ == Family::IPv4) {
      uint32_t k = memWord(ct.origSrc, 0);
      h = jhash2(&k, 1, seed_);
    } else {
      uint32_t k[4] = {memWord(ct.origSrc, 0), memWord(ct.origSrc, 1), memWord(ct.origSrc, 2),
                       memWord(ct.origSrc, 3)};
      h = jhash2(k, 4, seed_);
    }
    uint32_t node = static_cast<uint32_t>((uint64_t(h) * total_) >> 32);  // reciprocal_scale
    return (((1u << node) & nodeMask_) != 0) != inv_;
  }

  Family family_;
  uint32_t total_ = 0, nodeMask_ = 0, seed_ = 0;
  bool haveTotal_ = false, haveNode_ = false, haveMask_ = false, haveSeed_ = false, inv_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("cluster", kFamBoth, ClusterMatch);

}  // namespace nfjit
