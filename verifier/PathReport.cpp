// Printing whole-path diffs (text and JSON), next to the per-chain ones of Report.cpp.
#include "verifier/PathModel.h"
#include "verifier/Report.h"

namespace nfjit::verifier {

std::string pathFateText(const PathFate& o) {
  if (o.table.empty()) return o.fate == "elsewhere" ? "routed along another path" : o.fate;
  std::string s = o.fate + " in " + o.table + " " + o.chain;
  if (o.occ < 0) s += " (policy)";
  else s += " (line " + std::to_string(o.line) + ": " + o.ruleText + ")";
  return s;
}

void printPathDiffs(std::ostream& os, const std::vector<PathDiff>& ds) {
  for (const auto& d : ds) {
    os << "path " << pathKindName(d.kind) << ": ";
    if (d.equivalent) {
      os << "equivalent\n";
      continue;
    }
    os << (d.definite ? "differs" : "possibly differs (depends on unknown matches or unmodelled targets)");
    if (!d.difference) {
      os << " (no witness: the solver gave up)\n";
      continue;
    }
    const PathDifference& x = *d.difference;
    os << " for " << x.witness.describe() << "\n";
    os << "  old: " << pathFateText(x.oldFate) << "\n";
    os << "  new: " << pathFateText(x.newFate) << "\n";
    if (!x.oldReplay.empty())
      os << "  replay: old " << x.oldReplay << ", new " << x.newReplay << (x.replayed ? " (as claimed)" : "") << "\n";
    if (!x.replayed) os << "  not replayed as claimed: " << x.replayNote << "\n";
  }
}

nlohmann::json pathDiffsJson(const std::vector<PathDiff>& ds) {
  auto fate = [](const PathFate& o) {
    nlohmann::json j{{"fate", o.fate}};
    if (!o.table.empty()) {
      j["table"] = o.table;
      j["chain"] = o.chain;
      j["label"] = o.label;
      if (o.occ >= 0) {
        j["line"] = o.line;
        j["rule"] = o.ruleText;
      }
    }
    return j;
  };
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : ds) {
    nlohmann::json j{{"path", pathKindName(d.kind)}, {"equivalent", d.equivalent}, {"definite", d.definite}};
    if (d.difference) {
      const PathDifference& x = *d.difference;
      j["witness"] = witnessJson(x.witness);
      j["old"] = fate(x.oldFate);
      j["new"] = fate(x.newFate);
      j["oldReplay"] = x.oldReplay;
      j["newReplay"] = x.newReplay;
      j["replayed"] = x.replayed;
      if (!x.replayNote.empty()) j["replayNote"] = x.replayNote;
    }
    arr.push_back(std::move(j));
  }
  return arr;
}

}  // namespace nfjit::verifier
