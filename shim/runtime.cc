#include "shim/runtime.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "shim/config.h"
#include "shim/conn_log.h"
#include "shim/control.h"
#include "shim/crash.h"
#include "shim/libc.h"
#include "shim/log.h"
#include "shim/process.h"
#include "shim/stats_dump.h"
#include "stack/base/sys.h"

namespace tapsock::shim {

namespace {

std::atomic<Runtime*> g_runtime{nullptr};

MacAddr RandomLocalMac(Random& r) {
  MacAddr m;
  uint64_t bits = r.Next();
  std::memcpy(m.b.data(), &bits, 6);
  m.b[0] = static_cast<uint8_t>((m.b[0] & 0xfe) | 0x02);  // unicast, locally administered
  return m;
}

// fork(): the stack lock is taken around it so the child never inherits it held by a thread that
// does not exist there. The child keeps the stack's state but not the loop thread: sharing the
// stack with children arrives with the fork issue (docs/architecture.md).
// The lock spans two functions, which the analysis cannot follow.
void BeforeFork() TS_NO_THREAD_SAFETY_ANALYSIS {
  if (Runtime* rt = Runtime::IfStarted()) rt->stack().mu().Lock();
}
void AfterForkParent() TS_NO_THREAD_SAFETY_ANALYSIS {
  if (Runtime* rt = Runtime::IfStarted()) rt->stack().mu().Unlock();
}
void AfterForkChild() TS_NO_THREAD_SAFETY_ANALYSIS {
  process::MarkStackInherited();
  if (Runtime* rt = Runtime::IfStarted()) rt->stack().mu().Unlock();
  log::AfterForkChild();
}

void* LoopMain(void* link) {
  // The program's signals belong to its own threads.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  static_cast<TapLink*>(link)->RunLoop();
  return nullptr;
}

void* TimerMain(void* loop) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  static_cast<TimerLoop*>(loop)->Run();
  return nullptr;
}

// Starts a detached library thread with `body`; the program's signals stay off it.
bool StartThread(void* (*body)(void*), void* arg, const char* name, std::string* error) {
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&thread, &attr, body, arg);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    *error = std::string("cannot start the stack thread: ") + std::strerror(rc);
    return false;
  }
  pthread_setname_np(thread, name);
  return true;
}

}  // namespace

Runtime& Runtime::Get() {
  Runtime* r = g_runtime.load(std::memory_order_acquire);
  if (r) return *r;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  r = g_runtime.load(std::memory_order_relaxed);
  if (!r) {
    r = new Runtime();
    r->Start();
    g_runtime.store(r, std::memory_order_release);
  }
  return *r;
}

Runtime* Runtime::IfStarted() { return g_runtime.load(std::memory_order_acquire); }

void Runtime::Refuse(int err, const std::string& why) {
  ok_ = false;
  start_errno_ = err;
  // Once, on stderr, whatever the log settings: the program's sockets will fail because of it.
  std::string line = "tapsock: " + why + "; AF_INET/AF_INET6 sockets will fail with " +
                     std::strerror(err) + "\n";
  (void)sys::WriteAll(2, line.data(), line.size());
  if (log::FileFd() >= 0) TS_LOG_ERROR("{}", why);  // on stderr it was just said
}

void Runtime::Start() {
  log::Init();
  log::Banner();
  // Only processes that use the stack get the handler: a program that merely loads the library
  // keeps its signal dispositions untouched.
  crash::InstallHandler();
  pthread_atfork(BeforeFork, AfterForkParent, AfterForkChild);
  fd_floor_ = sys::LibraryFdFloor();
  if (log::FileFd() >= 0) library_fds_.push_back(log::FileFd());
  Config config = ReadConfig();
  stack_ = new Stack();
  {
    MutexLock lock(stack_->mu());
    stack_->SetEventObserver(ConnectionLogger());  // debug lines per connection (shim/conn_log.h)
  }
  if (!config.errors.empty()) {
    std::string all;
    for (const auto& e : config.errors) all += (all.empty() ? "" : "; ") + e;
    Refuse(ENETDOWN, "bad configuration: " + all);
    return;
  }
  // The waker: an abstract-namespace datagram socket that sends readiness tokens to placeholders.
  int w = sys::Socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un autobind{};
  autobind.sun_family = AF_UNIX;
  waker_addr_len_ = sizeof waker_addr_;
  if (w < 0 || syscall(SYS_bind, w, &autobind, sizeof(sa_family_t)) != 0 ||
      syscall(SYS_getsockname, w, &waker_addr_, &waker_addr_len_) != 0) {
    Refuse(ENOBUFS, std::string("cannot create the waker socket: ") + std::strerror(errno));
    return;
  }
  waker_fd_ = sys::MoveHigh(w, fd_floor_);
  library_fds_.push_back(waker_fd_);
  if (!config.tap.empty() && !StartTap(config)) return;
  if (config.tap.empty()) {  // no device loop: a thread of its own runs the timers
    if (config.faults) TS_LOG_WARN("TAPSOCK_FAULTS ignored: without TAPSOCK_TAP there is no link");
    timers_ = std::make_unique<TimerLoop>(*stack_);
    {
      MutexLock lock(stack_->mu());
      stack_->SetTimerObserver(timers_.get());
    }
    std::string error;
    if (!StartThread(TimerMain, timers_.get(), "tapsock-timers", &error)) {
      Refuse(ENETDOWN, error);
      return;
    }
  }
  ok_ = true;
  owner_pid_ = getpid();
  control::Start(*this, config);  // `tapsock stat PID`, `tapsock log PID LEVEL`
  TS_LOG_INFO("stack started: tap={} fd_floor={}", config.tap.empty() ? "(none)" : config.tap, fd_floor_);
}

