// -m bpf (revision 1, --bytecode): a classic BPF program run on the packet
// from the IP header on; a non-zero result is a match (kernel: xt_bpf.c).
// Programs are validated the way the kernel's bpf_check_classic() does.
#include <cctype>
#include <cstdlib>
#include <vector>

#include "compiler/extensions/hdr_common.h"

namespace nfjit {
namespace {

constexpr unsigned kMaxInsns = 64;  // XT_BPF_MAX_NUM_INSTR
constexpr unsigned kMemWords = 16;  // BPF_MEMWORDS

struct Insn {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};

// Opcode fields of classic BPF.
constexpr uint16_t cls(uint16_t c) { return c & 0x07; }
constexpr uint16_t sz(uint16_t c) { return c & 0x18; }
constexpr uint16_t mode(uint16_t c) { return c & 0xe0; }
constexpr uint16_t op(uint16_t c) { return c & 0xf0; }
constexpr uint16_t src(uint16_t c) { return c & 0x08; }
enum : uint16_t {
  LD = 0,
  LDX = 1,
  ST = 2,
  STX = 3,
  ALU = 4,
  JMP = 5,
  RET = 6,
  MISC = 7,
  W = 0x00,
  H = 0x08,
  B = 0x10,
  IMM = 0x00,
  ABS = 0x20,
  IND = 0x40,
  MEM = 0x60,
  LEN = 0x80,
  MSH = 0xa0,
  ADD = 0x00,
  SUB = 0x10,
  MUL = 0x20,
  DIV = 0x30,
  OR = 0x40,
  AND = 0x50,
  LSH = 0x60,
  RSH = 0x70,
  NEG = 0x80,
  MOD = 0x90,
  XOR = 0xa0,
  JA = 0x00,
  JEQ = 0x10,
  JGT = 0x20,
  JGE = 0x30,
  JSET = 0x40,
  K = 0x00,
  X = 0x08,
  RA = 0x10,
  TAX = 0x00,
  TXA = 0x80,
};
// Special offsets of loads (as signed 32-bit values).
constexpr int32_t kAdOff = -0x1000, kNetOff = -0x100000, kLlOff = -0x200000;
// Ancillary loads at kAdOff + n: protocol, pkttype, ifindex, ..., mark 20, hatype 28.
constexpr int32_t kAdMax = 60;

bool validOpcode(uint16_t c) {
  if (c > 0xff) return false;
  switch (cls(c)) {
    case LD:
      if (sz(c) == 0x18) return false;
      if (mode(c) == ABS || mode(c) == IND) return true;
      return sz(c) == W && (mode(c) == IMM || mode(c) == MEM || mode(c) == LEN);
    case LDX:
      if (c == (LDX | B | MSH)) return true;
      return sz(c) == W && (mode(c) == IMM || mode(c) == MEM || mode(c) == LEN);
    case ST:
    case STX: return c == ST || c == STX;
    case ALU:
      if (op(c) == NEG) return c == (ALU | NEG);
      return op(c) <= XOR && (c & 0x07) == ALU && (c & ~0xf8u) == ALU;
    case JMP:
      if (op(c) == JA) return c == (JMP | JA);
      return op(c) <= JSET && (c & ~0xf8u) == JMP;
    case RET: return c == (RET | K) || c == (RET | RA);
    case MISC: return c == (MISC | TAX) || c == (MISC | TXA);
  }
  return false;
}

class BpfMatch final : public MatchExt {
 public:
  explicit BpfMatch(Family) {}
  std::string_view name() const override { return "bpf"; }
  std::span<const OptionSpec> options() const override {
    static const OptionSpec opts[] = {{"bytecode", ArgKind::Required}};
    return opts;
  }
  void parseOption(const OptionArg& a) override {
    prog_ = parseProgram(a);
    check(a);
  }
  void finalCheck(const RuleContext& ctx) override {
    if (prog_.empty()) ctx.fail("bpf: --bytecode is required");
  }
  void save(SaveWriter& w) const override {
    std::string s = "\"" + std::to_string(prog_.size());
    for (const auto& i : prog_)
      s += "," + std::to_string(i.code) + " " + std::to_string(i.jt) + " " + std::to_string(i.jf) + " " +
           std::to_string(i.k);
    s += '"';
    w.opt("bytecode").word(s);
  }
  bool match(EvalContext& ctx) const override { return run(ctx.pkt) != 0; }

