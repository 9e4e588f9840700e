// Packet semantics of the state and metadata matches, one suite per
// extension: conntrack, state, mark, connmark, limit, hashlimit, recent,
// quota, statistic, time, owner, physdev, pkttype, helper, connlimit,
// connbytes, cpu, devgroup, socket, rpfilter, policy, and the parse-time
// refusal of set and nfacct. Every expectation is what the Linux kernel's
// xt_*.c does with the same rule and packet; rate matches count time in
// jiffies of the model kernel (HZ=250) through EvalContext::nowNs.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "compiler/frontend/RestoreParser.h"
#include "compiler/interp/Interpreter.h"
#include "runtime/packet/PacketParser.h"
#include "tests/support/PacketBuilder.h"

namespace nfjit {
namespace {

using testing::PacketSpec;

constexpr Family kV4 = Family::IPv4;
constexpr Family kV6 = Family::IPv6;
constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kJiffy = kSec / 250;  // CONFIG_HZ_250, as the model kernel
// An arbitrary start of the monotonic clock, on a jiffy boundary.
constexpr uint64_t kT0 = 1000 * kSec;

// IPS_* conntrack status bits.
constexpr uint32_t kExpected = 1u << 0, kSeenReply = 1u << 1, kAssured = 1u << 2,
                   kConfirmed = 1u << 3, kSrcNat = 1u << 4, kDstNat = 1u << 5;

IpAddr ip(Family f, const char* s) {
  auto a = parseIpAddr(f, s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(IpAddr{});
}

// The text of every diagnostic of a parse.
std::string diagText(const DiagnosticEngine& d) {
  std::string all;
  for (const auto& x : d.diagnostics()) all += d.format(x) + "\n";
  return all;
}

std::string oneRuleText(const std::string& table, const std::string& chain, const std::string& rule) {
  return "*" + table + "\n:" + chain + " ACCEPT [0:0]\n-A " + chain + " " + rule + "\nCOMMIT\n";
}

// A parsed one-rule ruleset "*TABLE / :CHAIN ACCEPT / -A CHAIN <rule>"
// that keeps the rule's extensions alive.
class OneRule {
 public:
  OneRule(const std::string& rule, Family f = kV4, std::string table = "filter", std::string chain = "INPUT")
      : table_(std::move(table)), chain_(std::move(chain)) {
    DiagnosticEngine d("test");
    ParseOptions po;
    po.family = f;
    rs_ = std::make_unique<Ruleset>(parseRestore(oneRuleText(table_, chain_, rule), po, d));
    ok_ = !d.hasErrors();
    EXPECT_TRUE(ok_) << rule << "\n" << diagText(d);
  }
  const Rule* rule() const {
    if (!ok_) return nullptr;
    const Table* t = rs_->findTable(table_);
    if (!t) return nullptr;
    const Chain* c = t->findChain(chain_);
    if (!c || c->rules.empty()) return nullptr;
    return &c->rules[0];
  }
  // The i-th match of the rule (a failing test if there is none).
  const MatchExt& m(size_t i = 0) const {
    static const struct Never final : MatchExt {
      std::string_view name() const override { return "never"; }
      std::span<const OptionSpec> options() const override { return {}; }
      void parseOption(const OptionArg&) override {}
      void save(SaveWriter&) const override {}
      bool match(EvalContext&) const override { return false; }
    } never;
    const Rule* r = rule();
    if (!r || i >= r->matches.size() || !r->matches[i].ext) {
      ADD_FAILURE() << "rule has no match #" << i;
      return never;
    }
    return *r->matches[i].ext;
  }

 private:
  std::string table_, chain_;
  std::unique_ptr<Ruleset> rs_;
  bool ok_ = false;
};

// The diagnostics of a ruleset expected not to load ("" if it loads).
std::string parseErrors(const std::string& text, Family f = kV4) {
  DiagnosticEngine d("test");
  ParseOptions po;
  po.family = f;
  parseRestore(text, po, d);
  return d.hasErrors() ? diagText(d) : std::string();
}
std::string ruleErrors(const std::string& rule, Family f = kV4, const std::string& table = "filter",
                       const std::string& chain = "INPUT") {
  return parseErrors(oneRuleText(table, chain, rule), f);
}

// One packet: its bytes and the view parseL3() made of them, plus the
// metadata the tests fill in.
struct Pkt {
  explicit Pkt(const PacketSpec& s = {}) : spec(s), bytes(testing::buildPacket(s)) {
    EXPECT_EQ(parseL3(s.family, bytes.data(), static_cast<uint32_t>(bytes.size()), pv), L3Status::Ok);
  }
  Pkt(const Pkt&) = delete;
  Pkt& operator=(const Pkt&) = delete;

  // A conntrack entry for the packet in direction `dir`, with the tuples
  // taken from its own addresses and ports (no NAT), and accounting that
  // has counted this packet alone.
  Pkt& ct(uint16_t state, uint8_t dir = 0, uint32_t status = kConfirmed) {
    ConnInfo& c = pv.ct;
    c.accounted = true;
    c.acctPackets[dir] = 1;
    c.acctBytes[dir] = pv.len;
    c.state = state;
    c.dir = dir;
    c.status = status;
    c.l4proto = spec.proto;
    c.expires = 120;
    const IpAddr s = pv.src, d = pv.dst;
    const uint16_t sp = spec.sport, dp = spec.dport;
    if (dir == 0) {
      c.origSrc = s, c.origDst = d, c.origSrcPort = sp, c.origDstPort = dp;
      c.replSrc = d, c.replDst = s, c.replSrcPort = dp, c.replDstPort = sp;
    } else {
      c.replSrc = s, c.replDst = d, c.replSrcPort = sp, c.replDstPort = dp;
      c.origSrc = d, c.origDst = s, c.origSrcPort = dp, c.origDstPort = sp;
    }
    return *this;
  }

  PacketSpec spec;
  std::vector<uint8_t> bytes;
  PacketView pv;
};

PacketSpec from(const char* src, uint16_t sport = 40000, uint16_t dport = 80) {
  PacketSpec s;
  s.src = src;
  s.sport = sport;
  s.dport = dport;
  return s;
}

// Runs one match on one packet at one hook and time.
struct At {
  uint64_t nowNs = kT0;
  Hook hook = Hook::LocalIn;
  uint64_t wallSec = 0;
};
bool eval(const MatchExt& m, Pkt& p, At at = {}) {
  EvalContext ctx{p.pv};
  ctx.hook = at.hook;
  ctx.table = "filter";
  ctx.nowNs = at.nowNs;
  ctx.wallSec = at.wallSec;
  return m.match(ctx);
}
bool evalAt(const MatchExt& m, Pkt& p, uint64_t nowNs) { return eval(m, p, At{nowNs}); }
bool evalWall(const MatchExt& m, Pkt& p, uint64_t wallSec) { return eval(m, p, At{kT0, Hook::LocalIn, wallSec}); }

// ---------------------------------------------------------------- conntrack

TEST(StateMatchConntrack, CtStateEstablishedRelated) {
  OneRule r("-m conntrack --ctstate ESTABLISHED,RELATED");
  Pkt p;
  EXPECT_TRUE(eval(r.m(), p.ct(kCtEstablished, 0)));
  EXPECT_TRUE(eval(r.m(), p.ct(kCtEstablished, 1)));  // IP_CT_ESTABLISHED_REPLY counts as ESTABLISHED
  EXPECT_TRUE(eval(r.m(), p.ct(kCtRelated, 1)));
  EXPECT_FALSE(eval(r.m(), p.ct(kCtNew)));
  p.pv.ct = ConnInfo{};
  p.pv.ct.state = kCtInvalid;
  EXPECT_FALSE(eval(r.m(), p));
  p.pv.ct.state = kCtUntracked;
  EXPECT_FALSE(eval(r.m(), p));
}

TEST(StateMatchConntrack, CtStateSnatDnatFromStatus) {
  OneRule snat("-m conntrack --ctstate SNAT");
  OneRule dnat("-m conntrack --ctstate DNAT");
  OneRule newOnly("-m conntrack --ctstate NEW");
  Pkt p;
  p.ct(kCtNew, 0, kConfirmed | kSrcNat);
  EXPECT_TRUE(eval(snat.m(), p));
  EXPECT_FALSE(eval(dnat.m(), p));
  EXPECT_TRUE(eval(newOnly.m(), p));  // the NAT bits are added, not substituted
  p.pv.ct.status = kDstNat;
  EXPECT_FALSE(eval(snat.m(), p));
  EXPECT_TRUE(eval(dnat.m(), p));
  p.pv.ct.status = kConfirmed | kAssured;
  EXPECT_FALSE(eval(snat.m(), p));
  EXPECT_FALSE(eval(dnat.m(), p));
  // Without a conntrack there is no status to take NAT bits from.
  p.pv.ct.state = kCtUntracked;
  p.pv.ct.status = kSrcNat | kDstNat;
  EXPECT_FALSE(eval(snat.m(), p));
  EXPECT_FALSE(eval(dnat.m(), p));
}

TEST(StateMatchConntrack, CtStateUntrackedAndInvertedInvalid) {
  OneRule untracked("-m conntrack --ctstate UNTRACKED");
  OneRule notInvalid("-m conntrack ! --ctstate INVALID");
  Pkt p;
  p.pv.ct.state = kCtUntracked;
  EXPECT_TRUE(eval(untracked.m(), p));
  EXPECT_TRUE(eval(notInvalid.m(), p));
  p.pv.ct.state = kCtInvalid;
  EXPECT_FALSE(eval(untracked.m(), p));
  EXPECT_FALSE(eval(notInvalid.m(), p));
  p.ct(kCtNew);
  EXPECT_FALSE(eval(untracked.m(), p));
  EXPECT_TRUE(eval(notInvalid.m(), p));
}

TEST(StateMatchConntrack, WithoutConntrackOnlyCtStateDecides) {
  // conntrack_mt(): with no conntrack the result is "was --ctstate given",
  // whatever the other options say, inverted or not.
  OneRule stateAndProto("-m conntrack --ctstate INVALID --ctproto tcp");
  OneRule protoOnly("-m conntrack --ctproto tcp");
  OneRule invProto("-m conntrack ! --ctproto udp");
  OneRule invDir("-m conntrack --ctdir REPLY");
  Pkt p;  // a TCP packet
  p.pv.ct.state = kCtInvalid;
  EXPECT_TRUE(eval(stateAndProto.m(), p));
  EXPECT_FALSE(eval(protoOnly.m(), p));
  EXPECT_FALSE(eval(invProto.m(), p));
  EXPECT_FALSE(eval(invDir.m(), p));
  p.pv.ct.state = kCtUntracked;
  EXPECT_FALSE(eval(stateAndProto.m(), p));  // the state bit is UNTRACKED, not INVALID
  EXPECT_FALSE(eval(protoOnly.m(), p));
  EXPECT_FALSE(eval(invProto.m(), p));
}

TEST(StateMatchConntrack, CtProto) {
  OneRule tcp("-m conntrack --ctproto tcp");
  OneRule six("-m conntrack --ctproto 6");
  OneRule udp("-m conntrack --ctproto udp");
  OneRule notUdp("-m conntrack ! --ctproto udp");
  Pkt p;
  p.ct(kCtEstablished);
  EXPECT_TRUE(eval(tcp.m(), p));
  EXPECT_TRUE(eval(six.m(), p));
  EXPECT_FALSE(eval(udp.m(), p));
  EXPECT_TRUE(eval(notUdp.m(), p));
  p.pv.ct.l4proto = 17;  // the conntrack's protocol, not the header's, is compared
  EXPECT_FALSE(eval(tcp.m(), p));
  EXPECT_TRUE(eval(udp.m(), p));
  EXPECT_FALSE(eval(notUdp.m(), p));
}

TEST(StateMatchConntrack, TupleAddressesWithMasks) {
  OneRule origSrc("-m conntrack --ctorigsrc 10.1.0.0/16");
  OneRule notOrigSrc("-m conntrack ! --ctorigsrc 10.1.0.0/16");
  OneRule hostBits("-m conntrack --ctorigsrc 10.1.2.3/16");  // host bits are masked at match time
  OneRule oddMask("-m conntrack --ctorigdst 192.0.2.1/255.255.0.255");
  OneRule replSrc("-m conntrack --ctreplsrc 172.16.0.0/12");
  OneRule replDst("-m conntrack --ctrepldst 203.0.113.7");
  Pkt p;  // header 192.0.2.10 -> 198.51.100.20: the tuples below are what count
  p.ct(kCtEstablished);
  p.pv.ct.origSrc = ip(kV4, "10.1.200.3");
  p.pv.ct.origDst = ip(kV4, "192.0.77.1");
  p.pv.ct.replSrc = ip(kV4, "172.31.255.1");
  p.pv.ct.replDst = ip(kV4, "203.0.113.7");
  EXPECT_TRUE(eval(origSrc.m(), p));
  EXPECT_FALSE(eval(notOrigSrc.m(), p));
  EXPECT_TRUE(eval(hostBits.m(), p));
  EXPECT_TRUE(eval(oddMask.m(), p));
  EXPECT_TRUE(eval(replSrc.m(), p));
  EXPECT_TRUE(eval(replDst.m(), p));
  p.pv.ct.origSrc = ip(kV4, "10.2.0.1");
  p.pv.ct.origDst = ip(kV4, "192.0.77.2");
  p.pv.ct.replSrc = ip(kV4, "172.32.0.1");
  p.pv.ct.replDst = ip(kV4, "203.0.113.8");
  EXPECT_FALSE(eval(origSrc.m(), p));
  EXPECT_TRUE(eval(notOrigSrc.m(), p));
  EXPECT_FALSE(eval(hostBits.m(), p));
  EXPECT_FALSE(eval(oddMask.m(), p));
  EXPECT_FALSE(eval(replSrc.m(), p));
  EXPECT_FALSE(eval(replDst.m(), p));
}

TEST(StateMatchConntrack, Ipv6TupleAddress) {
  OneRule r("-m conntrack --ctorigsrc 2001:db8::/32", kV6);
  PacketSpec s;
  s.family = kV6;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::2";
  Pkt p(s);
  p.ct(kCtNew);
  p.pv.ct.origSrc = ip(kV6, "2001:db8:1::5");
  EXPECT_TRUE(eval(r.m(), p));
  p.pv.ct.origSrc = ip(kV6, "2001:db9::5");
  EXPECT_FALSE(eval(r.m(), p));
}

TEST(StateMatchConntrack, TuplePorts) {
  OneRule origSport("-m conntrack --ctorigsrcport 1000:2000");
  OneRule origDport("-m conntrack --ctorigdstport 80");
  OneRule notReplDport("-m conntrack ! --ctrepldstport 1024:65535");
  OneRule replSport("-m conntrack --ctreplsrcport 8080");
  OneRule dnatTo("-m conntrack --ctstate DNAT --ctorigdst 10.0.0.0/8 --ctorigdstport 80");
  Pkt p(from("192.0.2.10", 1500, 80));
  p.ct(kCtEstablished);
  p.pv.ct.replSrcPort = 8080;  // redirected
  p.pv.ct.replDstPort = 1023;
  EXPECT_TRUE(eval(origSport.m(), p));
  EXPECT_TRUE(eval(origDport.m(), p));
  EXPECT_TRUE(eval(notReplDport.m(), p));
  EXPECT_TRUE(eval(replSport.m(), p));
  p.pv.ct.origSrcPort = 999;
  p.pv.ct.origDstPort = 81;
  p.pv.ct.replDstPort = 1024;
  p.pv.ct.replSrcPort = 80;
  EXPECT_FALSE(eval(origSport.m(), p));
  EXPECT_FALSE(eval(origDport.m(), p));
  EXPECT_FALSE(eval(notReplDport.m(), p));
  EXPECT_FALSE(eval(replSport.m(), p));
  p.pv.ct.origSrcPort = 2000;
  EXPECT_TRUE(eval(origSport.m(), p));

  p.ct(kCtNew, 0, kConfirmed | kDstNat);
  p.pv.ct.origDst = ip(kV4, "10.1.2.3");
  EXPECT_TRUE(eval(dnatTo.m(), p));
  p.pv.ct.origDstPort = 81;
  EXPECT_FALSE(eval(dnatTo.m(), p));
  p.pv.ct.origDstPort = 80;
  p.pv.ct.status = kConfirmed;
  EXPECT_FALSE(eval(dnatTo.m(), p));
}

TEST(StateMatchConntrack, CtStatus) {
  OneRule assured("-m conntrack --ctstatus ASSURED");
  OneRule either("-m conntrack --ctstatus EXPECTED,SEEN_REPLY");
  OneRule notAssured("-m conntrack ! --ctstatus ASSURED");
  OneRule none("-m conntrack --ctstatus NONE");
  OneRule notNone("-m conntrack ! --ctstatus NONE");
  Pkt p;
  p.ct(kCtEstablished, 0, kAssured | kConfirmed | kSeenReply);
  EXPECT_TRUE(eval(assured.m(), p));
  EXPECT_TRUE(eval(either.m(), p));
  EXPECT_FALSE(eval(notAssured.m(), p));
  p.pv.ct.status = kConfirmed;
  EXPECT_FALSE(eval(assured.m(), p));
  EXPECT_FALSE(eval(either.m(), p));
  EXPECT_TRUE(eval(notAssured.m(), p));
  p.pv.ct.status = kExpected;
  EXPECT_TRUE(eval(either.m(), p));
  // NONE is an empty mask: "status & 0" is never non-zero, even for status 0.
  p.pv.ct.status = 0;
  EXPECT_FALSE(eval(none.m(), p));
  EXPECT_TRUE(eval(notNone.m(), p));
  p.pv.ct.status = kAssured;
  EXPECT_FALSE(eval(none.m(), p));
  EXPECT_TRUE(eval(notNone.m(), p));
}

TEST(StateMatchConntrack, CtExpireRanges) {
  OneRule range("-m conntrack --ctexpire 10:100");
  OneRule single("-m conntrack --ctexpire 60");
  OneRule notRange("-m conntrack ! --ctexpire 10:100");
  Pkt p;
  p.ct(kCtEstablished);
  for (uint64_t s : {10u, 55u, 100u}) {
    p.pv.ct.expires = s;
    EXPECT_TRUE(eval(range.m(), p)) << s;
    EXPECT_FALSE(eval(notRange.m(), p)) << s;
  }
  for (uint64_t s : {0u, 9u, 101u, 432000u}) {
    p.pv.ct.expires = s;
    EXPECT_FALSE(eval(range.m(), p)) << s;
    EXPECT_TRUE(eval(notRange.m(), p)) << s;
  }
  p.pv.ct.expires = 60;
  EXPECT_TRUE(eval(single.m(), p));
  p.pv.ct.expires = 61;
  EXPECT_FALSE(eval(single.m(), p));
  p.pv.ct.expires = 59;
  EXPECT_FALSE(eval(single.m(), p));
}

TEST(StateMatchConntrack, CtDir) {
  OneRule orig("-m conntrack --ctdir ORIGINAL");
  OneRule reply("-m conntrack --ctdir REPLY");
  Pkt p;
  p.ct(kCtEstablished, 0);
  EXPECT_TRUE(eval(orig.m(), p));
  EXPECT_FALSE(eval(reply.m(), p));
  p.ct(kCtEstablished, 1);
  EXPECT_FALSE(eval(orig.m(), p));
  EXPECT_TRUE(eval(reply.m(), p));
  p.ct(kCtRelated, 1);
  EXPECT_TRUE(eval(reply.m(), p));
}

TEST(StateMatchConntrack, AllOptionsMustHold) {
  OneRule r("-m conntrack --ctstate NEW --ctproto tcp --ctorigsrc 192.0.2.0/24 --ctorigdstport 80 --ctdir ORIGINAL");
  Pkt p;
  p.ct(kCtNew, 0);
  EXPECT_TRUE(eval(r.m(), p));
  p.ct(kCtNew, 1);
  EXPECT_FALSE(eval(r.m(), p));
  p.ct(kCtEstablished, 0);
  EXPECT_FALSE(eval(r.m(), p));
  p.ct(kCtNew, 0);
  p.pv.ct.l4proto = 17;
  EXPECT_FALSE(eval(r.m(), p));
}

// -------------------------------------------------------------------- state

TEST(StateMatchState, StateBits) {
  OneRule er("-m state --state ESTABLISHED,RELATED");
  OneRule nw("-m state --state NEW");
  OneRule inv("-m state --state INVALID");
  OneRule untracked("-m state --state UNTRACKED");
  Pkt p;
  p.ct(kCtEstablished);
  EXPECT_TRUE(eval(er.m(), p));
  EXPECT_FALSE(eval(nw.m(), p));
  p.ct(kCtEstablished, 1);
  EXPECT_TRUE(eval(er.m(), p));
  p.ct(kCtRelated);
  EXPECT_TRUE(eval(er.m(), p));
  p.ct(kCtNew, 0, kConfirmed | kSrcNat);  // -m state knows nothing of NAT
  EXPECT_TRUE(eval(nw.m(), p));
  EXPECT_FALSE(eval(er.m(), p));
  p.pv.ct = ConnInfo{};
  p.pv.ct.state = kCtInvalid;
  EXPECT_FALSE(eval(er.m(), p));
  EXPECT_TRUE(eval(inv.m(), p));
  EXPECT_FALSE(eval(untracked.m(), p));
  p.pv.ct.state = kCtUntracked;
  EXPECT_FALSE(eval(inv.m(), p));
  EXPECT_TRUE(eval(untracked.m(), p));
}

TEST(StateMatchState, Inversion) {
  OneRule notNew("-m state ! --state NEW");
  Pkt p;
  p.ct(kCtNew);
  EXPECT_FALSE(eval(notNew.m(), p));
  p.ct(kCtEstablished);
  EXPECT_TRUE(eval(notNew.m(), p));
  p.pv.ct = ConnInfo{};
  p.pv.ct.state = kCtInvalid;
  EXPECT_TRUE(eval(notNew.m(), p));
  p.pv.ct.state = kCtUntracked;
  EXPECT_TRUE(eval(notNew.m(), p));
}

TEST(StateMatchState, NatStatesAreNotStates) {
  EXPECT_NE(ruleErrors("-m state --state SNAT"), "");
  EXPECT_NE(ruleErrors("-m state --state NEW,DNAT"), "");
}

// --------------------------------------------------------------------- mark

TEST(StateMatchMark, ValueAndMask) {
  OneRule vm("-m mark --mark 0x10/0xf0");
  OneRule plain("-m mark --mark 5");
  OneRule any("-m mark --mark 0/0");
  Pkt p;
  p.pv.mark = 0x1f;
  EXPECT_TRUE(eval(vm.m(), p));
  EXPECT_FALSE(eval(plain.m(), p));
  EXPECT_TRUE(eval(any.m(), p));
  p.pv.mark = 0x2f;
  EXPECT_FALSE(eval(vm.m(), p));
  p.pv.mark = 0xffffff10;
  EXPECT_TRUE(eval(vm.m(), p));
  p.pv.mark = 5;
  EXPECT_TRUE(eval(plain.m(), p));
  p.pv.mark = 0x105;
  EXPECT_FALSE(eval(plain.m(), p));
  p.pv.mark = 0;
  EXPECT_FALSE(eval(plain.m(), p));
  EXPECT_TRUE(eval(any.m(), p));
}

TEST(StateMatchMark, ValueIsNotMasked) {
  // xt_mark compares (mark & mask) == value: a value with bits outside the
  // mask can never match.
  OneRule r("-m mark --mark 0x1f/0xf0");
  Pkt p;
  for (uint32_t mark : {0x1fu, 0x10u, 0xffu, 0xf0u, 0u}) {
    p.pv.mark = mark;
    EXPECT_FALSE(eval(r.m(), p)) << mark;
  }
}

TEST(StateMatchMark, Inversion) {
  OneRule r("-m mark ! --mark 0x10/0xf0");
  Pkt p;
  p.pv.mark = 0x1f;
  EXPECT_FALSE(eval(r.m(), p));
  p.pv.mark = 0x2f;
  EXPECT_TRUE(eval(r.m(), p));
  p.pv.mark = 0;
  EXPECT_TRUE(eval(r.m(), p));
}

// ----------------------------------------------------------------- connmark

TEST(StateMatchConnmark, ConnectionMarkUnderMask) {
  OneRule r("-m connmark --mark 0x1/0x1");
  OneRule exact("-m connmark --mark 0x2a");
  OneRule inv("-m connmark ! --mark 0x1/0x1");
  Pkt p;
  p.ct(kCtEstablished);
  p.pv.ct.mark = 3;
  EXPECT_TRUE(eval(r.m(), p));
  EXPECT_FALSE(eval(inv.m(), p));
  EXPECT_FALSE(eval(exact.m(), p));
  p.pv.ct.mark = 2;
  p.pv.mark = 1;  // the packet's own mark is not looked at
  EXPECT_FALSE(eval(r.m(), p));
  EXPECT_TRUE(eval(inv.m(), p));
  p.pv.ct.mark = 0x2a;
  EXPECT_TRUE(eval(exact.m(), p));
}

TEST(StateMatchConnmark, NoConntrackNeverMatches) {
  OneRule r("-m connmark --mark 0/0");
  OneRule inv("-m connmark ! --mark 1");
  Pkt p;
  p.pv.ct.state = kCtInvalid;
  EXPECT_FALSE(eval(r.m(), p));
  EXPECT_FALSE(eval(inv.m(), p));
  p.pv.ct.state = kCtUntracked;
  EXPECT_FALSE(eval(r.m(), p));
  EXPECT_FALSE(eval(inv.m(), p));
}

// -------------------------------------------------------------------- limit
// xt_limit: credits per jiffy CPJ = 128 at HZ=250 (largest power of two with
// CPJ*HZ*86400 < 2^32); cost = avg*HZ*CPJ/10000 (divided first when the
// product overflows); the bucket starts full at cost*burst.

TEST(StateMatchLimit, BurstThenRefillOneJiffyAtATime) {
  OneRule r("-m limit --limit 1/sec --limit-burst 2");  // cost 32000 = 250 jiffies of credit
  Pkt p;
  EXPECT_TRUE(evalAt(r.m(), p, kT0));
  EXPECT_TRUE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 249 * kJiffy));  // 31872 credits
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 250 * kJiffy));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 250 * kJiffy));
  // A long pause refills no more than the burst.
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 3600 * kSec));
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 3600 * kSec));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 3600 * kSec));
}

