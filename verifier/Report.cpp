// Formatting findings and differences.
#include "verifier/Report.h"

#include <cstdio>

#include "runtime/io/Pcap.h"
#include "verifier/Anomalies.h"

namespace nfjit::verifier {

namespace {

std::string where(const std::string& file, SourceLoc loc) {
  return file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col ? loc.col : 1);
}

const char* severityWord(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "warning";
}

std::string hex(const std::vector<uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

nlohmann::json ruleJson(const RuleRefV& r) {
  return {{"line", r.loc.line}, {"column", r.loc.col}, {"table", r.tableName}, {"chain", r.chainName},
          {"rule", r.text}, {"action", r.label}};
}

std::string describeCheck(const std::string& name) {
  if (name == "shadowed") return "No packet can reach the rule: earlier rules decide every packet it matches.";
  if (name == "unsatisfiable") return "The rule's conditions contradict each other: it matches no packet.";
  if (name == "unreachable-chain") return "No packet can enter the user chain.";
  for (const auto& k : anomalyKinds())
    if (name == k.name) return k.description;
  return "";
}

// How a related rule relates to the finding's rule.
std::string relation(const std::string& name) {
  if (name == "redundant") return "same verdict from";
  if (name == "conflict") return "overlaps with";
  if (name == "generalization") return "exception";
  return "blocked by";
}

}  // namespace

nlohmann::json witnessJson(const Witness& w) {
  return {{"summary", w.describe()},
          {"family", w.family == Family::IPv4 ? "ipv4" : "ipv6"},
          {"src", formatIpAddr(w.family, w.src)},
          {"dst", formatIpAddr(w.family, w.dst)},
          {"proto", w.proto},
          {"sport", w.sport},
          {"dport", w.dport},
          {"icmp_type", w.icmpType},
          {"icmp_code", w.icmpCode},
          {"tcp_flags", w.tcpFlags},
          {"ttl", w.ttl},
          {"tos", w.tos},
          {"length", w.length},
          {"fragment", w.fragment},
          {"in_iface", w.inIface},
          {"out_iface", w.outIface},
          {"mark", w.mark},
          {"ctstate", w.ctstate},
          {"pkttype", w.pktType},
          {"bytes", hex(w.bytes)}};
}

void printFindings(std::ostream& os, const std::string& file, const CheckResult& r) {
  for (const auto& f : r.findings) {
    os << where(file, f.rule.loc) << ": " << severityWord(f.severity) << ": " << f.message << " [-W" << f.name
       << "]\n";
    for (const auto& x : f.related) os << where(file, x.loc) << ": note: " << relation(f.name) << ": " << x.text << "\n";
    if (!f.definite)
      for (const auto& d : f.dependsOn)
        os << where(file, f.rule.loc) << ": note: holds only for some behaviours of " << d << "\n";
    if (f.witness)
      os << where(file, f.rule.loc) << ": note: witness (" << hookChainName(f.hook) << "): " << f.witness->describe()
         << (f.replayed || !f.definite ? "" : " [not confirmed by the interpreter]") << "\n";
    for (const auto& e : f.examples) {
      os << where(file, e.rule.loc) << ": note: for example: " << e.rule.text << "\n";
      if (e.witness)
        os << where(file, e.rule.loc) << ": note: witness (" << hookChainName(e.hook) << "): " << e.witness->describe()
           << "\n";
    }
  }
}

nlohmann::json findingsJson(const std::string& file, const CheckResult& r) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& f : r.findings) {
    nlohmann::json j = {{"name", f.name},
                        {"flag", "-W" + f.name},
                        {"severity", severityWord(f.severity)},
                        {"file", file},
                        {"line", f.rule.loc.line},
                        {"column", f.rule.loc.col},
                        {"rule", ruleJson(f.rule)},
                        {"message", f.message},
                        {"definite", f.definite},
                        {"depends_on", f.dependsOn},
                        {"related", nlohmann::json::array()},
                        {"hook", std::string(hookChainName(f.hook))},
                        {"witness_role", f.witnessRole},
                        {"replayed", f.replayed},
                        {"more_related", f.moreRelated}};
    for (const auto& x : f.related) j["related"].push_back(ruleJson(x));
    j["witness"] = f.witness ? witnessJson(*f.witness) : nlohmann::json(nullptr);
    if (!f.folded.empty()) {
      // Every rule the folded note stands for, and its examples' witnesses.
      j["folded_lines"] = nlohmann::json::array();
      for (const auto& x : f.folded) j["folded_lines"].push_back(x.loc.line);
      j["examples"] = nlohmann::json::array();
      for (const auto& e : f.examples)
        j["examples"].push_back({{"line", e.rule.loc.line},
                                 {"rule", ruleJson(e.rule)},
                                 {"message", e.message},
                                 {"hook", std::string(hookChainName(e.hook))},
                                 {"replayed", e.replayed},
                                 {"witness", e.witness ? witnessJson(*e.witness) : nlohmann::json(nullptr)}});
    }
    arr.push_back(std::move(j));
  }
  return {{"file", file},
          {"findings", arr},
          {"stats",
           {{"rules", r.stats.rules}, {"solver_calls", r.stats.solverCalls}, {"seconds", r.stats.seconds}}}};
}

