#include "bench/DpdkAcl.h"

#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

namespace nfjit::bench {
namespace {

// The classifier's input: one byte first, then 4-byte groups (rte_acl's layout rule).
struct Tuple {
  uint8_t proto;
  uint8_t pad[3];
  uint32_t sip, dip;
  uint16_t sport, dport;
};
static_assert(sizeof(Tuple) == 16);

const rte_acl_field_def kDefs[5] = {
    {RTE_ACL_FIELD_TYPE_BITMASK, sizeof(uint8_t), 0, 0, offsetof(Tuple, proto)},
    {RTE_ACL_FIELD_TYPE_MASK, sizeof(uint32_t), 1, 1, offsetof(Tuple, sip)},
    {RTE_ACL_FIELD_TYPE_MASK, sizeof(uint32_t), 2, 2, offsetof(Tuple, dip)},
    {RTE_ACL_FIELD_TYPE_RANGE, sizeof(uint16_t), 3, 3, offsetof(Tuple, sport)},
    {RTE_ACL_FIELD_TYPE_RANGE, sizeof(uint16_t), 4, 3, offsetof(Tuple, dport)},
};

RTE_ACL_RULE_DEF(AclRule, 5);

}  // namespace

bool DpdkAcl::init(std::string& error) {
  static int state = 0;  // 0 not tried, 1 ok, -1 failed
  if (state == 0) {
    // No shared config files: benchmarks run side by side on a shared machine.
    std::string prefix = "--file-prefix=nfjit-bench-" + std::to_string(getpid());
    const char* args[] = {"nfjit-bench", "--no-huge", "--no-pci", "--no-shconf", "-l", "0", "-m", "2048",
                          prefix.c_str(), "--no-telemetry", "--log-level=4", "--force-max-simd-bitwidth=512"};
    int argc = int(sizeof args / sizeof args[0]);
    state = rte_eal_init(argc, const_cast<char**>(args)) < 0 ? -1 : 1;
    if (state < 0) error = std::string("rte_eal_init: ") + rte_strerror(rte_errno);
  }
  return state > 0;
}

DpdkAcl::DpdkAcl(const std::vector<CanonRule>& rules, std::string& error) {
  // The iptables conversion: ports only for tcp/udp, so a port rule for any
  // protocol is a tcp and a udp rule.
  std::vector<AclRule> acl;
  for (const auto& r : rules) {
    bool ports = !(r.splo == 0 && r.sphi == 65535 && r.dplo == 0 && r.dphi == 65535);
    std::vector<int> protos;
    if (r.proto == -1) protos = ports ? std::vector<int>{6, 17} : std::vector<int>{-1};
    else protos = {r.proto};
    for (int p : protos) {
      AclRule a{};
      a.data.category_mask = 1;
      a.data.userdata = uint32_t(r.id) + 1;
      a.field[0].value.u8 = uint8_t(p < 0 ? 0 : p);
      a.field[0].mask_range.u8 = p < 0 ? 0 : 0xff;
      a.field[1].value.u32 = r.sip;
      a.field[1].mask_range.u32 = r.slen;
      a.field[2].value.u32 = r.dip;
      a.field[2].mask_range.u32 = r.dlen;
      bool keepPorts = p == 6 || p == 17;
      a.field[3].value.u16 = keepPorts ? r.splo : 0;
      a.field[3].mask_range.u16 = keepPorts ? r.sphi : 65535;
      a.field[4].value.u16 = keepPorts ? r.dplo : 0;
      a.field[4].mask_range.u16 = keepPorts ? r.dphi : 65535;
      acl.push_back(a);
    }
  }
  for (size_t i = 0; i < acl.size(); ++i) acl[i].data.priority = int32_t(acl.size() - i);
  rte_acl_param param{};
  param.name = "nfjit-bench";
  param.socket_id = -1;  // SOCKET_ID_ANY
  param.rule_size = RTE_ACL_RULE_SZ(5);
  param.max_rule_num = uint32_t(acl.size());
  ctx_ = rte_acl_create(&param);
  if (!ctx_) {
    error = std::string("rte_acl_create: ") + rte_strerror(rte_errno);
    return;
  }
  if (int rc = rte_acl_add_rules(ctx_, reinterpret_cast<const rte_acl_rule*>(acl.data()), uint32_t(acl.size()))) {
    error = "rte_acl_add_rules: " + std::string(rte_strerror(-rc));
    rte_acl_free(ctx_);
    ctx_ = nullptr;
    return;
  }
  rte_acl_config cfg{};
  cfg.num_categories = 1;
  cfg.num_fields = 5;
  std::memcpy(cfg.defs, kDefs, sizeof kDefs);
  if (int rc = rte_acl_build(ctx_, &cfg)) {
    error = "rte_acl_build: " + std::string(rte_strerror(-rc));
    rte_acl_free(ctx_);
    ctx_ = nullptr;
    return;
  }
  // The widest SIMD path this CPU and build allow.
  const std::pair<enum rte_acl_classify_alg, const char*> algs[] = {
      {RTE_ACL_CLASSIFY_AVX512X32, "avx512x32"}, {RTE_ACL_CLASSIFY_AVX512X16, "avx512x16"},
      {RTE_ACL_CLASSIFY_AVX2, "avx2"},           {RTE_ACL_CLASSIFY_SSE, "sse"},
      {RTE_ACL_CLASSIFY_SCALAR, "scalar"}};
  for (auto [alg, name] : algs)
    if (rte_acl_set_ctx_classify(ctx_, alg) == 0) {
      alg_ = name;
      break;
    }
}

DpdkAcl::~DpdkAcl() {
  if (ctx_) rte_acl_free(ctx_);
}

void DpdkAcl::setPackets(const std::vector<Packet>& packets) {
  tuples_.assign(packets.size() * sizeof(Tuple), 0);
  for (size_t i = 0; i < packets.size(); ++i) {
    Tuple t{};
    t.proto = packets[i].proto;
    t.sip = htonl(packets[i].sip);
    t.dip = htonl(packets[i].dip);
    t.sport = htons(packets[i].sport);
    t.dport = htons(packets[i].dport);
    std::memcpy(tuples_.data() + i * sizeof(Tuple), &t, sizeof t);
  }
}

void DpdkAcl::classify(size_t first, size_t n, std::vector<int32_t>& out) const {
  constexpr size_t kBatch = 64;
  const uint8_t* data[kBatch];
  uint32_t res[kBatch];
  for (size_t i = first; i < first + n; i += kBatch) {
    size_t m = std::min(kBatch, first + n - i);
    for (size_t k = 0; k < m; ++k) data[k] = tuples_.data() + (i + k) * sizeof(Tuple);
    rte_acl_classify(ctx_, data, res, uint32_t(m), 1);
    for (size_t k = 0; k < m; ++k) out[i + k] = int32_t(res[k]) - 1;
  }
}

}  // namespace nfjit::bench
