// Packet semantics of the targets, one TEST per target: each rule is parsed
// from iptables-save text, then a packet is run through the reference
// interpreter so that verdicts, rewritten bytes (with their checksums),
// packet/connection marks and the side effects the rest of the pipeline
// acts on (NAT, logging, REJECT replies, queueing) can be checked.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/frontend/RestoreParser.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/ir/Extension.h"
#include "runtime/packet/PacketParser.h"
#include "runtime/packet/PacketView.h"
#include "tests/support/PacketBuilder.h"

namespace nfjit {
namespace {

using Bytes = std::vector<uint8_t>;
using Tweak = std::function<void(PacketView&)>;
using testing::PacketSpec;
constexpr Family V4 = Family::IPv4;
constexpr Family V6 = Family::IPv6;

// One traversal: the ruleset, the packet bytes (rewritten in place by the
// targets), the view, the context with its side effects, and the result.
struct Trav {
  Ruleset rs;
  Bytes bytes;
  PacketView pv;
  std::unique_ptr<EvalContext> ctx;
  TraversalResult res;
  bool ok = false;
  const SideEffects& fx() const { return ctx->effects; }
};

// Parses `*TABLE` with the hook's built-in chain (policy ACCEPT) holding
// `rules`, and runs one packet through it.
void run(Trav& r, Family f, const std::string& table, Hook hook, const std::vector<std::string>& rules,
         Bytes pkt, const Tweak& tweak = nullptr) {
  std::string chain(hookChainName(hook));
  std::string text = "*" + table + "\n:" + chain + " ACCEPT [0:0]\n";
  for (const auto& rule : rules) text += "-A " + chain + " " + rule + "\n";
  text += "COMMIT\n";
  DiagnosticEngine d("test");
  ParseOptions po;
  po.family = f;
  r.rs = parseRestore(text, po, d);
  if (d.hasErrors()) {
    std::string all;
    for (const auto& x : d.diagnostics()) all += d.format(x) + "\n";
    ADD_FAILURE() << "ruleset does not parse:\n" << text << all;
    return;
  }
  r.bytes = std::move(pkt);
  L3Status st = parseL3(f, r.bytes.data(), static_cast<uint32_t>(r.bytes.size()), r.pv);
  if (st != L3Status::Ok) {
    ADD_FAILURE() << "test packet rejected by parseL3: " << l3StatusName(st);
    return;
  }
  r.pv.inIface = "in0";
  r.pv.outIface = "out0";
  if (tweak) tweak(r.pv);
  r.ctx = std::make_unique<EvalContext>(r.pv);
  r.ctx->hook = hook;
  r.ctx->table = table;
  Interpreter in(r.rs);
  r.res = in.run(table, hook, *r.ctx);
  r.ok = true;
}

Bytes packet(Family f, uint8_t proto = 6, uint8_t tcpFlags = 0x02, const Bytes& tcpOpts = {}, uint8_t tos = 0,
             uint8_t ttl = 64) {
  PacketSpec s;
  s.family = f;
  if (f == V6) s.src = "2001:db8::1", s.dst = "2001:db8::2";
  s.proto = proto;
  s.tcpFlags = tcpFlags;
  s.tcpOptions = tcpOpts;
  s.tos = tos;
  s.ttl = ttl;
  return testing::buildPacket(s);
}

bool ipv4HeaderChecksumOk(const Bytes& b) {
  return internetChecksum(b.data(), (b[0] & 0x0f) * 4u) == 0;
}

// TCP/UDP checksum over the pseudo header and the segment, as a receiver checks it.
bool l4ChecksumOk(Family f, const Bytes& b, uint8_t proto) {
  uint32_t ipLen = f == V4 ? (b[0] & 0x0f) * 4u : 40u;
  uint32_t segLen = static_cast<uint32_t>(b.size()) - ipLen;
  uint32_t sum = 0;
  uint32_t addrAt = f == V4 ? 12 : 8, addrLen = f == V4 ? 8 : 32;
  for (uint32_t i = 0; i < addrLen; i += 2) sum += uint32_t(b[addrAt + i]) << 8 | b[addrAt + i + 1];
  sum += proto;
  sum += segLen >> 16;
  sum += segLen & 0xffff;
  return internetChecksum(b.data() + ipLen, segLen, sum) == 0;
}

uint8_t v6TrafficClass(const Bytes& b) { return static_cast<uint8_t>((b[0] & 0x0f) << 4 | b[1] >> 4); }

IpAddr addr(Family f, const char* s) { return *parseIpAddr(f, s); }

// ---------------------------------------------------------------------------

TEST(TargetMark, SetXmarkSeenByLaterMarkMatch) {
  Trav r;
  run(r, V4, "mangle", Hook::PreRouting,
      {"-j MARK --set-xmark 0x5/0xff", "-m mark --mark 0x1205 -j DROP"}, packet(V4),
      [](PacketView& p) { p.mark = 0x1234; });
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pv.mark, 0x1205u);  // (0x1234 & ~0xff) ^ 0x5
  EXPECT_EQ(r.res.verdict, Verdict::Drop);
  ASSERT_EQ(r.res.matched.size(), 2u);
  EXPECT_EQ(r.res.matched[1].rule, 1u);
}

TEST(TargetMark, SetMarkAndOrXor) {
  struct Case {
    const char* opt;
    uint32_t want;
  } cases[] = {
      {"--set-mark 0x7", 0x7},
      {"--set-mark 0x10/0xf0", 0x1214},  // mask becomes value|mask
      {"--set-xmark 0x10/0x0", 0x1224},  // xmark with mask 0 is an xor
      {"--and-mark 0xff00", 0x1200},
      {"--or-mark 0x8001", 0x9235},
      {"--xor-mark 0xff", 0x12cb},
  };
  for (const auto& c : cases) {
    Trav r;
    char check[64];
    std::snprintf(check, sizeof check, "-m mark --mark 0x%x -j DROP", c.want);
    run(r, V4, "mangle", Hook::PreRouting, {std::string("-j MARK ") + c.opt, check}, packet(V4),
        [](PacketView& p) { p.mark = 0x1234; });
    ASSERT_TRUE(r.ok) << c.opt;
    EXPECT_EQ(r.pv.mark, c.want) << c.opt;
    EXPECT_EQ(r.res.verdict, Verdict::Drop) << c.opt;
  }
  // A mark that does not match lets the packet reach the policy.
  Trav r;
  run(r, V6, "mangle", Hook::PreRouting, {"-j MARK --set-mark 1", "-m mark ! --mark 1 -j DROP"}, packet(V6));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pv.mark, 1u);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
}

