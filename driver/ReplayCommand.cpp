// nfjit replay: the whole receive path over a pcap, with final counters,
// per-packet traces and the packets that leave.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "compiler/frontend/Printer.h"
#include "compiler/frontend/RestoreParser.h"
#include "driver/Commands.h"
#include "runtime/io/Pcap.h"
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
    j["path"] = r.forwardPath ? "forward" : "input";
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
  if (!r.effects.logs.empty()) j["log"] = r.effects.logs;
  if (r.effects.nat) j["nat"] = true;
  if (r.effects.rejectSent) j["reject"] = {{"type", r.effects.rejectType}, {"code", r.effects.rejectCode}};
  return j;
}

}  // namespace

int runReplay(const ReplayOptions& o) {
  DiagnosticEngine diags(o.rules == "-" ? "<stdin>" : o.rules);
  auto text = readInputFile(o.rules, diags);
  if (!text) {
    diags.print(std::cerr);
    return 2;
  }
  ParseOptions po;
  po.family = o.ipv6 ? Family::IPv6 : Family::IPv4;
  Ruleset rs = parseRestore(*text, po, diags);
  diags.print(std::cerr);
  if (diags.hasErrors()) return 2;
  if (o.engine != "interp") {
    std::cerr << "nfjit replay: error: engine `" << o.engine
              << "' is not available in this build (the JIT classifier is not implemented yet); use --engine interp\n";
    return 2;
  }
  if (!o.conntrackOut.empty()) {
    std::cerr << "nfjit replay: error: --conntrack needs the conntrack runtime, which is not implemented yet\n";
    return 2;
  }
  HostModel host;
  host.inIface = o.inIface;
  host.outIface = o.outIface;
  for (const auto& a : o.local) {
    auto ip = parseIpAddr(po.family, a);
    if (!ip) {
      std::cerr << "nfjit replay: error: --local `" << a << "' is not an " << (o.ipv6 ? "IPv6" : "IPv4")
                << " address\n";
      return 2;
    }
    host.localAddrs.push_back(*ip);
  }
  std::unique_ptr<PcapReader> in;
  std::unique_ptr<PcapWriter> out;
  try {
    in = std::make_unique<PcapReader>(o.pcap);
    if (!o.out.empty()) out = std::make_unique<PcapWriter>(o.out, in->dlt());
  } catch (const std::exception& e) {
    std::cerr << "nfjit replay: error: " << e.what() << "\n";
    return 2;
  }
  HookPipeline pipe(rs, host);
  std::map<std::string, uint64_t> fates;
  uint64_t n = 0;
  CapturedPacket pkt;
  try {
    while (in->next(pkt)) {
      ++n;
      Frame f;
      PipelineResult r;
      if (!parseFrame(in->linkType(), pkt.data.data(), static_cast<uint32_t>(pkt.data.size()), f)) {
        r.fate = PipelineResult::Fate::Malformed;
        r.reason = "short-link-header";
      } else if (!f.isIp || f.family != po.family) {
        r.fate = PipelineResult::Fate::NotIp;
      } else {
        PktType pt = classifyPktType(f, {}, false);
        uint64_t wall = pkt.tsNs / 1000000000ull;
        r = pipe.process(pkt.data.data() + f.l3Offset, static_cast<uint32_t>(pkt.data.size() - f.l3Offset), pt,
                         f.srcMac, f.hasMac, pkt.tsNs, wall);
      }
      fates[fateName(r.fate)]++;
      if (o.trace) std::cout << traceLine(n, r, rs).dump() << "\n";
      if (out && r.fate == PipelineResult::Fate::Forwarded) out->write(pkt);
    }
  } catch (const std::exception& e) {
    std::cerr << "nfjit replay: error: " << o.pcap << ": " << e.what() << "\n";
    return 2;
  }
  if (!o.countersOut.empty()) {
    Ruleset withCounters = parseRestore(*text, po, diags);  // a fresh copy to annotate
    pipe.interpreter().counters().applyTo(withCounters);
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

}  // namespace nfjit::driver
