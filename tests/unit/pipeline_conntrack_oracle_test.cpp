// The pipeline's connection tracking against the kernel's: short packet
// sequences in both directions through fw (original direction from src,
// replies from the sink side), a FORWARD ruleset that counts each
// connection state on its own rule, and the per-rule counters of nfjit's
// pipeline and of the kernel compared after each sequence. Each sequence
// uses its own hosts, so no connection of an earlier one is found again.
// Root only (network namespaces); runs in the serial oracle phase.
#include <gtest/gtest.h>

#include <sstream>

#include "compiler/frontend/Printer.h"
#include "runtime/packet/PacketParser.h"
#include "runtime/pipeline/HookPipeline.h"
#include "tests/support/Netns.h"
#include "tests/support/PacketBuilder.h"
#include "tests/support/RulesetFixture.h"
#include "tests/support/Topology.h"

namespace nfjit::testing {
namespace {

// The counting rules come first and fall through; then exactly one ACCEPT
// per state, so each packet counts on the rule of its state. The nat rules
// count the packets nat sees: the first of each tracked connection only.
// Packets sent with TTL 2 die in raw, with TTL 4 (3 after forwarding) in
// FORWARD: either way their connection is never confirmed.
// The tuple rules read both directions' addresses and ports (an ICMP
// query's type and code are its destination "port"); the connbytes rules
// read conntrack accounting; the CONNMARK rules mark connections, save and
// restore marks, and the connmark rules see them on later packets.
std::string rules(Family f) {
  const bool v4 = f == Family::IPv4;
  const std::string ttl = v4 ? "-m ttl --ttl-eq " : "-m hl --hl-eq ";
  const std::string near = v4 ? "192.0.2.0/24" : "2001:db8:1::/64", icmp = v4 ? "icmp" : "ipv6-icmp";
  const std::string echoRequest = v4 ? "2048" : "32768", echoReply = v4 ? "0" : "33024";
  return "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A PREROUTING " + ttl + "2 -j DROP\n"
         "-A PREROUTING -p udp -m udp --dport 9 -j CT --notrack\nCOMMIT\n"
         "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
         "-A PREROUTING\n-A POSTROUTING\nCOMMIT\n"
         "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A FORWARD " + ttl + "3 -j DROP\n"
         "-A FORWARD -m state --state NEW\n"
         "-A FORWARD -m state --state ESTABLISHED\n"
         "-A FORWARD -m state --state RELATED\n"
         "-A FORWARD -m state --state INVALID\n"
         "-A FORWARD -m state --state UNTRACKED\n"
         "-A FORWARD -m conntrack --ctstatus SEEN_REPLY\n"
         "-A FORWARD -m conntrack --ctstatus CONFIRMED\n"
         "-A FORWARD -m conntrack --ctdir REPLY\n"
         "-A FORWARD -m conntrack --ctstate RELATED --ctproto udp\n"
         "-A FORWARD -m conntrack --ctorigsrc " + near + "\n"
         "-A FORWARD -m conntrack --ctrepldst " + near + "\n"
         "-A FORWARD -m conntrack ! --ctreplsrc " + near + "\n"
         "-A FORWARD -m conntrack --ctorigdstport 80\n"
         "-A FORWARD -m conntrack --ctreplsrcport 80\n"
         "-A FORWARD -m conntrack --ctorigsrcport 40000:40002\n"
         "-A FORWARD -m conntrack --ctrepldstport 5000\n"
         "-A FORWARD -m conntrack --ctproto " + icmp + " --ctorigdstport " + echoRequest + "\n"
         "-A FORWARD -m conntrack --ctproto " + icmp + " --ctrepldstport " + echoReply + "\n"
         "-A FORWARD -m conntrack --ctproto " + icmp + " --ctorigsrcport 0:65535\n"
         "-A FORWARD -m connbytes --connbytes 1:1 --connbytes-mode packets --connbytes-dir original\n"
         "-A FORWARD -m connbytes --connbytes 2:3 --connbytes-mode packets --connbytes-dir both\n"
         "-A FORWARD -m connbytes --connbytes 1 --connbytes-mode packets --connbytes-dir reply\n"
         "-A FORWARD -m connbytes ! --connbytes 2:4 --connbytes-mode packets --connbytes-dir original\n"
         "-A FORWARD -m connbytes --connbytes 100 --connbytes-mode bytes --connbytes-dir both\n"
         "-A FORWARD -m connbytes --connbytes 0:45 --connbytes-mode avgpkt --connbytes-dir original\n"
         "-A FORWARD -m connmark --mark 0x1/0x1\n"
         "-A FORWARD -m state --state NEW -j CONNMARK --set-xmark 0x1/0x1\n"
         "-A FORWARD -m connmark --mark 0x1/0x1\n"
         "-A FORWARD -p udp -j MARK --set-xmark 0x10/0x10\n"
         "-A FORWARD -m state --state ESTABLISHED -j CONNMARK --save-mark --nfmask 0x10 --ctmask 0x10\n"
         "-A FORWARD -m connmark --mark 0x11/0x11\n"
         "-A FORWARD -j CONNMARK --restore-mark --nfmask 0x100 --ctmask 0x1 --left-shift-mark 8\n"
         "-A FORWARD -m mark --mark 0x100/0x100\n"
         "-A FORWARD -m conntrack --ctstate INVALID -j ACCEPT\n"
         "-A FORWARD -m conntrack --ctstate UNTRACKED -j ACCEPT\n"
         "-A FORWARD -m conntrack --ctstate RELATED -j ACCEPT\n"
         "-A FORWARD -m conntrack --ctstate NEW -j ACCEPT\n"
         "-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT\n"
         "COMMIT\n";
}

struct Packet {
  bool fromSink = false;  // the reply direction: arrives on out0
  std::string what;
  std::vector<uint8_t> bytes;
};

struct Sequence {
  std::string name;
  std::vector<Packet> packets;
};

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (24 - 8 * i));
}