TEST(TargetConnmark, SetSaveRestore) {
  auto tracked = [](uint32_t mark, uint32_t ctmark) {
    return [mark, ctmark](PacketView& p) {
      p.mark = mark;
      p.ct.state = kCtEstablished;
      p.ct.mark = ctmark;
    };
  };
  {
    Trav r;  // --set-mark value/mask: mask becomes value|mask
    run(r, V4, "mangle", Hook::PreRouting, {"-j CONNMARK --set-mark 0x5/0xf"}, packet(V4), tracked(0x99, 0xabcd));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.ct.mark, 0xabc5u);
    EXPECT_EQ(r.pv.mark, 0x99u);
    EXPECT_EQ(r.res.verdict, Verdict::Accept);
  }
  {
    Trav r;  // --save-mark: packet mark -> connection mark
    run(r, V4, "mangle", Hook::PreRouting, {"-j CONNMARK --save-mark", "-m connmark --mark 0x99 -j DROP"},
        packet(V4), tracked(0x99, 0xabcd));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.ct.mark, 0x99u);
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
  }
  {
    Trav r;  // --save-mark with masks
    run(r, V4, "mangle", Hook::PreRouting, {"-j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff"}, packet(V4),
        tracked(0x1299, 0xabcd));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.ct.mark, 0xab99u);
  }
  {
    Trav r;  // --restore-mark: connection mark -> packet mark, seen by -m mark
    run(r, V6, "mangle", Hook::PreRouting, {"-j CONNMARK --restore-mark", "-m mark --mark 0xabcd -j DROP"},
        packet(V6), tracked(0x99, 0xabcd));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.mark, 0xabcdu);
    EXPECT_EQ(r.pv.ct.mark, 0xabcdu);
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
  }
  {
    Trav r;  // --restore-mark with a mask keeps the other packet-mark bits
    run(r, V4, "mangle", Hook::PreRouting, {"-j CONNMARK --restore-mark --mask 0xff"}, packet(V4),
        tracked(0x1200, 0xabcd));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.mark, 0x12cdu);
  }
  {
    Trav r;  // shifts apply to the copied bits
    run(r, V4, "mangle", Hook::PreRouting,
        {"-j CONNMARK --restore-mark --ctmask 0xff00 --nfmask 0xff --right-shift-mark 8"}, packet(V4),
        tracked(0x1200, 0xab00));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.mark, 0x12abu);
  }
  {
    Trav r;
    run(r, V4, "mangle", Hook::PreRouting, {"-j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff00 --left-shift-mark 8"},
        packet(V4), tracked(0x12cd, 0x1));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.ct.mark, 0xcd01u);
  }
  {
    Trav r;  // no conntrack entry: nothing changes
    run(r, V4, "mangle", Hook::PreRouting, {"-j CONNMARK --restore-mark"}, packet(V4), [](PacketView& p) {
      p.mark = 0x99;
      p.ct.state = kCtInvalid;
      p.ct.mark = 0xabcd;
    });
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.pv.mark, 0x99u);
  }
}

TEST(TargetDscp, RewritesDsFieldWithValidChecksum) {
  {
    Trav r;
    run(r, V4, "mangle", Hook::PreRouting, {"-j DSCP --set-dscp 46"}, packet(V4, 6, 0x02, {}, 0x01));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[1], 0xb9);  // ECN bits kept
    EXPECT_EQ(r.pv.tos, 0xb9);
    EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes));
    EXPECT_EQ(r.res.verdict, Verdict::Accept);
  }
  {
    Trav r;  // a later -m dscp sees the new value
    run(r, V4, "mangle", Hook::PreRouting, {"-j DSCP --set-dscp-class AF41", "-m dscp --dscp 34 -j DROP"},
        packet(V4, 17, 0, {}, 0xfe));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[1], (34 << 2) | 0x02);
    EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes));
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
  }
  {
    Trav r;
    run(r, V6, "mangle", Hook::PreRouting, {"-j DSCP --set-dscp-class EF"}, packet(V6, 17, 0, {}, 0x03));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(v6TrafficClass(r.bytes), 0xbb);
    EXPECT_EQ(r.bytes[0] >> 4, 6);
  }
}

