// ConcreteEval (the concrete search's condition evaluator) against Z3's own
// model evaluation: the lowered conditions of rules using every kind of
// match the verifier lowers, on random packets, must agree bit for bit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/RandomRuleset.h"
#include "tests/support/VerifierFixtures.h"
#include "verifier/ConcreteEval.h"
#include "verifier/Lowering.h"

namespace nfjit {
namespace {

using testing::Rng;
using verifier::u128;

const char* const kRules[] = {
    "-A FORWARD -s 10.0.0.0/8 ! -d 192.0.2.0/25 -i eth+ -o eth1 -p tcp -m tcp --sport 1000:2000 --dport 22 -j ACCEPT",
    "-A FORWARD -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m state --state NEW -j ACCEPT",
    "-A FORWARD -p tcp -m multiport --dports 22,80,443,8000:8100 -j DROP",
    "-A FORWARD -p udp -m multiport ! --ports 53,123 -j DROP",
    "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    "-A FORWARD -p icmp -m icmp --icmp-type 3/4 -j ACCEPT",
    "-A FORWARD -p icmp -m icmp ! --icmp-type echo-request -j ACCEPT",
    "-A FORWARD -m iprange --src-range 10.0.0.5-10.0.3.7 ! --dst-range 192.0.2.1-192.0.2.100 -j DROP",
    "-A FORWARD -m ttl --ttl-gt 64 -j DROP",
    "-A FORWARD -m length --length 40:1500 -j ACCEPT",
    "-A FORWARD -m mark --mark 0x10/0xf0 -j ACCEPT",
    "-A FORWARD -m tos --tos 0x10/0x3f -j ACCEPT",
    "-A FORWARD -f -j DROP",
    "-A FORWARD -m pkttype --pkt-type broadcast -j DROP",
    "-A FORWARD -m limit --limit 3/min -j LOG",
    "-A FORWARD -s 198.51.100.0/24 -m recent --rcheck --name x -j DROP",
};

TEST(ConcreteEval, AgreesWithZ3ModelEvaluation) {
  std::string body;
  for (const char* r : kRules) body += std::string(r) + "\n";
  Ruleset rs = testsupport::parseRules(testsupport::filterTable(body));
  z3::context c;
  verifier::IfaceUniverse ifs = verifier::ifaceUniverse(rs);
  verifier::SymPacket k(c, Family::IPv4, ifs);
  const std::vector<z3::expr> fields{k.src,      k.dst,      k.proto,    k.sport,   k.dport,   k.inIf,
                                     k.outIf,    k.frag,     k.ttl,      k.tos,     k.tcpFlags, k.icmpType,
                                     k.icmpCode, k.ctstate,  k.pktType,  k.length,  k.mark};
  verifier::ConcreteEval eval(fields);
  std::vector<verifier::LoweredRule> lowered;
  for (const auto& r : rs.tables[0].chains[1].rules) lowered.push_back(verifier::lowerRule(c, k, r, "t"));
  ASSERT_EQ(lowered.size(), std::size(kRules));
  Rng rng(7);
  size_t checked = 0, held = 0;
  for (int round = 0; round < 400; ++round) {
    // Values near the rules' constants as often as random ones.
    std::vector<u128> v(fields.size());
    static const std::vector<uint64_t> addrs = {0x0A000005, 0x0A000307, 0x0A000308, 0xC0000201, 0xC0000264,
                                                0xC0000265, 0xC6336401, 0x08080808};
    v[0] = rng.chance(70) ? rng.pick(addrs) : rng.below(1ull << 32);
    v[1] = rng.chance(70) ? rng.pick(addrs) : rng.below(1ull << 32);
    static const std::vector<uint64_t> protos = {1, 6, 17, 47};
    v[2] = rng.pick(protos);
    static const std::vector<uint64_t> ports = {0, 22, 53, 80, 123, 443, 999, 1000, 2000, 2001, 8050, 65535};
    v[3] = rng.pick(ports);
    v[4] = rng.pick(ports);
    v[5] = rng.below(ifs.names.size() + 1);
    v[6] = rng.below(ifs.names.size() + 1);
    v[7] = rng.below(2);
    v[8] = rng.below(256);
    v[9] = rng.below(256);
    v[10] = rng.below(64);
    v[11] = rng.chance(50) ? 3 : rng.below(256);
    v[12] = rng.chance(50) ? 4 : rng.below(16);
    v[13] = u128(1) << rng.below(8);
    v[14] = rng.below(4);
    v[15] = rng.below(2000);
    v[16] = rng.chance(50) ? 0x13 : rng.below(1ull << 32);
    const bool unknownsHold = rng.chance(50);
    z3::model m(c);
    for (size_t f = 0; f < fields.size(); ++f) {
      const unsigned w = fields[f].get_sort().bv_size();
      z3::func_decl d = fields[f].decl();
      z3::expr val = c.bv_val(static_cast<uint64_t>(v[f]), w);
      m.add_const_interp(d, val);
    }
    for (const auto& lr : lowered) {
      z3::model mu = m;
      for (const auto& u : lr.unknowns) {
        z3::func_decl d = u.var.decl();
        z3::expr val = c.bool_val(unknownsHold);
        mu.add_const_interp(d, val);
      }
      const auto ours = eval.eval(lr.cond, v, [&](unsigned) { return unknownsHold; });
      ASSERT_TRUE(ours.has_value()) << lr.cond;
      const bool theirs = mu.eval(lr.cond, true).is_true();
      EXPECT_EQ(*ours, theirs) << lr.cond;
      ++checked;
      held += theirs;
    }
  }
  EXPECT_GT(held, checked / 20);  // the points meet the rules often enough to mean something
}

}  // namespace
}  // namespace nfjit
