#include "tests/support/Netns.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <stdexcept>

namespace nfjit::testing {
namespace {

std::string firstLine(std::string_view s) {
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view l = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.remove_suffix(1);
    if (!l.empty()) return std::string(l);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return {};
}

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string sanitizeTag(std::string_view tag) {
  std::string out;
  for (char c : tag) {
    if (out.size() >= 24) break;
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  }
  return out;
}

std::atomic<unsigned> gCounter{0};

// "nfjit-PID-N" or "nfjit-PID-N-TAG": the PID, or 0 if the name is not ours.
pid_t ownerPid(const std::string& name) {
  if (name.rfind("nfjit-", 0) != 0) return 0;
  size_t i = 6, start = i;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
  if (i == start || i - start > 9 || i >= name.size() || name[i] != '-') return 0;
  size_t j = ++i;
  while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
  if (j == i || (j < name.size() && name[j] != '-')) return 0;
  return static_cast<pid_t>(std::stol(name.substr(start, i - 1 - start)));
}

}  // namespace

std::string CmdResult::describe() const {
  std::string s = timedOut ? "timed out" : exitCode < 0 ? "could not start" : "exit " + std::to_string(exitCode);
  std::string e = firstLine(err);
  if (!e.empty()) s += ": " + e;
  return s;
}

CmdResult runCommand(const std::vector<std::string>& argv, std::string_view input,
                     std::chrono::milliseconds timeout) {
  // Writing to a child that closed its stdin must not kill the test process.
  static std::once_flag ignorePipe;
  std::call_once(ignorePipe, [] { ::signal(SIGPIPE, SIG_IGN); });

  CmdResult res;
  if (argv.empty()) {
    res.err = "runCommand: empty argv";
    return res;
  }
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    res.err = std::string("pipe: ") + std::strerror(errno);
    for (int* p : {in, out, err}) closeFd(p[0]), closeFd(p[1]);
    return res;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    res.err = std::string("fork: ") + std::strerror(errno);
    for (int* p : {in, out, err}) closeFd(p[0]), closeFd(p[1]);
    return res;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) ::_exit(127);
    ::execvp(cargv[0], cargv.data());
    const char msg[] = "exec failed\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also in the parent, so the group exists before any kill
  closeFd(in[0]);
  closeFd(out[1]);
  closeFd(err[1]);
  int wfd = in[1], rout = out[0], rerr = err[0];
  for (int fd : {wfd, rout, rerr}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (input.empty()) closeFd(wfd);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t written = 0;
  char buf[65536];
  while (wfd >= 0 || rout >= 0 || rerr >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      res.timedOut = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (wfd >= 0) fds[n++] = {wfd, POLLOUT, 0};
    if (rout >= 0) fds[n++] = {rout, POLLIN, 0};
    if (rerr >= 0) fds[n++] = {rerr, POLLIN, 0};
    int r = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      if (fd == wfd) {
        ssize_t w = ::write(wfd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) closeFd(wfd);  // EPIPE: it stopped reading
        if (written == input.size()) closeFd(wfd);
        continue;
      }
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got > 0) {
        (fd == rout ? res.out : res.err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        closeFd(fd == rout ? rout : rerr);
      }
    }
  }
  closeFd(wfd);
  closeFd(rout);
  closeFd(rerr);

  int status = 0;
  pid_t w;
  if (res.timedOut) {
    do w = ::waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
  } else {
    // The pipes are closed; give the child the rest of the time to exit.
    for (;;) {
      w = ::waitpid(pid, &status, WNOHANG);
      if (w != 0 && !(w < 0 && errno == EINTR)) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        res.timedOut = true;
        ::kill(-pid, SIGKILL);
        do w = ::waitpid(pid, &status, 0);
        while (w < 0 && errno == EINTR);
        break;
      }
      ::usleep(1000);
    }
  }
  if (w == pid) {
    if (WIFEXITED(status)) res.exitCode = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) res.exitCode = 128 + WTERMSIG(status);
  }
  if (res.timedOut) res.err += "\n[killed after " + std::to_string(timeout.count()) + " ms]";
  return res;
}

bool haveRoot() { return ::geteuid() == 0; }

std::optional<std::string> netnsSkipReason() {
  if (!haveRoot()) return "kernel tests need root (network namespaces and iptables); running as uid " +
                           std::to_string(::geteuid());
  return std::nullopt;
}

std::string restoreTool(Family f) {
  return f == Family::IPv4 ? "iptables-legacy-restore" : "ip6tables-legacy-restore";
}
std::string saveTool(Family f) { return f == Family::IPv4 ? "iptables-legacy-save" : "ip6tables-legacy-save"; }

std::string stripSaveComments(std::string_view s) {
  std::string out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view l = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start + 1);
    start = nl == std::string_view::npos ? s.size() : nl + 1;
    if (!l.empty() && l[0] == '#') continue;
    out += l;
  }
  return out;
}

int removeStaleNamespaces() {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = e.path().filename().string();
    pid_t pid = ownerPid(name);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // still running (or not ours to judge)
    if (runCommand({"ip", "netns", "del", name}, {}, 10s).ok()) ++removed;
  }
  return removed;
}