TEST(TargetTos, SetAndOrXor) {
  struct Case {
    const char* opt;
    uint8_t before, after;
  } cases[] = {
      {"--set-tos 0x10", 0xe3, 0x10},
      {"--set-tos 0x10/0x3f", 0xe3, 0xd0},
      {"--and-tos 0x0f", 0xe3, 0x03},
      {"--or-tos 0x10", 0xe3, 0xf3},
      {"--xor-tos 0x01", 0xe3, 0xe2},
  };
  for (const auto& c : cases) {
    Trav r;
    run(r, V4, "mangle", Hook::PreRouting, {std::string("-j TOS ") + c.opt}, packet(V4, 6, 0x02, {}, c.before));
    ASSERT_TRUE(r.ok) << c.opt;
    EXPECT_EQ(r.bytes[1], c.after) << c.opt;
    EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes)) << c.opt;
  }
  Trav r;
  run(r, V6, "mangle", Hook::PreRouting, {"-j TOS --set-tos 0x28"}, packet(V6, 17, 0, {}, 0x01));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(v6TrafficClass(r.bytes), 0x28);
}

TEST(TargetTtl, SetIncDecWithValidChecksum) {
  struct Case {
    const char* opt;
    uint8_t before, after;
  } cases[] = {
      {"--ttl-set 10", 64, 10}, {"--ttl-inc 5", 64, 69},   {"--ttl-dec 1", 64, 63},
      {"--ttl-dec 100", 64, 0}, {"--ttl-inc 250", 64, 255}, {"--ttl-set 64", 64, 64},
  };
  for (const auto& c : cases) {
    Trav r;
    run(r, V4, "mangle", Hook::PreRouting, {std::string("-j TTL ") + c.opt, "-m ttl --ttl-eq " + std::to_string(c.after) + " -j DROP"},
        packet(V4, 17, 0, {}, 0, c.before));
    ASSERT_TRUE(r.ok) << c.opt;
    EXPECT_EQ(r.bytes[8], c.after) << c.opt;
    EXPECT_EQ(r.bytes[9], 17) << c.opt;
    EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes)) << c.opt;
    EXPECT_EQ(r.res.verdict, Verdict::Drop) << c.opt;
  }
}

TEST(TargetHl, SetIncDec) {
  struct Case {
    const char* opt;
    uint8_t before, after;
  } cases[] = {
      {"--hl-set 10", 64, 10}, {"--hl-inc 5", 64, 69},   {"--hl-dec 1", 64, 63},
      {"--hl-dec 100", 64, 0}, {"--hl-inc 250", 64, 255},
  };
  for (const auto& c : cases) {
    Trav r;
    run(r, V6, "mangle", Hook::PreRouting, {std::string("-j HL ") + c.opt, "-m hl --hl-eq " + std::to_string(c.after) + " -j DROP"},
        packet(V6, 17, 0, {}, 0, c.before));
    ASSERT_TRUE(r.ok) << c.opt;
    EXPECT_EQ(r.bytes[7], c.after) << c.opt;
    EXPECT_EQ(r.bytes[6], 17) << c.opt;
    EXPECT_TRUE(l4ChecksumOk(V6, r.bytes, 17)) << c.opt;  // the hop limit is not in the pseudo header
    EXPECT_EQ(r.res.verdict, Verdict::Drop) << c.opt;
  }
}

TEST(TargetTcpmss, SetMssRewritesOption) {
  const Bytes mss1460 = {2, 4, 0x05, 0xb4};
  for (Family f : {V4, V6}) {
    Trav r;
    run(r, f, "mangle", Hook::Forward,
        {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200", "-p tcp -m tcpmss --mss 1200 -j DROP"},
        packet(f, 6, 0x02, mss1460));
    ASSERT_TRUE(r.ok);
    uint32_t th = f == V4 ? 20 : 40;
    EXPECT_EQ(r.bytes[th + 20], 2);
    EXPECT_EQ(r.bytes[th + 21], 4);
    EXPECT_EQ(r.bytes[th + 22] << 8 | r.bytes[th + 23], 1200);
    EXPECT_TRUE(l4ChecksumOk(f, r.bytes, 6));
    if (f == V4) {
      EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes));
    }
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
  }
  {
    Trav r;  // the MSS is never raised
    run(r, V4, "mangle", Hook::Forward, {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1500"},
        packet(V4, 6, 0x02, mss1460));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[42] << 8 | r.bytes[43], 1460);
    EXPECT_TRUE(l4ChecksumOk(V4, r.bytes, 6));
  }
  {
    Trav r;  // MSS after other options (NOP, NOP, SACK-permitted... )
    run(r, V4, "mangle", Hook::Forward, {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 536"},
        packet(V4, 6, 0x02, {1, 1, 4, 2, 2, 4, 0x05, 0xb4}));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[46] << 8 | r.bytes[47], 536);
    EXPECT_TRUE(l4ChecksumOk(V4, r.bytes, 6));
  }
}