nlohmann::json findingsSarif(const std::string& file, const CheckResult& r) {
  auto loc = [&](SourceLoc l) {
    return nlohmann::json{{"physicalLocation",
                           {{"artifactLocation", {{"uri", file}}},
                            {"region", {{"startLine", l.line ? l.line : 1}, {"startColumn", l.col ? l.col : 1}}}}}};
  };
  nlohmann::json rules = nlohmann::json::array();
  std::vector<std::string> names = {"shadowed", "unsatisfiable", "unreachable-chain"};
  for (const auto& k : anomalyKinds()) names.push_back(k.name);
  for (const auto& n : names)
    rules.push_back({{"id", n},
                     {"name", n},
                     {"shortDescription", {{"text", describeCheck(n)}}},
                     {"defaultConfiguration", {{"level", "warning"}}}});
  nlohmann::json results = nlohmann::json::array();
  for (const auto& f : r.findings) {
    nlohmann::json res = {{"ruleId", f.name},
                          {"level", f.severity == Severity::Note ? "note" : "warning"},
                          {"message", {{"text", f.message}}},
                          {"locations", nlohmann::json::array({loc(f.rule.loc)})}};
    if (!f.related.empty()) {
      res["relatedLocations"] = nlohmann::json::array();
      int id = 1;
      for (const auto& x : f.related) {
        auto l = loc(x.loc);
        l["id"] = id++;
        l["message"] = {{"text", relation(f.name) + ": " + x.text}};
        res["relatedLocations"].push_back(l);
      }
    }
    res["properties"] = {{"definite", f.definite},
                         {"moreRelated", f.moreRelated},
                         {"dependsOn", f.dependsOn},
                         {"replayed", f.replayed},
                         {"witness", f.witness ? witnessJson(*f.witness) : nlohmann::json(nullptr)}};
    if (!f.folded.empty()) {
      res["properties"]["foldedLines"] = nlohmann::json::array();
      for (const auto& x : f.folded) res["properties"]["foldedLines"].push_back(x.loc.line);
    }
    results.push_back(std::move(res));
  }
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs",
           nlohmann::json::array({{{"tool", {{"driver", {{"name", "nfjit"}, {"rules", rules}}}}},
                                   {"artifacts", nlohmann::json::array({{{"location", {{"uri", file}}}}})},
                                   {"results", results}}})}};
}

void printDiff(std::ostream& os, const std::string& oldFile, const std::string& newFile,
               const std::vector<ChainDiff>& ds) {
  for (const auto& d : ds) {
    if (d.equivalent) {
      os << d.chain << ": equivalent" << (d.definite ? "" : " (for the modelled behaviours of unknown matches)")
         << "\n";
      continue;
    }
    os << d.chain << ": differs" << (d.definite ? "" : " (depends on unknown matches)") << "\n";
    for (const auto& x : d.differences) {
      os << "  " << x.witness.describe() << "\n";
      os << "    old: " << x.oldVerdict;
      for (const auto& r : x.oldRules) os << " (" << oldFile << ":" << r.loc.line << ": " << r.text << ")";
      if (x.oldRules.empty()) os << " (policy or end of chain)";
      os << "\n    new: " << x.newVerdict;
      for (const auto& r : x.newRules) os << " (" << newFile << ":" << r.loc.line << ": " << r.text << ")";
      if (x.newRules.empty()) os << " (policy or end of chain)";
      os << (x.replayed ? "" : "\n    [not confirmed by the interpreter]") << "\n";
    }
  }
}

nlohmann::json diffJson(const std::string& oldFile, const std::string& newFile, const std::vector<ChainDiff>& ds) {
  nlohmann::json chains = nlohmann::json::array();
  for (const auto& d : ds) {
    nlohmann::json c = {{"chain", d.chain},
                        {"equivalent", d.equivalent},
                        {"definite", d.definite},
                        {"differences", nlohmann::json::array()}};
    for (const auto& x : d.differences) {
      nlohmann::json j = {{"witness", witnessJson(x.witness)},
                          {"old", {{"verdict", x.oldVerdict}, {"interpreter", x.oldReplay}, {"rules", nlohmann::json::array()}}},
                          {"new", {{"verdict", x.newVerdict}, {"interpreter", x.newReplay}, {"rules", nlohmann::json::array()}}},
                          {"replayed", x.replayed}};
      for (const auto& r : x.oldRules) j["old"]["rules"].push_back(ruleJson(r));
      for (const auto& r : x.newRules) j["new"]["rules"].push_back(ruleJson(r));
      c["differences"].push_back(std::move(j));
    }
    chains.push_back(std::move(c));
  }
  return {{"old", oldFile}, {"new", newFile}, {"chains", chains}};
}

size_t writeWitnessPcap(const std::string& path, const std::vector<const Witness*>& ws) {
  PcapWriter out(path, 12);  // DLT_RAW (LINKTYPE_RAW 101 in the file): packets start at the IP header
  size_t n = 0;
  for (const Witness* w : ws) {
    CapturedPacket p;
    p.tsNs = ++n * 1000000ull;
    p.data = w->bytes;
    p.origLen = static_cast<uint32_t>(w->bytes.size());
    out.write(p);
  }
  return n;
}

}  // namespace nfjit::verifier
