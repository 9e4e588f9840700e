#pragma once
#include <string>
#include <vector>

namespace nfjit::driver {

struct FmtOptions {
  bool ipv6 = false;
  bool noCounters = false;
  std::string file;
};
int runFmt(const FmtOptions& o);

}  // namespace nfjit::driver

namespace nfjit::driver {

struct ReplayOptions {
  bool ipv6 = false;
  std::string rules;
  std::string pcap;
  std::string out;
  std::string inIface = "in0";
  std::string outIface = "out0";
  std::vector<std::string> local;
  std::vector<std::string> routes;      // PREFIX/LEN=IFACE
  std::vector<std::string> ifaceAddrs;  // IFACE=ADDR
  bool noLocalReplies = false;
  std::string countersOut;
  std::string conntrackOut;
  bool trace = false;
  std::string engine = "interp";
};
int runReplay(const ReplayOptions& o);

}  // namespace nfjit::driver