TEST(TargetTcpmss, ClampToPmtu) {
  // nfjit evaluates with a 1500-byte path MTU: MSS = 1500 - 40 (IPv4) / 60 (IPv6).
  for (Family f : {V4, V6}) {
    Trav r;
    run(r, f, "mangle", Hook::PostRouting, {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"},
        packet(f, 6, 0x02, {2, 4, 0x23, 0x00}));  // MSS 8960
    ASSERT_TRUE(r.ok);
    uint32_t th = f == V4 ? 20 : 40;
    EXPECT_EQ(r.bytes[th + 22] << 8 | r.bytes[th + 23], f == V4 ? 1460 : 1440);
    EXPECT_TRUE(l4ChecksumOk(f, r.bytes, 6));
  }
}

TEST(TargetTcpmss, SynWithPayloadAndNoMssIsLeftAlone) {
  // The option could only be added by moving the payload: the kernel accepts
  // the packet unmodified.
  PacketSpec s;
  s.payload = 10;
  Bytes orig = testing::buildPacket(s);
  Trav r;
  run(r, V4, "mangle", Hook::Forward, {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200"}, orig);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.bytes, orig);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
}

// A SYN without an MSS option gets one (the kernel inserts it before any
// other option, MSS = min(--set-mss, 536)), growing the packet by 4 bytes.
TEST(TargetTcpmss, SynWithoutMssGetsOptionAdded) {
  Bytes b = packet(V4, 6, 0x02);  // 40 bytes, no options, no payload
  b.resize(b.size() + 4, 0);      // tailroom beyond the IP total length
  Trav r;
  run(r, V4, "mangle", Hook::Forward, {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200"}, b);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pv.len, 44u);
  EXPECT_EQ(r.bytes[2] << 8 | r.bytes[3], 44);
  EXPECT_EQ(r.bytes[32] >> 4, 6);  // data offset 24 bytes
  EXPECT_EQ(r.bytes[40], 2);
  EXPECT_EQ(r.bytes[41], 4);
  EXPECT_EQ(r.bytes[42] << 8 | r.bytes[43], 536);
  EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes));
  EXPECT_TRUE(l4ChecksumOk(V4, r.bytes, 6));
}

TEST(TargetTcpmss, TruncatedHeaderDrops) {
  // Data offset 6 (24 bytes) but only 20 bytes of TCP header in the packet.
  Bytes b = packet(V4, 6, 0x02);
  b[32] = 0x60;
  Trav r;
  run(r, V4, "mangle", Hook::Forward, {"-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200"}, b);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Drop);
}

TEST(TargetEcn, RemoveTcpBitsAndSetIpEct) {
  {
    Trav r;  // SYN|ECE|CWR loses ECE and CWR
    run(r, V4, "mangle", Hook::PreRouting, {"-p tcp -j ECN --ecn-tcp-remove"}, packet(V4, 6, 0xc2));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[33], 0x02);
    EXPECT_TRUE(l4ChecksumOk(V4, r.bytes, 6));
    EXPECT_EQ(r.res.verdict, Verdict::Accept);
  }
  {
    Trav r;  // set CWR, keep ECE clear
    run(r, V4, "mangle", Hook::PreRouting, {"-p tcp -j ECN --ecn-tcp-cwr 1"}, packet(V4, 6, 0x02));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[33], 0x82);
    EXPECT_TRUE(l4ChecksumOk(V4, r.bytes, 6));
  }
  {
    Trav r;
    run(r, V4, "mangle", Hook::PreRouting, {"-j ECN --ecn-ip-ect 1"}, packet(V4, 17, 0, {}, 0xb8));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.bytes[1], 0xb9);
    EXPECT_TRUE(ipv4HeaderChecksumOk(r.bytes));
  }
}

TEST(TargetTcpoptstrip, ReplacesOptionsWithNop) {
  // MSS, SACK-permitted, timestamp (10 bytes), window scale, NOP: 20 bytes.
  const Bytes opts = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 7, 1};
  Trav r;
  run(r, V4, "mangle", Hook::PreRouting, {"-p tcp -j TCPOPTSTRIP --strip-options mss,timestamp"},
      packet(V4, 6, 0x02, opts));
  ASSERT_TRUE(r.ok);
  const uint8_t* o = r.bytes.data() + 40;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(o[i], 1) << "mss byte " << i;
  EXPECT_EQ(o[4], 4);
  EXPECT_EQ(o[5], 2);
  for (int i = 6; i < 16; ++i) EXPECT_EQ(o[i], 1) << "timestamp byte " << i;
  EXPECT_EQ(o[16], 3);  // window scale kept
  EXPECT_EQ(o[17], 3);
  EXPECT_EQ(o[18], 7);
  EXPECT_TRUE(l4ChecksumOk(V4, r.bytes, 6));
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  Trav ws;  // window scale sits at an odd offset within the checksum words
  run(ws, V6, "mangle", Hook::PreRouting, {"-p tcp -j TCPOPTSTRIP --strip-options wscale,sack-permitted"},
      packet(V6, 6, 0x02, opts));
  ASSERT_TRUE(ws.ok);
  const uint8_t* o6 = ws.bytes.data() + 60;
  EXPECT_EQ(o6[0], 2);
  EXPECT_EQ(o6[4], 1);
  EXPECT_EQ(o6[5], 1);
  EXPECT_EQ(o6[6], 8);
  EXPECT_EQ(o6[16], 1);
  EXPECT_EQ(o6[17], 1);
  EXPECT_EQ(o6[18], 1);
  EXPECT_TRUE(l4ChecksumOk(V6, ws.bytes, 6));
}

