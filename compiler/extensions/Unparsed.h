// Permissive loading (`--permissive`): an option that fails to parse or
// validate is kept as an opaque "unparsed" match carrying its original
// words, so that the verifier can still analyse the rest of the rule (as an
// unknown). It is never registered under a name: no rules file can ask for
// it, and nothing evaluates it silently.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "compiler/ir/Ruleset.h"

namespace nfjit {

class UnparsedMatch final : public MatchExt {
 public:
  // `text`: the words as written (printed back verbatim); `failed`: the
  // option that failed, for messages; `error`: why.
  UnparsedMatch(std::string text, std::string failed, std::string error, SourceLoc loc);
  std::string_view name() const override { return "unparsed"; }
  std::span<const OptionSpec> options() const override { return {}; }
  void parseOption(const OptionArg&) override {}
  void save(SaveWriter& w) const override;
  // Throws unless an UnparsedAssumption is in scope: a packet's fate must
  // never silently depend on a match nobody could read.
  bool match(EvalContext& ctx) const override;
  const std::string& text() const { return text_; }
  const std::string& failed() const { return failed_; }
  const std::string& error() const { return error_; }
  SourceLoc loc() const { return loc_; }

 private:
  std::string text_, failed_, error_;
  SourceLoc loc_;
};

// While alive, unparsed matches on this thread evaluate to what `decide`
// says (the verifier replays a witness under the values its model chose).
class UnparsedAssumption {
 public:
  explicit UnparsedAssumption(std::function<bool(const UnparsedMatch&)> decide);
  ~UnparsedAssumption();
  UnparsedAssumption(const UnparsedAssumption&) = delete;
  UnparsedAssumption& operator=(const UnparsedAssumption&) = delete;

 private:
  std::function<bool(const UnparsedMatch&)> decide_;
  const std::function<bool(const UnparsedMatch&)>* prev_;
};

// "FILE-relative" description of the first unparsed match, e.g.
// "line 12: unparsed --mac-source XX:XX:XX:XX:XX:XX"; nullopt when none.
// Engines that evaluate packets refuse such a ruleset with it.
std::optional<std::string> firstUnparsed(const Ruleset& rs);

}  // namespace nfjit
