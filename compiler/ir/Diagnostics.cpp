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

void DiagnosticEngine::print(std::ostream& os) const {
  for (const auto& d : diags_) os << format(d) << '\n';
}

}  // namespace nfjit
