#include "compiler/jit/Plan.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "compiler/ir/SaveWriter.h"

namespace nfjit::jit {
namespace {

struct Iv {
  uint64_t lo, hi;
};
// nullopt: the rule does not constrain the field.
using FieldSet = std::optional<std::vector<Iv>>;

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

constexpr uint32_t kDirectPortRules = 512;

enum Field { kSrc, kDst, kProto, kSport, kDport, kFields };
struct FieldInfo {
  const char* name;
  unsigned offset;
  uint64_t max;
  bool direct;
};
constexpr FieldInfo kFieldInfo[kFields] = {
    {"src", kOffSrc, 0xffffffffu, false},  {"dst", kOffDst, 0xffffffffu, false},
    {"proto", kOffProto, 255, true},        {"sport", kOffSport, 65535, false},
    {"dport", kOffDport, 65535, false},
};

struct LoweredRule {
  FieldSet fields[kFields];
  RulePlan plan;
};

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

std::vector<uint64_t> bitRow(uint32_t words) { return std::vector<uint64_t>(words, 0); }
void setBit(std::vector<uint64_t>& row, uint32_t r) { row[r / 64] |= uint64_t(1) << (r % 64); }
void clearBit(std::vector<uint64_t>& row, uint32_t r) { row[r / 64] &= ~(uint64_t(1) << (r % 64)); }

// Interval table for one field: a sweep over the boundaries, each distinct
// row stored once.
Dimension buildDimension(const FieldInfo& fi, const std::vector<LoweredRule>& rules, Field field, uint32_t words) {
  Dimension d;
  d.name = fi.name;
  d.keyOffset = fi.offset;
  d.direct = fi.direct;
  std::vector<uint64_t> bnds;
  for (const auto& r : rules)
    if (const auto& s = r.fields[field])
      for (const Iv& iv : *s) {
        if (iv.lo > 0) bnds.push_back(iv.lo);
        if (iv.hi < fi.max) bnds.push_back(iv.hi + 1);
      }
  std::sort(bnds.begin(), bnds.end());
  bnds.erase(std::unique(bnds.begin(), bnds.end()), bnds.end());
  size_t nIntervals = bnds.size() + 1;
  auto intervalOf = [&](uint64_t v) { return size_t(std::upper_bound(bnds.begin(), bnds.end(), v) - bnds.begin()); };
  std::vector<std::vector<uint32_t>> add(nIntervals + 1), rem(nIntervals + 1);
  std::vector<uint64_t> cur = bitRow(words);
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const auto& s = rules[i].fields[field];
    if (!s) {
      setBit(cur, i);
      continue;
    }
    for (const Iv& iv : *s) {
      add[intervalOf(iv.lo)].push_back(i);
      rem[intervalOf(iv.hi) + 1].push_back(i);
    }
  }
  std::unordered_map<std::string, uint32_t> seen;
  std::vector<uint32_t> rowOfInterval(nIntervals);
  for (size_t k = 0; k < nIntervals; ++k) {
    for (uint32_t r : rem[k]) clearBit(cur, r);
    for (uint32_t r : add[k]) setBit(cur, r);
    std::string keyBytes(reinterpret_cast<const char*>(cur.data()), cur.size() * 8);
    auto [it, fresh] = seen.emplace(std::move(keyBytes), uint32_t(d.rowCount));
    if (fresh) {
      d.rows.insert(d.rows.end(), cur.begin(), cur.end());
      ++d.rowCount;
    }
    rowOfInterval[k] = it->second;
  }
  if (d.direct) {
    d.rowOf.resize(fi.max + 1);
    for (uint64_t v = 0; v <= fi.max; ++v) d.rowOf[v] = rowOfInterval[intervalOf(v)];
    return d;
  }
  // Branchless search: pad to 2^k - 1 entries with a value above every key.
  size_t padded = 0;
  while (padded < bnds.size()) padded = padded * 2 + 1, ++d.searchSteps;
  d.bounds = bnds;
  d.bounds.resize(padded, uint64_t(1) << 32);
  d.rowOf = rowOfInterval;
  d.rowOf.resize(padded + 1, 0);
  return d;
}

// Aggregated bit vector: one summary bit per row word, so that the search
// skips runs of empty words without loading them.
std::vector<uint64_t> summaries(const std::vector<uint64_t>& rows, uint32_t words, uint32_t sumWords) {
  size_t n = words ? rows.size() / words : 0;
  std::vector<uint64_t> out(n * sumWords, 0);
  for (size_t r = 0; r < n; ++r)
    for (uint32_t w = 0; w < words; ++w)
      if (rows[r * words + w]) out[r * sumWords + w / 64] |= uint64_t(1) << (w % 64);
  return out;
}

}  // namespace