 private:
  // "N,code jt jf k,code jt jf k,..." as written by nfbpf_compile.
  static std::vector<Insn> parseProgram(const OptionArg& a) {
    const std::string& s = a.value;
    auto fail = [&](const std::string& what) { a.fail("bpf: " + what + " in --bytecode `" + s + "'"); };
    char* end = nullptr;
    unsigned long n = std::strtoul(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != ',') fail("error parsing program length");
    if (n == 0) fail("illegal zero length program");
    if (n > kMaxInsns) fail("number of instructions exceeds maximum (64)");
    std::vector<Insn> prog;
    const char* p = end;
    while (*p == ',' && p[1] != '\0') {
      ++p;
      if (prog.size() >= n) fail("real program length exceeds the encoded length parameter");
      unsigned long f[4];
      for (int j = 0; j < 4; ++j) {
        while (std::isspace(static_cast<unsigned char>(*p))) ++p;
        if (!std::isdigit(static_cast<unsigned char>(*p)))
          fail("error at instr " + std::to_string(prog.size()));
        f[j] = std::strtoul(p, &end, 10);
        p = end;
      }
      while (*p && *p != ',') ++p;
      prog.push_back({static_cast<uint16_t>(f[0]), static_cast<uint8_t>(f[1]), static_cast<uint8_t>(f[2]),
                      static_cast<uint32_t>(f[3])});
    }
    if (prog.size() != n) fail("parsed program length is less than the encoded length parameter");
    return prog;
  }

  void check(const OptionArg& a) const {
    const size_t n = prog_.size();
    auto bad = [&](size_t pc, const std::string& why) {
      a.fail("bpf: invalid program at instruction " + std::to_string(pc) + ": " + why);
    };
    for (size_t pc = 0; pc < n; ++pc) {
      const Insn& i = prog_[pc];
      if (!validOpcode(i.code)) bad(pc, "unknown opcode " + std::to_string(i.code));
      if (cls(i.code) == ALU && src(i.code) == K) {
        if ((op(i.code) == DIV || op(i.code) == MOD) && i.k == 0) bad(pc, "division by zero");
        if ((op(i.code) == LSH || op(i.code) == RSH) && i.k >= 32) bad(pc, "shift by 32 or more");
      }
      bool memOp = i.code == ST || i.code == STX || i.code == (LD | W | MEM) || i.code == (LDX | W | MEM);
      if (memOp && i.k >= kMemWords) bad(pc, "scratch memory index out of range");
      if (i.code == (JMP | JA) && i.k >= n - pc - 1) bad(pc, "jump out of range");
      if (cls(i.code) == JMP && i.code != (JMP | JA) && (pc + i.jt + 1 >= n || pc + i.jf + 1 >= n))
        bad(pc, "jump out of range");
      if (cls(i.code) == LD && mode(i.code) == ABS) {
        int32_t k = static_cast<int32_t>(i.k);
        if (k >= kAdOff && k < 0 && (k - kAdOff > kAdMax || (k - kAdOff) % 4 != 0))
          bad(pc, "unknown ancillary load");
      }
    }
    if (prog_[n - 1].code != (RET | K) && prog_[n - 1].code != (RET | RA))
      bad(n - 1, "the last instruction must return");
    // Scratch memory must be written before it is read on every path.
    std::vector<uint16_t> masks(n, 0xffff);
    uint16_t valid = 0;
    for (size_t pc = 0; pc < n; ++pc) {
      const Insn& i = prog_[pc];
      valid &= masks[pc];
      if (i.code == ST || i.code == STX)
        valid |= uint16_t(1u << i.k);
      else if (i.code == (LD | W | MEM) || i.code == (LDX | W | MEM)) {
        if (!(valid & (1u << i.k))) bad(pc, "scratch memory read before written");
      } else if (i.code == (JMP | JA)) {
        masks[pc + 1 + i.k] &= valid;
        valid = 0xffff;
      } else if (cls(i.code) == JMP) {
        masks[pc + 1 + i.jt] &= valid;
        masks[pc + 1 + i.jf] &= valid;
        valid = 0xffff;
      }
    }
  }