Netns::Netns(std::string_view tag) {
  if (!haveRoot()) throw std::runtime_error("Netns: " + *netnsSkipReason());
  static std::once_flag sweep;
  std::call_once(sweep, [] {
    if (int n = removeStaleNamespaces()) std::cerr << "note: deleted " << n << " stale nfjit network namespaces\n";
  });
  name_ = "nfjit-" + std::to_string(::getpid()) + "-" + std::to_string(gCounter++);
  if (std::string t = sanitizeTag(tag); !t.empty()) name_ += "-" + t;
  CmdResult r = runCommand({"ip", "netns", "add", name_}, {}, 10s);
  if (!r.ok()) {
    std::string n = name_;
    name_.clear();
    // A half-created namespace (e.g. after a timeout) is still removed.
    struct stat st;
    if (::stat(("/run/netns/" + n).c_str(), &st) == 0) runCommand({"ip", "netns", "del", n}, {}, 10s);
    throw std::runtime_error("ip netns add " + n + " failed: " + r.describe());
  }
}

Netns::~Netns() { destroy(); }

Netns::Netns(Netns&& o) noexcept : name_(std::move(o.name_)) { o.name_.clear(); }

Netns& Netns::operator=(Netns&& o) noexcept {
  if (this != &o) {
    destroy();
    name_ = std::move(o.name_);
    o.name_.clear();
  }
  return *this;
}

void Netns::destroy() noexcept {
  if (name_.empty()) return;
  try {
    CmdResult r = runCommand({"ip", "netns", "del", name_}, {}, 10s);
    if (!r.ok()) std::cerr << "warning: ip netns del " << name_ << " failed: " << r.describe() << "\n";
  } catch (...) {
    std::cerr << "warning: could not delete network namespace " << name_ << "\n";
  }
  name_.clear();
}

CmdResult Netns::exec(const std::vector<std::string>& argv, std::string_view input,
                      std::chrono::milliseconds timeout) const {
  if (name_.empty()) throw std::logic_error("Netns::exec on a moved-from or deleted namespace");
  std::vector<std::string> full = {"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return runCommand(full, input, timeout);
}

CmdResult Netns::sh(const std::string& script, std::chrono::milliseconds timeout) const {
  return exec({"sh", "-c", script}, {}, timeout);
}

CmdResult Netns::check(const std::vector<std::string>& argv) const {
  CmdResult r = exec(argv);
  if (!r.ok()) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error("in netns " + name_ + ": `" + cmd + "' failed: " + r.describe());
  }
  return r;
}

RestoreResult Netns::restore(Family f, std::string_view text, const RestoreOptions& opts) const {
  std::vector<std::string> argv = {restoreTool(f), "-w", "10"};
  if (opts.counters) argv.push_back("-c");
  if (opts.noflush) argv.push_back("-n");
  RestoreResult rr;
  rr.raw = exec(argv, text, 60s);
  rr.ok = rr.raw.ok();
  if (!rr.ok) {
    rr.firstError = firstLine(rr.raw.err);
    if (rr.raw.timedOut && rr.firstError.empty()) rr.firstError = "timed out";
    // "iptables-restore v1.8.9 (legacy): MESSAGE" → "MESSAGE"
    if (auto p = rr.firstError.find(" (legacy): "); p != std::string::npos)
      rr.firstError.erase(0, p + std::strlen(" (legacy): "));
    if (auto p = rr.raw.err.find("Error occurred at line: "); p != std::string::npos)
      rr.errorLine = std::atoi(rr.raw.err.c_str() + p + std::strlen("Error occurred at line: "));
    else if (auto q = rr.raw.err.find("restore: line "); q != std::string::npos)
      rr.errorLine = std::atoi(rr.raw.err.c_str() + q + std::strlen("restore: line "));
  }
  return rr;
}

std::string Netns::save(Family f, bool withCounters) const {
  std::vector<std::string> argv = {saveTool(f)};
  if (withCounters) argv.push_back("-c");
  CmdResult r = exec(argv, {}, 60s);
  if (!r.ok()) throw std::runtime_error(saveTool(f) + " in netns " + name_ + " failed: " + r.describe());
  return stripSaveComments(r.out);
}

void Netns::setSysctl(const std::string& key, const std::string& value) const {
  check({"sysctl", "-q", "-w", key + "=" + value});
}

void Netns::linkUp(const std::string& dev) const { check({"ip", "link", "set", "dev", dev, "up"}); }

void Netns::addAddress(const std::string& dev, const std::string& cidr) const {
  check({"ip", "address", "add", cidr, "dev", dev});
}

CmdResult Netns::ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return check(argv);
}

void connectVeth(const Netns& a, const std::string& ifA, const Netns& b, const std::string& ifB) {
  // Created inside `a` with the peer moved straight into `b`: the root
  // namespace never sees either end.
  a.check({"ip", "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.name()});
  a.linkUp(ifA);
  b.linkUp(ifB);
}

}  // namespace nfjit::testing
