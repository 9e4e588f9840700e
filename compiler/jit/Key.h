// The packet key the generated code reads: the fields the JIT lowers,
// extracted once per traversal. Generated code addresses it by the byte
// offsets below, so the layout is part of the ABI between the two.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/packet/PacketView.h"

namespace nfjit::jit {

struct JitKey {
  uint32_t src[4];    // host-order words; IPv4 in src[0]
  uint32_t dst[4];
  uint32_t proto;
  uint32_t sport, dport;  // 0 unless TCP/UDP with a readable header
  uint32_t tcpFlags;
  uint32_t frag;      // 1 for non-first fragments
  uint32_t pad;
  uint64_t inMask;    // bit i: interface pattern i matches the in interface
  uint64_t outMask;
};

constexpr unsigned kOffSrc = offsetof(JitKey, src), kOffDst = offsetof(JitKey, dst),
                   kOffProto = offsetof(JitKey, proto), kOffSport = offsetof(JitKey, sport),
                   kOffDport = offsetof(JitKey, dport), kOffTcpFlags = offsetof(JitKey, tcpFlags),
                   kOffFrag = offsetof(JitKey, frag), kOffInMask = offsetof(JitKey, inMask),
                   kOffOutMask = offsetof(JitKey, outMask);

// Interface patterns (with '+' wildcards) the rules use; at most 64 per
// direction are lowered, rules with more go back to the interpreter's check.
struct IfacePatterns {
  std::vector<std::string> in, out;
};

// Fills `k` from `p`. Returns false when the packet needs the slow path:
// an IPv6 header walk that failed, or a TCP/UDP packet whose ports the
// matches cannot read (later fragment, truncated header) — those set
// hotdrop in match(), which only the interpreter's path reproduces.
bool extractKey(const PacketView& p, const IfacePatterns& pats, JitKey& k);

}  // namespace nfjit::jit