// Recomputes the transport checksum after a test changed the bytes.
void fixChecksum(std::vector<uint8_t>& b, Family f) {
  const bool v4 = f == Family::IPv4;
  const size_t th = v4 ? size_t(b[0] & 15) * 4 : 40;
  const uint8_t proto = v4 ? b[9] : b[6];
  const size_t at = th + (proto == 6 ? 16 : proto == 17 ? 6 : 2);
  b[at] = b[at + 1] = 0;
  const uint32_t l4len = uint32_t(b.size() - th);
  uint32_t sum = 0;
  if (proto != 1) {  // ICMPv4 alone has no pseudo-header
    const size_t a = v4 ? 12 : 8, n = v4 ? 8 : 32;
    for (size_t i = 0; i < n; i += 2) sum += uint32_t(b[a + i]) << 8 | b[a + i + 1];
    sum += proto + (l4len >> 16) + (l4len & 0xffff);
  }
  uint16_t c = internetChecksum(b.data() + th, l4len, sum);
  if (proto == 17 && c == 0) c = 0xffff;
  b[at] = uint8_t(c >> 8);
  b[at + 1] = uint8_t(c);
}

// Addresses per sequence: host `n` on src's side and beyond the sink.
struct Hosts {
  Family f;
  std::string near(unsigned n) const {
    char buf[48];
    std::snprintf(buf, sizeof buf, f == Family::IPv4 ? "192.0.2.%u" : "2001:db8:1::%x", n);
    return buf;
  }
  std::string far(unsigned n) const {
    char buf[48];
    std::snprintf(buf, sizeof buf, f == Family::IPv4 ? "203.0.113.%u" : "2001:db8:3::%x", n);
    return buf;
  }
};

