#include "compiler/ir/Diagnostics.h"

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
  size_t errors = 0, hidden = 0;
  for (const auto& d : diags_) {
    if (d.severity == Severity::Error && ++errors > limit) {
      ++hidden;
      continue;
    }
    os << format(d) << '\n';
  }
  if (hidden) os << file_ << ": note: " << hidden << " more errors not shown\n";
}

}  // namespace nfjit
