// nfjit diff: semantic equivalence of two rulesets per built-in chain.
#include <iostream>

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

class DiffCommand final : public Command {
 public:
  std::string name() const override { return "diff"; }
  std::string description() const override {
    return "compare two rulesets per built-in chain; differences come with witness packets";
  }
  int order() const override { return 21; }
  void setup(CLI::App& sub) override {
    sub.add_flag("-6,--ipv6", ipv6_, "the files are ip6tables-save output");
    sub.add_flag("--permissive", permissive_, "analyse files iptables-restore rejects: bad options become unknown matches (warnings)");
    sub.add_flag("--json", json_, "the result as JSON on stdout");
    sub.add_option("--table", table_, "the table to compare (default filter)");
    sub.add_flag("--paths", paths_,
                 "also compare whole paths (input, forward, output) through raw, mangle, nat and filter");
    sub.add_option("--witness-pcap", pcap_, "write the witness packets to FILE (raw IP, DLT 101)");
    addHostOptions(sub, host_);
    sub.add_option("OLD", old_, "the old rules file")->required();
    sub.add_option("NEW", new_, "the new rules file")->required();
  }
  int run() override {
    auto olds = loadRuleset(old_, ipv6_, permissive_);
    if (!olds) return 2;
    auto news = loadRuleset(new_, ipv6_, permissive_);
    if (!news) return 2;
    const Ruleset& a = olds->rules;
    const Ruleset& b = news->rules;
    verifier::DiffOptions opts;
    if (host_.any()) {
      opts.host = makeHostModel(host_, a.family, "diff");
      if (!opts.host) return 2;
    }
    std::vector<verifier::ChainDiff> ds;
    std::vector<verifier::PathDiff> pds;
    try {
      ds = verifier::diffRulesets(a, b, table_, nullptr, opts);
      if (paths_) pds = verifier::diffPaths(a, b, opts.host);
    } catch (const std::exception& e) {
      std::cerr << "nfjit diff: error: " << e.what() << "\n";
      return 2;
    }
    if (json_) {
      nlohmann::json j = verifier::diffJson(old_, new_, ds);
      if (paths_) j["paths"] = verifier::pathDiffsJson(pds);
      std::cout << j.dump(2) << "\n";
    } else {
      verifier::printDiff(std::cout, old_, new_, ds);
      if (paths_) verifier::printPathDiffs(std::cout, pds);
    }
    bool same = true;
    // As they arrive on the wire, so `nfjit replay` sees what the diff claims.
    std::vector<verifier::Witness> arrived;
    for (const auto& d : ds) {
      same = same && d.equivalent;
      for (const auto& x : d.differences) arrived.push_back(verifier::arrivalForm(x.witness, d.hook));
    }
    // Path witnesses are already in their wire form.
    for (const auto& p : pds) {
      same = same && p.equivalent;
      if (p.difference) arrived.push_back(p.difference->witness);
    }
    std::vector<const verifier::Witness*> ws;
    for (const auto& w : arrived) ws.push_back(&w);
    if (!pcap_.empty() && !writeWitnesses(pcap_, ws)) return 2;
    return same ? 0 : 1;
  }

 private:
  bool permissive_ = false;
  bool ipv6_ = false, json_ = false, paths_ = false;
  std::string old_, new_, pcap_, table_ = "filter";
  HostOptions host_;
};

NFJIT_REGISTER_COMMAND(DiffCommand);

}  // namespace
}  // namespace nfjit::driver
