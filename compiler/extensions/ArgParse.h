// Value parsers shared by extensions, with the strictness of libxtables:
// numbers are strtoul base 0 (so 0x10 and 010 work), whole-string, in range.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/Extension.h"
#include "compiler/ir/Types.h"

namespace nfjit::args {

std::optional<uint64_t> parseUInt(std::string_view s, uint64_t lo = 0, uint64_t hi = UINT64_MAX);
// Fails with "invalid value `S' for --NAME (LO-HI)".
uint64_t uintOrFail(const OptionArg& a, std::string_view s, uint64_t lo, uint64_t hi);
inline uint64_t uintOrFail(const OptionArg& a, uint64_t lo, uint64_t hi) {
  return uintOrFail(a, a.value, lo, hi);
}

struct Range {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Range&) const = default;
};
// "a", "a:b", ":b", "a:", ":" (missing ends default to lo/hi); fails when a > b.
Range rangeOrFail(const OptionArg& a, std::string_view s, uint64_t lo, uint64_t hi, char sep = ':');

// A port number or a service name from /etc/services for `proto` (may be null).
std::optional<uint16_t> parsePort(std::string_view s, const char* proto);
uint16_t portOrFail(const OptionArg& a, std::string_view s, const char* proto);
// "p", "p:q", ":q", "p:" with names allowed; fails when p > q.
Range portRangeOrFail(const OptionArg& a, std::string_view s, const char* proto);
// Prints a port range the way iptables-save does: "p" when p == q, else "p:q".
std::string formatRange(const Range& r, char sep = ':');

// Splits on a separator without dropping empty fields.
std::vector<std::string_view> split(std::string_view s, char sep);

struct ValueMask {
  uint32_t value = 0, mask = 0xffffffff;
  bool hasMask = false;
};
// "value[/mask]" as in --mark, --set-xmark.
ValueMask valueMaskOrFail(const OptionArg& a, std::string_view s);

struct AddrMask {
  IpAddr addr, mask;
};
// "addr[/len|/mask]", numeric only (no DNS), host bits cleared.
std::optional<AddrMask> parseAddrMask(Family f, std::string_view s);
AddrMask addrMaskOrFail(const OptionArg& a, Family f, std::string_view s);
// A plain numeric address of the family.
IpAddr addrOrFail(const OptionArg& a, Family f, std::string_view s);

// Protocol number from a name or number (-p semantics, lower-cased names).
std::optional<uint16_t> parseProtocol(std::string_view s);
// Name iptables-save prints for a protocol, or its number.
std::string protocolName(uint16_t proto, Family f);

}  // namespace nfjit::args