class Builder {
 public:
  explicit Builder(Family f) : f_(f) {}
  // Sequence and acknowledgement numbers matter: the kernel's window
  // tracking marks a segment out of window INVALID.
  Packet tcp(bool fromSink, const std::string& what, const std::string& src, const std::string& dst, uint16_t sport,
             uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, size_t payload = 0, uint8_t ttl = 64) const {
    PacketSpec s = flowPacket(f_, src, dst, 6, sport, dport);
    s.tcpFlags = flags;
    s.ttl = ttl;
    s.payload = payload;
    auto b = buildPacket(s);
    const size_t th = f_ == Family::IPv4 ? 20 : 40;
    put32(b, th + 4, seq);
    put32(b, th + 8, ack);
    fixChecksum(b, f_);
    return {fromSink, what, b};
  }
  Packet udp(bool fromSink, const std::string& what, const std::string& src, const std::string& dst, uint16_t sport,
             uint16_t dport) const {
    PacketSpec s = flowPacket(f_, src, dst, 17, sport, dport);
    s.payload = 4;
    return {fromSink, what, buildPacket(s)};
  }
  Packet echo(bool fromSink, const std::string& what, const std::string& src, const std::string& dst,
              bool request) const {
    PacketSpec s = flowPacket(f_, src, dst, f_ == Family::IPv4 ? 1 : 58, 0, 0);
    s.icmpType = f_ == Family::IPv4 ? (request ? 8 : 0) : (request ? 128 : 129);
    return {fromSink, what, buildPacket(s)};
  }
  // Port unreachable about `quoted`, which it carries whole.
  Packet portUnreachable(bool fromSink, const std::string& what, const std::string& src, const std::string& dst,
                         const std::vector<uint8_t>& quoted) const {
    PacketSpec s = flowPacket(f_, src, dst, f_ == Family::IPv4 ? 1 : 58, 0, 0);
    s.icmpType = f_ == Family::IPv4 ? 3 : 1;
    s.icmpCode = f_ == Family::IPv4 ? 3 : 4;
    s.payload = quoted.size();
    auto b = buildPacket(s);
    std::copy(quoted.begin(), quoted.end(), b.end() - ptrdiff_t(quoted.size()));
    fixChecksum(b, f_);
    return {fromSink, what, b};
  }

 private:
  Family f_;
};

constexpr bool kSrc = false, kSink = true;
constexpr uint8_t kSyn = 0x02, kAck = 0x10, kSynAck = 0x12, kRst = 0x04, kFinAck = 0x11, kPshAck = 0x18;