TEST(StateMatchLimit, IntegerCreditArithmetic) {
  // 3/sec: avg = 10000/3 = 3333, cost = 3333*32000/10000 = 10665 credits,
  // i.e. 83.3 jiffies: the remainders carry from one packet to the next
  // (below the cap of 2 * 10665).
  OneRule r("-m limit --limit 3/sec --limit-burst 2");
  Pkt p;
  EXPECT_TRUE(evalAt(r.m(), p, kT0));
  EXPECT_TRUE(evalAt(r.m(), p, kT0));                   // credit 0
  EXPECT_FALSE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 83 * kJiffy));    // 10624
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 84 * kJiffy));     // 10752 -> 87
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 167 * kJiffy));    // 87 + 10624 = 10711 -> 46
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 250 * kJiffy));    // 46 + 10624 = 10670 -> 5
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 333 * kJiffy));   // 5 + 10624 = 10629
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 334 * kJiffy));    // 10757 -> 92
}

TEST(StateMatchLimit, CreditIsCappedAtTheBurst) {
  // Burst 1 caps the bucket at one cost: 84 jiffies (10752 credits) leave
  // nothing over for the next packet.
  OneRule r("-m limit --limit 3/sec --limit-burst 1");
  Pkt p;
  EXPECT_TRUE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 83 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 84 * kJiffy));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 167 * kJiffy));  // 10624, not 87 + 10624
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 168 * kJiffy));
}

