#include "driver/HostOptions.h"

#include <iostream>

#include "compiler/extensions/ArgParse.h"

namespace nfjit::driver {

bool HostOptions::any() const {
  for (const auto* o : given)
    if (o->count() > 0) return true;
  return false;
}

void addHostOptions(CLI::App& s, HostOptions& o) {
  o.given.push_back(s.add_option("--in-iface", o.inIface, "interface the packets arrive on")->capture_default_str());
  o.given.push_back(s.add_option("--out-iface", o.outIface, "interface forwarded packets leave by (the default route)")
                        ->capture_default_str());
  o.given.push_back(
      s.add_option("--local", o.local, "an address of this host (repeatable): packets to it take the INPUT path")
                        ->expected(1)
                        ->allow_extra_args(false)
                        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
  o.given.push_back(s.add_option("--route", o.routes,
                                 "a connected network PREFIX/LEN=IFACE (repeatable); everything else routes to "
                                 "--out-iface")
                        ->expected(1)
                        ->allow_extra_args(false)
                        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
}

std::optional<HostModel> makeHostModel(const HostOptions& o, Family family, const std::string& cmd) {
  HostModel host;
  host.inIface = o.inIface;
  host.outIface = o.outIface;
  const char* famName = family == Family::IPv6 ? "IPv6" : "IPv4";
  for (const auto& name : {o.inIface, o.outIface})
    if (name.empty() || name.size() > 15 || name.find('+') != std::string::npos) {
      std::cerr << "nfjit " << cmd << ": error: interface name `" << name
                << "' must be 1 to 15 characters without '+'\n";
      return std::nullopt;
    }
  for (const auto& a : o.local) {
    auto ip = parseIpAddr(family, a);
    if (!ip) {
      std::cerr << "nfjit " << cmd << ": error: --local `" << a << "' is not an " << famName << " address\n";
      return std::nullopt;
    }
    host.localAddrs.push_back(*ip);
  }
  for (const auto& r : o.routes) {
    auto eq = r.find('=');
    auto slash = r.find('/');
    std::optional<IpAddr> net;
    std::optional<uint64_t> len;
    if (eq != std::string::npos && slash != std::string::npos && slash < eq) {
      net = parseIpAddr(family, r.substr(0, slash));
      len = args::parseUInt(r.substr(slash + 1, eq - slash - 1), 0, addrBits(family));
    }
    if (!net || !len || eq + 1 >= r.size()) {
      std::cerr << "nfjit " << cmd << ": error: --route `" << r << "' is not PREFIX/LEN=IFACE for " << famName << "\n";
      return std::nullopt;
    }
    host.routes.push_back({*net, unsigned(*len), r.substr(eq + 1)});
  }
  return host;
}

}  // namespace nfjit::driver