std::vector<Sequence> sequences(Family f) {
  Hosts h{f};
  Builder b(f);
  std::vector<Sequence> all;
  unsigned n = 10;
  auto next = [&](std::string name) {
    ++n;
    all.push_back({std::move(name), {}});
    return std::pair{h.near(n), h.far(n)};
  };
  auto add = [&](Packet p) { all.back().packets.push_back(std::move(p)); };
  {
    auto [c, s] = next("tcp handshake and data");
    add(b.tcp(kSrc, "SYN", c, s, 40000, 80, kSyn, 1000, 0));
    add(b.tcp(kSrc, "SYN again", c, s, 40000, 80, kSyn, 1000, 0));
    add(b.tcp(kSink, "SYN/ACK", s, c, 80, 40000, kSynAck, 5000, 1001));
    add(b.tcp(kSrc, "ACK", c, s, 40000, 80, kAck, 1001, 5001));
    add(b.tcp(kSrc, "data", c, s, 40000, 80, kPshAck, 1001, 5001, 10));
    add(b.tcp(kSink, "ACK of the data", s, c, 80, 40000, kAck, 5001, 1011));
  }
  {
    // A SYN again before the answer is not accounted (connbytes), whatever its sequence number.
    auto [c, s] = next("SYN, the same SYN, a SYN with a new sequence number");
    add(b.tcp(kSrc, "SYN", c, s, 40006, 80, kSyn, 1000, 0));
    add(b.tcp(kSrc, "SYN again", c, s, 40006, 80, kSyn, 1000, 0));
    add(b.tcp(kSrc, "SYN, new sequence", c, s, 40006, 80, kSyn, 90000, 0));
    add(b.tcp(kSrc, "SYN, new sequence, again", c, s, 40006, 80, kSyn, 90000, 0));
    add(b.tcp(kSink, "SYN/ACK", s, c, 80, 40006, kSynAck, 5000, 90001));
  }
  {
    auto [c, s] = next("SYN dropped in raw, then again");
    add(b.tcp(kSrc, "SYN, TTL 2", c, s, 40004, 80, kSyn, 1000, 0, 0, 2));
    add(b.tcp(kSrc, "SYN", c, s, 40004, 80, kSyn, 1000, 0));
  }
  {
    auto [c, s] = next("SYN dropped in FORWARD, then again");
    add(b.tcp(kSrc, "SYN, TTL 4", c, s, 40005, 80, kSyn, 1000, 0, 0, 4));
    add(b.tcp(kSrc, "SYN", c, s, 40005, 80, kSyn, 1000, 0));
    add(b.tcp(kSink, "SYN/ACK", s, c, 80, 40005, kSynAck, 5000, 1001));
  }
  {
    auto [c, s] = next("lone SYN/ACK, then a SYN of the same tuple");
    add(b.tcp(kSrc, "SYN/ACK", c, s, 40001, 80, kSynAck, 1000, 7000));
    add(b.tcp(kSrc, "SYN", c, s, 40001, 80, kSyn, 2000, 0));
  }
  {
    auto [c, s] = next("lone RST, lone FIN/ACK, no flags");
    add(b.tcp(kSrc, "RST", c, s, 40002, 80, kRst, 1000, 0));
    add(b.tcp(kSrc, "FIN/ACK", c, s, 40002, 80, kFinAck, 1000, 3000));
    add(b.tcp(kSrc, "no flags", c, s, 40002, 80, 0, 1000, 0));
  }
  {
    auto [c, s] = next("bare ACK picked up mid-stream, then its answer");
    add(b.tcp(kSrc, "ACK", c, s, 40003, 80, kAck, 1000, 5000));
    add(b.tcp(kSink, "ACK back", s, c, 80, 40003, kAck, 5000, 1000));
  }
  {
    auto [c, s] = next("udp request, reply, request");
    add(b.udp(kSrc, "request", c, s, 5000, 53));
    add(b.udp(kSink, "reply", s, c, 53, 5000));
    add(b.udp(kSrc, "request again", c, s, 5000, 53));
  }
  {
    auto [c, s] = next("echo request, reply, request");
    add(b.echo(kSrc, "echo request", c, s, true));
    add(b.echo(kSink, "echo reply", s, c, false));
    add(b.echo(kSrc, "echo request again", c, s, true));
  }
  {
    auto [c, s] = next("unsolicited echo reply, then an echo request");
    add(b.echo(kSink, "echo reply", s, c, false));
    add(b.echo(kSink, "echo request", s, c, true));
  }
  {
    auto [c, s] = next("NOTRACK'ed udp, its answer, again");
    add(b.udp(kSrc, "to port 9 (notrack)", c, s, 5001, 9));
    add(b.udp(kSink, "from port 9", s, c, 9, 5001));
    add(b.udp(kSrc, "to port 9 again", c, s, 5001, 9));
  }
  {
    auto [c, s] = next("port unreachable about a udp connection");
    Packet req = b.udp(kSrc, "request", c, s, 5002, 5353);
    const auto quoted = req.bytes;
    add(std::move(req));
    add(b.portUnreachable(kSink, "port unreachable to the client", s, c, quoted));
    // The outer destination must be the connection's (nf_conntrack_inet_error).
    add(b.portUnreachable(kSink, "port unreachable to another host", s, h.near(200), quoted));
    const auto unknown = b.udp(kSrc, "", c, s, 5003, 5353).bytes;
    add(b.portUnreachable(kSink, "port unreachable about no connection", s, c, unknown));
  }
  return all;
}