TEST(StateMatchLimit, FastRatesAreBoundByJiffies) {
  // 10000/sec: avg = 1, cost = 32000/10000 = 3 credits, 128 credits a jiffy.
  OneRule one("-m limit --limit 10000/sec --limit-burst 1");  // cap 3: one packet a jiffy
  Pkt p;
  EXPECT_TRUE(evalAt(one.m(), p, kT0));
  EXPECT_FALSE(evalAt(one.m(), p, kT0));
  EXPECT_FALSE(evalAt(one.m(), p, kT0 + kJiffy - 1));
  EXPECT_TRUE(evalAt(one.m(), p, kT0 + kJiffy));
  EXPECT_FALSE(evalAt(one.m(), p, kT0 + kJiffy));
  OneRule hundred("-m limit --limit 10000/sec --limit-burst 100");  // cap 320
  int passed = 0;
  for (int i = 0; i < 200; ++i) passed += evalAt(hundred.m(), p, kT0) ? 1 : 0;
  EXPECT_EQ(passed, 106);  // 320 / 3, 2 credits left
  passed = 0;
  for (int i = 0; i < 200; ++i) passed += evalAt(hundred.m(), p, kT0 + kJiffy) ? 1 : 0;
  EXPECT_EQ(passed, 43);  // (2 + 128) / 3
  // Faster than 10000/sec is 0 scale units per packet: refused.
  EXPECT_NE(ruleErrors("-m limit --limit 10001/sec"), "");
}

TEST(StateMatchLimit, DefaultRateAndBurst) {
  // Defaults 3/hour, burst 5. avg = 12000000 > 2^32/32000, so user2credits
  // divides first: cost = 1200 * 32000 = 38400000 = 300000 jiffies (20 min).
  OneRule r("-m limit");
  Pkt p;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(evalAt(r.m(), p, kT0)) << i;
  EXPECT_FALSE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 299999 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 300000 * kJiffy));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 300000 * kJiffy));
}

TEST(StateMatchLimit, KernelOverflowCheckAndWrappedCap) {
  // limit_mt_check(): refused when user2credits(avg*burst) < user2credits(avg),
  // both computed in 32 bits. 1/day: avg = 864000000, cost = 86400*32000.
  EXPECT_EQ(ruleErrors("-m limit --limit 1/day --limit-burst 1"), "");
  EXPECT_NE(ruleErrors("-m limit --limit 1/day --limit-burst 2"), "");  // 5529600000 wraps to 1234632704
  EXPECT_NE(ruleErrors("-m limit --limit 1/day --limit-burst 5"), "");  // avg*burst itself wraps
  // Burst 3 passes the check, but the wrapped cap 8294400000 - 2^32 =
  // 3999432704 holds just one packet's 2764800000 credits.
  OneRule r("-m limit --limit 1/day --limit-burst 3");
  Pkt p;
  EXPECT_TRUE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0));
}

// BUG: LimitMatch adds the refill in 64 bits; limit_mt() sums it in a u32, so 2^25 idle jiffies refill 0 credits.
TEST(StateMatchLimit, RefillIsComputedIn32Bits) {
  OneRule r("-m limit --limit 1/sec --limit-burst 1");
  Pkt p;
  EXPECT_TRUE(evalAt(r.m(), p, kT0));
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + (uint64_t(1) << 25) * kJiffy));
}

// ---------------------------------------------------------------- hashlimit
// Revision 3, packet mode: CPJ = 2^39, cost = avg(µs) * (250*2^39/10^6)
// = avg * 137438953; 1/sec needs 250 jiffies (249 are 0.99999...).
// --hashlimit-htable-expire is set long so that garbage collection, which
// the kernel runs on a timer, cannot reset buckets during a test.

TEST(StateMatchHashlimit, PerSourceBuckets) {
  OneRule r("-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2 --hashlimit-mode srcip "
            "--hashlimit-name sm_hl_src --hashlimit-htable-expire 600000");
  Pkt a(from("192.0.2.1")), b(from("192.0.2.2"));
  EXPECT_TRUE(evalAt(r.m(), a, kT0));
  EXPECT_TRUE(evalAt(r.m(), a, kT0));
  EXPECT_FALSE(evalAt(r.m(), a, kT0));
  EXPECT_TRUE(evalAt(r.m(), b, kT0));  // its own bucket, still full
  EXPECT_TRUE(evalAt(r.m(), b, kT0));
  EXPECT_FALSE(evalAt(r.m(), b, kT0));
  EXPECT_FALSE(evalAt(r.m(), a, kT0 + 249 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(), a, kT0 + 250 * kJiffy));
  EXPECT_FALSE(evalAt(r.m(), a, kT0 + 250 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(), b, kT0 + 250 * kJiffy));
}

TEST(StateMatchHashlimit, SourceMaskGroupsHosts) {
  OneRule r("-m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcip "
            "--hashlimit-srcmask 24 --hashlimit-name sm_hl_mask --hashlimit-htable-expire 600000");
  Pkt a(from("192.0.2.1")), b(from("192.0.2.200")), c(from("192.0.3.1"));
  EXPECT_TRUE(evalAt(r.m(), a, kT0));
  EXPECT_FALSE(evalAt(r.m(), b, kT0));  // same /24, same bucket
  EXPECT_TRUE(evalAt(r.m(), c, kT0));
}