bool Runtime::StartTap(const Config& config) {
  TapLink::Config tc;
  tc.name = config.tap;
  tc.mtu = config.mtu;
  tc.fd_floor = fd_floor_;
  tc.report = [](const std::string& message) { TS_LOG_INFO("{}", message); };  // receive mode
  {
    MutexLock lock(stack_->mu());
    tc.mac = config.mac ? *config.mac : RandomLocalMac(stack_->random());
  }
  std::string error;
  tap_ = TapLink::Open(tc, *stack_, &error);
  if (!tap_) {
    Refuse(ENETDOWN, error);
    return false;
  }
  library_fds_.push_back(tap_->tap_fd());
  library_fds_.push_back(tap_->ring_fd());
  LinkEndpoint* link = tap_.get();
  // Below the capture, which so shows what the stack itself sent and received.
  if (config.faults && config.faults->Active()) {
    faults_ = std::make_unique<FaultLink>(link, *config.faults, *stack_);
    link = faults_.get();
    // At warn, shown by default: the seed is what reproduces this run's faults.
    TS_LOG_WARN("fault injection on {}: TAPSOCK_FAULTS={}", config.tap, config.faults->ToString());
  }
  if (!config.pcap.empty()) {
    auto writer = std::make_unique<PcapWriter>();
    if (!writer->Open(config.pcap, fd_floor_, config.pcap_limits).ok()) {
      Refuse(ENETDOWN, "TAPSOCK_PCAP: cannot create '" + config.pcap + "': " + std::strerror(errno));
      return false;
    }
    library_fds_.push_back(writer->fd());
    capture_ = std::make_unique<CaptureLink>(link, std::move(writer));
    link = capture_.get();
  }
  {
    MutexLock lock(stack_->mu());
    stack_->SetNowLocked(MonotonicNow());
    Nic* nic = stack_->AddNicLocked(config.tap, link);
    for (const auto& p : config.v4) stack_->AddAddressLocked(*nic, p);
    for (const auto& p : config.v6) nic->v6_addresses().push_back(p.addr);
    for (Ipv4Addr gw : config.gw4) {
      if (!stack_->AddDefaultGatewayLocked(gw))
        TS_LOG_WARN("TAPSOCK_GW {} is not on any configured subnet; ignored", gw.ToString());
    }
    stack_->SetTimerObserver(tap_.get());
    stack_->arp().AnnounceLocked(*nic);
    // The loop thread's first pass submits these frames together with its receive buffers.
  }
  if (!StartThread(LoopMain, tap_.get(), "tapsock-loop", &error)) {
    Refuse(ENETDOWN, error);
    return false;
  }
  return true;
}

bool Runtime::SendToken(const sockaddr_un& addr, socklen_t len) const {
  char token = 1;
  return syscall(SYS_sendto, waker_fd_, &token, 1, MSG_DONTWAIT, &addr, len) == 1;
}

bool Runtime::IsLibraryFd(int fd) const {
  // Library fds sit at or above the floor; anything below is the program's, with no lock taken.
  if (fd < fd_floor_) return false;
  std::lock_guard<std::mutex> lock(fds_mu_);
  for (int f : library_fds_)
    if (f == fd) return true;
  return false;
}

std::vector<int> Runtime::library_fds() const {
  std::lock_guard<std::mutex> lock(fds_mu_);
  return library_fds_;
}

void Runtime::AddLibraryFd(int fd) {
  std::lock_guard<std::mutex> lock(fds_mu_);
  library_fds_.push_back(fd);
}

void Runtime::ForgetLibraryFd(int fd) {
  std::lock_guard<std::mutex> lock(fds_mu_);
  std::erase(library_fds_, fd);
}

}  // namespace tapsock::shim
