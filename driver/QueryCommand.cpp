// nfjit query: is there a packet matching EXPR that a chain decides with a
// given verdict? A witness, or a proof that none exists.
#include <iostream>
#include <optional>

#include "compiler/frontend/RestoreParser.h"
#include "driver/Command.h"
#include "driver/HostOptions.h"
#include "driver/RulesetLoader.h"
#include "driver/WitnessPcap.h"
#include "verifier/HostModel.h"
#include "verifier/PathModel.h"
#include "verifier/Report.h"
#include "verifier/Verifier.h"

namespace nfjit::driver {
namespace {

// EXPR as the match part of the one rule of `chain` in `table`; none after
// its diagnostics are printed.
std::optional<Ruleset> parseWhere(const std::string& expr, const std::string& table, const std::string& chain,
                                  Family family) {
  ParseOptions po;
  po.family = family;
  std::string text = "*" + table + "\n:" + chain + " ACCEPT [0:0]\n-A " + chain + " " + expr + "\nCOMMIT\n";
  DiagnosticEngine d("--where");
  Ruleset rs = parseRestore(text, po, d);
  d.print(std::cerr);
  if (d.hasErrors() || rs.tables.empty()) return std::nullopt;
  const Chain* c = rs.tables[0].findChain(chain);
  if (!c || c->rules.size() != 1) {
    std::cerr << "--where: error: not a rule's match part\n";
    return std::nullopt;
  }
  return rs;
}

class QueryCommand final : public Command {
 public:
  std::string name() const override { return "query"; }
  std::string description() const override {
    return "find a packet matching --where that --chain decides with --verdict, or prove there is none";
  }
  int order() const override { return 22; }
  void setup(CLI::App& sub) override {
    sub.add_flag("-6,--ipv6", ipv6_, "the file is ip6tables-save output");
    sub.add_flag("--permissive", permissive_, "analyse files iptables-restore rejects: bad options become unknown matches (warnings)");
    sub.add_flag("--json", json_, "the result as JSON on stdout");
    sub.add_option("--table", table_, "the table (default filter)");
    sub.add_option("--chain", chain_, "a built-in chain (or --path)");
    sub.add_option("--path", path_,
                   "input, forward or output: the packet's whole path through raw, mangle, nat and filter instead "
                   "of one chain; --verdict is then ACCEPT (delivered/forwarded/sent), DROP, REJECT or QUEUE");
    sub.add_option("--where", where_, "the packets, in iptables match syntax (e.g. \"-p tcp --dport 22\")");
    sub.add_option("--verdict", verdict_, "ACCEPT, DROP or QUEUE (default: any)");
    sub.add_option("--witness-pcap", pcap_,
                   "write the witness packet, as it arrives, to FILE (raw IP, DLT 101; replayable with nfjit "
                   "replay and the same host options)");
    addHostOptions(sub, host_);
    sub.add_option("RULES", file_, "rules file (- for stdin)")->required();
  }
  int run() override {
    if (chain_.empty() == path_.empty()) {
      std::cerr << "nfjit query: error: give exactly one of --chain and --path\n";
      return 2;
    }
    if (!path_.empty()) return runPath();
    std::string shown = file_ == "-" ? "<stdin>" : file_;
    auto loaded = loadRuleset(file_, ipv6_, permissive_);
    if (!loaded) return 2;
    const Ruleset& rs = loaded->rules;
    // The expression is parsed as the match part of a rule in the chain.
    auto wrs = parseWhere(where_, table_, chain_, rs.family);
    if (!wrs) return 2;
    const Rule& where = wrs->tables[0].findChain(chain_)->rules[0];
    for (char& c : verdict_) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::optional<HostModel> host;
    if (host_.any()) {
      host = makeHostModel(host_, rs.family, "query");
      if (!host) return 2;
    }
    verifier::QueryResult q;
    try {
      q = verifier::queryRuleset(rs, table_, chain_, where, verdict_, host);
    } catch (const std::exception& e) {
      std::cerr << "nfjit query: error: " << e.what() << "\n";
      return 2;
    }
    if (json_) {
      nlohmann::json j = {{"found", q.found}, {"definite", q.definite}, {"verdict", q.verdict},
                          {"replayed", q.replayed}};
      j["witness"] = q.witness ? verifier::witnessJson(*q.witness) : nlohmann::json(nullptr);
      j["decided_by"] = nlohmann::json::array();
      for (const auto& r : q.decidedBy) j["decided_by"].push_back({{"line", r.loc.line}, {"rule", r.text}});
      std::cout << j.dump(2) << "\n";
    } else if (q.found) {
      std::cout << "found: " << q.witness->describe() << "\n  verdict: " << q.verdict;
      for (const auto& r : q.decidedBy) std::cout << " (" << shown << ":" << r.loc.line << ": " << r.text << ")";
      if (q.decidedBy.empty()) std::cout << " (policy)";
      std::cout << (q.replayed ? "" : "\n  [not confirmed by the interpreter]") << "\n";
    } else {
      std::cout << "none: no packet matching the expression gets " << (verdict_.empty() ? "any verdict" : verdict_)
                << " in " << chain_ << (q.definite ? "" : " (for the modelled behaviours of unknown matches)")
                << "\n";
    }
    if (!pcap_.empty()) {
      std::vector<verifier::Witness> arrived;
      if (q.witness) arrived.push_back(verifier::arrivalForm(*q.witness, *builtinChainHook(chain_)));
      std::vector<const verifier::Witness*> ws;
      for (const auto& w : arrived) ws.push_back(&w);
      if (!writeWitnesses(pcap_, ws)) return 2;
    }
    // Like grep: 0 when a packet was found, 1 when none exists.
    return q.found ? 0 : 1;
  }