std::string describe(const Sequence& s, const std::vector<std::string>& model) {
  std::ostringstream o;
  o << "sequence \"" << s.name << "\":\n";
  for (size_t i = 0; i < s.packets.size(); ++i)
    o << "  " << (s.packets[i].fromSink ? "sink -> out0  " : "src  -> in0   ") << s.packets[i].what << "   nfjit: "
      << (i < model.size() ? model[i] : "?") << "\n";
  return o.str();
}

// Rule and policy counters that differ, by table and chain name.
std::string counterDiff(const Ruleset& kernel, const Ruleset& model) {
  std::ostringstream out;
  for (const auto& mt : model.tables) {
    const Table* kt = kernel.findTable(mt.name);
    if (!kt) {
      out << mt.name << ": missing in the kernel\n";
      continue;
    }
    for (const auto& mc : mt.chains) {
      const Chain* kc = kt->findChain(mc.name);
      if (!kc || kc->rules.size() != mc.rules.size()) {
        out << mt.name << "/" << mc.name << ": rules differ\n";
        continue;
      }
      if (mc.builtin && !(kc->counters == mc.counters))
        out << "  kernel [" << kc->counters.packets << "] nfjit [" << mc.counters.packets << "] policy of " << mt.name
            << "/" << mc.name << "\n";
      for (size_t i = 0; i < mc.rules.size(); ++i) {
        Counters k = kc->rules[i].counters.value_or(Counters{}), m = mc.rules[i].counters.value_or(Counters{});
        if (!(k == m))
          out << "  kernel [" << k.packets << ":" << k.bytes << "] nfjit [" << m.packets << ":" << m.bytes << "] "
              << printRule(mc.rules[i], mc.name, model.family) << "  (" << mt.name << ")\n";
      }
    }
  }
  return out.str();
}

class PipelineConntrackOracle : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (auto why = netnsSkipReason()) GTEST_SKIP() << *why;
  }
};

TEST_P(PipelineConntrackOracle, StatesMatchTheKernel) {
  const Family f = GetParam();
  Topology topo(f);
  const auto all = sequences(f);
  for (const auto& seq : all) {
    auto load = topo.load(rules(f));
    ASSERT_TRUE(load.ok) << load.firstError;
    for (const auto& p : seq.packets) (p.fromSink ? topo.sendFromSink({p.bytes}) : topo.send({p.bytes}));
    Ruleset kernel = testsupport::parseRules(topo.saveCounters(), f);

    Ruleset rs = testsupport::parseRules(rules(f), f);
    HookPipeline pipe(rs, topologyHost(f));
    std::vector<std::string> trace;
    for (const auto& p : seq.packets) {
      auto copy = p.bytes;
      auto r = pipe.process(copy.data(), uint32_t(copy.size()), PktType::Host, {}, true, 0, 0,
                            p.fromSink ? "out0" : "in0");
      // The fate and the FORWARD rule that decided: it names the state.
      std::string t = fateName(r.fate);
      for (const auto& st : r.steps)
        if (st.table == "filter" && st.hook == Hook::Forward && !st.result.matched.empty()) {
          const RuleRef& m = st.result.matched.back();
          t += m.isPolicy ? std::string(", policy")
                          : ", " + printRule(rs.tables[m.table].chains[m.chain].rules[m.rule], "FORWARD", f);
        }
      trace.push_back(t);
    }
    Ruleset model = testsupport::parseRules(rules(f), f);
    pipe.classifier().counters().applyTo(model);
    const std::string diff = counterDiff(kernel, model);
    EXPECT_TRUE(diff.empty()) << describe(seq, trace) << diff;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, PipelineConntrackOracle, ::testing::Values(Family::IPv4, Family::IPv6),
                         [](const ::testing::TestParamInfo<Family>& i) {
                           return std::string(i.param == Family::IPv4 ? "IPv4" : "IPv6");
                         });

}  // namespace
}  // namespace nfjit::testing