Plan::Plan(const Ruleset& rs) : family(rs.family) {
  const std::vector<Field> fields = family == Family::IPv4
                                        ? std::vector<Field>{kSrc, kDst, kProto, kSport, kDport}
                                        : std::vector<Field>{kProto, kSport, kDport};
  uint32_t id = 0;
  for (size_t ti = 0; ti < rs.tables.size(); ++ti)
    for (size_t ci = 0; ci < rs.tables[ti].chains.size(); ++ci) {
      const Chain& c = rs.tables[ti].chains[ci];
      ChainPlan cp;
      cp.table = ti;
      cp.chain = ci;
      cp.id = id++;
      cp.rules = uint32_t(c.rules.size());
      cp.words = (cp.rules + 63) / 64;
      cp.summaryWords = (cp.words + 63) / 64;
      std::vector<LoweredRule> lowered;
      lowered.reserve(c.rules.size());
      for (const Rule& r : c.rules) {
        lowered.push_back(lowerRule(family, r, ifaces, callbackMatches));
        if (lowered.back().plan.callbackFrom == kNoCallback) ++loweredRules;
      }
      cp.cleanRow = bitRow(cp.words);
      cp.allRow = bitRow(cp.words);
      for (uint32_t r = 0; r < cp.rules; ++r) {
        setBit(cp.allRow, r);
        if (lowered[r].plan.clean()) setBit(cp.cleanRow, r);
      }
      for (Field f : fields) {
        bool used = false;
        for (const auto& r : lowered) used = used || r.fields[f].has_value();
        if (!used) continue;
        // Large chains index the ports directly (256 KiB) instead of a 16-step search.
        FieldInfo fi = kFieldInfo[f];
        if ((f == kSport || f == kDport) && cp.rules >= kDirectPortRules) fi.direct = true;
        cp.dims.push_back(buildDimension(fi, lowered, f, cp.words));
      }
      cp.allSum = summaries(cp.allRow, cp.words, cp.summaryWords);
      for (auto& d : cp.dims) d.sums = summaries(d.rows, cp.words, cp.summaryWords);
      for (auto& r : lowered) cp.rulePlans.push_back(std::move(r.plan));
      chains.push_back(std::move(cp));
    }
}

size_t Plan::tableBytes() const {
  size_t b = 0;
  for (const auto& c : chains) {
    b += (c.cleanRow.size() + c.allRow.size()) * 8;
    b += c.allSum.size() * 8;
    for (const auto& d : c.dims)
      b += d.bounds.size() * 8 + d.rowOf.size() * 4 + (d.rows.size() + d.sums.size()) * 8;
  }
  return b;
}
size_t Plan::intervals() const {
  size_t n = 0;
  for (const auto& c : chains)
    for (const auto& d : c.dims) n += d.direct ? d.rowOf.size() : d.bounds.size() + 1;
  return n;
}
size_t Plan::rowCount() const {
  size_t n = 0;
  for (const auto& c : chains)
    for (const auto& d : c.dims) n += d.rowCount;
  return n;
}
size_t Plan::dimensionCount() const {
  size_t n = 0;
  for (const auto& c : chains) n += c.dims.size();
  return n;
}

}  // namespace nfjit::jit
