#include "compiler/ir/Types.h"

#include <arpa/inet.h>

namespace nfjit {

std::optional<Hook> builtinChainHook(std::string_view chain) {
  if (chain == "PREROUTING") return Hook::PreRouting;
  if (chain == "INPUT") return Hook::LocalIn;
  if (chain == "FORWARD") return Hook::Forward;
  if (chain == "OUTPUT") return Hook::LocalOut;
  if (chain == "POSTROUTING") return Hook::PostRouting;
  return std::nullopt;
}

std::string_view hookChainName(Hook h) {
  switch (h) {
    case Hook::PreRouting: return "PREROUTING";
    case Hook::LocalIn: return "INPUT";
    case Hook::Forward: return "FORWARD";
    case Hook::LocalOut: return "OUTPUT";
    case Hook::PostRouting: return "POSTROUTING";
  }
  return "?";
}

IpAddr IpAddr::fromV4(uint32_t host) {
  IpAddr a;
  a.b[0] = uint8_t(host >> 24);
  a.b[1] = uint8_t(host >> 16);
  a.b[2] = uint8_t(host >> 8);
  a.b[3] = uint8_t(host);
  return a;
}

std::optional<IpAddr> parseIpAddr(Family f, std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddr a;
  if (f == Family::IPv4) {
    // inet_pton rejects the short forms ("10.1") that inet_aton accepts and
    // iptables rejects too, so it is the right strictness here.
    if (inet_pton(AF_INET, s.c_str(), a.b.data()) != 1) return std::nullopt;
  } else {
    if (inet_pton(AF_INET6, s.c_str(), a.b.data()) != 1) return std::nullopt;
  }
  return a;
}

std::string formatIpAddr(Family f, const IpAddr& a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(f == Family::IPv4 ? AF_INET : AF_INET6, a.b.data(), buf, sizeof buf);
  return buf;
}

IpAddr prefixMask(Family f, unsigned len) {
  IpAddr m;
  unsigned bits = std::min(len, addrBits(f));
  for (unsigned i = 0; i < bits; ++i) m.b[i / 8] |= uint8_t(0x80u >> (i % 8));
  return m;
}

int maskPrefixLen(Family f, const IpAddr& mask) {
  unsigned n = addrBytes(f);
  int len = 0;
  bool seenZero = false;
  for (unsigned i = 0; i < n * 8; ++i) {
    bool bit = mask.b[i / 8] & (0x80u >> (i % 8));
    if (bit) {
      if (seenZero) return -1;
      ++len;
    } else {
      seenZero = true;
    }
  }
  return len;
}

IpAddr applyMask(const IpAddr& a, const IpAddr& mask) {
  IpAddr r;
  for (size_t i = 0; i < 16; ++i) r.b[i] = a.b[i] & mask.b[i];
  return r;
}

}  // namespace nfjit
