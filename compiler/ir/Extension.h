// The extension interface: every `-m` match and `-j` target lives in one
// file under compiler/extensions/ with its option parsing, validation,
// canonical printing and packet semantics, and registers itself here.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/Diagnostics.h"
#include "compiler/ir/Types.h"

namespace nfjit {

struct PacketView;
struct Rule;
class LoweringContext;
class SaveWriter;

enum class ArgKind : uint8_t {
  None,      // --syn
  Required,  // --dport 22 or --dport=22
  Optional,  // --opt=value, or the next word when it does not start with '-' or '!'
  Two,       // --tcp-flags MASK COMP, --match-set NAME FLAGS
};

struct OptionSpec {
  std::string_view name;  // long name without the leading "--"
  ArgKind arg = ArgKind::Required;
  bool invertible = false;  // may be preceded by '!'
  bool repeatable = false;  // may be given more than once
};

// One option occurrence as the rule parser hands it to an extension.
struct OptionArg {
  int index = -1;                 // into the extension's options()
  std::string_view name;          // canonical long name
  std::string value;              // first argument ("" for ArgKind::None)
  std::string value2;             // second argument for ArgKind::Two
  bool hasValue = false;          // for ArgKind::Optional
  bool inverted = false;
  SourceLoc optLoc, valueLoc, value2Loc;

  // Diagnostics point at the value, naming the option.
  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void failAt(SourceLoc loc, const std::string& what) const;
};

// What a final check knows about the rule an extension sits in.
struct RuleContext {
  Family family = Family::IPv4;
  std::string_view table;
  std::string_view chain;
  uint16_t proto = 0;  // -p value, 0 = any
  bool protoInverted = false;
  const Rule* rule = nullptr;
  SourceLoc loc;  // where the extension was named (-m/-j)
  [[noreturn]] void fail(const std::string& what) const { throw ParseError(loc, what); }
};

// What targets ask of the rest of the pipeline (conntrack, NAT, logging,
// packet generation). The interpreter and the runtime act on it.
struct NatRequest {
  enum class Kind : uint8_t { Snat, Dnat, Masquerade, Redirect, Netmap } kind = Kind::Snat;
  bool hasAddr = false, hasPorts = false;
  IpAddr minAddr, maxAddr;      // address range (NETMAP: prefix and mask in minAddr/maxAddr)
  uint16_t minPort = 0, maxPort = 0;
  bool random = false, fullyRandom = false, persistent = false;
  // NF_NAT_RANGE_PROTO_OFFSET: ports are mapped by offset from basePort
  // (DNAT "p-q/base"; SNAT/MASQUERADE accept the syntax but the kernel gets 0).
  bool portOffset = false;
  uint16_t basePort = 0;
  // NETMAP: true when the source address is rewritten (POSTROUTING, INPUT),
  // false for the destination (PREROUTING, OUTPUT).
  bool netmapSource = false;
};

// One LOG or NFLOG invocation, with what the kernel logger needs.
struct LogRecord {
  enum class Kind : uint8_t { Log, Nflog } kind = Kind::Log;
  std::string prefix;
  uint8_t level = 4;          // LOG: syslog level
  uint8_t logFlags = 0;       // LOG: XT_LOG_* bits (tcpseq 1, tcpopt 2, ipopt 4, uid 8, macdecode 0x20)
  uint16_t group = 0;         // NFLOG
  uint32_t copyLen = 0;       // NFLOG: bytes copied to userspace (0 = whole packet)
  bool copyLenSet = false;    // NFLOG: --nflog-size given
  uint16_t threshold = 0;     // NFLOG: queue threshold
};

// -j SET: one ipset operation.
struct SetOp {
  enum class Kind : uint8_t { Add, Del, Map } kind = Kind::Add;
  std::string set;
  std::vector<bool> dirIsSrc;   // per dimension: src (true) or dst
  bool exist = false;           // --exist: refresh the timeout of present entries
  uint32_t timeout = UINT32_MAX;  // UINT32_MAX = set default
  bool mapMark = false, mapPrio = false, mapQueue = false;
};

struct SideEffects {
  std::optional<NatRequest> nat;
  std::vector<std::string> logs;     // LOG / NFLOG prefix lines, in order
  std::vector<LogRecord> logRecords; // the same invocations, in full
  bool notrack = false;              // -j CT --notrack / NOTRACK
  std::string ctHelper;              // -j CT --helper
  // -j CT: conntrack template for the new connection.
  bool ctTemplate = false;           // a CT target (other than --notrack) applied
  std::string ctTimeout;             // --timeout policy name
  uint32_t ctEvents = 0, ctExpEvents = 0;  // IPCT_* / IPEXP_* bit masks
  uint16_t ctZone = 0;
  uint16_t ctZoneFlags = 0;          // XT_CT_ZONE_DIR_ORIG 2, _DIR_REPL 4, _MARK 8
  bool rejectSent = false;           // REJECT generated a reply
  uint8_t rejectType = 0, rejectCode = 0;  // ICMP(v6) type/code, or tcp-reset (type 255)
  uint32_t queueNum = 0;             // NFQUEUE
  bool queueBypass = false;          // NFQUEUE --queue-bypass: accept when no listener
  bool trace = false;
  std::vector<uint8_t> audits;       // AUDIT: XT_AUDIT_TYPE_* (accept 0, drop 1, reject 2)
  std::optional<std::string> secmarkCtx;   // SECMARK: security context given to the packet
  uint8_t connsecmark = 0;           // CONNSECMARK: 1 save (packet -> conn), 2 restore
  std::vector<std::string> idleTimers;     // IDLETIMER labels refreshed
  std::vector<std::string> ledTriggers;    // LED triggers fired ("netfilter-" + id)
  std::vector<std::string> rateEstimators; // RATEEST estimators fed
  std::vector<SetOp> setOps;         // SET
  std::vector<IpAddr> teeGateways;   // TEE: a clone is routed to each gateway
  std::string teeOif;                // TEE --oif
  // TPROXY: divert to a local socket (addr 0 = the incoming interface's).
  bool tproxy = false;
  IpAddr tproxyAddr;
  uint16_t tproxyPort = 0;
  // SYNPROXY: 1 answered a client SYN with a cookie SYN/ACK, 2 checked the
  // client's ACK cookie (the runtime validates it and opens the server side).
  uint8_t synproxy = 0;
};

// Mutable evaluation state for one packet at one hook.
struct EvalContext {
  explicit EvalContext(PacketView& p) : pkt(p) {}
  PacketView& pkt;
  Hook hook = Hook::PreRouting;
  std::string_view table;
  bool hotdrop = false;  // a match asked to drop the packet (truncated header)
  uint64_t nowNs = 0;    // monotonic time, for rate matches
  uint64_t wallSec = 0;  // wall clock, for -m time
  SideEffects effects;
};

enum class ExtKind : uint8_t { Match, Target };

class Extension {
 public:
  virtual ~Extension() = default;
  // The module name printed after -m / -j.
  virtual std::string_view name() const = 0;
  virtual std::span<const OptionSpec> options() const = 0;
  virtual void parseOption(const OptionArg& arg) = 0;
  // After the whole rule is parsed: mandatory options, combinations, -p
  // requirements, table restrictions.
  virtual void finalCheck(const RuleContext&) {}
  // Hooks the kernel allows this extension in (checked per chain, through jumps).
  virtual HookMask allowedHooks(std::string_view /*table*/) const { return kAllHooks; }
  // Prints the options in iptables-save's canonical form, each preceded by a space.
  virtual void save(SaveWriter& out) const = 0;
};

class MatchExt : public Extension {
 public:
  // Netfilter semantics; may set ctx.hotdrop.
  virtual bool match(EvalContext& ctx) const = 0;
  // True for matches whose result depends on state beyond the packet
  // (limit, recent, quota...): the verifier treats them as unknown.
  virtual bool isStateful() const { return false; }
  // Forgets what earlier packets left behind (a rate's spent credit, a
  // recent list's entries), as if freshly loaded: the verifier replays each
  // witness as a packet of its own, not as the next of every earlier one.
  virtual void resetState() const {}
  // For the verifier: describes the match through ctx.require(); false when
  // the match cannot be expressed (the verifier treats it as unknown).
  virtual bool lower(LoweringContext& /*ctx*/) const { return false; }
};

enum class Verdict : uint8_t {
  Continue,  // non-terminating target: go on with the next rule
  Accept,
  Drop,
  Return,
  Queue,
  Stolen,    // REJECT and friends: the packet is consumed (counted as drop)
  Jump,      // standard jump: handled by the interpreter
  Goto,
};

class TargetExt : public Extension {
 public:
  virtual Verdict apply(EvalContext& ctx) const = 0;
  // Terminating targets end the traversal; LOG/MARK... do not.
  virtual bool isTerminating() const = 0;
  // For the verifier, non-terminating targets: describes how the target
  // changes packet fields (ctx.setXor) and returns true; false when its
  // effect on later matches is unknown. Targets that change nothing a
  // match can see (LOG, NFLOG...) need not override: see verifier/.
  virtual bool lowerEffect(LoweringContext& /*ctx*/) const { return false; }
};

using MatchFactory = std::function<std::unique_ptr<MatchExt>(Family)>;
using TargetFactory = std::function<std::unique_ptr<TargetExt>(Family)>;

struct ExtensionInfo {
  std::string name;          // as written after -m/-j (aliases register separately)
  uint8_t families = kFamBoth;
  MatchFactory makeMatch;
  TargetFactory makeTarget;
};

class ExtensionRegistry {
 public:
  static ExtensionRegistry& instance();
  void addMatch(std::string name, uint8_t families, MatchFactory f);
  void addTarget(std::string name, uint8_t families, TargetFactory f);
  const ExtensionInfo* findMatch(std::string_view name, Family f) const;
  const ExtensionInfo* findTarget(std::string_view name, Family f) const;
  std::vector<std::string> matchNames() const;
  std::vector<std::string> targetNames() const;

