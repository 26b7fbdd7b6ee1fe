// The control socket and its thread (see control.h). All socket I/O is raw syscalls: the libc
// names resolve to the shim's interposers inside the library.
#include "shim/control.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "shim/config.h"
#include "shim/fd_table.h"
#include "shim/log.h"
#include "shim/runtime.h"
#include "shim/stat_json.h"
#include "shim/stats_dump.h"
#include "stack/base/sys.h"
#include "stack/snapshot.h"

namespace tapsock::shim::control {

namespace {

constexpr int kIoTimeoutSeconds = 2;  // a client that neither writes nor reads is dropped
constexpr size_t kMaxRequest = 256;

// Set once by Start(), before the thread exists; read-only afterwards.
struct Control {
  Runtime* rt = nullptr;
  int listen_fd = -1;
  pid_t owner = 0;   // the process that created the path (a fork child must not unlink it)
  Instant started = 0;
  char path[sizeof(sockaddr_un::sun_path)] = {};
};

Control& State() {
  static Control* c = new Control();  // never destroyed: the thread may run during exit
  return *c;
}

std::string Errno() { return std::strerror(errno); }

bool EnsureDir(const std::string& dir, mode_t mode, std::string* why) {
  if (mkdir(dir.c_str(), mode) == 0 || errno == EEXIST) return true;
  *why = "cannot create " + dir + ": " + Errno();
  return false;
}

// Where the socket goes (control.h); empty with *why set when nowhere will do.
std::string PickDir(const Config& config, std::string* why) {
  if (!config.control_dir.empty()) {
    return EnsureDir(config.control_dir, 0700, why) ? config.control_dir : std::string();
  }
  if ((mkdir("/run/tapsock", 0755) == 0 || errno == EEXIST) && access("/run/tapsock", W_OK | X_OK) == 0)
    return "/run/tapsock";
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  std::string dir = std::string(xdg && xdg[0] == '/' ? xdg : "/tmp") + "/tapsock-" + std::to_string(geteuid());
  if (!EnsureDir(dir, 0700, why)) return "";
  // In a shared /tmp someone else may have made it first: use it only if it is ours and private.
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
    *why = dir + " is not a directory private to uid " + std::to_string(geteuid());
    return "";
  }
  return dir;
}

void UnlinkAtExit() {
  Control& c = State();
  if (c.path[0] != '\0' && getpid() == c.owner) unlink(c.path);
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    long n = syscall(SYS_sendto, fd, data.data(), data.size(), MSG_NOSIGNAL, nullptr, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// /proc/self/comm, which prctl(PR_SET_NAME) may change at any time.
std::string ProgramName() {
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/comm", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return program_invocation_short_name;
  char buf[64];
  long n = syscall(SYS_read, fd, buf, sizeof buf);
  sys::Close(fd);
  if (n <= 0) return program_invocation_short_name;
  return std::string(Trim(std::string_view(buf, static_cast<size_t>(n))));
}

void Serve(Runtime& rt, int fd) {
  timeval tv{kIoTimeoutSeconds, 0};
  syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  // The path is 0600, but a directory given by TAPSOCK_CONTROL_DIR may be shared: check the peer.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      (cred.uid != 0 && cred.uid != geteuid())) {
    SendAll(fd, "error: permission denied\n");
    return;
  }
  char buf[kMaxRequest];
  size_t n = 0;
  while (n < sizeof buf && !std::memchr(buf, '\n', n)) {
    long r = syscall(SYS_read, fd, buf + n, sizeof buf - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += static_cast<size_t>(r);
  }
  std::string_view request(buf, n);
  request = request.substr(0, request.find('\n'));
  SendAll(fd, Answer(rt, request));
}

void* ControlMain(void* arg) {
  // The program's signals belong to its own threads.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  Runtime& rt = *static_cast<Runtime*>(arg);
  const int listen_fd = State().listen_fd;
  for (;;) {
    int fd = static_cast<int>(syscall(SYS_accept4, listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        timespec pause{0, 100 * 1000 * 1000};  // out of fds or memory: the next client may fare better
        nanosleep(&pause, nullptr);
        continue;
      }
      TS_LOG_WARN("control socket: accept failed: {}; tapsock stat will get no answer", Errno());
      return nullptr;
    }
    // Out of the program's way while it lives, like the other library fds.
    fd = sys::MoveHigh(fd, rt.fd_floor());
    rt.AddLibraryFd(fd);
    Serve(rt, fd);
    rt.ForgetLibraryFd(fd);
    sys::Close(fd);
  }
}

}  // namespace

std::string StatJson(Runtime& rt) {
  StatDocument doc;
  doc.pid = getpid();
  doc.program = ProgramName();
  doc.log_level = log::NameOfLevel(log::Level());
  // References keep every socket (and so its endpoint) alive until the snapshot is matched; they
  // are dropped at the end, outside the stack lock, since a last reference closes the socket.
  std::vector<std::pair<int, SocketRef>> sockets = FdTable::Get().ListSockets();
  std::unordered_map<const void*, int> fd_of;
  for (const auto& [fd, s] : sockets) {
    const void* ep = s->is_tcp() ? static_cast<const void*>(&s->tcp()) : static_cast<const void*>(&s->udp());
    auto [it, added] = fd_of.emplace(ep, fd);
    if (!added && fd < it->second) it->second = fd;
  }
  {
    MutexLock lock(rt.stack().mu());
    doc.snapshot = TakeSnapshotLocked(rt.stack());
  }
  doc.uptime_s = static_cast<double>(MonotonicNow() - State().started) / kSecond;
  doc.counters = ListCounters(doc.snapshot.stats);
  auto fd_for = [&](const void* ep) {
    auto it = fd_of.find(ep);
    return it == fd_of.end() ? -1 : it->second;
  };
  for (const TcpSnapshot& t : doc.snapshot.tcp) doc.tcp_fds.push_back(fd_for(t.endpoint));
  for (const UdpSnapshot& u : doc.snapshot.udp) doc.udp_fds.push_back(fd_for(u.endpoint));
  sockets.clear();
  return FormatStatJson(doc);
}

std::string Answer(Runtime& rt, std::string_view request) {
  request = Trim(request);
  if (request == "stat") return StatJson(rt);
  if (request == "level") return std::string(log::NameOfLevel(log::Level())) + "\n";
  if (request.substr(0, 4) == "log " || request == "log") {
    std::string name(Trim(request.substr(3)));
    int level;
    if (!log::LevelFromName(name.c_str(), &level))
      return "error: unknown log level " + JsonString(name) + " (off, error, warn, info, debug, trace)\n";
    const char* was = log::NameOfLevel(log::Level());
    log::SetLevel(level);
    TS_LOG_INFO("log level set to {} through the control socket (was {})", log::NameOfLevel(level), was);
    return "ok\n";
  }
  return "error: unknown request " + JsonString(request.substr(0, 64)) + " (stat, level, log LEVEL)\n";
}

void Start(Runtime& rt, const Config& config) {
  if (!config.control) return;
  Control& c = State();
  std::string why;
  std::string dir = PickDir(config, &why);
  std::string path = dir.empty() ? std::string() : dir + "/" + std::to_string(getpid()) + ".sock";
  if (path.size() >= sizeof c.path) {
    why = "control socket path " + path + " is too long";
    path.clear();
  }
  int fd = -1;
  if (!path.empty()) {
    fd = static_cast<int>(syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd < 0) why = "cannot create the control socket: " + Errno();
  }
  if (fd >= 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    // The path's mode comes from the socket inode's, less the umask: 0600 before bind, and chmod
    // after it in case the filesystem thinks otherwise.
    syscall(SYS_fchmod, fd, 0600);
    unlink(path.c_str());  // left by a dead process with our pid, or by us before an exec()
    if (syscall(SYS_bind, fd, &addr, sizeof addr) != 0 || chmod(path.c_str(), 0600) != 0 ||
        syscall(SYS_listen, fd, 16) != 0) {
      why = "cannot listen on control socket " + path + ": " + Errno();
      unlink(path.c_str());
      sys::Close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    TS_LOG_WARN("{}; `tapsock stat {}` will not work (TAPSOCK_CONTROL_DIR picks another directory)", why,
                getpid());
    return;
  }
  c.rt = &rt;
  c.owner = getpid();
  c.started = MonotonicNow();
  c.listen_fd = sys::MoveHigh(fd, rt.fd_floor());
  std::memcpy(c.path, path.c_str(), path.size() + 1);
  rt.AddLibraryFd(c.listen_fd);
  atexit(UnlinkAtExit);
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&thread, &attr, ControlMain, &rt);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    TS_LOG_WARN("cannot start the control thread: {}; `tapsock stat {}` will not work", std::strerror(rc),
                getpid());
    unlink(c.path);
    c.path[0] = '\0';
    return;
  }
  pthread_setname_np(thread, "tapsock-ctl");
  TS_LOG_INFO("control socket {}", c.path);
}

}  // namespace tapsock::shim::control
