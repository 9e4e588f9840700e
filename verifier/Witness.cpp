// Witness packets: model values -> header bytes -> PacketView -> interpreter.
#include "verifier/Witness.h"

#include <sstream>

#include "compiler/extensions/Unparsed.h"
#include "verifier/ChainModel.h"
#include "verifier/Verifier.h"
#include "runtime/packet/PacketParser.h"

namespace nfjit::verifier {

namespace {

uint64_t val(const z3::model& m, const z3::expr& e) { return static_cast<uint64_t>(modelValue(m, e)); }

IpAddr addrFromModel(const z3::model& m, const z3::expr& e, Family f) {
  if (f == Family::IPv4) return IpAddr::fromV4(static_cast<uint32_t>(val(m, e)));
  IpAddr a;
  u128 v = modelValue(m, e);
  for (int i = 15; i >= 0; --i, v >>= 8) a.b[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
  return a;
}

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

std::string ctName(uint8_t s) {
  static const char* names[] = {"INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT"};
  std::string out;
  for (int i = 0; i < 7; ++i)
    if (s & (1 << i)) out += (out.empty() ? "" : ",") + std::string(names[i]);
  return out.empty() ? "INVALID" : out;
}

}  // namespace

u128 modelValue(const z3::model& m, const z3::expr& e) {
  const unsigned w = e.get_sort().bv_size();
  auto part = [&](const z3::expr& x) {
    uint64_t v = 0;
    return m.eval(x, true).is_numeral_u64(v) ? v : 0;
  };
  if (w <= 64) return part(e);
  // Wider than 64 bits (IPv6 addresses): the two halves.
  return u128(part(e.extract(w - 1, 64))) << 64 | part(e.extract(63, 0));
}

Witness witnessFromModel(const z3::model& m, const SymPacket& p) {
  Witness w;
  w.family = p.family;
  w.src = addrFromModel(m, p.src, p.family);
  w.dst = addrFromModel(m, p.dst, p.family);
  w.proto = static_cast<uint8_t>(val(m, p.proto));
  w.sport = static_cast<uint16_t>(val(m, p.sport));
  w.dport = static_cast<uint16_t>(val(m, p.dport));
  w.icmpType = static_cast<uint8_t>(val(m, p.icmpType));
  w.icmpCode = static_cast<uint8_t>(val(m, p.icmpCode));
  w.tcpFlags = static_cast<uint8_t>(val(m, p.tcpFlags));
  w.ttl = static_cast<uint8_t>(val(m, p.ttl));
  w.length = static_cast<uint16_t>(val(m, p.length));
  w.tos = static_cast<uint8_t>(val(m, p.tos));
  w.mark = static_cast<uint32_t>(val(m, p.mark));
  w.ctstate = static_cast<uint8_t>(val(m, p.ctstate));
  w.pktType = static_cast<uint8_t>(val(m, p.pktType));
  w.fragment = val(m, p.frag) != 0;
  auto iface = [&](const z3::expr& e) {
    uint64_t i = val(m, e);
    return i < p.ifaces.names.size() ? p.ifaces.names[i] : std::string();
  };
  w.inIface = iface(p.inIf);
  w.outIface = iface(p.outIf);
  buildBytes(w);
  return w;
}

void buildBytes(Witness& w) {
  const bool v4 = w.family == Family::IPv4;
  const size_t hdr = v4 ? 20 : 40;
  size_t len = std::max<size_t>(w.length, hdr + (w.proto == 6 ? 20 : 8));
  std::vector<uint8_t> b(len, 0);
  if (v4) {
    b[0] = 0x45;
    b[1] = w.tos;
    put16(b, 2, static_cast<uint16_t>(len));
    // A non-first fragment at offset 64 bytes (offset 8 would be a "tiny
    // fragment" that tcp drops).
    if (w.fragment) put16(b, 6, 8);
    b[8] = w.ttl;
    b[9] = w.proto;
    std::copy(w.src.b.begin(), w.src.b.begin() + 4, b.begin() + 12);
    std::copy(w.dst.b.begin(), w.dst.b.begin() + 4, b.begin() + 16);
    put16(b, 10, internetChecksum(b.data(), 20));
  } else {
    b[0] = static_cast<uint8_t>(0x60 | w.tos >> 4);
    b[1] = static_cast<uint8_t>((w.tos & 0x0f) << 4);
    put16(b, 4, static_cast<uint16_t>(len - 40));
    b[6] = w.proto;
    b[7] = w.ttl;
    std::copy(w.src.b.begin(), w.src.b.end(), b.begin() + 8);
    std::copy(w.dst.b.begin(), w.dst.b.end(), b.begin() + 24);
  }
  if (!w.fragment) {
    uint8_t* l4 = b.data() + hdr;
    bool icmp = (v4 && w.proto == 1) || (!v4 && w.proto == 58);
    if (icmp) {
      l4[0] = w.icmpType;
      l4[1] = w.icmpCode;
    } else {
      l4[0] = static_cast<uint8_t>(w.sport >> 8);
      l4[1] = static_cast<uint8_t>(w.sport);
      l4[2] = static_cast<uint8_t>(w.dport >> 8);
      l4[3] = static_cast<uint8_t>(w.dport);
      if (w.proto == 6) {
        l4[7] = 1;  // seq 1
        l4[12] = 5 << 4;
        l4[13] = w.tcpFlags;
        l4[14] = l4[15] = 0xff;
      } else if (w.proto == 17) {
        l4[4] = static_cast<uint8_t>((len - hdr) >> 8);
        l4[5] = static_cast<uint8_t>(len - hdr);
      }
    }
  }
  if (!w.fragment) {
    // Transport checksums, so the witness is a valid packet on the wire too.
    const uint32_t l4len = static_cast<uint32_t>(len - hdr);
    uint32_t pseudo = 0;
    const unsigned ab = addrBytes(w.family);
    for (unsigned i = 0; i < ab; i += 2) {
      pseudo += uint32_t(w.src.b[i]) << 8 | w.src.b[i + 1];
      pseudo += uint32_t(w.dst.b[i]) << 8 | w.dst.b[i + 1];
    }
    pseudo += w.proto + (l4len & 0xffff) + (l4len >> 16);
    size_t off = 0;
    bool usePseudo = true;
    if (w.proto == 6) off = 16;
    else if (w.proto == 17) off = 6;
    else if (v4 && w.proto == 1) off = 2, usePseudo = false;
    else if (!v4 && w.proto == 58) off = 2;
    if (off) {
      uint16_t cs = internetChecksum(b.data() + hdr, l4len, usePseudo ? pseudo : 0);
      if (w.proto == 17 && cs == 0) cs = 0xffff;
      put16(b, hdr + off, cs);
    }
  }
  w.bytes = std::move(b);
}

std::string Witness::describe() const {
  std::ostringstream os;
  const bool v4 = family == Family::IPv4;
  bool icmp = (v4 && proto == 1) || (!v4 && proto == 58);
  std::string pname = proto == 6 ? "tcp" : proto == 17 ? "udp" : icmp ? (v4 ? "icmp" : "icmpv6") : "proto " + std::to_string(proto);
  os << pname << " " << formatIpAddr(family, src);
  bool ports = !fragment && !icmp;
  if (ports) os << (v4 ? ":" : ".") << sport;
  os << " > " << formatIpAddr(family, dst);
  if (ports) os << (v4 ? ":" : ".") << dport;
  if (icmp && !fragment) os << " type " << int(icmpType) << " code " << int(icmpCode);
  if (proto == 6 && !fragment) {
    static const char fl[] = "FSRPAUEC";
    std::string f;
    for (int i = 0; i < 8; ++i)
      if (tcpFlags & (1 << i)) f += fl[i];
    os << " flags [" << (f.empty() ? "none" : f) << "]";
  }
  if (fragment) os << " fragment";
  os << " len " << length << (v4 ? " ttl " : " hlim ") << int(ttl);
  if (tos) os << " tos 0x" << std::hex << int(tos) << std::dec;
  if (!inIface.empty()) os << " in " << inIface;
  if (!outIface.empty()) os << " out " << outIface;
  if (mark) os << " mark 0x" << std::hex << mark << std::dec;
  os << " ctstate " << ctName(ctstate);
  if (pktType) os << " pkttype " << int(pktType);
  return os.str();
}

bool toPacketView(const Witness& w, std::vector<uint8_t>& bytes, PacketView& pv) {
  bytes = w.bytes;
  if (parseL3(w.family, bytes.data(), static_cast<uint32_t>(bytes.size()), pv) != L3Status::Ok) return false;
  pv.inIface = w.inIface;
  pv.outIface = w.outIface;
  pv.mark = w.mark;
  pv.pktType = static_cast<PktType>(w.pktType);
  // The state bits as the runtime keeps them (packetStateBits reads NAT bits from state).
  pv.ct = ConnInfo{};
  pv.ct.state = w.ctstate;
  return true;
}

namespace {
UnparsedAssumption assumptionsOf(const Witness& w) {
  return UnparsedAssumption([&w](const UnparsedMatch& m) {
    for (const auto& [ext, v] : w.assumed)
      if (ext == &m) return v;
    return false;
  });
}
}  // namespace

void resetStatefulMatches(const Table& t) {
  for (const auto& ch : t.chains)
    for (const auto& r : ch.rules)
      for (const auto& m : r.matches)
        if (m.ext->isStateful()) m.ext->resetState();
}

void resetStatefulMatches(const Ruleset& rs) {
  for (const auto& t : rs.tables) resetStatefulMatches(t);
}

Replay replay(const Ruleset& rs, size_t table, Hook hook, const Witness& w) {
  auto scope = assumptionsOf(w);
  resetStatefulMatches(rs.tables[table]);
  Replay r;
  std::vector<uint8_t> bytes;
  PacketView pv;
  if (!toPacketView(w, bytes, pv)) return r;
  Interpreter interp(rs);
  EvalContext ctx{pv};
  ctx.hook = hook;
  ctx.table = rs.tables[table].name;
  r.result = interp.run(rs.tables[table].name, hook, ctx);
  r.ok = true;
  switch (r.result.verdict) {
    case Verdict::Accept: r.verdict = "ACCEPT"; break;
    case Verdict::Drop: r.verdict = "DROP"; break;
    case Verdict::Queue: r.verdict = "QUEUE"; break;
    default: r.verdict = "STOLEN"; break;
  }
  r.label = r.verdict;
  if (!r.result.matched.empty() && !r.result.matched.back().isPolicy) {
    const RuleRef& m = r.result.matched.back();
    std::string l = targetLabel(rs.tables[m.table].chains[m.chain].rules[m.rule].target);
    if (verdictClass(l) == r.verdict) r.label = l;
  }
  return r;
}

bool ruleMatchesAlone(const Ruleset& rs, const Rule& rule, std::string_view table, Hook hook, const Witness& w) {
  auto scope = assumptionsOf(w);
  std::vector<uint8_t> bytes;
  PacketView pv;
  if (!toPacketView(w, bytes, pv)) return false;
  EvalContext ctx{pv};
  ctx.hook = hook;
  ctx.table = table;
  if (!ipHeaderMatches(rule.ip, rs.family, ctx)) return false;
  for (const auto& m : rule.matches)
    if (!m.ext->match(ctx)) return false;
  return true;
}

}  // namespace nfjit::verifier