 private:
  std::vector<ExtensionInfo> matches_, targets_;
};

// Static registration: `NFJIT_REGISTER_MATCH("tcp", kFamBoth, TcpMatch);`
// The class must have a constructor taking Family.
template <class T>
struct MatchRegistrar {
  MatchRegistrar(const char* name, uint8_t families) {
    ExtensionRegistry::instance().addMatch(
        name, families, [](Family f) { return std::unique_ptr<MatchExt>(new T(f)); });
  }
};
template <class T>
struct TargetRegistrar {
  TargetRegistrar(const char* name, uint8_t families) {
    ExtensionRegistry::instance().addTarget(
        name, families, [](Family f) { return std::unique_ptr<TargetExt>(new T(f)); });
  }
};
#define NFJIT_CONCAT2(a, b) a##b
#define NFJIT_CONCAT(a, b) NFJIT_CONCAT2(a, b)
#define NFJIT_REGISTER_MATCH(NAME, FAMS, CLASS) \
  static ::nfjit::MatchRegistrar<CLASS> NFJIT_CONCAT(nfjitMatchReg_, __COUNTER__)(NAME, FAMS)
#define NFJIT_REGISTER_TARGET(NAME, FAMS, CLASS) \
  static ::nfjit::TargetRegistrar<CLASS> NFJIT_CONCAT(nfjitTargetReg_, __COUNTER__)(NAME, FAMS)

}  // namespace nfjit
