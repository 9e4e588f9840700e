#include "compiler/ir/Diagnostics.h"

#include <unordered_map>

namespace nfjit {

bool DiagnosticEngine::hasErrors() const {
  for (const auto& d : diags_)
    if (d.severity == Severity::Error) return true;
  return false;
}

std::string DiagnosticEngine::format(const Diagnostic& d) const {
  std::string out = file_;
  if (d.loc.line) {
    out += ':' + std::to_string(d.loc.line);
    if (d.loc.col) out += ':' + std::to_string(d.loc.col);
  }
  switch (d.severity) {
    case Severity::Error: out += ": error: "; break;
    case Severity::Warning: out += ": warning: "; break;
    case Severity::Note: out += ": note: "; break;
  }
  out += d.message;
  if (!d.flag.empty()) out += " [-W" + d.flag + "]";
  return out;
}

void DiagnosticEngine::print(std::ostream& os, size_t limit) const {
  // A warning repeated word for word (permissive loading of an anonymised
  // dump warns thousands of times about one option) is shown a few times,
  // then counted once.
  constexpr size_t kSameWarningShown = 3;
  struct Repeats {
    size_t seen = 0;
    uint32_t lastHiddenLine = 0;
  };
  std::unordered_map<std::string, Repeats> warnings;
  std::vector<std::string> repeatedInOrder;
  size_t errors = 0, hidden = 0;
  for (const auto& d : diags_) {
    if (d.severity == Severity::Error && ++errors > limit) {
      ++hidden;
      continue;
    }
    if (d.severity == Severity::Warning) {
      Repeats& r = warnings[d.message];
      if (++r.seen > kSameWarningShown) {
        if (r.seen == kSameWarningShown + 1) repeatedInOrder.push_back(d.message);
        r.lastHiddenLine = d.loc.line;
        continue;
      }
    }
    os << format(d) << '\n';
  }
  for (const auto& m : repeatedInOrder) {
    const Repeats& r = warnings[m];
    os << file_ << ": note: " << r.seen - kSameWarningShown << " more warnings `" << m << "' not shown (the last at line "
       << r.lastHiddenLine << ")\n";
  }
  if (hidden) os << file_ << ": note: " << hidden << " more errors not shown\n";
}

}  // namespace nfjit