TEST(StateMatchHashlimit, Ipv6SourcePrefix) {
  OneRule r("-m hashlimit --hashlimit-upto 1/hour --hashlimit-burst 1 --hashlimit-mode srcip "
            "--hashlimit-srcmask 64 --hashlimit-name sm_hl_v6 --hashlimit-htable-expire 600000",
            kV6);
  auto v6 = [](const char* src) {
    PacketSpec s;
    s.family = kV6;
    s.src = src;
    s.dst = "2001:db8:ffff::1";
    return s;
  };
  Pkt a(v6("2001:db8:1:2::1")), b(v6("2001:db8:1:2:ffff::9")), c(v6("2001:db8:1:3::1"));
  EXPECT_TRUE(evalAt(r.m(), a, kT0));
  EXPECT_FALSE(evalAt(r.m(), b, kT0));  // same /64
  EXPECT_TRUE(evalAt(r.m(), c, kT0));
}

TEST(StateMatchHashlimit, NoModeIsOneBucketForAll) {
  OneRule above("-m hashlimit --hashlimit-above 1/sec --hashlimit-burst 1 --hashlimit-name sm_hl_all "
                "--hashlimit-htable-expire 600000");
  Pkt a(from("192.0.2.1")), b(from("203.0.113.9"));
  EXPECT_FALSE(evalAt(above.m(), a, kT0));  // under the limit: --hashlimit-above does not match
  EXPECT_TRUE(evalAt(above.m(), b, kT0));   // over the limit, whatever the source
  EXPECT_TRUE(evalAt(above.m(), a, kT0 + 249 * kJiffy));   // 249 jiffies of credit: still over
  EXPECT_FALSE(evalAt(above.m(), a, kT0 + 499 * kJiffy));  // 499 jiffies of credit: under again
}

TEST(StateMatchHashlimit, DestinationPortMode) {
  OneRule r("-m hashlimit --hashlimit-upto 1/hour --hashlimit-burst 1 --hashlimit-mode dstport "
            "--hashlimit-name sm_hl_dport --hashlimit-htable-expire 600000");
  Pkt web(from("192.0.2.1", 40000, 80)), web2(from("192.0.2.2", 40001, 80)), tls(from("192.0.2.1", 40000, 443));
  EXPECT_TRUE(evalAt(r.m(), web, kT0));
  EXPECT_FALSE(evalAt(r.m(), web2, kT0));  // other source, same port
  EXPECT_TRUE(evalAt(r.m(), tls, kT0));
}

TEST(StateMatchHashlimit, TableSharedByName) {
  // Both rules use the table created by the first; "above" reads the bucket
  // the "upto" rule emptied.
  DiagnosticEngine d("test");
  ParseOptions po;
  Ruleset rs = parseRestore(
      "*filter\n:INPUT ACCEPT [0:0]\n"
      "-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 1 --hashlimit-mode srcip "
      "--hashlimit-name sm_hl_shared --hashlimit-htable-expire 600000\n"
      "-A INPUT -m hashlimit --hashlimit-above 1/sec --hashlimit-burst 1 --hashlimit-mode srcip "
      "--hashlimit-name sm_hl_shared --hashlimit-htable-expire 600000\n"
      "COMMIT\n",
      po, d);
  ASSERT_FALSE(d.hasErrors()) << diagText(d);
  const Chain* in = rs.findTable("filter")->findChain("INPUT");
  const MatchExt& upto = *in->rules[0].matches[0].ext;
  const MatchExt& above = *in->rules[1].matches[0].ext;
  Pkt a(from("192.0.2.1")), b(from("192.0.2.2"));
  EXPECT_TRUE(evalAt(upto, a, kT0));
  EXPECT_TRUE(evalAt(above, a, kT0));
  EXPECT_FALSE(evalAt(above, b, kT0));  // b's bucket was full: consumes and is under the limit
  EXPECT_FALSE(evalAt(upto, b, kT0));
}

TEST(StateMatchHashlimit, ByteRate) {
  // 1kb/s: avg = 0xffffffff / (1024/16 + 1) = 66076419, a 1024-byte unit;
  // burst 2kb = 2 refills. cost = avg * (250 * 2^24) >> 32 = 64527752 per
  // 16-byte chunk; a 40-byte packet is 3 chunks. The bucket holds
  // 250 * 2^24 = 4194304000 credits: 21 packets, refilled twice when short.
  OneRule r("-m hashlimit --hashlimit-upto 1kb/s --hashlimit-burst 2kb --hashlimit-name sm_hl_bytes "
            "--hashlimit-htable-expire 600000");
  Pkt p;
  ASSERT_EQ(p.pv.len, 40u);
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += evalAt(r.m(), p, kT0) ? 1 : 0;
  EXPECT_EQ(passed, 63);
  // One jiffy adds 2^24 credits; a second adds a full bucket again (21 packets).
  passed = 0;
  for (int i = 0; i < 100; ++i) passed += evalAt(r.m(), p, kT0 + kSec) ? 1 : 0;
  EXPECT_EQ(passed, 21);
}

TEST(StateMatchHashlimit, ExpiredEntryStartsAFreshBucket) {
  // In byte mode the burst is a number of refills that only a new entry
  // gets back. Entries idle past --hashlimit-htable-expire are collected
  // (the kernel's gc runs every --hashlimit-htable-gcinterval, 1 s).
  OneRule r("-m hashlimit --hashlimit-upto 1kb/s --hashlimit-burst 2kb --hashlimit-name sm_hl_bexp "
            "--hashlimit-htable-expire 60000");
  Pkt p;
  auto burst = [&](uint64_t now) {
    int passed = 0;
    for (int i = 0; i < 100; ++i) passed += evalAt(r.m(), p, now) ? 1 : 0;
    return passed;
  };
  EXPECT_EQ(burst(kT0), 63);
  EXPECT_EQ(burst(kT0 + 30 * kSec), 21);   // alive: one bucket's worth, no refills left
  EXPECT_EQ(burst(kT0 + 125 * kSec), 63);  // idle for 95 s: a new entry
}

TEST(StateMatchHashlimit, FullTableHotdrops) {
  OneRule r("-m hashlimit --hashlimit-upto 1/sec --hashlimit-mode srcip --hashlimit-name sm_hl_max "
            "--hashlimit-htable-size 2 --hashlimit-htable-max 2 --hashlimit-htable-expire 600000");
  Pkt a(from("192.0.2.1")), b(from("192.0.2.2")), c(from("192.0.2.3"));
  EXPECT_TRUE(evalAt(r.m(), a, kT0));
  EXPECT_TRUE(evalAt(r.m(), b, kT0));
  EvalContext ctx{c.pv};
  ctx.hook = Hook::LocalIn;
  ctx.nowNs = kT0;
  EXPECT_FALSE(r.m().match(ctx));
  EXPECT_TRUE(ctx.hotdrop);
  EXPECT_TRUE(evalAt(r.m(), a, kT0));  // known sources still have their bucket
}

TEST(StateMatchHashlimit, RateMatchWindows) {
  // --hashlimit-rate-match 5/sec, burst 1: rate 5 per 1 s window, burst 6;
  // a window that ran above the rate blocks the next one.
  OneRule r("-m hashlimit --hashlimit-upto 5/sec --hashlimit-burst 1 --hashlimit-rate-match "
            "--hashlimit-name sm_hl_rm --hashlimit-htable-expire 600000");
  Pkt p;
  int passed = 0;
  for (int i = 0; i < 20; ++i) passed += evalAt(r.m(), p, kT0) ? 1 : 0;
  EXPECT_EQ(passed, 6);
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 250 * kJiffy));  // 20 > 5 in the last window
  EXPECT_FALSE(evalAt(r.m(), p, kT0 + 499 * kJiffy));  // same window
  EXPECT_TRUE(evalAt(r.m(), p, kT0 + 500 * kJiffy));   // 2 packets in the previous window
}

// ------------------------------------------------------------------- recent

TEST(StateMatchRecent, SetThenRcheckWithSecondsAndHitcount) {
  OneRule r("-m recent --set --name sm_rc1 -m recent --rcheck --seconds 10 --hitcount 2 --name sm_rc1");
  const MatchExt& set = r.m(0);
  const MatchExt& check = r.m(1);
  Pkt p;
  EXPECT_FALSE(evalAt(check, p, kT0));  // nothing recorded
  EXPECT_TRUE(evalAt(set, p, kT0));     // --set always matches
  EXPECT_FALSE(evalAt(check, p, kT0));  // one hit of two
  EXPECT_TRUE(evalAt(set, p, kT0 + kSec));
  EXPECT_TRUE(evalAt(check, p, kT0 + kSec));
  // Stamps exactly --seconds old still count; one jiffy older do not.
  EXPECT_TRUE(evalAt(check, p, kT0 + 10 * kSec));
  EXPECT_FALSE(evalAt(check, p, kT0 + 10 * kSec + kJiffy));
  Pkt other(from("192.0.2.99"));
  EXPECT_FALSE(evalAt(check, other, kT0 + kSec));
}

TEST(StateMatchRecent, UpdateRefreshesRcheckDoesNot) {
  OneRule r("-m recent --set --name sm_rc2 -m recent --update --seconds 5 --name sm_rc2 "
            "-m recent --rcheck --seconds 5 --name sm_rc2");
  const MatchExt& set = r.m(0);
  const MatchExt& update = r.m(1);
  const MatchExt& check = r.m(2);
  Pkt a(from("192.0.2.1")), b(from("192.0.2.2"));
  EXPECT_TRUE(evalAt(set, a, kT0));
  EXPECT_TRUE(evalAt(set, b, kT0));
  EXPECT_TRUE(evalAt(update, a, kT0 + 4 * kSec));  // matched: stamps now
  EXPECT_TRUE(evalAt(check, b, kT0 + 4 * kSec));   // matched: stamps nothing
  EXPECT_TRUE(evalAt(update, a, kT0 + 8 * kSec));
  EXPECT_FALSE(evalAt(check, b, kT0 + 8 * kSec));
  EXPECT_TRUE(evalAt(check, a, kT0 + 13 * kSec));
  EXPECT_FALSE(evalAt(check, a, kT0 + 14 * kSec));
  // A failed --update does not stamp either.
  EXPECT_FALSE(evalAt(update, b, kT0 + 20 * kSec));
  EXPECT_FALSE(evalAt(check, b, kT0 + 20 * kSec));
}

TEST(StateMatchRecent, HitcountWithoutSeconds) {
  OneRule r("-m recent --set --name sm_rc3 -m recent --rcheck --hitcount 3 --name sm_rc3");
  Pkt p;
  EXPECT_TRUE(evalAt(r.m(0), p, kT0));
  EXPECT_TRUE(evalAt(r.m(0), p, kT0 + 100 * kSec));
  EXPECT_FALSE(evalAt(r.m(1), p, kT0 + 200 * kSec));
  EXPECT_TRUE(evalAt(r.m(0), p, kT0 + 300 * kSec));
  EXPECT_TRUE(evalAt(r.m(1), p, kT0 + 100000 * kSec));  // age does not matter without --seconds
}

