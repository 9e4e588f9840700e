// nfjit check: static analysis of a ruleset with Z3 (see verifier/).
#include <chrono>
#include <iostream>

#include "compiler/frontend/RestoreParser.h"
#include "driver/Command.h"
#include "driver/HostOptions.h"
#include "driver/RulesetLoader.h"
#include "driver/WitnessPcap.h"
#include "runtime/pipeline/ConntrackNeeds.h"
#include "verifier/Anomalies.h"
#include "verifier/Cover.h"
#include "verifier/HostModel.h"
#include "verifier/Report.h"
#include "verifier/Verifier.h"

namespace nfjit::driver {
namespace {

// The base analyses run always; -Wno-NAME only hides their findings.
const std::vector<std::string> kBase = {"shadowed", "unsatisfiable", "unreachable-chain"};

class CheckCommand final : public Command {
 public:
  std::string name() const override { return "check"; }
  std::string description() const override {
    return "find shadowed, redundant, overlapping and never-matching rules and unreachable chains (with witness "
           "packets)";
  }
  int order() const override { return 20; }
  void setup(CLI::App& sub) override {
    sub.add_flag("-6,--ipv6", ipv6_, "the file is ip6tables-save output");
    sub.add_flag("--permissive", permissive_, "analyse files iptables-restore rejects: bad options become unknown matches (warnings)");
    auto* j = sub.add_flag("--json", json_, "findings as JSON on stdout");
    sub.add_flag("--sarif", sarif_, "findings as SARIF 2.1.0 on stdout")->excludes(j);
    sub.add_option("--witness-pcap", pcap_, "write the witness packets to FILE (raw IP, DLT 101)");
    sub.add_option("--cover-pcap", coverPcap_,
                   "write, per reachable rule, a packet that reaches and matches it (replayable with nfjit replay "
                   "and the same host options)");
    sub.add_option("-W", warnings_,
                   "NAME or no-NAME (repeatable): turn an analysis on or off; NAME is shadowed, unsatisfiable, "
                   "unreachable-chain, redundant, conflict, generalization, or all")
        ->expected(1)
                        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    sub.add_flag("--progress", progress_, "report progress on stderr");
    addHostOptions(sub, host_);
    sub.add_option("RULES", file_, "rules file (- for stdin)")->required();
  }

  int run() override {
    std::string shown = file_ == "-" ? "<stdin>" : file_;
    std::set<std::string> on;
    if (!selectAnalyses(on)) return 2;
    auto loaded = loadRuleset(file_, ipv6_, permissive_);
    if (!loaded) return 2;
    const Ruleset& rs = loaded->rules;
    verifier::CheckOptions opts;
    for (const auto& k : verifier::anomalyKinds())
      if (on.count(k.name)) opts.analyses.insert(k.name);
    if (host_.any() || !coverPcap_.empty()) {
      auto h = makeHostModel(host_, rs.family, "check");
      if (!h) return 2;
      if (host_.any()) opts.host = *h;
      hostModel_ = *h;
    }
    auto t0 = std::chrono::steady_clock::now();
    if (progress_)
      opts.progress = [&](size_t done, size_t total) {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cerr << "nfjit check: " << done << "/" << total << " rules (" << s << " s)\n";
      };
    verifier::CheckResult res;
    try {
      res = verifier::checkRuleset(rs, opts);
    } catch (const std::exception& e) {
      std::cerr << shown << ": error: " << e.what() << "\n";
      return 2;
    }
    std::erase_if(res.findings, [&](const verifier::Finding& f) { return !on.count(f.name); });
    if (json_) std::cout << verifier::findingsJson(shown, res).dump(2) << "\n";
    else if (sarif_) std::cout << verifier::findingsSarif(shown, res).dump(2) << "\n";
    else verifier::printFindings(std::cerr, shown, res);
    if (!pcap_.empty()) {
      // As they arrive on the wire, so `nfjit replay` sees what the finding claims.
      std::vector<verifier::Witness> arrived;
      for (const auto& f : res.findings) {
        if (f.witness) arrived.push_back(verifier::arrivalForm(*f.witness, f.hook));
        for (const auto& e : f.examples)
          if (e.witness) arrived.push_back(verifier::arrivalForm(*e.witness, e.hook));
      }
      if (!writePcap(pcap_, arrived)) return 2;
    }
    if (!coverPcap_.empty()) {
      verifier::CoverResult cov;
      try {
        cov = verifier::coverRuleset(rs, *hostModel_);
      } catch (const std::exception& e) {
        std::cerr << shown << ": error: " << e.what() << "\n";
        return 2;
      }
      verifier::printCover(std::cerr, shown, cov);
      if (auto use = firstUnmodelledConntrackUse(rs))
        std::cerr << shown << ":" << use->loc.line << ":" << (use->loc.col ? use->loc.col : 1) << ": note: " << use->what
                  << " needs connection tracking nfjit replay does not model yet: it refuses this ruleset\n";
      if (!writePcap(coverPcap_, cov.packets)) return 2;
    }
    return res.findings.empty() ? 0 : 1;
  }

 private:
  // -W NAME / -W no-NAME, applied in order over the defaults.
  bool selectAnalyses(std::set<std::string>& on) {
    std::set<std::string> known(kBase.begin(), kBase.end());
    on = known;
    for (const auto& k : verifier::anomalyKinds()) {
      known.insert(k.name);
      if (k.onByDefault) on.insert(k.name);
    }
    for (const auto& w : warnings_) {
      const bool no = w.rfind("no-", 0) == 0;
      const std::string n = no ? w.substr(3) : w;
      if (n == "all") {
        if (no) on.clear();
        else on = known;
      } else if (known.count(n)) {
        if (no) on.erase(n);
        else on.insert(n);
      } else {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        std::cerr << "nfjit check: error: -W" << w << ": unknown analysis `" << n << "' (known: " << list
                  << ", all)\n";
        return false;
      }
    }
    return true;
  }

  static bool writePcap(const std::string& path, const std::vector<verifier::Witness>& ws) {
    std::vector<const verifier::Witness*> ptrs;
    for (const auto& w : ws) ptrs.push_back(&w);
    return writeWitnesses(path, ptrs);
  }

  bool permissive_ = false;
  bool ipv6_ = false, json_ = false, sarif_ = false, progress_ = false;
  std::string file_, pcap_, coverPcap_;
  std::vector<std::string> warnings_;
  HostOptions host_;
  std::optional<HostModel> hostModel_;
};

NFJIT_REGISTER_COMMAND(CheckCommand);

}  // namespace
}  // namespace nfjit::driver
