#pragma once
#include <string>

namespace nfjit::driver {

struct FmtOptions {
  bool ipv6 = false;
  bool noCounters = false;
  std::string file;
};
int runFmt(const FmtOptions& o);

}  // namespace nfjit::driver