TEST(StateMatchRecent, Rttl) {
  OneRule r("-m recent --set --name sm_rc4 -m recent --rcheck --rttl --name sm_rc4 "
            "-m recent --rcheck --name sm_rc4");
  PacketSpec s = from("192.0.2.7");
  s.ttl = 64;
  Pkt set64(s);
  s.ttl = 63;
  Pkt p63(s);
  EXPECT_TRUE(evalAt(r.m(0), set64, kT0));
  EXPECT_TRUE(evalAt(r.m(1), set64, kT0));
  EXPECT_FALSE(evalAt(r.m(1), p63, kT0));  // --rttl: the TTL must be the one recorded
  EXPECT_TRUE(evalAt(r.m(2), p63, kT0));
}

TEST(StateMatchRecent, RttlUsesTheTtlBeforeForwarding) {
  // With an output device and no socket (FORWARD) the kernel adds one to the
  // TTL, which the routing code already decremented.
  OneRule r("-m recent --set --name sm_rc5 -m recent --rcheck --rttl --name sm_rc5");
  PacketSpec s = from("192.0.2.8");
  s.ttl = 63;
  Pkt fwd(s);
  s.ttl = 64;
  Pkt in64(s);
  EXPECT_TRUE(eval(r.m(0), fwd, At{kT0, Hook::Forward}));  // recorded as 64
  EXPECT_TRUE(eval(r.m(1), in64, At{kT0, Hook::LocalIn}));
  EXPECT_FALSE(eval(r.m(1), fwd, At{kT0, Hook::LocalIn}));
  EXPECT_TRUE(eval(r.m(1), fwd, At{kT0, Hook::Forward}));
  fwd.pv.hasSocket = true;  // a local socket: no adjustment
  EXPECT_FALSE(eval(r.m(1), fwd, At{kT0, Hook::PostRouting}));
}

TEST(StateMatchRecent, Remove) {
  OneRule r("-m recent --set --name sm_rc6 -m recent --rcheck --name sm_rc6 -m recent --remove --name sm_rc6");
  Pkt p;
  EXPECT_FALSE(evalAt(r.m(2), p, kT0));  // nothing to remove: no match
  EXPECT_TRUE(evalAt(r.m(0), p, kT0));
  EXPECT_TRUE(evalAt(r.m(1), p, kT0));
  EXPECT_TRUE(evalAt(r.m(2), p, kT0));
  EXPECT_FALSE(evalAt(r.m(1), p, kT0));
  EXPECT_FALSE(evalAt(r.m(2), p, kT0));
}

TEST(StateMatchRecent, InversionAndDestinationSide) {
  OneRule r("-m recent --set --rdest --name sm_rc7 -m recent ! --rcheck --name sm_rc7 "
            "-m recent --rcheck --rsource --name sm_rc7 -m recent ! --set --name sm_rc8 "
            "-m recent --rcheck --name sm_rc8");
  Pkt out(from("192.0.2.10", 40000, 80));  // to 198.51.100.20
  PacketSpec back = from("198.51.100.20", 80, 40000);
  back.dst = "192.0.2.10";
  Pkt reply(back);
  EXPECT_TRUE(evalAt(r.m(1), reply, kT0));  // ! --rcheck with no entry
  EXPECT_TRUE(evalAt(r.m(0), out, kT0));    // records 198.51.100.20
  EXPECT_FALSE(evalAt(r.m(1), reply, kT0));
  EXPECT_TRUE(evalAt(r.m(2), reply, kT0));
  EXPECT_FALSE(evalAt(r.m(2), out, kT0));  // 192.0.2.10 was not recorded
  // ! --set never matches but still records.
  EXPECT_FALSE(evalAt(r.m(3), out, kT0));
  EXPECT_TRUE(evalAt(r.m(4), out, kT0));
}

TEST(StateMatchRecent, MaskAndSeparateNames) {
  OneRule r("-m recent --set --name sm_rc9 --mask 255.255.255.0 "
            "-m recent --rcheck --name sm_rc9 --mask 255.255.255.0 -m recent --rcheck --name sm_rc10");
  Pkt a(from("192.0.2.10")), b(from("192.0.2.99")), c(from("192.0.3.10"));
  EXPECT_TRUE(evalAt(r.m(0), a, kT0));
  EXPECT_TRUE(evalAt(r.m(1), b, kT0));
  EXPECT_FALSE(evalAt(r.m(1), c, kT0));
  EXPECT_FALSE(evalAt(r.m(2), a, kT0));  // another list
}

TEST(StateMatchRecent, LeastRecentlyUsedEntryIsEvicted) {
  // ip_list_tot = 100 entries per list; --rcheck does not refresh an
  // entry's place in the LRU order, --update (when it matches) does.
  OneRule r("-m recent --set --name sm_lru -m recent --rcheck --name sm_lru -m recent --update --name sm_lru");
  auto host = [](int i) {
    PacketSpec s;
    s.src = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    return std::make_unique<Pkt>(s);
  };
  for (int i = 1; i <= 100; ++i) EXPECT_TRUE(evalAt(r.m(0), *host(i), kT0 + uint64_t(i) * kJiffy));
  EXPECT_TRUE(evalAt(r.m(1), *host(1), kT0 + 200 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(0), *host(101), kT0 + 201 * kJiffy));  // evicts host 1
  EXPECT_FALSE(evalAt(r.m(1), *host(1), kT0 + 202 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(2), *host(2), kT0 + 203 * kJiffy));    // host 2 becomes the most recent
  EXPECT_TRUE(evalAt(r.m(0), *host(102), kT0 + 204 * kJiffy));  // evicts host 3
  EXPECT_TRUE(evalAt(r.m(1), *host(2), kT0 + 205 * kJiffy));
  EXPECT_FALSE(evalAt(r.m(1), *host(3), kT0 + 205 * kJiffy));
  EXPECT_TRUE(evalAt(r.m(1), *host(4), kT0 + 205 * kJiffy));
}

TEST(StateMatchRecent, ReapDropsTheStalestEntry) {
  OneRule r("-m recent --set --name sm_reap -m recent --rcheck --seconds 10 --reap --name sm_reap "
            "-m recent --rcheck --name sm_reap");
  Pkt a(from("192.0.2.1")), b(from("192.0.2.2"));
  EXPECT_TRUE(evalAt(r.m(0), a, kT0));
  EXPECT_TRUE(evalAt(r.m(0), b, kT0 + 50 * kSec));
  EXPECT_TRUE(evalAt(r.m(2), a, kT0 + 55 * kSec));
  EXPECT_TRUE(evalAt(r.m(1), b, kT0 + 55 * kSec));   // and reaps a, last seen 55 s ago
  EXPECT_FALSE(evalAt(r.m(2), a, kT0 + 55 * kSec));
  EXPECT_TRUE(evalAt(r.m(2), b, kT0 + 55 * kSec));
}

TEST(StateMatchRecent, NameSharedBetweenRulesThroughTheInterpreter) {
  // The classic brute-force guard: the third new connection within a minute
  // is dropped.
  DiagnosticEngine d("test");
  ParseOptions po;
  Ruleset rs = parseRestore(
      "*filter\n:INPUT DROP [0:0]\n"
      "-A INPUT -p tcp -m tcp --dport 22 -m recent --set --name sm_ssh\n"
      "-A INPUT -p tcp -m tcp --dport 22 -m recent --update --seconds 60 --hitcount 3 --name sm_ssh -j DROP\n"
      "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
      "COMMIT\n",
      po, d);
  ASSERT_FALSE(d.hasErrors()) << diagText(d);
  Interpreter in(rs);
  auto run = [&](const char* src, uint64_t now) {
    Pkt p(from(src, 40000, 22));
    p.pv.inIface = "eth0";
    EvalContext ctx{p.pv};
    ctx.hook = Hook::LocalIn;
    ctx.nowNs = now;
    return in.run("filter", Hook::LocalIn, ctx).verdict;
  };
  EXPECT_EQ(run("192.0.2.50", kT0), Verdict::Accept);
  EXPECT_EQ(run("192.0.2.50", kT0 + kSec), Verdict::Accept);
  EXPECT_EQ(run("192.0.2.50", kT0 + 2 * kSec), Verdict::Drop);
  EXPECT_EQ(run("192.0.2.51", kT0 + 2 * kSec), Verdict::Accept);
  // More than a minute after the last stamps only the new --set one is
  // recent: one hit of three.
  EXPECT_EQ(run("192.0.2.50", kT0 + 63 * kSec), Verdict::Accept);
}

// -------------------------------------------------------------------- quota

TEST(StateMatchQuota, ChargesUntilShortThenNothingPasses) {
  OneRule r("-m quota --quota 100");
  Pkt p40;  // 40 bytes
  PacketSpec s;
  s.payload = 20;
  Pkt p60(s);
  PacketSpec raw;
  raw.proto = 253;
  Pkt p20(raw);
  ASSERT_EQ(p40.pv.len, 40u);
  ASSERT_EQ(p60.pv.len, 60u);
  ASSERT_EQ(p20.pv.len, 20u);
  EXPECT_TRUE(eval(r.m(), p40));   // 60 left
  EXPECT_TRUE(eval(r.m(), p40));   // 20 left
  EXPECT_FALSE(eval(r.m(), p60));  // too big: the quota drops to 0
  EXPECT_FALSE(eval(r.m(), p20));  // even though 20 bytes were left before
}

TEST(StateMatchQuota, ExactFitAndInversion) {
  OneRule exact("-m quota --quota 40");
  OneRule inv("-m quota ! --quota 50");
  Pkt p;
  EXPECT_TRUE(eval(exact.m(), p));
  EXPECT_FALSE(eval(exact.m(), p));
  EXPECT_FALSE(eval(inv.m(), p));  // 10 left
  EXPECT_TRUE(eval(inv.m(), p));
  EXPECT_TRUE(eval(inv.m(), p));
}

// ---------------------------------------------------------------- statistic

std::string pattern(const MatchExt& m, Pkt& p, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += eval(m, p) ? '1' : '0';
  return s;
}

TEST(StateMatchStatistic, NthEveryPacket) {
  OneRule p0("-m statistic --mode nth --every 3 --packet 0");
  OneRule p1("-m statistic --mode nth --every 3 --packet 1");
  OneRule p2("-m statistic --mode nth --every 3 --packet 2");
  OneRule one("-m statistic --mode nth --every 1 --packet 0");
  OneRule inv("-m statistic --mode nth ! --every 3 --packet 0");
  Pkt p;
  EXPECT_EQ(pattern(p0.m(), p, 7), "1001001");
  EXPECT_EQ(pattern(p1.m(), p, 7), "0100100");
  EXPECT_EQ(pattern(p2.m(), p, 7), "0010010");
  EXPECT_EQ(pattern(one.m(), p, 4), "1111");
  EXPECT_EQ(pattern(inv.m(), p, 6), "011011");
}

TEST(StateMatchStatistic, RandomProbabilityZeroAndOne) {
  OneRule never("-m statistic --mode random --probability 0");
  OneRule always("-m statistic --mode random --probability 1");
  OneRule invNever("-m statistic --mode random ! --probability 0");
  OneRule invAlways("-m statistic --mode random ! --probability 1.0");
  Pkt p;
  int n0 = 0, n1 = 0, i0 = 0, i1 = 0;
  for (int i = 0; i < 2000; ++i) {
    n0 += eval(never.m(), p);
    n1 += eval(always.m(), p);
    i0 += eval(invNever.m(), p);
    i1 += eval(invAlways.m(), p);
  }
  EXPECT_EQ(n0, 0);
  EXPECT_EQ(n1, 2000);
  EXPECT_EQ(i0, 2000);
  EXPECT_EQ(i1, 0);
}

