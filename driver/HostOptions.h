// The host options shared by replay, check, diff and query: --in-iface,
// --out-iface, --local, --route. The same options give the same
// nfjit::HostModel, so the analyses' witnesses replay as they claim.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/pipeline/HookPipeline.h"

namespace nfjit::driver {

struct HostOptions {
  std::string inIface = "in0";
  std::string outIface = "out0";
  std::vector<std::string> local;
  std::vector<std::string> routes;  // PREFIX/LEN=IFACE
  std::vector<CLI::Option*> given;  // to tell whether any was used
  bool any() const;
};

void addHostOptions(CLI::App& app, HostOptions& o);

// Parses the addresses for `family`; on a bad value prints
// "nfjit CMD: error: --opt `value' ..." and returns nullopt.
std::optional<HostModel> makeHostModel(const HostOptions& o, Family family, const std::string& cmd);

}  // namespace nfjit::driver
