#include "compiler/extensions/tgt_nat.h"

#include <cctype>

#include "compiler/extensions/tgt_util.h"

namespace nfjit::tgt {

void parseNatPorts(const OptionArg& a, std::string_view s, NatRange& r) {
  r.protoSpecified = true;
  r.portLoc = a.valueLoc;
  uint64_t port = 0;
  std::string_view rest;
  if (!prefixUInt(s, 0, 65535, port, rest)) {
    // Not numeric: the whole word is a service name (so "ftp-data" works).
    auto p = args::parsePort(s, nullptr);
    if (!p) a.fail("port `" + std::string(s) + "' not valid in --" + std::string(a.name));
    port = *p;
    rest = {};
  }
  if (rest.empty()) {
    r.minPort = r.maxPort = static_cast<uint16_t>(port);
    return;
  }
  if (rest[0] == ':') a.fail("invalid port:port syntax in --" + std::string(a.name) + " (use a dash)");
  if (rest[0] != '-')
    a.fail("garbage after port value: `" + std::string(rest) + "' in --" + std::string(a.name));
  // The upper end of a range must be numeric.
  uint64_t maxPort = 0;
  std::string_view after;
  if (!prefixUInt(rest.substr(1), 0, 65535, maxPort, after))
    a.fail("port `" + std::string(rest.substr(1)) + "' not valid in --" + std::string(a.name));
  if (maxPort < port)
    a.fail("port range `" + std::string(s) + "' in --" + std::string(a.name) + " has its start above its end");
  r.minPort = static_cast<uint16_t>(port);
  r.maxPort = static_cast<uint16_t>(maxPort);
  if (after.empty()) return;
  if (after[0] != '/')
    a.fail("garbage after port range: `" + std::string(after) + "' in --" + std::string(a.name));
  auto baseText = after.substr(1);
  uint64_t base = 0;
  std::string_view tail;
  if (!prefixUInt(baseText, 1, 65535, base, tail)) {
    // A number out of range (0 included) is no service name either.
    bool numeric = !baseText.empty() && std::isdigit(static_cast<unsigned char>(baseText[0]));
    auto p = numeric ? std::nullopt : args::parsePort(baseText, nullptr);
    if (!p) a.fail("port `" + std::string(baseText) + "' not valid in --" + std::string(a.name));
    base = *p;
  }
  r.protoOffset = true;
  r.basePort = static_cast<uint16_t>(base);
}

void parseNatTo(const OptionArg& a, Family f, std::string_view s, NatRange& r) {
  std::string_view addrPart;
  std::optional<std::string_view> ports;
  bool onlyPorts = false;
  if (auto lb = s.find('['); lb == std::string_view::npos) {
    // One colon means ports; more than one is an IPv6 address.
    auto colon = s.find(':');
    if (colon != std::string_view::npos && s.find(':', colon + 1) != std::string_view::npos)
      colon = std::string_view::npos;
    addrPart = s.substr(0, colon);
    if (colon != std::string_view::npos) {
      ports = s.substr(colon + 1);
      onlyPorts = colon == 0;
    }
  } else {
    auto rb = s.find(']', lb + 1);
    if (rb == std::string_view::npos || f == Family::IPv4)
      a.fail("invalid address format `" + std::string(s) + "' in --" + std::string(a.name));
    addrPart = s.substr(lb + 1, rb - lb - 1);
    auto colon = s.find(':', rb + 1);
    if (colon != std::string_view::npos) {
      ports = s.substr(colon + 1);
      onlyPorts = colon == 2;  // "[]:ports"
    }
  }
  if (ports) {
    parseNatPorts(a, *ports, r);
    if (onlyPorts) return;
  }
  r.mapIps = true;
  auto dash = addrPart.find('-');
  auto first = addrPart.substr(0, dash);
  auto one = parseIpAddr(f, first);
  if (!one) a.fail("bad IP address `" + std::string(first) + "' in --" + std::string(a.name));
  r.minAddr = r.maxAddr = *one;
  if (dash != std::string_view::npos) {
    auto second = addrPart.substr(dash + 1);
    auto two = parseIpAddr(f, second);
    if (!two) a.fail("bad IP address `" + std::string(second) + "' in --" + std::string(a.name));
    r.maxAddr = *two;
  }
}

std::string formatNatRange(Family f, const NatRange& r, bool skipColon) {
  std::string out;
  bool brackets = f == Family::IPv6 && r.protoSpecified;
  if (r.mapIps) {
    if (brackets) out += '[';
    out += formatIpAddr(f, r.minAddr);
    if (!(r.minAddr == r.maxAddr)) out += "-" + formatIpAddr(f, r.maxAddr);
    if (brackets) out += ']';
  }
  if (r.protoSpecified) {
    if (!(out.empty() && skipColon)) out += ':';
    out += std::to_string(r.minPort);
    if (r.maxPort != r.minPort) out += "-" + std::to_string(r.maxPort);
    if (r.protoOffset) out += "/" + std::to_string(r.basePort);
  }
  return out;
}

void saveNatFlags(SaveWriter& w, const NatRange& r) {
  if (r.random) w.opt("random");
  if (r.fullyRandom) w.opt("random-fully");
  if (r.persistent) w.opt("persistent");
}

void checkNatPorts(const RuleContext& ctx, const NatRange& r) {
  if (!r.protoSpecified) return;
  // iptables looks at the protocol number only, inverted or not.
  switch (ctx.proto) {
    case 6: case 17: case 132: case 33: case 1: return;
    default:
      throw ParseError(r.portLoc, "need TCP, UDP, SCTP or DCCP with port specification (`-p tcp' ...)");
  }
}

NatRequest natRequest(NatRequest::Kind k, const NatRange& r) {
  NatRequest n;
  n.kind = k;
  n.hasAddr = r.mapIps;
  n.minAddr = r.minAddr;
  n.maxAddr = r.maxAddr;
  n.hasPorts = r.protoSpecified;
  n.minPort = r.minPort;
  n.maxPort = r.maxPort;
  n.portOffset = r.protoOffset;
  n.basePort = r.basePort;
  n.random = r.random;
  n.fullyRandom = r.fullyRandom;
  n.persistent = r.persistent;
  return n;
}

}  // namespace nfjit::tgt