TEST(StateMatchStatistic, RandomProbabilityIsRoughlyHonoured) {
  OneRule r("-m statistic --mode random --probability 0.25");
  Pkt p;
  int n = 0;
  for (int i = 0; i < 10000; ++i) n += eval(r.m(), p);
  EXPECT_GT(n, 2200);  // 2500 +- 7 standard deviations
  EXPECT_LT(n, 2800);
}

// --------------------------------------------------------------------- time
// Wall-clock values (UTC): 1700258400 is Friday 2023-11-17 22:00:00.

constexpr uint64_t kFri2200 = 1700258400;
constexpr uint64_t kHour = 3600, kDay = 86400;

TEST(StateMatchTime, DaytimeRangeIsInclusive) {
  OneRule r("-m time --timestart 08:00 --timestop 17:00");
  Pkt p;
  const uint64_t fri0000 = kFri2200 - 22 * kHour;
  EXPECT_FALSE(evalWall(r.m(), p, fri0000 + 8 * kHour - 1));
  EXPECT_TRUE(evalWall(r.m(), p, fri0000 + 8 * kHour));
  EXPECT_TRUE(evalWall(r.m(), p, fri0000 + 17 * kHour));
  EXPECT_FALSE(evalWall(r.m(), p, fri0000 + 17 * kHour + 1));
  EXPECT_TRUE(evalWall(r.m(), p, fri0000 + 3 * kDay + 12 * kHour));
}

TEST(StateMatchTime, EqualStartAndStopIsTheWholeDay) {
  // start == stop takes the "crossing midnight" branch, whose exclusion
  // (t < start && t > stop) can never hold.
  OneRule r("-m time --timestart 12:00 --timestop 12:00");
  Pkt p;
  const uint64_t fri0000 = kFri2200 - 22 * kHour;
  for (uint64_t t : {uint64_t(0), 11 * kHour + 59 * 60, 12 * kHour, 12 * kHour + 1, kDay - 1})
    EXPECT_TRUE(evalWall(r.m(), p, fri0000 + t)) << t;
}

TEST(StateMatchTime, ContiguousMidnightCrossing) {
  OneRule contiguous("-m time --timestart 22:00 --timestop 02:00 --weekdays Fri --contiguous");
  OneRule split("-m time --timestart 22:00 --timestop 02:00 --weekdays Fri");
  Pkt p;
  EXPECT_TRUE(evalWall(contiguous.m(), p, kFri2200));
  EXPECT_TRUE(evalWall(split.m(), p, kFri2200));
  // Saturday 01:00: with --contiguous it belongs to Friday's interval.
  EXPECT_TRUE(evalWall(contiguous.m(), p, kFri2200 + 3 * kHour));
  EXPECT_FALSE(evalWall(split.m(), p, kFri2200 + 3 * kHour));
  EXPECT_TRUE(evalWall(contiguous.m(), p, kFri2200 + 4 * kHour));  // 02:00:00 inclusive
  EXPECT_FALSE(evalWall(contiguous.m(), p, kFri2200 + 4 * kHour + 1));
  EXPECT_FALSE(evalWall(contiguous.m(), p, kFri2200 + 5 * kHour));
  // Friday 01:00 is Thursday's night with --contiguous, Friday's without.
  EXPECT_FALSE(evalWall(contiguous.m(), p, kFri2200 - 21 * kHour));
  EXPECT_TRUE(evalWall(split.m(), p, kFri2200 - 21 * kHour));
  EXPECT_FALSE(evalWall(contiguous.m(), p, kFri2200 - 1));  // 21:59:59
}

TEST(StateMatchTime, Weekdays) {
  OneRule monWed("-m time --weekdays Mon,Wed");
  OneRule numeric("-m time --weekdays 1,3");
  OneRule notWeekend("-m time ! --weekdays Sat,Sun");
  Pkt p;
  const uint64_t mon = kFri2200 + 2 * kHour + 2 * kDay;  // Monday 2023-11-20 00:00
  const char* expectMonWed = "1010000";
  const char* expectWorkday = "1111100";
  for (int d = 0; d < 7; ++d) {
    const uint64_t t = mon + uint64_t(d) * kDay + 12 * kHour;
    EXPECT_EQ(evalWall(monWed.m(), p, t), expectMonWed[d] == '1') << d;
    EXPECT_EQ(evalWall(numeric.m(), p, t), expectMonWed[d] == '1') << d;
    EXPECT_EQ(evalWall(notWeekend.m(), p, t), expectWorkday[d] == '1') << d;
  }
}

TEST(StateMatchTime, Monthdays) {
  OneRule r("-m time --monthdays 1,15,31");
  OneRule inv("-m time ! --monthdays 1");
  Pkt p;
  const uint64_t dec1 = 1701388800;  // 2023-12-01 00:00
  EXPECT_TRUE(evalWall(r.m(), p, dec1));
  EXPECT_FALSE(evalWall(inv.m(), p, dec1));
  EXPECT_FALSE(evalWall(r.m(), p, dec1 + kDay));
  EXPECT_TRUE(evalWall(inv.m(), p, dec1 + kDay));
  EXPECT_TRUE(evalWall(r.m(), p, dec1 + 14 * kDay + 23 * kHour));
  EXPECT_FALSE(evalWall(r.m(), p, dec1 - 1));  // November 30th
  EXPECT_TRUE(evalWall(r.m(), p, dec1 + 30 * kDay));  // December 31st
  EXPECT_FALSE(evalWall(r.m(), p, 1709208000));  // 2024-02-29
}

TEST(StateMatchTime, ContiguousMonthday) {
  OneRule r("-m time --timestart 23:00 --timestop 01:00 --monthdays 1 --contiguous");
  Pkt p;
  const uint64_t dec1 = 1701388800;
  EXPECT_FALSE(evalWall(r.m(), p, dec1 + 30 * 60));       // Dec 1 00:30 is Nov 30's night
  EXPECT_TRUE(evalWall(r.m(), p, dec1 + 23 * kHour + 30 * 60));
  EXPECT_TRUE(evalWall(r.m(), p, dec1 + kDay + 30 * 60));  // Dec 2 00:30 is Dec 1's night
  EXPECT_FALSE(evalWall(r.m(), p, dec1 + kDay + 2 * kHour));
}

TEST(StateMatchTime, DateRange) {
  OneRule r("-m time --datestart 2023-11-17T00:00:00 --datestop 2023-11-18T12:00:00");
  OneRule dayOnly("-m time --datestart 2023-11-17");
  Pkt p;
  const uint64_t start = 1700179200;  // 2023-11-17 00:00:00
  EXPECT_FALSE(evalWall(r.m(), p, start - 1));
  EXPECT_TRUE(evalWall(r.m(), p, start));
  EXPECT_TRUE(evalWall(r.m(), p, start + kDay + 12 * kHour));
  EXPECT_FALSE(evalWall(r.m(), p, start + kDay + 12 * kHour + 1));
  EXPECT_FALSE(evalWall(dayOnly.m(), p, start - 1));
  EXPECT_TRUE(evalWall(dayOnly.m(), p, start));
  EXPECT_TRUE(evalWall(dayOnly.m(), p, 2000000000));  // no --datestop: open-ended (to 2038)
}

TEST(StateMatchTime, KernelTzVersusUtc) {
  // --kerneltz shifts by the kernel's sys_tz; the model kernel runs in UTC
  // (sys_tz.tz_minuteswest = 0), so both give the UTC answer.
  OneRule utc("-m time --timestart 22:00 --timestop 23:00 --weekdays Fri");
  OneRule explicitUtc("-m time --timestart 22:00 --timestop 23:00 --weekdays Fri --utc");
  OneRule ktz("-m time --timestart 22:00 --timestop 23:00 --weekdays Fri --kerneltz");
  Pkt p;
  for (uint64_t t : {kFri2200 - 1, kFri2200, kFri2200 + kHour, kFri2200 + kHour + 1, kFri2200 + kDay}) {
    const bool want = t >= kFri2200 && t <= kFri2200 + kHour;
    EXPECT_EQ(evalWall(utc.m(), p, t), want) << t;
    EXPECT_EQ(evalWall(explicitUtc.m(), p, t), want) << t;
    EXPECT_EQ(evalWall(ktz.m(), p, t), want) << t;
  }
}

// -------------------------------------------------------------------- owner

TEST(StateMatchOwner, UidGidRangesAndInversion) {
  OneRule r("-m owner --uid-owner 1000-2000 ! --gid-owner 5", kV4, "filter", "OUTPUT");
  OneRule gid("-m owner --gid-owner 100-200", kV4, "filter", "OUTPUT");
  Pkt p;
  p.pv.localSource = true;
  p.pv.hasSocket = true;
  p.pv.uid = 1500;
  p.pv.gid = 6;
  At out{kT0, Hook::LocalOut};
  EXPECT_TRUE(eval(r.m(), p, out));
  p.pv.uid = 1000;
  EXPECT_TRUE(eval(r.m(), p, out));
  p.pv.uid = 2000;
  EXPECT_TRUE(eval(r.m(), p, out));
  p.pv.uid = 2001;
  EXPECT_FALSE(eval(r.m(), p, out));
  p.pv.uid = 1500;
  p.pv.gid = 5;
  EXPECT_FALSE(eval(r.m(), p, out));
  p.pv.gid = 150;
  EXPECT_TRUE(eval(gid.m(), p, out));
  p.pv.gid = 201;
  EXPECT_FALSE(eval(gid.m(), p, out));
}

TEST(StateMatchOwner, WithoutSocketOnlyAllInvertedOptionsHold) {
  OneRule mixed("-m owner --uid-owner 1000-2000 ! --gid-owner 5", kV4, "filter", "OUTPUT");
  OneRule notRoot("-m owner ! --uid-owner 0", kV4, "filter", "OUTPUT");
  OneRule exists("-m owner --socket-exists", kV4, "filter", "OUTPUT");
  OneRule notExists("-m owner ! --socket-exists", kV4, "filter", "OUTPUT");
  Pkt p;
  At out{kT0, Hook::LocalOut};
  p.pv.hasSocket = false;
  EXPECT_FALSE(eval(mixed.m(), p, out));
  EXPECT_TRUE(eval(notRoot.m(), p, out));
  EXPECT_FALSE(eval(exists.m(), p, out));
  EXPECT_TRUE(eval(notExists.m(), p, out));
  p.pv.hasSocket = true;
  p.pv.uid = 0;
  EXPECT_FALSE(eval(notRoot.m(), p, out));
  EXPECT_TRUE(eval(exists.m(), p, out));
  EXPECT_FALSE(eval(notExists.m(), p, out));
}

TEST(StateMatchOwner, UserNameIsResolved) {
  OneRule root("-m owner --uid-owner root", kV4, "filter", "OUTPUT");
  Pkt p;
  p.pv.hasSocket = true;
  At out{kT0, Hook::LocalOut};
  p.pv.uid = 0;
  EXPECT_TRUE(eval(root.m(), p, out));
  p.pv.uid = 1;
  EXPECT_FALSE(eval(root.m(), p, out));
}

