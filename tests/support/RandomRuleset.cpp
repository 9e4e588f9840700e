#include "tests/support/RandomRuleset.h"

#include <set>
#include <sstream>

#include "tests/support/PacketBuilder.h"

namespace nfjit::testing {
namespace {

struct Pools {
  Family f;
  std::vector<std::string> localAddrs, srcAddrs, fwdDsts, nets;
};

// Forwarded destinations are off-link or the sink's own address, so the
// kernel needs no neighbour resolution to deliver them.
Pools pools(Family f) {
  if (f == Family::IPv4)
    return {f,
            {"192.0.2.1", "198.51.100.1"},
            {"192.0.2.10", "192.0.2.11", "192.0.2.200", "203.0.113.7", "203.0.113.128", "203.0.113.255",
             "100.64.0.1"},
            {"203.0.113.50", "203.0.113.51", "198.51.100.2", "100.64.1.1"},
            {"192.0.2.0", "203.0.113.0", "198.51.100.0", "100.64.0.0", "192.0.2.128", "203.0.113.64"}};
  // IPv6 sources stay off in0's on-link prefix: answers to them are routed
  // via the sink, whose neighbour entry is static (no NDP on OUTPUT).
  return {f,
          {"2001:db8:1::1", "2001:db8:2::1"},
          {"2001:db8:3::10", "2001:db8:3::11", "2001:db8:3::ffff", "2001:db8:4::1", "2001:db8:4:0:8000::1"},
          {"2001:db8:2::2", "2001:db8:5::1", "2001:db8:5::8000"},
          {"2001:db8:3::", "2001:db8:4::", "2001:db8:2::", "2001:db8:5::", "2001:db8::"}};
}

struct ChainInfo {
  std::string name;
  bool builtin;
  std::string hookChain;  // for user chains: the built-in that reaches them ("" if none)
};

struct Gen {
  Gen(Family fam, Rng& r) : f(fam), rng(r), pl(pools(fam)) {}
  Family f;
  Rng& rng;
  Pools pl;
  std::set<unsigned> ports{0, 1, 22, 53, 80, 443, 1023, 1024, 65535};
  std::set<unsigned> lengths;
  std::set<unsigned> ttls{1, 2, 63, 64, 255};
  std::set<uint32_t> marks{0};

  std::string prefix() {
    unsigned bits = f == Family::IPv4 ? 32 : 128;
    unsigned len;
    if (f == Family::IPv4) len = unsigned(std::vector<unsigned>{8, 16, 24, 25, 26, 31, 32}[rng.below(7)]);
    else len = unsigned(std::vector<unsigned>{16, 32, 48, 64, 65, 120, 128}[rng.below(7)]);
    (void)bits;
    std::string base = rng.chance(50) ? rng.pick(pl.nets) : rng.chance(50) ? rng.pick(pl.srcAddrs) : rng.pick(pl.fwdDsts);
    return base + "/" + std::to_string(len);
  }
  std::string portRange() {
    unsigned a = unsigned(rng.below(65536));
    if (rng.chance(40)) a = std::vector<unsigned>{22, 53, 80, 443, 1024, 0, 65535}[rng.below(7)];
    ports.insert(a);
    if (a > 0) ports.insert(a - 1);
    if (a < 65535) ports.insert(a + 1);
    if (rng.chance(50)) return std::to_string(a);
    unsigned b = a + unsigned(rng.below(2000));
    if (b > 65535) b = 65535;
    ports.insert(b);
    if (b < 65535) ports.insert(b + 1);
    return std::to_string(a) + ":" + std::to_string(b);
  }

