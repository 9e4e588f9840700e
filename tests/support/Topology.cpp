#include "tests/support/Topology.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <future>
#include <stdexcept>
#include <thread>

namespace nfjit::testing {
namespace {

std::array<uint8_t, 6> readMac(const Netns& ns, const std::string& dev) {
  CmdResult r = ns.check({"cat", "/sys/class/net/" + dev + "/address"});
  std::array<uint8_t, 6> mac{};
  unsigned v[6];
  if (std::sscanf(r.out.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    throw std::runtime_error("cannot read MAC of " + dev);
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(v[i]);
  return mac;
}

std::string macText(const std::array<uint8_t, 6>& m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

// An AF_PACKET socket bound to `dev` inside the namespace: the socket keeps
// the namespace it was created in, so a helper thread enters it just for socket().
int packetSocketIn(const Netns& ns, const std::string& dev, int* ifindexOut) {
  auto task = std::async(std::launch::async, [&]() -> std::pair<int, int> {
    std::string path = "/var/run/netns/" + ns.name();
    int nsfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) return {-1, 0};
    if (::setns(nsfd, CLONE_NEWNET) != 0) {
      ::close(nsfd);
      return {-1, 0};
    }
    ::close(nsfd);
    int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return {-1, 0};
    int idx = static_cast<int>(if_nametoindex(dev.c_str()));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = idx;
    if (idx == 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
      ::close(fd);
      return {-1, 0};
    }
    return {fd, idx};
  });
  auto [fd, idx] = task.get();
  if (fd < 0) throw std::runtime_error("cannot open an AF_PACKET socket on " + dev + " in " + ns.name());
  if (ifindexOut) *ifindexOut = idx;
  return fd;
}

}  // namespace

TopologyAddrs topologyAddrs(Family f) {
  if (f == Family::IPv4) return {"192.0.2.1", "192.0.2.0", "198.51.100.1", "198.51.100.0", "198.51.100.2", 24, 24};
  return {"2001:db8:1::1", "2001:db8:1::", "2001:db8:2::1", "2001:db8:2::", "2001:db8:2::2", 64, 64};
}

HostModel topologyHost(Family f) {
  auto a = topologyAddrs(f);
  HostModel h;
  h.inIface = "in0";
  h.outIface = "out0";
  auto in0 = *parseIpAddr(f, a.in0), out0 = *parseIpAddr(f, a.out0);
  h.localAddrs = {in0, out0};
  h.ifaceAddrs = {{"in0", in0}, {"out0", out0}};
  h.routes = {{*parseIpAddr(f, a.in0Net), a.in0Len, "in0"}, {*parseIpAddr(f, a.out0Net), a.out0Len, "out0"}};
  return h;
}

Topology::Topology(Family f) : family_(f) {
  src_ = std::make_unique<Netns>("src");
  fw_ = std::make_unique<Netns>("fw");
  sink_ = std::make_unique<Netns>("sink");
  // No IPv6 on the end hosts: no router solicitations or MLD reports to count.
  for (auto* ns : {src_.get(), sink_.get()}) ns->setSysctl("net.ipv6.conf.default.disable_ipv6", "1");
  // fw: no link-local addresses, so no DAD or MLD for them.
  fw_->setSysctl("net.ipv6.conf.default.addr_gen_mode", "1");
  connectVeth(*src_, "vsrc", *fw_, "in0");
  connectVeth(*fw_, "out0", *sink_, "vsink");
  const auto a4 = topologyAddrs(Family::IPv4), a6 = topologyAddrs(Family::IPv6);
  fw_->setSysctl("net.ipv4.ip_forward", "1");
  fw_->setSysctl("net.ipv6.conf.all.forwarding", "1");
  for (const char* k : {"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter",
                        "net.ipv4.conf.in0.rp_filter", "net.ipv4.conf.out0.rp_filter"})
    fw_->setSysctl(k, "0");
  // The host's own ICMP errors must not be rate limited, or the OUTPUT
  // counters depend on timing.
  fw_->setSysctl("net.ipv4.icmp_ratelimit", "0");
  fw_->setSysctl("net.ipv4.icmp_ratemask", "0");
  fw_->setSysctl("net.ipv4.icmp_msgs_per_sec", "1000000");
  fw_->setSysctl("net.ipv4.icmp_msgs_burst", "1000000");
  fw_->setSysctl("net.ipv6.icmp.ratelimit", "0");
  fw_->sh("sysctl -q -w net.ipv6.icmp.ratemask= 2>/dev/null || true");
  // No ICMP redirects.
  fw_->setSysctl("net.ipv4.conf.all.send_redirects", "0");
  fw_->setSysctl("net.ipv4.conf.in0.send_redirects", "0");
  fw_->addAddress("in0", a4.in0 + "/24");
  fw_->addAddress("out0", a4.out0 + "/24");
  fw_->check({"ip", "-6", "address", "add", a6.in0 + "/64", "dev", "in0", "nodad"});
  fw_->check({"ip", "-6", "address", "add", a6.out0 + "/64", "dev", "out0", "nodad"});
  const auto sinkMac = readMac(*sink_, "vsink");
  vsinkMac_ = sinkMac;
  out0Mac_ = readMac(*fw_, "out0");
  in0Mac_ = readMac(*fw_, "in0");
  vsrcMac_ = readMac(*src_, "vsrc");
  fw_->check({"ip", "neigh", "replace", a4.sinkHop, "lladdr", macText(sinkMac), "dev", "out0", "nud", "permanent"});
  fw_->check({"ip", "-6", "neigh", "replace", a6.sinkHop, "lladdr", macText(sinkMac), "dev", "out0", "nud", "permanent"});
  fw_->check({"ip", "route", "add", "default", "via", a4.sinkHop, "dev", "out0"});
  fw_->check({"ip", "-6", "route", "add", "default", "via", a6.sinkHop, "dev", "out0"});
  // Every other address of in0's networks (.2 to .254, ::2 to ::fe) is a static neighbour on src, so
  // the firewall's answers to on-link sources leave at once instead of
  // failing neighbour resolution seconds later with a host-unreachable of
  // their own (which would count in a later test's OUTPUT chain).
  std::string batch;
  for (int host = 2; host < 255; ++host) {
    char v6[48];
    std::snprintf(v6, sizeof v6, "2001:db8:1::%x", host);
    for (const std::string addr : {"192.0.2." + std::to_string(host), std::string(v6)})
      batch += "neigh replace " + addr + " lladdr " + macText(vsrcMac_) + " dev in0 nud permanent\n";
  }
  auto nb = fw_->exec({"ip", "-batch", "-"}, batch);
  if (!nb.ok()) throw std::runtime_error("static neighbours on in0: " + nb.describe());
  // The sink only watches: its own stack must not answer what arrives.
  sink_->check({"iptables-legacy", "-t", "raw", "-A", "PREROUTING", "-j", "DROP"});
  src_->check({"iptables-legacy", "-t", "raw", "-A", "PREROUTING", "-j", "DROP"});
  txFd_ = packetSocketIn(*src_, "vsrc", &txIfindex_);
  rxFd_ = packetSocketIn(*sink_, "vsink", &rxIfindex_);
  // Let the interfaces' start-up traffic (MLD for the solicited-node groups) pass.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
}

Topology::~Topology() {
  if (txFd_ >= 0) ::close(txFd_);
  if (rxFd_ >= 0) ::close(rxFd_);
}

RestoreResult Topology::load(const std::string& rules) {
  RestoreOptions o;
  o.counters = false;
  // Empty every table a previous ruleset may have left, then load. (Only the
  // stateless tables: listing nat would load it, and with it conntrack.)
  std::string reset;
  for (const char* t : {"raw", "mangle", "filter"}) {
    auto r = fw_->exec({family_ == Family::IPv4 ? "iptables-legacy" : "ip6tables-legacy", "-t", t, "-S"});
    if (!r.ok()) continue;  // never loaded here
    reset += std::string("*") + t + "\n";
    std::istringstream lines(r.out);
    std::string l;
    while (std::getline(lines, l))
      if (l.rfind("-P ", 0) == 0) reset += l.substr(0, l.rfind(' ')) + " ACCEPT\n";
    reset += "COMMIT\n";
  }
  if (!reset.empty()) fw_->restore(family_, reset, o);
  return fw_->restore(family_, rules, o);
}

std::string Topology::saveCounters() const { return fw_->save(family_, true); }

std::vector<std::vector<uint8_t>> Topology::send(const std::vector<std::vector<uint8_t>>& ipPackets) {
  return inject(txFd_, txIfindex_, in0Mac_, vsrcMac_, rxFd_, ipPackets);
}

std::vector<std::vector<uint8_t>> Topology::sendFromSink(const std::vector<std::vector<uint8_t>>& ipPackets) {
  return inject(rxFd_, rxIfindex_, out0Mac_, vsinkMac_, txFd_, ipPackets);
}

std::vector<std::vector<uint8_t>> Topology::inject(int txFd, int txIfindex, const std::array<uint8_t, 6>& dstMac,
                                                   const std::array<uint8_t, 6>& srcMac, int rxFd,
                                                   const std::vector<std::vector<uint8_t>>& ipPackets) {
  // Drain anything stale at the receiving end.
  uint8_t buf[65536];
  while (::recv(rxFd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  const uint16_t etherType = family_ == Family::IPv4 ? 0x0800 : 0x86dd;
  for (const auto& p : ipPackets) {
    std::vector<uint8_t> frame(dstMac.begin(), dstMac.end());
    frame.insert(frame.end(), srcMac.begin(), srcMac.end());
    frame.push_back(uint8_t(etherType >> 8));
    frame.push_back(uint8_t(etherType));
    frame.insert(frame.end(), p.begin(), p.end());
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = txIfindex;
    sll.sll_halen = 6;
    std::memcpy(sll.sll_addr, dstMac.data(), 6);
    if (::sendto(txFd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0)
      throw std::runtime_error(std::string("sendto: ") + std::strerror(errno));
  }
  // veth delivers in order through the backlog; wait until it has been quiet.
  std::vector<std::vector<uint8_t>> got;
  auto quietSince = std::chrono::steady_clock::now();
  for (;;) {
    pollfd pfd{rxFd, POLLIN, 0};
    int n = ::poll(&pfd, 1, 50);
    if (n > 0) {
      sockaddr_ll from{};
      socklen_t fl = sizeof from;
      ssize_t len = ::recvfrom(rxFd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (len > 14 && from.sll_pkttype != PACKET_OUTGOING) {
        uint16_t et = uint16_t(buf[12] << 8 | buf[13]);
        if (et == etherType) got.emplace_back(buf + 14, buf + len);
      }
      quietSince = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() - quietSince > std::chrono::milliseconds(250)) break;
  }
  return got;
}

}  // namespace nfjit::testing