TEST(StateMatchOwner, OnlyInOutputAndPostrouting) {
  EXPECT_NE(ruleErrors("-m owner --uid-owner 0", kV4, "filter", "INPUT"), "");
  EXPECT_NE(ruleErrors("-m owner --uid-owner 0", kV4, "filter", "FORWARD"), "");
  EXPECT_EQ(ruleErrors("-m owner --uid-owner 0", kV4, "mangle", "POSTROUTING"), "");
}

TEST(StateMatchOwner, DropsByUidInOutputChain) {
  DiagnosticEngine d("test");
  ParseOptions po;
  Ruleset rs = parseRestore(
      "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m owner --uid-owner 1000 -j DROP\nCOMMIT\n", po, d);
  ASSERT_FALSE(d.hasErrors()) << diagText(d);
  Interpreter in(rs);
  for (uint32_t uid : {1000u, 0u}) {
    Pkt p;
    p.pv.localSource = true;
    p.pv.hasSocket = true;
    p.pv.uid = uid;
    p.pv.outIface = "eth0";
    EvalContext ctx{p.pv};
    ctx.hook = Hook::LocalOut;
    EXPECT_EQ(in.run("filter", Hook::LocalOut, ctx).verdict, uid == 1000 ? Verdict::Drop : Verdict::Accept);
  }
}

// ------------------------------------------------------------------ physdev

TEST(StateMatchPhysdev, InputPortAndBridgedFlag) {
  OneRule r("-m physdev --physdev-in eth+ ! --physdev-is-bridged");
  Pkt p;
  p.pv.physIn = "eth0";
  EXPECT_TRUE(eval(r.m(), p));
  p.pv.physOut = "eth1";  // bridged: leaves by a bridge port
  EXPECT_FALSE(eval(r.m(), p));
  p.pv.physIn = p.pv.physOut = "";  // not a bridged packet: --physdev-in is not inverted
  EXPECT_FALSE(eval(r.m(), p));
  p.pv.physIn = "wlan0";
  EXPECT_FALSE(eval(r.m(), p));
}

TEST(StateMatchPhysdev, NotBridgedMatchesOnlyWhenAllOptionsInverted) {
  OneRule allInv("-m physdev ! --physdev-in eth0 ! --physdev-is-bridged");
  OneRule isIn("-m physdev --physdev-is-in");
  OneRule notIsIn("-m physdev ! --physdev-is-in");
  Pkt p;
  EXPECT_TRUE(eval(allInv.m(), p));
  EXPECT_FALSE(eval(isIn.m(), p));
  EXPECT_TRUE(eval(notIsIn.m(), p));
  p.pv.physIn = "eth0";
  EXPECT_TRUE(eval(isIn.m(), p));
  EXPECT_FALSE(eval(notIsIn.m(), p));
}

TEST(StateMatchPhysdev, MissingPortsAndWildcards) {
  OneRule in("-m physdev --physdev-in veth+");
  OneRule out("-m physdev --physdev-out eth1");
  OneRule notOut("-m physdev ! --physdev-out eth1");
  OneRule bridged("-m physdev --physdev-is-bridged");
  OneRule isOut("-m physdev --physdev-is-out");
  Pkt p;
  // Bridged but without an input port: --physdev-in is not tested.
  p.pv.physOut = "eth1";
  EXPECT_TRUE(eval(in.m(), p));
  EXPECT_TRUE(eval(out.m(), p));
  EXPECT_FALSE(eval(notOut.m(), p));
  EXPECT_TRUE(eval(bridged.m(), p));
  EXPECT_TRUE(eval(isOut.m(), p));
  p.pv.physIn = "veth123";
  p.pv.physOut = "";
  EXPECT_TRUE(eval(in.m(), p));
  EXPECT_FALSE(eval(bridged.m(), p));
  EXPECT_FALSE(eval(isOut.m(), p));
  // No output port: --physdev-out fails, inverted or not.
  EXPECT_FALSE(eval(out.m(), p));
  EXPECT_FALSE(eval(notOut.m(), p));
  p.pv.physIn = "vet";
  EXPECT_FALSE(eval(in.m(), p));
  p.pv.physIn = "veth0";
  p.pv.physOut = "eth2";
  EXPECT_FALSE(eval(out.m(), p));
  EXPECT_TRUE(eval(notOut.m(), p));
}

// ------------------------------------------------------------------ pkttype

TEST(StateMatchPkttype, TypesAndInversion) {
  OneRule bcast("-m pkttype --pkt-type broadcast");
  OneRule mcast("-m pkttype --pkt-type multicast");
  OneRule other("-m pkttype --pkt-type otherhost");
  OneRule notUnicast("-m pkttype ! --pkt-type unicast");
  Pkt p;
  p.pv.pktType = PktType::Host;
  EXPECT_FALSE(eval(bcast.m(), p));
  EXPECT_FALSE(eval(notUnicast.m(), p));
  p.pv.pktType = PktType::Broadcast;
  EXPECT_TRUE(eval(bcast.m(), p));
  EXPECT_FALSE(eval(mcast.m(), p));
  EXPECT_TRUE(eval(notUnicast.m(), p));
  p.pv.pktType = PktType::Multicast;
  EXPECT_TRUE(eval(mcast.m(), p));
  EXPECT_TRUE(eval(notUnicast.m(), p));
  p.pv.pktType = PktType::OtherHost;
  EXPECT_TRUE(eval(other.m(), p));
  EXPECT_FALSE(eval(bcast.m(), p));
}

// ------------------------------------------------------------------- helper

TEST(StateMatchHelper, MasterConnectionHelper) {
  OneRule ftp("-m helper --helper ftp");
  OneRule notFtp("-m helper ! --helper ftp");
  OneRule longer("-m helper --helper ftp-21");
  OneRule sip("-m helper --helper sip");
  Pkt p;
  // An expected (RELATED) connection whose master is helped by "ftp".
  p.ct(kCtRelated, 0, kExpected | kConfirmed);
  p.pv.ct.helper = "ftp";
  EXPECT_TRUE(eval(ftp.m(), p));
  EXPECT_FALSE(eval(notFtp.m(), p));
  EXPECT_TRUE(eval(longer.m(), p));  // strncmp over the helper name's length
  EXPECT_FALSE(eval(sip.m(), p));
  p.pv.ct.helper = "ftpx";
  EXPECT_FALSE(eval(ftp.m(), p));
}

TEST(StateMatchHelper, NoMasterOrNoConntrack) {
  OneRule ftp("-m helper --helper ftp");
  OneRule notFtp("-m helper ! --helper ftp");
  Pkt p;
  p.ct(kCtEstablished, 0, kConfirmed | kAssured);  // not from an expectation: no master
  p.pv.ct.helper = "ftp";
  EXPECT_FALSE(eval(ftp.m(), p));
  EXPECT_TRUE(eval(notFtp.m(), p));
  p.pv.ct = ConnInfo{};
  p.pv.ct.state = kCtInvalid;
  EXPECT_FALSE(eval(ftp.m(), p));
  EXPECT_TRUE(eval(notFtp.m(), p));
}

// ---------------------------------------------------------------- connlimit
// What the match can decide from one packet and the connections the rule has
// seen before (their conntracks alive): the count per masked address.
// Packets are a few jiffies apart, as nf_conncount only garbage-collects and
// deduplicates a list once per jiffy.

TEST(StateMatchConnlimit, CountsConnectionsPerMaskedSource) {
  OneRule above("-m connlimit --connlimit-above 1 --connlimit-mask 24");
  Pkt a(from("192.0.2.1", 1000)), a2(from("192.0.2.1", 1001)), b(from("192.0.2.77", 1000)),
      c(from("192.0.3.1", 1000));
  for (Pkt* p : {&a, &a2, &b, &c}) p->ct(kCtNew);
  EXPECT_FALSE(evalAt(above.m(), a, kT0));                // 1 connection
  EXPECT_FALSE(evalAt(above.m(), a, kT0 + 5 * kJiffy));   // the same one again
  EXPECT_TRUE(evalAt(above.m(), a2, kT0 + 10 * kJiffy));  // 2 > 1
  EXPECT_TRUE(evalAt(above.m(), b, kT0 + 15 * kJiffy));   // same /24: 3
  EXPECT_FALSE(evalAt(above.m(), c, kT0 + 20 * kJiffy));  // another /24: 1
}

TEST(StateMatchConnlimit, UptoAndAboveZero) {
  OneRule upto("-m connlimit --connlimit-upto 1");
  OneRule aboveZero("-m connlimit --connlimit-above 0");
  OneRule notAbove("-m connlimit ! --connlimit-above 1");
  Pkt a(from("192.0.2.1", 1000)), a2(from("192.0.2.1", 1001));
  a.ct(kCtNew);
  a2.ct(kCtNew);
  EXPECT_TRUE(evalAt(upto.m(), a, kT0));
  EXPECT_TRUE(evalAt(aboveZero.m(), a, kT0));  // the packet's own connection counts
  EXPECT_TRUE(evalAt(notAbove.m(), a, kT0));
  EXPECT_FALSE(evalAt(upto.m(), a2, kT0 + 5 * kJiffy));
  EXPECT_FALSE(evalAt(notAbove.m(), a2, kT0 + 5 * kJiffy));
}

TEST(StateMatchConnlimit, DestinationAddressKey) {
  OneRule r("-m connlimit --connlimit-above 1 --connlimit-daddr");
  PacketSpec s1 = from("192.0.2.1", 1000), s2 = from("192.0.2.2", 1000), s3 = from("192.0.2.3", 1000);
  s3.dst = "198.51.100.99";
  Pkt a(s1), b(s2), c(s3);
  for (Pkt* p : {&a, &b, &c}) p->ct(kCtNew);
  EXPECT_FALSE(evalAt(r.m(), a, kT0));
  EXPECT_TRUE(evalAt(r.m(), b, kT0 + 5 * kJiffy));  // two clients of 198.51.100.20
  EXPECT_FALSE(evalAt(r.m(), c, kT0 + 10 * kJiffy));
}

// ---------------------------------------------------------------- connbytes

TEST(StateMatchConnbytes, NoConntrackNeverMatches) {
  OneRule r("-m connbytes --connbytes 0:100 --connbytes-dir both --connbytes-mode packets");
  OneRule inv("-m connbytes ! --connbytes 10 --connbytes-dir original --connbytes-mode bytes");
  Pkt p;
  p.pv.ct.state = kCtInvalid;
  EXPECT_FALSE(eval(r.m(), p));
  EXPECT_FALSE(eval(inv.m(), p));
  p.pv.ct.state = kCtUntracked;
  EXPECT_FALSE(eval(r.m(), p));
  EXPECT_FALSE(eval(inv.m(), p));
}

// connbytes_mt_check turns accounting on, and the packet is counted before
// the rules see it.
TEST(StateMatchConnbytes, FirstPacketOfNewConnectionIsCounted) {
  OneRule first("-m connbytes --connbytes 1:1 --connbytes-dir original --connbytes-mode packets");
  OneRule bytes("-m connbytes --connbytes 40:40 --connbytes-dir both --connbytes-mode bytes");
  OneRule reply("-m connbytes --connbytes 1 --connbytes-dir reply --connbytes-mode packets");
  Pkt p;
  ASSERT_EQ(p.pv.len, 40u);
  p.ct(kCtNew);
  EXPECT_TRUE(eval(first.m(), p));
  EXPECT_TRUE(eval(bytes.m(), p));
  EXPECT_FALSE(eval(reply.m(), p));
  p.pv.ct.accounted = false;  // a connection made before accounting was on
  EXPECT_FALSE(eval(first.m(), p));
}