  std::string matches(const ChainInfo& c, const std::string& table, std::string& proto) {
    std::ostringstream m;
    if (rng.chance(30)) m << (rng.chance(25) ? " ! -s " : " -s ") << prefix();
    if (rng.chance(30)) m << (rng.chance(25) ? " ! -d " : " -d ") << prefix();
    const std::string& hc = c.builtin ? c.name : c.hookChain;
    bool inOk = hc == "PREROUTING" || hc == "INPUT" || hc == "FORWARD";
    bool outOk = hc == "FORWARD" || hc == "OUTPUT" || hc == "POSTROUTING";
    if (inOk && rng.chance(20)) m << (rng.chance(30) ? " ! -i " : " -i ") << (rng.chance(50) ? "in0" : "in+");
    if (outOk && rng.chance(20)) m << (rng.chance(30) ? " ! -o " : " -o ") << (rng.chance(50) ? "out0" : "out+");
    proto.clear();
    unsigned r = unsigned(rng.below(100));
    if (r < 35) proto = "tcp";
    else if (r < 60) proto = "udp";
    else if (r < 72) proto = f == Family::IPv4 ? "icmp" : "ipv6-icmp";
    else if (r < 76) proto = "sctp";
    if (!proto.empty()) {
      bool inv = rng.chance(10);
      m << (inv ? " ! -p " : " -p ") << proto;
      if (inv) proto.clear();
    }
    if (proto == "tcp" || proto == "udp") {
      m << " -m " << proto;
      if (rng.chance(60)) m << (rng.chance(20) ? " ! --sport " : " --sport ") << portRange();
      if (rng.chance(70)) m << (rng.chance(20) ? " ! --dport " : " --dport ") << portRange();
      if (proto == "tcp" && rng.chance(30)) {
        static const std::vector<std::string> masks = {"SYN,ACK", "FIN,SYN,RST,ACK", "ALL", "SYN,RST"};
        static const std::vector<std::string> comps = {"SYN", "ACK", "NONE", "SYN,ACK", "RST"};
        m << (rng.chance(20) ? " ! --tcp-flags " : " --tcp-flags ") << rng.pick(masks) << " " << rng.pick(comps);
      }
    } else if (proto == "icmp" && rng.chance(60)) {
      static const std::vector<std::string> t = {"8", "0", "3/3", "11", "echo-request", "3"};
      m << " -m icmp" << (rng.chance(20) ? " ! --icmp-type " : " --icmp-type ") << rng.pick(t);
    } else if (proto == "ipv6-icmp" && rng.chance(60)) {
      static const std::vector<std::string> t = {"128", "129", "1/4", "3", "echo-request"};
      m << " -m icmp6" << (rng.chance(20) ? " ! --icmpv6-type " : " --icmpv6-type ") << rng.pick(t);
    }
    if (rng.chance(12)) {
      unsigned a = unsigned(rng.below(200)) + (f == Family::IPv4 ? 20 : 40);
      unsigned b = a + unsigned(rng.below(100));
      lengths.insert(a);
      lengths.insert(a - 1);
      lengths.insert(b);
      lengths.insert(b + 1);
      m << " -m length" << (rng.chance(20) ? " ! --length " : " --length ") << a << ":" << b;
    }
    if (rng.chance(10)) {
      unsigned t = std::vector<unsigned>{1, 2, 63, 64, 128}[rng.below(5)];
      const char* op = std::vector<const char*>{"eq", "lt", "gt"}[rng.below(3)];
      m << (f == Family::IPv4 ? " -m ttl --ttl-" : " -m hl --hl-") << op << " " << t;
    }
    if (table != "raw" && rng.chance(15)) {
      uint32_t v = uint32_t(rng.below(4));
      m << " -m mark" << (rng.chance(20) ? " ! --mark " : " --mark ") << v;
      if (rng.chance(40)) m << "/0x3";
    }
    if (f == Family::IPv4 && rng.chance(5)) m << (rng.chance(30) ? " ! -f" : " -f");
    if (rng.chance(8)) m << " -m comment --comment \"rule " << rng.below(1000) << "\"";
    return m.str();
  }