 private:
  // query --path (verifier/PathModel.h).
  int runPath() {
    verifier::PathKind kind;
    Hook parseHook;
    if (path_ == "input") kind = verifier::PathKind::Input, parseHook = Hook::LocalIn;
    else if (path_ == "forward") kind = verifier::PathKind::Forward, parseHook = Hook::Forward;
    else if (path_ == "output") kind = verifier::PathKind::Output, parseHook = Hook::LocalOut;
    else {
      std::cerr << "nfjit query: error: --path must be input, forward or output, not `" << path_ << "'\n";
      return 2;
    }
    auto loaded = loadRuleset(file_, ipv6_, permissive_);
    if (!loaded) return 2;
    const Ruleset& rs = loaded->rules;
    // The expression is parsed as the match part of a filter rule at the path's main hook.
    const std::string chain = parseHook == Hook::LocalIn ? "INPUT" : parseHook == Hook::Forward ? "FORWARD" : "OUTPUT";
    auto wrs = parseWhere(where_, "filter", chain, rs.family);
    if (!wrs) return 2;
    const Rule& where = wrs->tables[0].findChain(chain)->rules[0];
    std::string fate;
    for (char ch : verdict_) fate += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (fate == "ACCEPT" || fate == "DELIVER" || fate == "FORWARD" || fate == "SENT")
      fate = kind == verifier::PathKind::Input ? "deliver" : kind == verifier::PathKind::Forward ? "forward" : "sent";
    std::optional<HostModel> host;
    if (host_.any()) {
      host = makeHostModel(host_, rs.family, "query");
      if (!host) return 2;
    }
    verifier::PathQueryResult q;
    try {
      q = verifier::queryPath(rs, kind, where, fate, host);
    } catch (const std::exception& e) {
      std::cerr << "nfjit query: error: " << e.what() << "\n";
      return 2;
    }
    if (json_) {
      nlohmann::json j = {{"path", path_}, {"found", q.found}, {"definite", q.definite}, {"replayed", q.replayed},
                          {"replay", q.replay}};
      j["witness"] = q.witness ? verifier::witnessJson(*q.witness) : nlohmann::json(nullptr);
      j["fate"] = q.fate ? nlohmann::json(verifier::pathFateText(*q.fate)) : nlohmann::json(nullptr);
      std::cout << j.dump(2) << "\n";
    } else if (q.found) {
      std::cout << "found: " << q.witness->describe() << "\n  path " << path_ << ": "
                << (q.fate ? verifier::pathFateText(*q.fate) : "?") << "\n";
      if (!q.replay.empty()) std::cout << "  replay: " << q.replay << (q.replayed ? " (as claimed)" : "") << "\n";
      if (!q.replayed) std::cout << "  [not confirmed by the interpreter: " << q.replayNote << "]\n";
    } else {
      std::cout << "none: no packet matching the expression ends its " << path_ << " path "
                << (verdict_.empty() ? "at all" : "with " + verdict_)
                << (q.definite ? "" : " (for the modelled behaviours of unknown matches)") << "\n";
    }
    if (!pcap_.empty()) {
      std::vector<const verifier::Witness*> ws;
      if (q.witness) ws.push_back(&*q.witness);
      if (!writeWitnesses(pcap_, ws)) return 2;
    }
    return q.found ? 0 : 1;
  }

  std::string path_;
  bool permissive_ = false;
  bool ipv6_ = false, json_ = false;
  std::string file_, table_ = "filter", chain_, where_, verdict_, pcap_;
  HostOptions host_;
};

NFJIT_REGISTER_COMMAND(QueryCommand);

}  // namespace
}  // namespace nfjit::driver
