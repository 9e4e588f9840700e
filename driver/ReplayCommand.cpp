// nfjit replay: the whole receive path over a pcap, with final counters,
// per-packet traces and the packets that leave.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"
#include "compiler/jit/Jit.h"
#include "driver/Command.h"
#include "driver/HostOptions.h"
#include "driver/RulesetLoader.h"
#include "runtime/io/Pcap.h"
#include "runtime/io/Pcapng.h"
#include "runtime/pipeline/ConntrackNeeds.h"
#include "runtime/pipeline/HookPipeline.h"

namespace nfjit::driver {
namespace {

const char* verdictName(Verdict v) {
  switch (v) {
    case Verdict::Accept: return "ACCEPT";
    case Verdict::Drop: return "DROP";
    case Verdict::Queue: return "QUEUE";
    case Verdict::Stolen: return "STOLEN";
    default: return "CONTINUE";
  }
}

nlohmann::ordered_json traceLine(uint64_t n, const PipelineResult& r, const Ruleset& rs) {
  nlohmann::ordered_json j;
  j["packet"] = n;
  j["fate"] = fateName(r.fate);
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (r.fate != PipelineResult::Fate::Malformed && r.fate != PipelineResult::Fate::NotIp)
    j["path"] = r.outputPath ? "output" : r.forwardPath ? "forward" : "input";
  nlohmann::ordered_json hooks = nlohmann::ordered_json::array();
  for (const auto& s : r.steps) {
    nlohmann::ordered_json h;
    h["table"] = s.table;
    h["chain"] = std::string(hookChainName(s.hook));
    h["verdict"] = verdictName(s.result.verdict);
    if (s.result.hotdrop) h["hotdrop"] = true;
    nlohmann::ordered_json rules = nlohmann::ordered_json::array();
    for (const auto& m : s.result.matched) {
      const Chain& c = rs.tables[m.table].chains[m.chain];
      nlohmann::ordered_json rj;
      rj["chain"] = c.name;
      if (m.isPolicy) {
        rj["policy"] = true;
      } else {
        rj["rule"] = m.rule + 1;
        rj["line"] = c.rules[m.rule].loc.line;
      }
      rules.push_back(rj);
    }
    h["matched"] = rules;
    hooks.push_back(h);
  }
  j["hooks"] = hooks;
  if (!r.emitted.empty()) {
    nlohmann::ordered_json em = nlohmann::ordered_json::array();
    for (const auto& e : r.emitted)
      em.push_back({{"kind", e.kind == EmittedPacket::Kind::Forwarded ? "forwarded" : "reply"},
                    {"iface", e.iface},
                    {"length", e.l3.size()}});
    j["emitted"] = em;
  }
  if (!r.replies.empty()) {
    nlohmann::ordered_json rep = nlohmann::ordered_json::array();
    for (const auto& x : r.replies) {
      auto sub = traceLine(n, x, rs);
      sub.erase("packet");
      rep.push_back(sub);
    }
    j["replies"] = rep;
  }
  if (!r.effects.logs.empty()) j["log"] = r.effects.logs;
  if (r.effects.nat) j["nat"] = true;
  if (!r.natApplied.empty()) {
    // What the NAT binding rewrote in this packet, in hook order.
    nlohmann::ordered_json na = nlohmann::ordered_json::array();
    for (const auto& w : r.natApplied) na.push_back(w.describe(rs.family));
    j["natApplied"] = na;
  }
  if (r.effects.rejectSent) j["reject"] = {{"type", r.effects.rejectType}, {"code", r.effects.rejectCode}};
  return j;
}

struct ReplayOptions {
  bool ipv6 = false;
  std::string rules;
  std::string pcap;
  std::string out;
  HostOptions host;  // shared with check, diff and query
  std::vector<std::string> ifaceAddrs;  // IFACE=ADDR
  bool noLocalReplies = false;
  std::string countersOut;
  std::string conntrackOut;
  bool trace = false;
  std::string engine = "jit";
};

int runReplay(const ReplayOptions& o);

class ReplayCommand final : public Command {
 public:
  std::string name() const override { return "replay"; }
  std::string description() const override { return "run the receive path (hooks, classifier) over a pcap"; }
  int order() const override { return 50; }
  void setup(CLI::App& s) override {
    s.add_flag("-6,--ipv6", o_.ipv6, "the rules are ip6tables-save output");
    s.add_option("RULES", o_.rules, "rules file (- for stdin)")->required();
    s.add_option("--pcap", o_.pcap, "input capture (pcap or pcapng; Ethernet or raw IP)")->required();
    s.add_option("--out", o_.out, "write the packets that leave (forwarded and generated) to this capture");
    addHostOptions(s, o_.host);
    s.add_option("--iface-addr", o_.ifaceAddrs,
                 "IFACE=ADDR: an interface's own address (repeatable; also a --local address), the source of its "
                 "ICMP errors")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    s.add_flag("--no-local-replies", o_.noLocalReplies,
               "do not model the host's own answers (TCP RST, ICMP errors, echo replies) on the OUTPUT path");
    s.add_option("--counters", o_.countersOut,
                 "write the ruleset with final counters (iptables-save -c form); - for stdout");
    s.add_option("--conntrack", o_.conntrackOut, "write the final connection table (conntrack -L form)");
    s.add_flag("--trace", o_.trace, "print one JSON line per packet: hooks, matched rules, verdict");
    s.add_option("--engine", o_.engine, "classifier: jit (native code) or interp (the reference interpreter)")
        ->check(CLI::IsMember({"interp", "jit"}))
        ->capture_default_str();
  }
  int run() override { return runReplay(o_); }