TEST(TargetLog, NonTerminatingAndRecordsPrefix) {
  Trav r;
  run(r, V4, "filter", Hook::LocalIn,
      {"-j LOG --log-prefix \"fw in: \" --log-level 6 --log-tcp-options", "-p tcp -j DROP"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Drop);  // the next rule decided
  ASSERT_EQ(r.fx().logs.size(), 1u);
  EXPECT_EQ(r.fx().logs[0], "fw in: ");
  ASSERT_EQ(r.fx().logRecords.size(), 1u);
  EXPECT_EQ(r.fx().logRecords[0].kind, LogRecord::Kind::Log);
  EXPECT_EQ(r.fx().logRecords[0].level, 6);
  EXPECT_EQ(r.fx().logRecords[0].logFlags & 0x02, 0x02);
  Trav r2;  // two LOG rules log twice, in order
  run(r2, V6, "filter", Hook::LocalIn, {"-j LOG --log-prefix a", "-j LOG --log-prefix b"}, packet(V6));
  ASSERT_TRUE(r2.ok);
  EXPECT_EQ(r2.res.verdict, Verdict::Accept);
  ASSERT_EQ(r2.fx().logs.size(), 2u);
  EXPECT_EQ(r2.fx().logs[0], "a");
  EXPECT_EQ(r2.fx().logs[1], "b");
  ASSERT_EQ(r2.fx().logRecords.size(), 2u);
  EXPECT_EQ(r2.fx().logRecords[0].level, 4);  // default: warning
  EXPECT_EQ(r2.fx().logRecords[0].logFlags, 0);
}

TEST(TargetNflog, NonTerminatingAndRecordsGroup) {
  Trav r;
  run(r, V4, "filter", Hook::LocalIn,
      {"-j NFLOG --nflog-prefix pfx --nflog-group 5 --nflog-threshold 3", "-j ACCEPT"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  ASSERT_EQ(r.res.matched.size(), 2u);
  ASSERT_EQ(r.fx().logs.size(), 1u);
  EXPECT_EQ(r.fx().logs[0], "pfx");
  ASSERT_EQ(r.fx().logRecords.size(), 1u);
  EXPECT_EQ(r.fx().logRecords[0].kind, LogRecord::Kind::Nflog);
  EXPECT_EQ(r.fx().logRecords[0].group, 5);
  EXPECT_EQ(r.fx().logRecords[0].threshold, 3);
  Trav r2;  // defaults: group 0, no prefix
  run(r2, V6, "filter", Hook::Forward, {"-j NFLOG --nflog-size 128"}, packet(V6));
  ASSERT_TRUE(r2.ok);
  EXPECT_EQ(r2.res.verdict, Verdict::Accept);
  ASSERT_EQ(r2.fx().logRecords.size(), 1u);
  EXPECT_EQ(r2.fx().logRecords[0].group, 0);
  EXPECT_EQ(r2.fx().logRecords[0].prefix, "");
  EXPECT_TRUE(r2.fx().logRecords[0].copyLenSet);
  EXPECT_EQ(r2.fx().logRecords[0].copyLen, 128u);
}

struct RejectCase {
  Family f;
  const char* rule;
  uint8_t proto;
  uint8_t type, code;
};

TEST(TargetReject, IcmpTypesAndTcpReset) {
  const RejectCase cases[] = {
      {V4, "-j REJECT", 17, 3, 3},
      {V4, "-j REJECT --reject-with icmp-net-unreachable", 17, 3, 0},
      {V4, "-j REJECT --reject-with icmp-host-unreachable", 17, 3, 1},
      {V4, "-j REJECT --reject-with icmp-proto-unreachable", 17, 3, 2},
      {V4, "-j REJECT --reject-with icmp-port-unreachable", 17, 3, 3},
      {V4, "-j REJECT --reject-with icmp-net-prohibited", 17, 3, 9},
      {V4, "-j REJECT --reject-with icmp-host-prohibited", 17, 3, 10},
      {V4, "-j REJECT --reject-with icmp-admin-prohibited", 17, 3, 13},
      {V4, "-p tcp -j REJECT --reject-with tcp-reset", 6, 255, 0},
      {V6, "-j REJECT", 17, 1, 4},
      {V6, "-j REJECT --reject-with icmp6-no-route", 17, 1, 0},
      {V6, "-j REJECT --reject-with icmp6-adm-prohibited", 17, 1, 1},
      {V6, "-j REJECT --reject-with icmp6-addr-unreachable", 17, 1, 3},
      {V6, "-j REJECT --reject-with icmp6-port-unreachable", 17, 1, 4},
      {V6, "-p tcp -j REJECT --reject-with tcp-reset", 6, 255, 0},
  };
  for (const auto& c : cases) {
    Trav r;
    run(r, c.f, "filter", Hook::LocalIn, {c.rule}, packet(c.f, c.proto));
    ASSERT_TRUE(r.ok) << c.rule;
    EXPECT_EQ(r.res.verdict, Verdict::Drop) << c.rule;
    EXPECT_TRUE(r.fx().rejectSent) << c.rule;
    EXPECT_EQ(r.fx().rejectType, c.type) << c.rule;
    EXPECT_EQ(r.fx().rejectCode, c.code) << c.rule;
  }
}

TEST(TargetReject, NoReplyWhereTheKernelSendsNone) {
  {
    Trav r;  // no RST in answer to a RST
    run(r, V4, "filter", Hook::LocalIn, {"-p tcp -j REJECT --reject-with tcp-reset"}, packet(V4, 6, 0x04));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
    EXPECT_FALSE(r.fx().rejectSent);
  }
  {
    Trav r;  // no ICMP error about an ICMP error
    PacketSpec s;
    s.proto = 1;
    s.icmpType = 3;
    s.icmpCode = 3;
    run(r, V4, "filter", Hook::LocalIn, {"-j REJECT"}, testing::buildPacket(s));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
    EXPECT_FALSE(r.fx().rejectSent);
  }
  {
    Trav r;  // but an echo request is answered
    PacketSpec s;
    s.proto = 1;
    run(r, V4, "filter", Hook::LocalIn, {"-j REJECT"}, testing::buildPacket(s));
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.fx().rejectSent);
  }
  {
    Trav r;  // nor to a multicast destination
    PacketSpec s;
    s.proto = 17;
    s.dst = "224.0.0.5";
    run(r, V4, "filter", Hook::LocalIn, {"-j REJECT"}, testing::buildPacket(s));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
    EXPECT_FALSE(r.fx().rejectSent);
  }
  {
    Trav r;  // nor to a non-first fragment
    PacketSpec s;
    s.proto = 17;
    s.fragOffset = 4;
    run(r, V4, "filter", Hook::LocalIn, {"-j REJECT"}, testing::buildPacket(s));
    ASSERT_TRUE(r.ok);
    EXPECT_FALSE(r.fx().rejectSent);
  }
  {
    Trav r;  // no RST to an IPv6 multicast destination
    PacketSpec s;
    s.family = V6;
    s.src = "2001:db8::1";
    s.dst = "ff02::1";
    run(r, V6, "filter", Hook::LocalIn, {"-p tcp -j REJECT --reject-with tcp-reset"}, testing::buildPacket(s));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Drop);
    EXPECT_FALSE(r.fx().rejectSent);
  }
  {
    Trav r;  // ICMPv6 errors are not answered either
    PacketSpec s;
    s.family = V6;
    s.src = "2001:db8::1";
    s.dst = "2001:db8::2";
    s.proto = 58;
    s.icmpType = 1;
    run(r, V6, "filter", Hook::LocalIn, {"-j REJECT"}, testing::buildPacket(s));
    ASSERT_TRUE(r.ok);
    EXPECT_FALSE(r.fx().rejectSent);
  }
}

TEST(TargetSnat, RangeAndPorts) {
  Trav r;
  run(r, V4, "nat", Hook::PostRouting, {"-p tcp -j SNAT --to-source 203.0.113.1-203.0.113.5:1000-2000 --random --persistent"},
      packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  ASSERT_TRUE(r.fx().nat.has_value());
  const NatRequest& n = *r.fx().nat;
  EXPECT_EQ(n.kind, NatRequest::Kind::Snat);
  EXPECT_TRUE(n.hasAddr);
  EXPECT_EQ(n.minAddr, addr(V4, "203.0.113.1"));
  EXPECT_EQ(n.maxAddr, addr(V4, "203.0.113.5"));
  EXPECT_TRUE(n.hasPorts);
  EXPECT_EQ(n.minPort, 1000);
  EXPECT_EQ(n.maxPort, 2000);
  EXPECT_TRUE(n.random);
  EXPECT_TRUE(n.persistent);
  EXPECT_FALSE(n.fullyRandom);
  Trav r2;  // a single address, no ports
  run(r2, V4, "nat", Hook::PostRouting, {"-j SNAT --to-source 203.0.113.9"}, packet(V4, 17));
  ASSERT_TRUE(r2.ok);
  ASSERT_TRUE(r2.fx().nat.has_value());
  EXPECT_EQ(r2.fx().nat->minAddr, addr(V4, "203.0.113.9"));
  EXPECT_EQ(r2.fx().nat->maxAddr, addr(V4, "203.0.113.9"));
  EXPECT_FALSE(r2.fx().nat->hasPorts);
  EXPECT_FALSE(r2.fx().nat->random);
}

TEST(TargetDnat, AddressAndPort) {
  Trav r;
  run(r, V4, "nat", Hook::PreRouting, {"-p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  ASSERT_TRUE(r.fx().nat.has_value());
  const NatRequest& n = *r.fx().nat;
  EXPECT_EQ(n.kind, NatRequest::Kind::Dnat);
  EXPECT_TRUE(n.hasAddr);
  EXPECT_EQ(n.minAddr, addr(V4, "10.0.0.1"));
  EXPECT_EQ(n.maxAddr, addr(V4, "10.0.0.1"));
  EXPECT_TRUE(n.hasPorts);
  EXPECT_EQ(n.minPort, 8080);
  EXPECT_EQ(n.maxPort, 8080);
  Trav r6;
  run(r6, V6, "nat", Hook::LocalOut, {"-p tcp -j DNAT --to-destination [2001:db8::5]:443"}, packet(V6));
  ASSERT_TRUE(r6.ok);
  ASSERT_TRUE(r6.fx().nat.has_value());
  EXPECT_EQ(r6.fx().nat->minAddr, addr(V6, "2001:db8::5"));
  EXPECT_EQ(r6.fx().nat->minPort, 443);
  EXPECT_EQ(r6.fx().nat->maxPort, 443);
  Trav off;  // port range mapped by offset from a base port
  run(off, V4, "nat", Hook::PreRouting, {"-p tcp -j DNAT --to-destination 10.0.0.1:1000-2000/100"}, packet(V4));
  ASSERT_TRUE(off.ok);
  ASSERT_TRUE(off.fx().nat.has_value());
  EXPECT_EQ(off.fx().nat->minPort, 1000);
  EXPECT_EQ(off.fx().nat->maxPort, 2000);
  EXPECT_TRUE(off.fx().nat->portOffset);
  EXPECT_EQ(off.fx().nat->basePort, 100);
  Trav miss;  // the rule does not match: no NAT request
  run(miss, V4, "nat", Hook::PreRouting, {"-p tcp -m tcp --dport 81 -j DNAT --to-destination 10.0.0.1"}, packet(V4));
  ASSERT_TRUE(miss.ok);
  EXPECT_FALSE(miss.fx().nat.has_value());
}

TEST(TargetMasquerade, PortsOnly) {
  Trav r;
  run(r, V4, "nat", Hook::PostRouting, {"-p udp -j MASQUERADE --to-ports 5000-6000 --random-fully"}, packet(V4, 17));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  ASSERT_TRUE(r.fx().nat.has_value());
  const NatRequest& n = *r.fx().nat;
  EXPECT_EQ(n.kind, NatRequest::Kind::Masquerade);
  EXPECT_FALSE(n.hasAddr);
  EXPECT_TRUE(n.hasPorts);
  EXPECT_EQ(n.minPort, 5000);
  EXPECT_EQ(n.maxPort, 6000);
  EXPECT_TRUE(n.fullyRandom);
  Trav r2;
  run(r2, V6, "nat", Hook::PostRouting, {"-j MASQUERADE"}, packet(V6, 17));
  ASSERT_TRUE(r2.ok);
  ASSERT_TRUE(r2.fx().nat.has_value());
  EXPECT_EQ(r2.fx().nat->kind, NatRequest::Kind::Masquerade);
  EXPECT_FALSE(r2.fx().nat->hasPorts);
}

TEST(TargetRedirect, Ports) {
  Trav r;
  run(r, V4, "nat", Hook::PreRouting, {"-p tcp -j REDIRECT --to-ports 3128"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  ASSERT_TRUE(r.fx().nat.has_value());
  EXPECT_EQ(r.fx().nat->kind, NatRequest::Kind::Redirect);
  EXPECT_FALSE(r.fx().nat->hasAddr);
  EXPECT_TRUE(r.fx().nat->hasPorts);
  EXPECT_EQ(r.fx().nat->minPort, 3128);
  EXPECT_EQ(r.fx().nat->maxPort, 3128);
  Trav r2;
  run(r2, V4, "nat", Hook::LocalOut, {"-p tcp -j REDIRECT --to-ports 8000-8010"}, packet(V4));
  ASSERT_TRUE(r2.ok);
  ASSERT_TRUE(r2.fx().nat.has_value());
  EXPECT_EQ(r2.fx().nat->minPort, 8000);
  EXPECT_EQ(r2.fx().nat->maxPort, 8010);
}

TEST(TargetNetmap, PrefixAndDirection) {
  Trav r;
  run(r, V4, "nat", Hook::PreRouting, {"-j NETMAP --to 10.1.0.0/16"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  ASSERT_TRUE(r.fx().nat.has_value());
  EXPECT_EQ(r.fx().nat->kind, NatRequest::Kind::Netmap);
  EXPECT_EQ(r.fx().nat->minAddr, addr(V4, "10.1.0.0"));
  EXPECT_EQ(r.fx().nat->maxAddr, addr(V4, "255.255.0.0"));
  EXPECT_FALSE(r.fx().nat->netmapSource);
  Trav r2;  // POSTROUTING maps the source
  run(r2, V4, "nat", Hook::PostRouting, {"-j NETMAP --to 10.2.3.77/24"}, packet(V4));
  ASSERT_TRUE(r2.ok);
  ASSERT_TRUE(r2.fx().nat.has_value());
  EXPECT_EQ(r2.fx().nat->minAddr, addr(V4, "10.2.3.0"));
  EXPECT_EQ(r2.fx().nat->maxAddr, addr(V4, "255.255.255.0"));
  EXPECT_TRUE(r2.fx().nat->netmapSource);
}

TEST(TargetCt, NotrackAndHelper) {
  Trav r;
  run(r, V4, "raw", Hook::PreRouting, {"-j CT --notrack", "-j DROP"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.fx().notrack);
  EXPECT_EQ(r.res.verdict, Verdict::Drop);  // non-terminating
  Trav r2;
  run(r2, V4, "raw", Hook::PreRouting, {"-p tcp -j CT --helper ftp"}, packet(V4));
  ASSERT_TRUE(r2.ok);
  EXPECT_FALSE(r2.fx().notrack);
  EXPECT_TRUE(r2.fx().ctTemplate);
  EXPECT_EQ(r2.fx().ctHelper, "ftp");
  EXPECT_EQ(r2.res.verdict, Verdict::Accept);
}

TEST(TargetNotrack, SetsNotrack) {
  Trav r;
  run(r, V6, "raw", Hook::LocalOut, {"-j NOTRACK"}, packet(V6));
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.fx().notrack);
  EXPECT_EQ(r.res.verdict, Verdict::Accept);
  Trav miss;
  run(miss, V6, "raw", Hook::LocalOut, {"-p udp -j NOTRACK"}, packet(V6));
  ASSERT_TRUE(miss.ok);
  EXPECT_FALSE(miss.fx().notrack);
}

TEST(TargetClassify, SetsPriority) {
  Trav r;
  run(r, V4, "mangle", Hook::PostRouting, {"-j CLASSIFY --set-class 1:10", "-j ACCEPT"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pv.priority, 0x00010010u);
  EXPECT_EQ(r.res.matched.size(), 2u);
  Trav r2;
  run(r2, V6, "mangle", Hook::Forward, {"-j CLASSIFY --set-class ffff:ffff"}, packet(V6));
  ASSERT_TRUE(r2.ok);
  EXPECT_EQ(r2.pv.priority, 0xffffffffu);
  Trav r3;  // both halves are hexadecimal
  run(r3, V4, "mangle", Hook::LocalOut, {"-j CLASSIFY --set-class 10:a"}, packet(V4));
  ASSERT_TRUE(r3.ok);
  EXPECT_EQ(r3.pv.priority, 0x0010000au);
}

TEST(TargetTrace, SetsTrace) {
  Trav r;
  run(r, V4, "raw", Hook::PreRouting, {"-j TRACE", "-j DROP"}, packet(V4));
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.fx().trace);
  EXPECT_EQ(r.res.verdict, Verdict::Drop);
}

TEST(TargetNfqueue, QueueNumber) {
  {
    Trav r;
    run(r, V4, "filter", Hook::LocalIn, {"-j NFQUEUE --queue-num 3"}, packet(V4));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Queue);
    EXPECT_EQ(r.fx().queueNum, 3u);
    EXPECT_FALSE(r.fx().queueBypass);
  }
  {
    Trav r;
    run(r, V6, "filter", Hook::Forward, {"-j NFQUEUE --queue-num 65535 --queue-bypass"}, packet(V6));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Queue);
    EXPECT_EQ(r.fx().queueNum, 65535u);
    EXPECT_TRUE(r.fx().queueBypass);
  }
  {
    Trav r;  // default queue 0
    run(r, V4, "filter", Hook::LocalIn, {"-j NFQUEUE", "-j DROP"}, packet(V4));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Queue);
    EXPECT_EQ(r.fx().queueNum, 0u);
  }
  {
    Trav r;  // balancing stays inside the range
    run(r, V4, "filter", Hook::LocalIn, {"-j NFQUEUE --queue-balance 4:7"}, packet(V4));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.res.verdict, Verdict::Queue);
    EXPECT_GE(r.fx().queueNum, 4u);
    EXPECT_LE(r.fx().queueNum, 7u);
  }
  // Both directions of a flow land in the same queue.
  for (Family f : {V4, V6}) {
    PacketSpec a;
    a.family = f;
    a.proto = 17;
    a.src = f == V4 ? "192.0.2.10" : "2001:db8:1::10";
    a.dst = f == V4 ? "198.51.100.20" : "2001:db8:2::20";
    PacketSpec b = a;
    std::swap(b.src, b.dst);
    Trav ra, rb;
    run(ra, f, "filter", Hook::Forward, {"-j NFQUEUE --queue-balance 0:1023"}, testing::buildPacket(a));
    run(rb, f, "filter", Hook::Forward, {"-j NFQUEUE --queue-balance 0:1023"}, testing::buildPacket(b));
    ASSERT_TRUE(ra.ok && rb.ok);
    EXPECT_EQ(ra.fx().queueNum, rb.fx().queueNum);
    EXPECT_LE(ra.fx().queueNum, 1023u);
  }
}

}  // namespace
}  // namespace nfjit
