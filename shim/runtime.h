// The process's private stack and everything that runs it: the TAP link (with capture), the loop
// thread, and the library's own fds. Started on the first AF_INET/AF_INET6 socket, never at load,
// so a shell that only spawns children never claims the TAP.
//
// Thread-safe: Get() starts the runtime exactly once; afterwards its fields are read-only, except
// the stack, which has its own lock.
#pragma once

#include <sys/un.h>

#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "stack/link/capture_link.h"
#include "stack/link/fault_link.h"
#include "stack/link/tap_link.h"
#include "stack/stack.h"
#include "stack/timer_loop.h"

namespace tapsock::shim {

class Runtime {
 public:
  // The runtime, starting it on first use. When the configuration cannot be honoured, ok() is
  // false and start_errno() says what socket() should fail with; the cause was printed once.
  static Runtime& Get();
  // The runtime if it has started, else nullptr (for paths that must not start it).
  static Runtime* IfStarted();

  bool ok() const { return ok_; }
  int start_errno() const { return start_errno_; }
  Stack& stack() { return *stack_; }

  // Wakes a socket's placeholder: one datagram from the library's waker socket to `addr`.
  bool SendToken(const sockaddr_un& addr, socklen_t len) const;
  const sockaddr_un& waker_addr() const { return waker_addr_; }
  socklen_t waker_addr_len() const { return waker_addr_len_; }

  // The library's own fds (TAP, ring, waker, capture, log, threads' wake fds), which the program
  // may not close or replace. Thread-safe.
  bool IsLibraryFd(int fd) const;
  std::vector<int> library_fds() const;
  void AddLibraryFd(int fd);
  void ForgetLibraryFd(int fd);
  int fd_floor() const { return fd_floor_; }
  // The process that started the stack (a fork() child has the state but no loop thread).
  pid_t owner_pid() const { return owner_pid_; }

 private:
  Runtime() = default;
  void Start();
  bool StartTap(const struct Config& config);
  void Refuse(int err, const std::string& why);

  bool ok_ = false;
  int start_errno_ = 0;
  int fd_floor_ = 0;
  pid_t owner_pid_ = 0;
  Stack* stack_ = nullptr;  // never destroyed: threads may use it until the process is gone
  std::unique_ptr<TapLink> tap_;
  std::unique_ptr<CaptureLink> capture_;
  std::unique_ptr<FaultLink> faults_;  // TAPSOCK_FAULTS, between the capture and the TAP
  std::unique_ptr<TimerLoop> timers_;  // only without a TAP, whose loop runs the timers otherwise
  int waker_fd_ = -1;
  sockaddr_un waker_addr_{};
  socklen_t waker_addr_len_ = 0;
  mutable std::mutex fds_mu_;
  std::vector<int> library_fds_;
};

}  // namespace tapsock::shim
