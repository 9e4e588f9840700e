#include "compiler/jit/Lower.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>

#include "compiler/ir/SaveWriter.h"

namespace nfjit::jit {

const FieldInfo kFieldInfo[kFields] = {
    {"src", kOffSrc, 0xffffffffu}, {"dst", kOffDst, 0xffffffffu}, {"proto", kOffProto, 255},
    {"sport", kOffSport, 65535},   {"dport", kOffDport, 65535},
};

namespace {

std::vector<Iv> complement(const std::vector<Iv>& s, uint64_t max) {
  std::vector<Iv> out;
  uint64_t next = 0;
  for (const Iv& iv : s) {
    if (iv.lo > next) out.push_back({next, iv.lo - 1});
    next = iv.hi + 1;
  }
  if (next <= max) out.push_back({next, max});
  return out;
}

std::vector<Iv> intersect(const std::vector<Iv>& a, const std::vector<Iv>& b) {
  std::vector<Iv> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    uint64_t lo = std::max(a[i].lo, b[j].lo), hi = std::min(a[i].hi, b[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    (a[i].hi < b[j].hi) ? ++i : ++j;
  }
  return out;
}

// [lo, hi], complemented when inverted; nullopt when that is the whole field.
FieldSet rangeSet(uint64_t lo, uint64_t hi, bool inv, uint64_t max) {
  std::vector<Iv> s;
  if (lo <= hi) s.push_back({lo, hi});
  if (inv) s = complement(s, max);
  if (s.size() == 1 && s[0].lo == 0 && s[0].hi == max) return std::nullopt;
  return s;
}

void narrow(FieldSet& into, const FieldSet& with) {
  if (!with) return;
  into = into ? intersect(*into, *with) : *with;
}

std::optional<uint8_t> tcpFlagBits(const std::string& s) {
  static const std::pair<const char*, uint8_t> names[] = {{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04},
                                                           {"PSH", 0x08}, {"ACK", 0x10}, {"URG", 0x20},
                                                           {"ECE", 0x40}, {"CWR", 0x80}};
  if (s == "NONE") return 0;
  if (s == "ALL") return 0xff;
  uint8_t bits = 0;
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    bool found = false;
    for (auto& [n, b] : names)
      if (part == n) bits |= b, found = true;
    if (!found) return std::nullopt;
  }
  return bits;
}

std::optional<std::pair<uint64_t, uint64_t>> portRange(const std::string& s) {
  try {
    size_t colon = s.find(':');
    if (colon == std::string::npos) {
      uint64_t v = std::stoul(s);
      return std::pair{v, v};
    }
    return std::pair<uint64_t, uint64_t>{std::stoul(s.substr(0, colon)), std::stoul(s.substr(colon + 1))};
  } catch (...) {
    return std::nullopt;
  }
}

// -m tcp / -m udp, read back from their canonical options (the extension
// classes are opaque): ports become field sets, --tcp-flags a key test.
// Anything else (--tcp-option) leaves the match to its match().
bool lowerTcpUdp(const MatchExt& m, const IpHeaderMatch& ip, LoweredRule& out) {
  bool tcp = m.name() == "tcp";
  if (ip.invProto || ip.proto != (tcp ? 6 : 17)) return false;
  SaveWriter w;
  m.save(w);
  std::istringstream in(w.text());
  std::vector<std::string> tok;
  for (std::string t; in >> t;) tok.push_back(t);
  FieldSet sport, dport;
  std::vector<KeyTest> tests;
  for (size_t i = 0; i < tok.size();) {
    bool inv = false;
    if (tok[i] == "!") inv = true, ++i;
    if (i >= tok.size()) return false;
    const std::string& opt = tok[i];
    if ((opt == "--sport" || opt == "--dport") && i + 1 < tok.size()) {
      auto r = portRange(tok[i + 1]);
      if (!r) return false;
      narrow(opt == "--sport" ? sport : dport, rangeSet(r->first, r->second, inv, 65535));
      i += 2;
    } else if (tcp && opt == "--tcp-flags" && i + 2 < tok.size()) {
      auto mask = tcpFlagBits(tok[i + 1]), cmp = tcpFlagBits(tok[i + 2]);
      if (!mask || !cmp) return false;
      KeyTest t;
      t.offset = kOffTcpFlags;
      t.maskValue = {{*mask, *cmp}};
      t.invert = inv;
      tests.push_back(t);
      i += 3;
    } else {
      return false;
    }
  }
  narrow(out.fields[kSport], sport);
  narrow(out.fields[kDport], dport);
  for (auto& t : tests) out.plan.tests.push_back(std::move(t));
  return true;
}

int patternIndex(std::vector<std::string>& pats, const std::string& p) {
  for (size_t i = 0; i < pats.size(); ++i)
    if (pats[i] == p) return int(i);
  if (pats.size() >= 64) return -1;
  pats.push_back(p);
  return int(pats.size() - 1);
}

void lowerAddr(Family f, const IpAddr& addr, const IpAddr& mask, bool inv, unsigned offset, FieldSet& field,
               std::vector<KeyTest>& tests) {
  if (f == Family::IPv4 && maskPrefixLen(f, mask) >= 0) {
    uint32_t v = addr.v4(), m = mask.v4();
    if (v & ~m) field = rangeSet(1, 0, inv, 0xffffffffu);  // never equal: empty (or all, inverted)
    else field = rangeSet(v, v | ~m, inv, 0xffffffffu);
    return;
  }
  KeyTest t;
  t.offset = offset;
  bool trivial = true;
  for (unsigned w = 0; w < addrBytes(f) / 4; ++w) {
    uint32_t m = be32(mask.b.data() + 4 * w), v = be32(addr.b.data() + 4 * w);
    t.maskValue.push_back({m, v});
    trivial = trivial && m == 0 && v == 0;
  }
  t.invert = inv;
  if (!trivial || inv) tests.push_back(std::move(t));
}

}  // namespace

LoweredRule lowerRule(Family f, const Rule& r, IfacePatterns& ifaces, size_t& callbacks) {
  LoweredRule out;
  auto whole = [&] {
    LoweredRule w;
    w.plan.callbackFrom = kWholeRule;
    callbacks += r.matches.size();
    return w;
  };
  const IpHeaderMatch& ip = r.ip;
  lowerAddr(f, ip.src, ip.srcMask, ip.invSrc, kOffSrc, out.fields[kSrc], out.plan.tests);
  lowerAddr(f, ip.dst, ip.dstMask, ip.invDst, kOffDst, out.fields[kDst], out.plan.tests);
  for (int dir = 0; dir < 2; ++dir) {
    const std::string& pat = dir ? ip.outIface : ip.inIface;
    if (pat.empty()) continue;
    int idx = patternIndex(dir ? ifaces.out : ifaces.in, pat);
    if (idx < 0) return whole();
    KeyTest t;
    t.kind = KeyTest::Kind::Bit64;
    t.offset = dir ? kOffOutMask : kOffInMask;
    t.mask64 = uint64_t(1) << idx;
    t.invert = dir ? ip.invOut : ip.invIn;
    out.plan.tests.push_back(t);
  }
  if (f == Family::IPv4) {
    if (ip.proto) out.fields[kProto] = rangeSet(ip.proto, ip.proto, ip.invProto, 255);
    if (ip.fragment) {
      KeyTest t;
      t.offset = kOffFrag;
      t.maskValue = {{1, 1}};
      t.invert = ip.invFragment;
      out.plan.tests.push_back(t);
    }
  } else if (ip.proto || ip.invProto) {
    // ip6_packet_match: "-p 0" is any, "! -p 0" excludes header value 0.
    if (ip.proto || ip.invProto) out.fields[kProto] = rangeSet(ip.proto, ip.proto, ip.invProto, 255);
    if (ip.proto == 0 && !ip.invProto) out.fields[kProto].reset();
  }
  for (size_t m = 0; m < r.matches.size(); ++m) {
    const MatchExt& ext = *r.matches[m].ext;
    if (ext.name() == "comment") continue;  // always true, no side effects
    if ((ext.name() == "tcp" || ext.name() == "udp") && lowerTcpUdp(ext, ip, out)) continue;
    out.plan.callbackFrom = int32_t(m);
    callbacks += r.matches.size() - m;
    break;
  }
  return out;
}


bool keyTestsHold(const std::vector<KeyTest>& tests, const JitKey& k) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&k);
  for (const KeyTest& t : tests) {
    bool holds = true;
    if (t.kind == KeyTest::Kind::Bit64) {
      uint64_t v;
      std::memcpy(&v, bytes + t.offset, 8);
      holds = (v & t.mask64) != 0;
    } else {
      for (size_t i = 0; i < t.maskValue.size() && holds; ++i) {
        uint32_t v;
        std::memcpy(&v, bytes + t.offset + 4 * i, 4);
        holds = (v & t.maskValue[i].first) == t.maskValue[i].second;
      }
    }
    if (holds == t.invert) return false;
  }
  return true;
}

}  // namespace nfjit::jit
