#include "verifier/ConcreteEval.h"

namespace nfjit::verifier {

namespace {
u128 maskOf(unsigned w) { return w >= 128 ? ~u128(0) : (u128(1) << w) - 1; }
// Two's-complement value of a w-bit number, for the signed comparisons.
__int128 signedOf(u128 v, unsigned w) {
  if (w == 0 || w >= 128) return static_cast<__int128>(v);
  const u128 sign = u128(1) << (w - 1);
  return (v & sign) ? static_cast<__int128>(v) - static_cast<__int128>(u128(1) << w) : static_cast<__int128>(v);
}
}  // namespace

ConcreteEval::ConcreteEval(std::vector<z3::expr> fields) {
  for (unsigned k = 0; k < fields.size(); ++k) fieldIndex_.emplace(fields[k].id(), k);
  keep_ = std::move(fields);
}

ConcreteEval::Program ConcreteEval::compile(const z3::expr& root) const {
  Program p;
  std::unordered_map<unsigned, unsigned> done;  // ast id -> node
  // Iterative post-order: conditions of long rules nest deeply.
  std::vector<std::pair<z3::expr, bool>> stack{{root, false}};
  while (!stack.empty() && p.ok) {
    auto [e, expanded] = stack.back();
    stack.pop_back();
    if (done.count(e.id())) continue;
    if (!e.is_app()) {
      p.ok = false;
      break;
    }
    const unsigned n = e.num_args();
    if (!expanded) {
      stack.push_back({e, true});
      for (unsigned k = n; k-- > 0;) stack.push_back({e.arg(k), false});
      continue;
    }
    Node node{};
    node.width = e.is_bool() ? 1 : e.is_bv() ? e.get_sort().bv_size() : 0;
    if (node.width == 0 || node.width > 128) {
      p.ok = false;
      break;
    }
    node.argBegin = static_cast<unsigned>(p.args.size());
    node.argCount = n;
    for (unsigned k = 0; k < n; ++k) p.args.push_back(done.at(e.arg(k).id()));
    const Z3_decl_kind kind = e.decl().decl_kind();
    switch (kind) {
      case Z3_OP_TRUE: node.op = Op::Num, node.imm = 1; break;
      case Z3_OP_FALSE: node.op = Op::Num, node.imm = 0; break;
      case Z3_OP_BNUM: {
        node.op = Op::Num;
        std::string digits = e.get_decimal_string(0);
        for (char ch : digits) node.imm = node.imm * 10 + static_cast<unsigned>(ch - '0');
        break;
      }
      case Z3_OP_UNINTERPRETED: {
        if (n != 0) {
          p.ok = false;
          break;
        }
        auto f = fieldIndex_.find(e.id());
        if (f != fieldIndex_.end()) node.op = Op::Field, node.imm = f->second;
        else if (e.is_bool()) node.op = Op::BoolVar, node.imm = e.id();
        else node.op = Op::Zero;
        break;
      }
      case Z3_OP_NOT: node.op = Op::Not; break;
      case Z3_OP_AND: node.op = Op::And; break;
      case Z3_OP_OR: node.op = Op::Or; break;
      case Z3_OP_XOR: node.op = Op::Xor; break;
      case Z3_OP_IFF: node.op = Op::Iff; break;
      case Z3_OP_IMPLIES: node.op = Op::Implies; break;
      case Z3_OP_ITE: node.op = Op::Ite; break;
      case Z3_OP_EQ: node.op = Op::Eq; break;
      case Z3_OP_DISTINCT: node.op = Op::Distinct; break;
      case Z3_OP_ULEQ: node.op = Op::Ule; break;
      case Z3_OP_ULT: node.op = Op::Ult; break;
      case Z3_OP_UGEQ: node.op = Op::Uge; break;
      case Z3_OP_UGT: node.op = Op::Ugt; break;
      case Z3_OP_SLEQ: node.op = Op::Sle; break;
      case Z3_OP_SLT: node.op = Op::Slt; break;
      case Z3_OP_SGEQ: node.op = Op::Sge; break;
      case Z3_OP_SGT: node.op = Op::Sgt; break;
      case Z3_OP_BAND: node.op = Op::BAnd; break;
      case Z3_OP_BOR: node.op = Op::BOr; break;
      case Z3_OP_BXOR: node.op = Op::BXor; break;
      case Z3_OP_BNOT: node.op = Op::BNot; break;
      case Z3_OP_BNEG: node.op = Op::BNeg; break;
      case Z3_OP_BADD: node.op = Op::Add; break;
      case Z3_OP_BSUB: node.op = Op::Sub; break;
      case Z3_OP_BMUL: node.op = Op::Mul; break;
      case Z3_OP_BSHL: node.op = Op::Shl; break;
      case Z3_OP_BLSHR: node.op = Op::Lshr; break;
      case Z3_OP_CONCAT: node.op = Op::Concat; break;
      case Z3_OP_EXTRACT: node.op = Op::Extract, node.imm = e.lo(); break;
      case Z3_OP_ZERO_EXT: node.op = Op::ZeroExt; break;
      case Z3_OP_SIGN_EXT: node.op = Op::SignExt; break;
      default: p.ok = false; break;
    }
    if (!p.ok) break;
    done.emplace(e.id(), static_cast<unsigned>(p.nodes.size()));
    p.nodes.push_back(node);
  }
  return p;
}

std::optional<bool> ConcreteEval::eval(const z3::expr& cond, const std::vector<u128>& values,
                                       const std::function<bool(unsigned)>& boolVar) {
  auto it = programs_.find(cond.id());
  if (it == programs_.end()) {
    it = programs_.emplace(cond.id(), compile(cond)).first;
    keep_.push_back(cond);
  }
  const Program& p = it->second;
  if (!p.ok || p.nodes.empty()) return std::nullopt;
  scratch_.resize(p.nodes.size());
  std::vector<u128>& v = scratch_;
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const Node& n = p.nodes[i];
    const unsigned* a = p.args.data() + n.argBegin;
    auto arg = [&](unsigned k) { return v[a[k]]; };
    auto argWidth = [&](unsigned k) { return p.nodes[a[k]].width; };
    u128 r = 0;
    switch (n.op) {
      case Op::Num: r = n.imm; break;
      case Op::Field: r = values[static_cast<size_t>(n.imm)]; break;
      case Op::BoolVar: r = boolVar(static_cast<unsigned>(n.imm)) ? 1 : 0; break;
      case Op::Zero: r = 0; break;
      case Op::Not: r = arg(0) ? 0 : 1; break;
      case Op::And:
        r = 1;
        for (unsigned k = 0; k < n.argCount && r; ++k) r = arg(k) ? 1 : 0;
        break;
      case Op::Or:
        for (unsigned k = 0; k < n.argCount && !r; ++k) r = arg(k) ? 1 : 0;
        break;
      case Op::Xor: r = (arg(0) != 0) != (arg(1) != 0); break;
      case Op::Iff: r = (arg(0) != 0) == (arg(1) != 0); break;
      case Op::Implies: r = !arg(0) || arg(1); break;
      case Op::Ite: r = arg(0) ? arg(1) : arg(2); break;
      case Op::Eq: r = arg(0) == arg(1); break;
      case Op::Distinct:
        r = 1;
        for (unsigned x = 0; x < n.argCount; ++x)
          for (unsigned y = x + 1; y < n.argCount; ++y)
            if (arg(x) == arg(y)) r = 0;
        break;
      case Op::Ule: r = arg(0) <= arg(1); break;
      case Op::Ult: r = arg(0) < arg(1); break;
      case Op::Uge: r = arg(0) >= arg(1); break;
      case Op::Ugt: r = arg(0) > arg(1); break;
      case Op::Sle: r = signedOf(arg(0), argWidth(0)) <= signedOf(arg(1), argWidth(1)); break;
      case Op::Slt: r = signedOf(arg(0), argWidth(0)) < signedOf(arg(1), argWidth(1)); break;
      case Op::Sge: r = signedOf(arg(0), argWidth(0)) >= signedOf(arg(1), argWidth(1)); break;
      case Op::Sgt: r = signedOf(arg(0), argWidth(0)) > signedOf(arg(1), argWidth(1)); break;
      case Op::BAnd:
        r = ~u128(0);
        for (unsigned k = 0; k < n.argCount; ++k) r &= arg(k);
        break;
      case Op::BOr:
        for (unsigned k = 0; k < n.argCount; ++k) r |= arg(k);
        break;
      case Op::BXor:
        for (unsigned k = 0; k < n.argCount; ++k) r ^= arg(k);
        break;
      case Op::BNot: r = ~arg(0); break;
      case Op::BNeg: r = u128(0) - arg(0); break;
      case Op::Add:
        for (unsigned k = 0; k < n.argCount; ++k) r += arg(k);
        break;
      case Op::Sub: r = arg(0) - arg(1); break;
      case Op::Mul:
        r = 1;
        for (unsigned k = 0; k < n.argCount; ++k) r *= arg(k);
        break;
      case Op::Shl: r = arg(1) >= n.width ? 0 : arg(0) << static_cast<unsigned>(arg(1)); break;
      case Op::Lshr: r = arg(1) >= n.width ? 0 : arg(0) >> static_cast<unsigned>(arg(1)); break;
      case Op::Concat:
        for (unsigned k = 0; k < n.argCount; ++k) r = (argWidth(k) >= 128 ? 0 : r << argWidth(k)) | arg(k);
        break;
      case Op::Extract: r = arg(0) >> static_cast<unsigned>(n.imm); break;
      case Op::ZeroExt: r = arg(0); break;
      case Op::SignExt: r = static_cast<u128>(signedOf(arg(0), argWidth(0))); break;
    }
    v[i] = r & maskOf(n.width);
  }
  return v.back() != 0;
}

}  // namespace nfjit::verifier
