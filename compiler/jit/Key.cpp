#include "compiler/jit/Key.h"

#include <cstring>

#include "compiler/interp/Interpreter.h"

namespace nfjit::jit {

static void words(const IpAddr& a, uint32_t out[4]) {
  for (unsigned i = 0; i < 4; ++i) out[i] = be32(a.b.data() + 4 * i);
}

static uint64_t ifaceBits(const std::vector<std::string>& pats, const std::string& iface) {
  uint64_t m = 0;
  for (size_t i = 0; i < pats.size() && i < 64; ++i)
    if (ifaceMatches(pats[i], iface)) m |= uint64_t(1) << i;
  return m;
}

bool extractKey(const PacketView& p, const IfacePatterns& pats, JitKey& k) {
  std::memset(&k, 0, sizeof k);
  if (p.family == Family::IPv4) {
    k.src[0] = p.src.v4();
    k.dst[0] = p.dst.v4();
  } else {
    if (!p.protocolFound) return false;
    words(p.src, k.src);
    words(p.dst, k.dst);
  }
  k.proto = p.protocol;
  k.frag = p.fragoff != 0;
  if (p.protocol == 6 || p.protocol == 17) {
    uint32_t need = p.protocol == 6 ? 20 : 8;
    if (p.fragoff != 0 || p.thoff > p.len || p.len - p.thoff < need) return false;
    const uint8_t* th = p.data + p.thoff;
    k.sport = be16(th);
    k.dport = be16(th + 2);
    if (p.protocol == 6) k.tcpFlags = th[13];
  }
  if (!pats.in.empty()) k.inMask = ifaceBits(pats.in, p.inIface);
  if (!pats.out.empty()) k.outMask = ifaceBits(pats.out, p.outIface);
  return true;
}

}  // namespace nfjit::jit
