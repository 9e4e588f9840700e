// -m comment: no effect on packets, up to 255 characters of text.
#include "compiler/extensions/ExtensionApi.h"
#include "compiler/ir/Lowering.h"

namespace nfjit {
namespace {

class CommentMatch final : public MatchExt {
 public:
  explicit CommentMatch(Family) {}
  std::string_view name() const override { return "comment"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"comment", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    if (a.value.size() > 255) a.fail("--comment is " + std::to_string(a.value.size()) + " characters long, at most 255 allowed");
    text_ = a.value;
    set_ = true;
  }
  void finalCheck(const RuleContext& ctx) override {
    if (!set_) ctx.fail("comment match requires --comment");
  }
  void save(SaveWriter& w) const override { w.opt("comment").str(text_); }
  bool lower(LoweringContext&) const override { return true; }
  bool match(EvalContext&) const override { return true; }

  std::string text_;
  bool set_ = false;
};

}  // namespace

NFJIT_REGISTER_MATCH("comment", kFamBoth, CommentMatch);

}  // namespace nfjit
