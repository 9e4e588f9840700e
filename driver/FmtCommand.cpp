// nfjit fmt: parse into the IR and print back canonically.
#include <iostream>

#include "compiler/frontend/Printer.h"
#include "driver/Command.h"
#include "driver/RulesetLoader.h"

namespace nfjit::driver {
namespace {

class FmtCommand final : public Command {
 public:
  std::string name() const override { return "fmt"; }
  std::string description() const override { return "print the ruleset in canonical iptables-save form"; }
  int order() const override { return 10; }
  void setup(CLI::App& sub) override {
    sub.add_flag("-6,--ipv6", ipv6_, "the file is ip6tables-save output");
    sub.add_flag("--no-counters", noCounters_, "leave out [packets:bytes] rule counters");
    sub.add_flag("--permissive", permissive_,
                 "keep options that fail to parse as written (warnings), drop rules with bad targets");
    sub.add_option("RULES", file_, "rules file (- for stdin)")->required();
  }
  int run() override {
    auto loaded = loadRuleset(file_, ipv6_, permissive_);
    if (!loaded) return 2;
    PrintOptions pr;
    pr.ruleCounters = !noCounters_;
    std::cout << printRuleset(loaded->rules, pr);
    return 0;
  }

 private:
  bool ipv6_ = false, noCounters_ = false, permissive_ = false;
  std::string file_;
};

NFJIT_REGISTER_COMMAND(FmtCommand);

}  // namespace
}  // namespace nfjit::driver
