// nfjit-verify-bench: times `check` and `diff` on large rulesets, loaded in
// permissive mode (the largest corpus files are anonymised and rejected by
// iptables-restore). Prints seconds, rules, findings and solver calls.
//
//   nfjit-verify-bench check [-6] [--json] FILE...
//   nfjit-verify-bench diff  [-6] [--json] OLD NEW
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/RestoreParser.h"
#include "verifier/Verifier.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Loaded {
  nfjit::Ruleset rs;
  size_t rules = 0, warnings = 0;
  double seconds = 0;
};

std::optional<Loaded> load(const std::string& path, bool v6) {
  auto t0 = Clock::now();
  nfjit::DiagnosticEngine diags(path);
  auto text = nfjit::readInputFile(path, diags);
  if (!text) {
    diags.print(std::cerr);
    return std::nullopt;
  }
  nfjit::ParseOptions po;
  po.family = v6 ? nfjit::Family::IPv6 : nfjit::Family::IPv4;
  po.permissive = true;
  Loaded out;
  out.rs = nfjit::parseRestore(*text, po, diags);
  if (diags.hasErrors()) {
    diags.print(std::cerr, 5);
    return std::nullopt;
  }
  for (const auto& d : diags.diagnostics()) out.warnings += d.severity == nfjit::Severity::Warning;
  for (const auto& t : out.rs.tables)
    for (const auto& c : t.chains) out.rules += c.rules.size();
  out.seconds = since(t0);
  return out;
}

int usage() {
  std::cerr << "usage: nfjit-verify-bench check [-6] [--json] FILE...\n"
               "       nfjit-verify-bench diff [-6] [--json] OLD NEW\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  std::string mode = argv[1];
  bool v6 = false, json = false;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-6")) v6 = true;
    else if (!std::strcmp(argv[i], "--json")) json = true;
    else files.push_back(argv[i]);
  }
  nlohmann::json runs = nlohmann::json::array();
  if (mode == "check") {
    if (files.empty()) return usage();
    for (const auto& f : files) {
      auto l = load(f, v6);
      if (!l) return 2;
      auto t0 = Clock::now();
      nfjit::verifier::CheckOptions opts;
      auto res = nfjit::verifier::checkRuleset(l->rs, opts);
      double s = since(t0);
      std::map<std::string, size_t> byName;
      for (const auto& x : res.findings) ++byName[x.name];
      nlohmann::json r = {{"command", "check"}, {"file", f},           {"rules", l->rules},
                          {"load_seconds", l->seconds},               {"check_seconds", s},
                          {"findings", res.findings.size()},          {"by_name", byName},
                          {"solver_calls", res.stats.solverCalls},    {"pruned", res.stats.pruned},
                          {"permissive_warnings", l->warnings}};
      runs.push_back(r);
      if (!json) {
        std::cout << "check " << f << ": " << l->rules << " rules, load " << l->seconds << " s, check " << s
                  << " s, " << res.findings.size() << " findings";
        for (const auto& [n, c] : byName) std::cout << " " << n << "=" << c;
        std::cout << ", " << res.stats.solverCalls << " solver calls, " << res.stats.pruned << " decided without the solver, "
                  << l->warnings << " permissive warnings\n";
      }
    }
  } else if (mode == "diff") {
    if (files.size() != 2) return usage();
    auto a = load(files[0], v6), b = load(files[1], v6);
    if (!a || !b) return 2;
    auto t0 = Clock::now();
    nfjit::verifier::DiffStats st;
    auto ds = nfjit::verifier::diffRulesets(a->rs, b->rs, "filter", &st);
    double s = since(t0);
    size_t differing = 0, differences = 0;
    for (const auto& d : ds) {
      differing += !d.equivalent;
      differences += d.differences.size();
    }
    nlohmann::json r = {{"command", "diff"},         {"old", files[0]},
                        {"new", files[1]},            {"rules", a->rules + b->rules},
                        {"load_seconds", a->seconds + b->seconds}, {"diff_seconds", s},
                        {"chains", ds.size()},        {"chains_differing", differing},
                        {"differences", differences}, {"solver_calls", st.solverCalls},
                        {"solver_timeouts", st.timeouts}, {"probed_differences", st.probed}};
    runs.push_back(r);
    if (!json)
      std::cout << "diff " << files[0] << " " << files[1] << ": " << a->rules << "+" << b->rules << " rules, diff " << s
                << " s, " << ds.size() << " chains, " << differing << " differing, " << differences
                << " differences (" << st.probed << " by concrete probes), " << st.solverCalls << " solver calls, "
                << st.timeouts << " timeouts\n";
  } else {
    return usage();
  }
  if (json) std::cout << runs.dump(2) << "\n";
  return 0;
}
