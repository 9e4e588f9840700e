// The interface through which extensions describe their match as a formula
// over a symbolic packet, for the verifier. It is abstract so that the
// compiler core does not depend on the solver: the verifier implements it
// with Z3. Terms are opaque handles owned by the context.
#pragma once
#include <cstdint>
#include <vector>

#include "compiler/ir/Types.h"

namespace nfjit {

// The packet attributes a match may test. Widths: Src/Dst 32 or 128 bits,
// Proto/IcmpType/IcmpCode/TcpFlags/Ttl/Tos/PktType 8, Sport/Dport/Length
// 16, Mark 32, CtState 8 (CtStateBit set as `-m conntrack --ctstate` sees
// it, NAT bits included), Frag 1 (a non-first fragment).
enum class Field : uint8_t {
  Src, Dst, Proto, Sport, Dport, IcmpType, IcmpCode, TcpFlags, Ttl, Length, Tos, Mark, CtState,
  PktType, Frag, kCount
};

class LoweringContext {
 public:
  using Term = uint32_t;
  virtual ~LoweringContext() = default;
  virtual Family family() const = 0;
  virtual Term constant(bool value) = 0;
  // lo <= field <= hi (unsigned).
  virtual Term range(Field f, uint64_t lo, uint64_t hi) = 0;
  // (field & mask) == value.
  virtual Term maskEq(Field f, uint64_t value, uint64_t mask) = 0;
  // Address fields: lo <= addr <= hi, (addr & mask) == value & mask.
  virtual Term addrRange(Field f, const IpAddr& lo, const IpAddr& hi) = 0;
  virtual Term addrMaskEq(Field f, const IpAddr& value, const IpAddr& mask) = 0;
  virtual Term anyOf(const std::vector<Term>& terms) = 0;
  virtual Term allOf(const std::vector<Term>& terms) = 0;
  virtual Term negate(Term t) = 0;
  // Conjoins t into the condition of the match being lowered.
  virtual void require(Term t) = 0;
  // Targets: the packet's field becomes (field & ~mask) ^ value for the
  // rules that follow (MARK --set-xmark).
  virtual void setXor(Field f, uint64_t value, uint64_t mask) = 0;
};

}  // namespace nfjit
