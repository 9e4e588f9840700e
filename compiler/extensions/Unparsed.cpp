#include "compiler/extensions/Unparsed.h"

#include <stdexcept>

#include "compiler/ir/SaveWriter.h"

namespace nfjit {

namespace {
thread_local const std::function<bool(const UnparsedMatch&)>* tlDecide = nullptr;
}

UnparsedMatch::UnparsedMatch(std::string text, std::string failed, std::string error, SourceLoc loc)
    : text_(std::move(text)), failed_(std::move(failed)), error_(std::move(error)), loc_(loc) {}

void UnparsedMatch::save(SaveWriter& w) const { w.raw(" ").raw(text_); }

bool UnparsedMatch::match(EvalContext&) const {
  if (tlDecide) return (*tlDecide)(*this);
  throw std::logic_error("line " + std::to_string(loc_.line) + ": unparsed " + failed_ +
                         " cannot be evaluated (the ruleset was loaded with --permissive)");
}

UnparsedAssumption::UnparsedAssumption(std::function<bool(const UnparsedMatch&)> decide)
    : decide_(std::move(decide)), prev_(tlDecide) {
  tlDecide = &decide_;
}

UnparsedAssumption::~UnparsedAssumption() { tlDecide = prev_; }

std::optional<std::string> firstUnparsed(const Ruleset& rs) {
  for (const auto& t : rs.tables)
    for (const auto& ch : t.chains)
      for (const auto& r : ch.rules)
        for (const auto& m : r.matches)
          if (const auto* u = dynamic_cast<const UnparsedMatch*>(m.ext.get()))
            return "line " + std::to_string(u->loc().line) + ": unparsed " + u->failed();
  return std::nullopt;
}

}  // namespace nfjit
