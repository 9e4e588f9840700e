#include "bench/Trace.h"

#include <arpa/inet.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nfjit::bench {

static uint32_t parseV4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) throw std::runtime_error("bad address " + s);
  return ntohl(a.s_addr);
}

std::vector<CanonRule> loadCanon(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<CanonRule> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    CanonRule r{};
    std::string sip, dip;
    long splo, sphi, dplo, dphi;
    if (!(f >> r.id >> sip >> r.slen >> dip >> r.dlen >> splo >> sphi >> dplo >> dphi >> r.proto)) continue;
    r.sip = parseV4(sip);
    r.dip = parseV4(dip);
    r.splo = uint16_t(splo), r.sphi = uint16_t(sphi), r.dplo = uint16_t(dplo), r.dphi = uint16_t(dphi);
    out.push_back(r);
  }
  return out;
}

std::vector<Packet> loadTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<Packet> out;
  uint64_t sip, dip, sport, dport, proto, flags, aimed;
  while (in >> sip >> dip >> sport >> dport >> proto >> flags >> aimed)
    out.push_back({uint32_t(sip), uint32_t(dip), uint16_t(sport), uint16_t(dport), uint8_t(proto)});
  return out;
}

std::vector<int32_t> loadMatches(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<int32_t> out;
  long v;
  while (in >> v) out.push_back(int32_t(v));
  return out;
}

std::vector<int32_t> iptablesRuleIds(const std::vector<CanonRule>& rules) {
  std::vector<int32_t> ids;
  for (const auto& r : rules) {
    bool ports = !(r.splo == 0 && r.sphi == 65535 && r.dplo == 0 && r.dphi == 65535);
    ids.push_back(r.id);
    if (r.proto == -1 && ports) ids.push_back(r.id);
  }
  return ids;
}

}  // namespace nfjit::bench
