// Basic value types shared by the IR, the runtime and the verifier.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nfjit {

enum class Family : uint8_t { IPv4 = 4, IPv6 = 6 };

// Families an extension supports.
enum FamilyMask : uint8_t { kFamV4 = 1, kFamV6 = 2, kFamBoth = 3 };
inline bool familyIn(Family f, uint8_t mask) {
  return mask & (f == Family::IPv4 ? kFamV4 : kFamV6);
}

// Netfilter hooks in the kernel's NF_INET_* numbering.
enum class Hook : uint8_t { PreRouting = 0, LocalIn = 1, Forward = 2, LocalOut = 3, PostRouting = 4 };
using HookMask = uint8_t;
constexpr HookMask hookBit(Hook h) { return HookMask(1u << unsigned(h)); }
constexpr HookMask kAllHooks = 0x1f;
std::optional<Hook> builtinChainHook(std::string_view chain);
std::string_view hookChainName(Hook h);

// An IPv4 or IPv6 address in network byte order; IPv4 uses the first 4 bytes.
struct IpAddr {
  std::array<uint8_t, 16> b{};
  bool operator==(const IpAddr&) const = default;
  uint32_t v4() const { return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]; }
  static IpAddr fromV4(uint32_t host);
};

// Parses a numeric address of the family; nullopt if it is not one.
std::optional<IpAddr> parseIpAddr(Family f, std::string_view text);
std::string formatIpAddr(Family f, const IpAddr& a);
// Mask with the first `len` bits set.
IpAddr prefixMask(Family f, unsigned len);
// Prefix length of a contiguous mask, or -1.
int maskPrefixLen(Family f, const IpAddr& mask);
IpAddr applyMask(const IpAddr& a, const IpAddr& mask);
inline unsigned addrBits(Family f) { return f == Family::IPv4 ? 32 : 128; }
inline unsigned addrBytes(Family f) { return f == Family::IPv4 ? 4 : 16; }

}  // namespace nfjit
