// nfjit: the command-line driver (see ../shared/DESIGN.md for the contract).
#include <CLI/CLI.hpp>
#include <iostream>

#include "driver/Commands.h"

int main(int argc, char** argv) {
  CLI::App app{"nfjit: compiler, verifier and runtime for iptables/ip6tables rulesets"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nfjit 0.1");

  nfjit::driver::FmtOptions fmt;
  auto* fmtCmd = app.add_subcommand("fmt", "print the ruleset in canonical iptables-save form");
  fmtCmd->add_flag("-6,--ipv6", fmt.ipv6, "the file is ip6tables-save output");
  fmtCmd->add_flag("--no-counters", fmt.noCounters, "leave out [packets:bytes] rule counters");
  fmtCmd->add_option("RULES", fmt.file, "rules file (- for stdin)")->required();

  nfjit::driver::ReplayOptions rp;
  auto* replayCmd = app.add_subcommand("replay", "run the receive path (hooks, classifier) over a pcap");
  replayCmd->add_flag("-6,--ipv6", rp.ipv6, "the rules are ip6tables-save output");
  replayCmd->add_option("RULES", rp.rules, "rules file (- for stdin)")->required();
  replayCmd->add_option("--pcap", rp.pcap, "input capture (pcap or pcapng; Ethernet or raw IP)")->required();
  replayCmd->add_option("--out", rp.out, "write the packets that leave (forwarded) to this pcap");
  replayCmd->add_option("--in-iface", rp.inIface, "interface the packets arrive on")->capture_default_str();
  replayCmd->add_option("--out-iface", rp.outIface, "interface forwarded packets leave by")->capture_default_str();
  replayCmd->add_option("--local", rp.local, "an address of this host (repeatable): packets to it take the INPUT path");
  replayCmd->add_option("--route", rp.routes,
                        "a connected network PREFIX/LEN=IFACE (repeatable); everything else routes to --out-iface");
  replayCmd->add_option("--iface-addr", rp.ifaceAddrs,
                        "IFACE=ADDR: an interface's own address (repeatable; also a --local address), the source of its ICMP errors");
  replayCmd->add_flag("--no-local-replies", rp.noLocalReplies,
                      "do not model the host's own answers (TCP RST, ICMP errors, echo replies) on the OUTPUT path");
  replayCmd->add_option("--counters", rp.countersOut, "write the ruleset with final counters (iptables-save -c form); - for stdout");
  replayCmd->add_option("--conntrack", rp.conntrackOut, "write the final connection table (conntrack -L form)");
  replayCmd->add_flag("--trace", rp.trace, "print one JSON line per packet: hooks, matched rules, verdict");
  replayCmd->add_option("--engine", rp.engine, "classifier engine: interp (jit once it exists)")
      ->check(CLI::IsMember({"interp", "jit"}))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // Usage errors are exit code 2 by the project's contract.
    return e.get_exit_code() == 0 ? rc : 2;
  }
  if (*fmtCmd) return nfjit::driver::runFmt(fmt);
  if (*replayCmd) return nfjit::driver::runReplay(rp);
  return 2;
}
