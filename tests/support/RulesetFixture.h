// A ruleset from iptables-save text that a test expects to parse cleanly.
// Header-only because it uses gtest's EXPECT, which the support library
// (also linked into tools) does not link.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "compiler/frontend/RestoreParser.h"

namespace nfjit::testsupport {

inline Ruleset parseRules(const std::string& text, Family f = Family::IPv4) {
  DiagnosticEngine d("test");
  ParseOptions po;
  po.family = f;
  Ruleset rs = parseRestore(text, po, d);
  std::string all;
  for (const auto& x : d.diagnostics()) all += d.format(x) + "\n";
  EXPECT_FALSE(d.hasErrors()) << all << text;
  return rs;
}

}  // namespace nfjit::testsupport