 private:
  ReplayOptions o_;
};

NFJIT_REGISTER_COMMAND(ReplayCommand);

int runReplay(const ReplayOptions& o) {
  auto loaded = loadRuleset(o.rules, o.ipv6);
  if (!loaded) return 2;
  const Ruleset& rs = loaded->rules;
  DiagnosticEngine diags(o.rules == "-" ? "<stdin>" : o.rules);
  ParseOptions po;
  po.family = rs.family;
  if (auto use = firstUnmodelledConntrackUse(rs)) {
    diags.error(use->loc, use->what + " needs connection tracking beyond what nfjit replay models yet (-m state, "
                                      "-m conntrack but --ctexpire, connbytes, connmark, CONNMARK and NOTRACK; no "
                                      "nat table)");
    diags.print(std::cerr);
    return 2;
  }
  if (!o.conntrackOut.empty()) {
    std::cerr << "nfjit replay: error: --conntrack needs the conntrack runtime, which is not implemented yet\n";
    return 2;
  }
  auto parsedHost = makeHostModel(o.host, rs.family, "replay");
  if (!parsedHost) return 2;
  HostModel host = *parsedHost;
  const char* famName = o.ipv6 ? "IPv6" : "IPv4";
  for (const auto& ia : o.ifaceAddrs) {
    auto eq = ia.find('=');
    std::optional<IpAddr> ip;
    if (eq != std::string::npos && eq > 0) ip = parseIpAddr(po.family, ia.substr(eq + 1));
    if (!ip) {
      std::cerr << "nfjit replay: error: --iface-addr `" << ia << "' is not IFACE=" << famName << " address\n";
      return 2;
    }
    host.ifaceAddrs.push_back({ia.substr(0, eq), *ip});
    host.localAddrs.push_back(*ip);
  }
  host.localReplies = !o.noLocalReplies;
  // Input: classic pcap through libpcap (every packet on --in-iface), or
  // pcapng (each packet on the interface its block names).
  std::unique_ptr<PcapReader> pcapIn;
  std::unique_ptr<PcapngReader> ngIn;
  std::unique_ptr<PcapWriter> pcapOut;
  std::unique_ptr<PcapngWriter> ngOut;
  try {
    if (isPcapngFile(o.pcap)) {
      ngIn = std::make_unique<PcapngReader>(o.pcap);
      if (!o.out.empty()) ngOut = std::make_unique<PcapngWriter>(o.out);
    } else {
      pcapIn = std::make_unique<PcapReader>(o.pcap);
      if (!o.out.empty()) pcapOut = std::make_unique<PcapWriter>(o.out, pcapIn->dlt());
    }
  } catch (const std::exception& e) {
    std::cerr << "nfjit replay: error: " << o.pcap << ": " << e.what() << "\n";
    return 2;
  }
  auto linkOf = [](int dlt, LinkType& lt) {
    switch (dlt) {
      case 1: lt = LinkType::Ethernet; return true;
      case 101: case 12: lt = LinkType::RawIp; return true;
      case 228: lt = LinkType::RawIpv4; return true;
      case 229: lt = LinkType::RawIpv6; return true;
      default: return false;
    }
  };
  std::unique_ptr<Classifier> engine;
  try {
    if (o.engine == "jit") engine = std::make_unique<jit::JitClassifier>(rs);
  } catch (const std::exception& e) {
    std::cerr << "nfjit replay: error: JIT compilation failed: " << e.what() << "\n";
    return 2;
  }
  HookPipeline pipe(rs, host, std::move(engine));
  std::map<std::string, uint64_t> fates;
  uint64_t n = 0;
  CapturedPacket pkt;
  try {
    for (;;) {
      std::string iface;
      int dlt = 1;
      if (ngIn) {
        PcapngPacket np;
        if (!ngIn->next(np)) break;
        const auto& ifc = ngIn->interfaces()[np.iface];
        iface = ifc.name;
        dlt = ifc.linkType;
        pkt.tsNs = np.tsNs;
        pkt.data = std::move(np.data);
        pkt.origLen = np.origLen;
      } else {
        if (!pcapIn->next(pkt)) break;
        dlt = pcapIn->dlt();
      }
      ++n;
      Frame f;
      PipelineResult r;
      LinkType lt = LinkType::Ethernet;
      if (!linkOf(dlt, lt)) {
        r.fate = PipelineResult::Fate::NotIp;
        r.reason = "link-type-" + std::to_string(dlt);
      } else if (!parseFrame(lt, pkt.data.data(), static_cast<uint32_t>(pkt.data.size()), f)) {
        r.fate = PipelineResult::Fate::Malformed;
        r.reason = "short-link-header";
      } else if (!f.isIp || f.family != po.family) {
        r.fate = PipelineResult::Fate::NotIp;
      } else {
        PktType pt = classifyPktType(f, {}, false);
        uint64_t wall = pkt.tsNs / 1000000000ull;
        r = pipe.process(pkt.data.data() + f.l3Offset, static_cast<uint32_t>(pkt.data.size() - f.l3Offset), pt,
                         f.srcMac, f.hasMac, pkt.tsNs, wall, iface);
      }
      fates[fateName(r.fate)]++;
      if (o.trace) std::cout << traceLine(n, r, rs).dump() << "\n";
      for (const auto& e : r.emitted) {
        if (!pcapOut && !ngOut) break;
        CapturedPacket w;
        w.tsNs = pkt.tsNs;
        if (lt == LinkType::Ethernet) {
          // Forwarded frames keep their link header; generated ones get an
          // empty one (the neighbour is not modelled).
          if (e.kind == EmittedPacket::Kind::Forwarded && f.l3Offset == 14)
            w.data.assign(pkt.data.begin(), pkt.data.begin() + 12);
          else
            w.data.assign(12, 0);
          w.data.push_back(po.family == Family::IPv4 ? 0x08 : 0x86);
          w.data.push_back(po.family == Family::IPv4 ? 0x00 : 0xdd);
        }
        w.data.insert(w.data.end(), e.l3.begin(), e.l3.end());
        w.origLen = uint32_t(w.data.size());
        if (pcapOut) pcapOut->write(w);
        else ngOut->write(ngOut->interfaceId(e.iface, uint16_t(dlt)), w.tsNs, w.data, w.origLen);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "nfjit replay: error: " << o.pcap << ": " << e.what() << "\n";
    return 2;
  }
  if (!o.countersOut.empty()) {
    Ruleset withCounters = parseRestore(loaded->text, po, diags);  // a fresh copy to annotate
    pipe.classifier().counters().applyTo(withCounters);
    std::string dump = printRuleset(withCounters);
    if (o.countersOut == "-") {
      std::cout << dump;
    } else {
      std::ofstream f(o.countersOut);
      if (!f) {
        std::cerr << "nfjit replay: error: cannot write " << o.countersOut << "\n";
        return 2;
      }
      f << dump;
    }
  }
  std::cerr << "nfjit replay: " << n << " packets:";
  for (const auto& [k, v] : fates) std::cerr << " " << k << "=" << v;
  std::cerr << "\n";
  return 0;
}

}  // namespace
}  // namespace nfjit::driver