TEST(StateMatchConnbytes, DirectionsAveragesAndInvertedRanges) {
  auto rule = [](const std::string& count, const char* dir, const char* mode) {
    return std::make_unique<OneRule>("-m connbytes " + count + " --connbytes-dir " + dir + " --connbytes-mode " + mode);
  };
  Pkt p;
  p.ct(kCtEstablished);
  ConnInfo& c = p.pv.ct;
  c.acctPackets[0] = 3, c.acctBytes[0] = 300;  // average 100
  c.acctPackets[1] = 1, c.acctBytes[1] = 1500;
  EXPECT_TRUE(eval(rule("--connbytes 4:4", "both", "packets")->m(), p));
  EXPECT_TRUE(eval(rule("--connbytes 1800:1800", "both", "bytes")->m(), p));
  EXPECT_TRUE(eval(rule("--connbytes 100:100", "original", "avgpkt")->m(), p));
  EXPECT_TRUE(eval(rule("--connbytes 450:450", "both", "avgpkt")->m(), p));  // 1800 / 4
  EXPECT_TRUE(eval(rule("--connbytes 1500", "reply", "bytes")->m(), p));     // no upper bound
  EXPECT_FALSE(eval(rule("--connbytes 1501", "reply", "bytes")->m(), p));
  // Inverted: outside [from, to].
  EXPECT_FALSE(eval(rule("! --connbytes 3:5", "original", "packets")->m(), p));
  EXPECT_TRUE(eval(rule("! --connbytes 4:5", "original", "packets")->m(), p));
  EXPECT_TRUE(eval(rule("! --connbytes 1:2", "original", "packets")->m(), p));
  // avgpkt of a direction without packets is 0.
  c.acctPackets[1] = 0, c.acctBytes[1] = 0;
  EXPECT_TRUE(eval(rule("--connbytes 0:0", "reply", "avgpkt")->m(), p));
}

// ---------------------------------------------------------------------- cpu

TEST(StateMatchCpu, ModelRunsOnCpuZero) {
  OneRule cpu0("-m cpu --cpu 0");
  OneRule cpu1("-m cpu --cpu 1");
  OneRule notCpu1("-m cpu ! --cpu 1");
  OneRule notCpu0("-m cpu ! --cpu 0");
  Pkt p;
  EXPECT_TRUE(eval(cpu0.m(), p));
  EXPECT_FALSE(eval(cpu1.m(), p));
  EXPECT_TRUE(eval(notCpu1.m(), p));
  EXPECT_FALSE(eval(notCpu0.m(), p));
}

// ----------------------------------------------------------------- devgroup

TEST(StateMatchDevgroup, DefaultGroupZeroUnderMask) {
  OneRule src0("-m devgroup --src-group 0");
  OneRule src1("-m devgroup --src-group 1");
  OneRule notSrc1("-m devgroup ! --src-group 1");
  OneRule masked("-m devgroup --src-group 0x2/0x1");  // (2 ^ 0) & 1 == 0
  OneRule maskedMiss("-m devgroup --src-group 0x10/0x10");
  OneRule both("-m devgroup --src-group 0 ! --dst-group 3", kV4, "filter", "FORWARD");
  Pkt p;
  p.pv.inIface = "eth0";
  p.pv.outIface = "eth1";
  EXPECT_TRUE(eval(src0.m(), p));
  EXPECT_FALSE(eval(src1.m(), p));
  EXPECT_TRUE(eval(notSrc1.m(), p));
  EXPECT_TRUE(eval(masked.m(), p));
  EXPECT_FALSE(eval(maskedMiss.m(), p));
  EXPECT_TRUE(eval(both.m(), p, At{kT0, Hook::Forward}));
}

TEST(StateMatchDevgroup, HookRestrictions) {
  EXPECT_NE(ruleErrors("-m devgroup --src-group 1", kV4, "filter", "OUTPUT"), "");
  EXPECT_NE(ruleErrors("-m devgroup --dst-group 1", kV4, "filter", "INPUT"), "");
  EXPECT_EQ(ruleErrors("-m devgroup --dst-group 1", kV4, "filter", "OUTPUT"), "");
}

// ------------------------------------------------------------------- socket

TEST(StateMatchSocket, ExistingSocket) {
  OneRule plain("-m socket", kV4, "mangle", "PREROUTING");
  OneRule transparent("-m socket --transparent", kV4, "mangle", "PREROUTING");
  OneRule nowild("-m socket --nowildcard", kV4, "mangle", "PREROUTING");
  Pkt p;
  At pre{kT0, Hook::PreRouting};
  EXPECT_FALSE(eval(plain.m(), p, pre));
  EXPECT_FALSE(eval(nowild.m(), p, pre));
  p.pv.hasSocket = true;  // a socket bound to a specific address, not IP_TRANSPARENT
  EXPECT_TRUE(eval(plain.m(), p, pre));
  EXPECT_TRUE(eval(nowild.m(), p, pre));
  EXPECT_FALSE(eval(transparent.m(), p, pre));
}

TEST(StateMatchSocket, RestoreSkmark) {
  OneRule restore("-m socket --restore-skmark", kV4, "mangle", "PREROUTING");
  OneRule transparentRestore("-m socket --transparent --restore-skmark", kV4, "mangle", "PREROUTING");
  Pkt p;
  At pre{kT0, Hook::PreRouting};
  p.pv.mark = 7;
  EXPECT_FALSE(eval(restore.m(), p, pre));
  EXPECT_EQ(p.pv.mark, 7u);  // no socket: nothing restored
  p.pv.hasSocket = true;
  EXPECT_FALSE(eval(transparentRestore.m(), p, pre));
  EXPECT_EQ(p.pv.mark, 7u);  // not transparent: not restored
  EXPECT_TRUE(eval(restore.m(), p, pre));
  EXPECT_EQ(p.pv.mark, 0u);  // the socket's mark (0)
}

TEST(StateMatchSocket, OnlyPreroutingAndInput) {
  EXPECT_EQ(ruleErrors("-m socket", kV4, "filter", "INPUT"), "");
  EXPECT_NE(ruleErrors("-m socket", kV4, "filter", "OUTPUT"), "");
  EXPECT_NE(ruleErrors("-m socket", kV4, "filter", "FORWARD"), "");
}

// ----------------------------------------------------------------- rpfilter

TEST(StateMatchRpfilter, LoopbackAndDhcpExceptions) {
  OneRule r("-m rpfilter", kV4, "raw", "PREROUTING");
  OneRule inv("-m rpfilter --invert", kV4, "raw", "PREROUTING");
  At pre{kT0, Hook::PreRouting};
  Pkt lo;
  lo.pv.inIface = "lo";
  EXPECT_TRUE(eval(r.m(), lo, pre));
  EXPECT_FALSE(eval(inv.m(), lo, pre));
  PacketSpec dhcp;
  dhcp.proto = 17;
  dhcp.src = "0.0.0.0";
  dhcp.dst = "255.255.255.255";
  dhcp.sport = 68;
  dhcp.dport = 67;
  Pkt discover(dhcp);
  discover.pv.inIface = "eth0";
  EXPECT_TRUE(eval(r.m(), discover, pre));
  EXPECT_FALSE(eval(inv.m(), discover, pre));
  dhcp.dst = "224.0.0.251";  // local multicast
  Pkt mdns(dhcp);
  mdns.pv.inIface = "eth0";
  EXPECT_TRUE(eval(r.m(), mdns, pre));
}

TEST(StateMatchRpfilter, Ipv6UnspecifiedSourcePasses) {
  OneRule r("-m rpfilter", kV6, "raw", "PREROUTING");
  OneRule inv("-m rpfilter --invert", kV6, "raw", "PREROUTING");
  PacketSpec s;
  s.family = kV6;
  s.proto = 58;
  s.icmpType = 135;  // neighbour solicitation for duplicate address detection
  s.src = "::";
  s.dst = "ff02::1:ff00:1";
  Pkt p(s);
  p.pv.inIface = "eth0";
  At pre{kT0, Hook::PreRouting};
  EXPECT_TRUE(eval(r.m(), p, pre));
  EXPECT_FALSE(eval(inv.m(), p, pre));
}

TEST(StateMatchRpfilter, OnlyRawAndMangle) {
  EXPECT_NE(ruleErrors("-m rpfilter", kV4, "filter", "INPUT"), "");
  EXPECT_EQ(ruleErrors("-m rpfilter", kV4, "mangle", "PREROUTING"), "");
  EXPECT_NE(ruleErrors("-m rpfilter", kV4, "mangle", "INPUT"), "");
}

// ------------------------------------------------------------------- policy

TEST(StateMatchPolicy, PacketWithoutIpsec) {
  OneRule inNone("-m policy --dir in --pol none");
  OneRule inIpsec("-m policy --dir in --pol ipsec");
  OneRule inStrict("-m policy --dir in --pol ipsec --strict --proto esp");
  OneRule outNone("-m policy --dir out --pol none", kV4, "filter", "OUTPUT");
  OneRule outIpsec("-m policy --dir out --pol ipsec --mode tunnel", kV4, "filter", "OUTPUT");
  Pkt p;
  EXPECT_TRUE(eval(inNone.m(), p));
  EXPECT_FALSE(eval(inIpsec.m(), p));
  EXPECT_FALSE(eval(inStrict.m(), p));
  At out{kT0, Hook::LocalOut};
  EXPECT_TRUE(eval(outNone.m(), p, out));
  EXPECT_FALSE(eval(outIpsec.m(), p, out));
}

TEST(StateMatchPolicy, DirectionHookRestrictions) {
  EXPECT_NE(ruleErrors("-m policy --dir in --pol none", kV4, "filter", "OUTPUT"), "");
  EXPECT_NE(ruleErrors("-m policy --dir out --pol none", kV4, "filter", "INPUT"), "");
  EXPECT_EQ(ruleErrors("-m policy --dir out --pol none", kV4, "filter", "FORWARD"), "");
}

// ------------------------------------------------------------ set / nfacct

TEST(StateMatchSetNfacct, SetIsRejectedNamingTheSet) {
  std::string err = ruleErrors("-m set --match-set sm_blocklist src -j DROP");
  EXPECT_NE(err, "");
  EXPECT_NE(err.find("sm_blocklist"), std::string::npos) << err;
  err = ruleErrors("-m set ! --match-set sm_allow6 src,dst", kV6);
  EXPECT_NE(err.find("sm_allow6"), std::string::npos) << err;
}

TEST(StateMatchSetNfacct, NfacctIsRejectedNamingTheObject) {
  std::string err = ruleErrors("-m nfacct --nfacct-name sm_http_bytes");
  EXPECT_NE(err, "");
  EXPECT_NE(err.find("sm_http_bytes"), std::string::npos) << err;
}

}  // namespace
}  // namespace nfjit