  std::string target(const ChainInfo& c, const std::string& table, const std::vector<ChainInfo>& chains,
                     size_t selfIndex, const std::string& proto) {
    unsigned r = unsigned(rng.below(100));
    // Jumps only forward to later user chains: no loops.
    std::vector<const ChainInfo*> later;
    for (size_t i = selfIndex + 1; i < chains.size(); ++i)
      if (!chains[i].builtin) later.push_back(&chains[i]);
    if (r < 15 && !later.empty()) return (rng.chance(75) ? " -j " : " -g ") + later[rng.below(later.size())]->name;
    if (r < 25) return "";  // accounting rule
    if (r < 40) return " -j ACCEPT";
    if (r < 52) return " -j DROP";
    if (r < 60 && !c.builtin) return " -j RETURN";
    if (r < 66) return " -j LOG --log-prefix \"nfjit " + std::to_string(rng.below(100)) + "\"";
    if (r < 78 && table == "mangle") {
      uint32_t v = uint32_t(rng.below(4));
      return " -j MARK --set-xmark 0x" + std::to_string(v) + "/0x" + (rng.chance(50) ? "3" : "ffffffff");
    }
    const std::string& hc = c.builtin ? c.name : c.hookChain;
    if (r < 88 && table == "filter" && (hc == "INPUT" || hc == "FORWARD")) {
      if (proto == "tcp" && rng.chance(50)) return " -j REJECT --reject-with tcp-reset";
      if (f == Family::IPv4) {
        static const std::vector<std::string> w = {"icmp-port-unreachable", "icmp-host-unreachable",
                                                   "icmp-admin-prohibited", "icmp-net-prohibited"};
        return " -j REJECT --reject-with " + rng.pick(w);
      }
      static const std::vector<std::string> w = {"icmp6-port-unreachable", "icmp6-adm-prohibited",
                                                 "icmp6-no-route"};
      return " -j REJECT --reject-with " + rng.pick(w);
    }
    return " -j ACCEPT";
  }
};

const std::vector<std::string>& tableChains(const std::string& t) {
  static const std::vector<std::string> raw = {"PREROUTING", "OUTPUT"};
  static const std::vector<std::string> mangle = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  static const std::vector<std::string> filter = {"INPUT", "FORWARD", "OUTPUT"};
  return t == "raw" ? raw : t == "mangle" ? mangle : filter;
}

}  // namespace

GeneratedCase generateCase(Family f, uint64_t seed, unsigned rulesPerChain, unsigned packetCount) {
  Rng rng(seed);
  Gen g(f, rng);
  std::ostringstream out;
  for (const std::string table : {"raw", "mangle", "filter"}) {
    std::vector<ChainInfo> chains;
    for (const auto& b : tableChains(table)) chains.push_back({b, true, b});
    // User chains, each owned by one built-in so that its hook is known.
    unsigned users = table == "raw" ? 0 : unsigned(rng.below(4));
    for (unsigned i = 0; i < users; ++i) {
      const auto& owner = tableChains(table)[rng.below(tableChains(table).size())];
      chains.push_back({"u" + std::to_string(i) + "_" + owner, false, owner});
    }
    out << "*" << table << "\n";
    for (const auto& c : chains) {
      std::string policy = "ACCEPT";
      if (c.builtin && table == "filter" && c.name != "OUTPUT" && rng.chance(40)) policy = "DROP";
      out << ":" << c.name << " " << (c.builtin ? policy : "-") << " [0:0]\n";
    }
    for (size_t ci = 0; ci < chains.size(); ++ci) {
      const auto& c = chains[ci];
      // OUTPUT sees only the host's own answers: keep it small and without REJECT.
      unsigned n = unsigned(rng.below(rulesPerChain + 1));
      for (unsigned k = 0; k < n; ++k) {
        // A user chain may only be entered from its owner or from user chains
        // of the same owner, so jumps are filtered below.
        std::string proto;
        std::string m = g.matches(c, table, proto);
        std::string t = g.target(c, table, chains, ci, proto);
        if (t.find(" -j u") == 0 || t.find(" -g u") == 0) {
          std::string target = t.substr(4);
          const ChainInfo* tc = nullptr;
          for (const auto& x : chains)
            if (x.name == target) tc = &x;
          const std::string& hc = c.builtin ? c.name : c.hookChain;
          if (!tc || tc->hookChain != hc) t = " -j ACCEPT";
        }
        out << "-A " << c.name << m << t << "\n";
      }
    }
    out << "COMMIT\n";
  }

  GeneratedCase gc;
  gc.rules = out.str();
  std::vector<unsigned> ports(g.ports.begin(), g.ports.end());
  std::vector<unsigned> ttls(g.ttls.begin(), g.ttls.end());
  std::vector<unsigned> lengths(g.lengths.begin(), g.lengths.end());
  for (unsigned i = 0; i < packetCount; ++i) {
    PacketSpec s;
    s.family = f;
    s.src = rng.pick(g.pl.srcAddrs);
    bool toLocal = rng.chance(35);
    s.dst = toLocal ? rng.pick(g.pl.localAddrs) : rng.pick(g.pl.fwdDsts);
    unsigned r = unsigned(rng.below(100));
    if (r < 40) s.proto = 6;
    else if (r < 70) s.proto = 17;
    else if (r < 88) s.proto = f == Family::IPv4 ? 1 : 58;
    else s.proto = toLocal ? 17 : (rng.chance(50) ? 132 : 47);
    s.sport = uint16_t(rng.pick(ports));
    s.dport = uint16_t(rng.pick(ports));
    static const std::vector<uint8_t> flags = {0x02, 0x12, 0x10, 0x04, 0x14, 0x01, 0x11, 0x00, 0x3f, 0x29, 0x18};
    s.tcpFlags = rng.pick(flags);
    if (f == Family::IPv4) {
      static const std::vector<std::pair<uint8_t, uint8_t>> icmp = {{8, 0}, {0, 0}, {3, 3}, {11, 0}, {8, 1}, {3, 1}};
      auto [t, c] = rng.pick(icmp);
      s.icmpType = t;
      s.icmpCode = c;
    } else {
      static const std::vector<std::pair<uint8_t, uint8_t>> icmp = {{128, 0}, {129, 0}, {1, 4}, {3, 0}, {128, 1}, {2, 0}};
      auto [t, c] = rng.pick(icmp);
      s.icmpType = t;
      s.icmpCode = c;
    }
    s.ttl = uint8_t(rng.pick(ttls));
    s.payload = rng.below(64);
    if (!lengths.empty() && rng.chance(40)) {
      // Aim at a length boundary of some rule.
      size_t hdr = (f == Family::IPv4 ? 20 : 40) + (s.proto == 6 ? 20 : 8);
      size_t want = rng.pick(lengths);
      if (want >= hdr && want - hdr < 400) s.payload = want - hdr;
    }
    if (f == Family::IPv4 && rng.chance(5) && !toLocal) {
      s.fragOffset = uint16_t(1 + rng.below(3));
    }
    gc.packets.push_back(buildPacket(s));
  }
  return gc;
}

}  // namespace nfjit::testing