  // A load from the packet: non-negative offsets and SKF_NET_OFF-relative
  // ones address the network header (where data starts), SKF_LL_OFF ones
  // the link layer, rebuilt as an Ethernet header from the recorded MACs.
  static bool load(const PacketView& p, int64_t k, unsigned size, uint32_t& out) {
    uint8_t b[4] = {};
    int64_t off;
    if (k >= 0)
      off = k;
    else if (k >= kNetOff && k < kAdOff)
      off = k - kNetOff;
    else if (k >= kLlOff && k < kNetOff)
      off = k - kLlOff - 14;  // below 0: inside the Ethernet header
    else
      return false;
    if (off < 0) {
      if (!p.hasMac || off + int64_t(size) > 0) return false;
      uint8_t eth[14];
      for (int j = 0; j < 6; ++j) {
        eth[j] = p.dstMac[j];
        eth[6 + j] = p.srcMac[j];
      }
      eth[12] = p.family == Family::IPv4 ? 0x08 : 0x86;
      eth[13] = p.family == Family::IPv4 ? 0x00 : 0xdd;
      for (unsigned j = 0; j < size; ++j) b[j] = eth[14 + off + j];
    } else if (off > UINT32_MAX || !headerAt(p, static_cast<uint32_t>(off), b, size)) {
      return false;
    }
    out = size == 4 ? be32(b) : size == 2 ? be16(b) : b[0];
    return true;
  }
  static uint32_t ancillary(const PacketView& p, int32_t n, uint32_t A, uint32_t Xr) {
    switch (n) {
      case 40: return A ^ Xr;                                     // SKF_AD_ALU_XOR_X
      case 0: return p.family == Family::IPv4 ? 0x0800 : 0x86dd;  // skb->protocol
      case 4: return static_cast<uint32_t>(p.pktType);
      case 20: return p.mark;
      case 28: return p.hasMac ? 1 : 0;  // ARPHRD_ETHER, else unknown
      default: return 0;                 // ifindex, hashes, cpu, vlan...: not modelled
    }
  }

  uint32_t run(const PacketView& p) const {
    uint32_t A = 0, Xr = 0, mem[kMemWords] = {};
    for (size_t pc = 0; pc < prog_.size(); ++pc) {
      const Insn& i = prog_[pc];
      uint32_t v = 0;
      unsigned size = sz(i.code) == W ? 4 : sz(i.code) == H ? 2 : 1;
      switch (cls(i.code)) {
        case LD:
          switch (mode(i.code)) {
            case IMM: A = i.k; break;
            case LEN: A = p.len; break;
            case MEM: A = mem[i.k]; break;
            case ABS: {
              int32_t k = static_cast<int32_t>(i.k);
              if (k >= kAdOff && k < 0) {
                A = ancillary(p, k - kAdOff, A, Xr);
              } else {
                if (!load(p, k, size, v)) return 0;
                A = v;
              }
              break;
            }
            case IND: {
              int64_t k = int64_t(Xr) + static_cast<int32_t>(i.k);
              if (!load(p, static_cast<int32_t>(static_cast<uint32_t>(k)), size, v)) return 0;
              A = v;
              break;
            }
          }
          break;
        case LDX:
          switch (mode(i.code)) {
            case IMM: Xr = i.k; break;
            case LEN: Xr = p.len; break;
            case MEM: Xr = mem[i.k]; break;
            case MSH:  // 4 * (byte & 0xf): the IPv4 header length idiom
              if (!load(p, static_cast<int32_t>(i.k), 1, v)) return 0;
              Xr = (v & 0xf) << 2;
              break;
          }
          break;
        case ST: mem[i.k] = A; break;
        case STX: mem[i.k] = Xr; break;
        case ALU: {
          uint32_t o = src(i.code) == X ? Xr : i.k;
          switch (op(i.code)) {
            case ADD: A += o; break;
            case SUB: A -= o; break;
            case MUL: A *= o; break;
            case DIV:
              if (o == 0) return 0;
              A /= o;
              break;
            case MOD:
              if (o == 0) return 0;
              A %= o;
              break;
            case OR: A |= o; break;
            case AND: A &= o; break;
            case XOR: A ^= o; break;
            case LSH: A = o >= 32 ? 0 : A << o; break;
            case RSH: A = o >= 32 ? 0 : A >> o; break;
            case NEG: A = 0u - A; break;
          }
          break;
        }
        case JMP: {
          if (i.code == (JMP | JA)) {
            pc += i.k;
            break;
          }
          uint32_t o = src(i.code) == X ? Xr : i.k;
          bool t = op(i.code) == JEQ   ? A == o
                   : op(i.code) == JGT ? A > o
                   : op(i.code) == JGE ? A >= o
                                       : (A & o) != 0;
          pc += t ? i.jt : i.jf;
          break;
        }
        case RET: return i.code == (RET | K) ? i.k : A;
        case MISC:
          if (i.code == (MISC | TAX))
            Xr = A;
          else
            A = Xr;
          break;
      }
    }
    return 0;
  }

  std::vector<Insn> prog_;
};

}  // namespace

NFJIT_REGISTER_MATCH("bpf", kFamBoth, BpfMatch);

}  // namespace nfjit
