#include "compiler/extensions/ArgParse.h"

#include <netdb.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace nfjit::args {

std::optional<uint64_t> parseUInt(std::string_view s, uint64_t lo, uint64_t hi) {
  if (s.empty() || s.size() > 40) return std::nullopt;
  // strtoull accepts leading whitespace and '-'; libxtables rejects values
  // that wrap, so do the same by refusing a sign.
  if (!std::isalnum(static_cast<unsigned char>(s[0]))) return std::nullopt;
  std::string tmp(s);
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(tmp.c_str(), &end, 0);
  if (errno != 0 || end == tmp.c_str() || *end != '\0') return std::nullopt;
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

uint64_t uintOrFail(const OptionArg& a, std::string_view s, uint64_t lo, uint64_t hi) {
  if (auto v = parseUInt(s, lo, hi)) return *v;
  a.fail("invalid value `" + std::string(s) + "' for --" + std::string(a.name) + " (expected " +
         std::to_string(lo) + "-" + std::to_string(hi) + ")");
}

Range rangeOrFail(const OptionArg& a, std::string_view s, uint64_t lo, uint64_t hi, char sep) {
  Range r{lo, hi};
  auto pos = s.find(sep);
  if (pos == std::string_view::npos) {
    r.lo = r.hi = uintOrFail(a, s, lo, hi);
    return r;
  }
  auto first = s.substr(0, pos), second = s.substr(pos + 1);
  if (!first.empty()) r.lo = uintOrFail(a, first, lo, hi);
  if (!second.empty()) r.hi = uintOrFail(a, second, lo, hi);
  if (r.lo > r.hi)
    a.fail("invalid range `" + std::string(s) + "' for --" + std::string(a.name) +
           ": start is above end");
  return r;
}

std::optional<uint16_t> parsePort(std::string_view s, const char* proto) {
  if (auto v = parseUInt(s, 0, 65535)) return static_cast<uint16_t>(*v);
  if (s.empty() || s.size() > 64 || std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-')
    return std::nullopt;
  static std::mutex mu;  // getservbyname is not reentrant
  std::lock_guard<std::mutex> lock(mu);
  std::string name(s);
  const servent* se = getservbyname(name.c_str(), proto);
  if (!se) return std::nullopt;
  return static_cast<uint16_t>(ntohs(static_cast<uint16_t>(se->s_port)));
}

uint16_t portOrFail(const OptionArg& a, std::string_view s, const char* proto) {
  if (auto p = parsePort(s, proto)) return *p;
  a.fail("invalid port/service `" + std::string(s) + "' specified for --" + std::string(a.name));
}

Range portRangeOrFail(const OptionArg& a, std::string_view s, const char* proto) {
  Range r{0, 65535};
  auto pos = s.find(':');
  if (pos == std::string_view::npos) {
    r.lo = r.hi = portOrFail(a, s, proto);
    return r;
  }
  auto first = s.substr(0, pos), second = s.substr(pos + 1);
  if (!first.empty()) r.lo = portOrFail(a, first, proto);
  if (!second.empty()) r.hi = portOrFail(a, second, proto);
  if (r.lo > r.hi)
    a.fail("invalid port range `" + std::string(s) + "' for --" + std::string(a.name) +
           ": start is above end");
  return r;
}

std::string formatRange(const Range& r, char sep) {
  if (r.lo == r.hi) return std::to_string(r.lo);
  return std::to_string(r.lo) + sep + std::to_string(r.hi);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

ValueMask valueMaskOrFail(const OptionArg& a, std::string_view s) {
  ValueMask vm;
  auto pos = s.find('/');
  vm.value = static_cast<uint32_t>(uintOrFail(a, s.substr(0, pos), 0, UINT32_MAX));
  if (pos != std::string_view::npos) {
    vm.mask = static_cast<uint32_t>(uintOrFail(a, s.substr(pos + 1), 0, UINT32_MAX));
    vm.hasMask = true;
  }
  return vm;
}

// libxtables' IPv4 parser: up to four dot-separated bytes, each strtoul base
// 0; fewer than four fill with zeros (a network address: "10" is 10.0.0.0).
static std::optional<IpAddr> parseV4Loose(std::string_view s, bool isMask) {
  auto parts = split(s, '.');
  if (parts.size() > 4 || (isMask && parts.size() != 4)) return std::nullopt;
  IpAddr a;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto v = parseUInt(parts[i], 0, 255);
    if (!v) return std::nullopt;
    a.b[i] = static_cast<uint8_t>(*v);
  }
  return a;
}

std::optional<AddrMask> parseAddrMask(Family f, std::string_view s) {
  AddrMask am;
  auto pos = s.find('/');
  auto addrPart = s.substr(0, pos);
  std::optional<IpAddr> addr =
      f == Family::IPv4 ? parseV4Loose(addrPart, false) : parseIpAddr(f, addrPart);
  if (!addr) return std::nullopt;
  if (pos == std::string_view::npos) {
    am.mask = prefixMask(f, addrBits(f));
  } else {
    auto maskPart = s.substr(pos + 1);
    bool dotted = f == Family::IPv4 ? maskPart.find('.') != std::string_view::npos
                                    : maskPart.find(':') != std::string_view::npos;
    if (dotted) {
      auto m = f == Family::IPv4 ? parseV4Loose(maskPart, true) : parseIpAddr(f, maskPart);
      if (!m) return std::nullopt;
      am.mask = *m;
    } else {
      auto len = parseUInt(maskPart, 0, addrBits(f));
      if (!len) return std::nullopt;
      am.mask = prefixMask(f, static_cast<unsigned>(*len));
    }
  }
  am.addr = applyMask(*addr, am.mask);
  return am;
}

AddrMask addrMaskOrFail(const OptionArg& a, Family f, std::string_view s) {
  if (auto am = parseAddrMask(f, s)) return *am;
  a.fail("host/network `" + std::string(s) + "' not found (numeric " +
         (f == Family::IPv4 ? "IPv4" : "IPv6") + " address[/mask] expected)");
}

IpAddr addrOrFail(const OptionArg& a, Family f, std::string_view s) {
  if (auto ip = parseIpAddr(f, s)) return *ip;
  a.fail("bad " + std::string(f == Family::IPv4 ? "IPv4" : "IPv6") + " address `" +
         std::string(s) + "' for --" + std::string(a.name));
}

namespace {
struct ProtoName {
  const char* name;
  uint16_t num;
};
// iptables' built-in protocol names, looked up before /etc/protocols.
constexpr ProtoName kChainProtos[] = {
    {"tcp", 6},  {"sctp", 132}, {"udp", 17}, {"udplite", 136}, {"icmp", 1}, {"ipv6-icmp", 58},
    {"icmpv6", 58}, {"esp", 50}, {"ah", 51},  {"mobility-header", 135}, {"ipv6-mh", 135}, {"mh", 135},
    {"dccp", 33},   {"ipcomp", 108}, {"all", 0},
};
}  // namespace

std::optional<uint16_t> parseProtocol(std::string_view s) {
  if (auto v = parseUInt(s, 0, 255)) return static_cast<uint16_t>(*v);
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string lower(s);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& p : kChainProtos)
    if (lower == p.name) return p.num;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (const protoent* pe = getprotobyname(lower.c_str())) return static_cast<uint16_t>(pe->p_proto);
  return std::nullopt;
}

std::string protocolName(uint16_t proto, Family) {
  // /etc/protocols first, as current iptables does (135 prints as
  // "mobility-header"); the built-in names cover machines without the file.
  {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    if (const protoent* pe = getprotobynumber(proto)) return pe->p_name;
  }
  for (const auto& p : kChainProtos)
    if (p.num == proto) return p.name;
  return std::to_string(proto);
}

}  // namespace nfjit::args
