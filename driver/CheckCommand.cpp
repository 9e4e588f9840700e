// nfjit check: static analysis of a ruleset with Z3 (see verifier/).
#include <chrono>
#include <iostream>

#include "compiler/frontend/RestoreParser.h"
#include "driver/Command.h"
#include "driver/RulesetLoader.h"
#include "verifier/Report.h"
#include "verifier/Verifier.h"

namespace nfjit::driver {
namespace {

class CheckCommand final : public Command {
 public:
  std::string name() const override { return "check"; }
  std::string description() const override {
    return "find shadowed rules, rules that never match and unreachable chains (with witness packets)";
  }
  int order() const override { return 20; }
  void setup(CLI::App& sub) override {
    sub.add_flag("-6,--ipv6", ipv6_, "the file is ip6tables-save output");
    auto* j = sub.add_flag("--json", json_, "findings as JSON on stdout");
    sub.add_flag("--sarif", sarif_, "findings as SARIF 2.1.0 on stdout")->excludes(j);
    sub.add_option("--witness-pcap", pcap_, "write the witness packets to FILE (raw IP, DLT 101)");
    sub.add_flag("--progress", progress_, "report progress on stderr");
    sub.add_option("RULES", file_, "rules file (- for stdin)")->required();
  }
  int run() override {
    std::string shown = file_ == "-" ? "<stdin>" : file_;
    auto loaded = loadRuleset(file_, ipv6_);
    if (!loaded) return 2;
    const Ruleset& rs = loaded->rules;
    verifier::CheckOptions opts;
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
    if (json_) std::cout << verifier::findingsJson(shown, res).dump(2) << "\n";
    else if (sarif_) std::cout << verifier::findingsSarif(shown, res).dump(2) << "\n";
    else verifier::printFindings(std::cerr, shown, res);
    if (!pcap_.empty()) {
      std::vector<const verifier::Witness*> ws;
      for (const auto& f : res.findings)
        if (f.witness) ws.push_back(&*f.witness);
      try {
        verifier::writeWitnessPcap(pcap_, ws);
      } catch (const std::exception& e) {
        std::cerr << pcap_ << ": error: " << e.what() << "\n";
        return 2;
      }
    }
    return res.findings.empty() ? 0 : 1;
  }

 private:
  bool ipv6_ = false, json_ = false, sarif_ = false, progress_ = false;
  std::string file_, pcap_;
};

NFJIT_REGISTER_COMMAND(CheckCommand);

}  // namespace
}  // namespace nfjit::driver
