// Conformance tests for readiness of UDP sockets through poll() and select().
//
// Covers the events a UDP socket reports (always writable, readable while a
// datagram, even an empty one, is queued, the *NORM bits only when asked
// for); timeouts of 0; sets that mix UDP sockets with pipes, which the kernel
// answers and the socket layer must not disturb; the special entries
// (POLLNVAL for a closed fd, fd -1 ignored, EBADF from select); and waking up
// a thread blocked in poll()/select() when another thread sends a datagram.

#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_THAT(SYSCALL(pipe2(fds, O_CLOEXEC)), SyscallSucceeds());
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  FileDescriptor read_end;
  FileDescriptor write_end;
};

class PollTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    rx_ = BoundUdpSocket(family(), &rx_addr_);
    tx_ = UdpSocket(family());
    ASSERT_TRUE(rx_.valid() && tx_.valid());
  }
  int family() const { return GetParam(); }

  void Deliver(const std::string& data) {
    SendTo(tx_.get(), data, rx_addr_);
    ASSERT_TRUE(WaitReadable(rx_.get())) << "datagram never arrived";
  }

  FileDescriptor rx_;
  FileDescriptor tx_;
  SocketAddress rx_addr_;
};

TEST_P(PollTest, FreshSocketIsWritableNotReadable) {
  // Unbound (tx_) and bound (rx_) alike.
  EXPECT_EQ(PollOne(tx_.get(), POLLIN | POLLOUT, 0), POLLOUT);
  EXPECT_EQ(PollOne(rx_.get(), POLLIN | POLLOUT, 0), POLLOUT);
}

TEST_P(PollTest, ReadableWhileDatagramQueued) {
  Deliver("x");
  EXPECT_EQ(PollOne(rx_.get(), POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
  EXPECT_EQ(RecvDatagram(rx_.get()), "x");
  EXPECT_EQ(PollOne(rx_.get(), POLLIN, 0), 0);
}

TEST_P(PollTest, ZeroLengthDatagramIsReadable) {
  Deliver("");
  EXPECT_EQ(PollOne(rx_.get(), POLLIN, 0), POLLIN);
}

// Only requested events are reported (errors aside), the *NORM variants
// included.
TEST_P(PollTest, ReportsOnlyRequestedEvents) {
  EXPECT_EQ(PollOne(rx_.get(), 0, 0), 0);
  EXPECT_EQ(PollOne(rx_.get(), POLLRDNORM | POLLWRNORM, 0), POLLWRNORM);
  Deliver("x");
  EXPECT_EQ(PollOne(rx_.get(), POLLRDNORM | POLLWRNORM, 0), POLLRDNORM | POLLWRNORM);
  EXPECT_EQ(PollOne(rx_.get(), POLLIN, 0), POLLIN);
  EXPECT_EQ(PollOne(rx_.get(), POLLPRI | POLLRDHUP, 0), 0);
}

TEST_P(PollTest, ZeroTimeoutWithNothingReadyReturnsZero) {
  pollfd pfd = {rx_.get(), POLLIN, 0};
  EXPECT_THAT(SYSCALL(poll(&pfd, 1, 0)), SyscallSucceedsWithValue(0));
  EXPECT_EQ(pfd.revents, 0);
}

TEST_P(PollTest, MixedPipeAndSocket) {
  Pipe p;
  pollfd pfds[3] = {
      {p.read_end.get(), POLLIN, 0}, {p.write_end.get(), POLLOUT, 0}, {rx_.get(), POLLIN, 0}};
  EXPECT_THAT(SYSCALL(poll(pfds, 3, 0)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfds[0].revents, 0);
  EXPECT_EQ(pfds[1].revents, POLLOUT);
  EXPECT_EQ(pfds[2].revents, 0);

  Deliver("x");
  EXPECT_THAT(SYSCALL(poll(pfds, 3, 0)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(pfds[0].revents, 0);
  EXPECT_EQ(pfds[2].revents, POLLIN);

  ASSERT_THAT(SYSCALL(write(p.write_end.get(), "p", 1)), SyscallSucceedsWithValue(1));
  EXPECT_THAT(SYSCALL(poll(pfds, 3, 0)), SyscallSucceedsWithValue(3));
  EXPECT_EQ(pfds[0].revents, POLLIN);

  EXPECT_EQ(RecvDatagram(rx_.get()), "x");
  EXPECT_THAT(SYSCALL(poll(pfds, 3, 0)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(pfds[0].revents, POLLIN);
  EXPECT_EQ(pfds[2].revents, 0);
}

// A closed fd is reported (and counted) as POLLNVAL; it does not fail poll.
TEST_P(PollTest, ClosedFdReportsPOLLNVAL) {
  FileDescriptor gone = UdpSocket(family());
  const int n = gone.get();
  gone.reset();
  pollfd pfds[2] = {{n, POLLIN, 0}, {rx_.get(), POLLOUT, 0}};
  EXPECT_THAT(SYSCALL(poll(pfds, 2, 0)), SyscallSucceedsWithValue(2));
  EXPECT_EQ(pfds[0].revents, POLLNVAL);
  EXPECT_EQ(pfds[1].revents, POLLOUT);
}

// A negative fd is skipped and its revents cleared.
TEST_P(PollTest, NegativeFdIsIgnored) {
  pollfd pfds[2] = {{-1, POLLIN, POLLIN}, {rx_.get(), POLLOUT, 0}};
  EXPECT_THAT(SYSCALL(poll(pfds, 2, 0)), SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfds[0].revents, 0);
  EXPECT_EQ(pfds[1].revents, POLLOUT);
}

TEST_P(PollTest, SelectWithSocketAndPipe) {
  Pipe p;
  const int nfds = std::max({rx_.get(), p.read_end.get()}) + 1;
  fd_set rfds, wfds;
  auto reset = [&] {
    FD_ZERO(&rfds);
    FD_ZERO(&wfds);
    FD_SET(rx_.get(), &rfds);
    FD_SET(p.read_end.get(), &rfds);
    FD_SET(rx_.get(), &wfds);
  };
  timeval zero = {0, 0};

  reset();
  EXPECT_THAT(SYSCALL(select(nfds, &rfds, &wfds, nullptr, &zero)), SyscallSucceedsWithValue(1));
  EXPECT_FALSE(FD_ISSET(rx_.get(), &rfds));
  EXPECT_FALSE(FD_ISSET(p.read_end.get(), &rfds));
  EXPECT_TRUE(FD_ISSET(rx_.get(), &wfds));

  // select counts bits, so a socket both readable and writable counts twice.
  Deliver("x");
  reset();
  EXPECT_THAT(SYSCALL(select(nfds, &rfds, &wfds, nullptr, &zero)), SyscallSucceedsWithValue(2));
  EXPECT_TRUE(FD_ISSET(rx_.get(), &rfds));
  EXPECT_FALSE(FD_ISSET(p.read_end.get(), &rfds));

  ASSERT_THAT(SYSCALL(write(p.write_end.get(), "p", 1)), SyscallSucceedsWithValue(1));
  reset();
  EXPECT_THAT(SYSCALL(select(nfds, &rfds, &wfds, nullptr, &zero)), SyscallSucceedsWithValue(3));
  EXPECT_TRUE(FD_ISSET(p.read_end.get(), &rfds));
}

// More fds than fit in a small array: 100 sockets, every third one readable, through poll and
// select alike.
TEST_P(PollTest, HundredSocketsEveryThirdReadable) {
  constexpr int kCount = 100;
  std::vector<FileDescriptor> socks;
  std::vector<SocketAddress> addrs(kCount);
  for (int i = 0; i < kCount; ++i) {
    socks.push_back(BoundUdpSocket(family(), &addrs[static_cast<size_t>(i)]));
    ASSERT_TRUE(socks.back().valid());
  }
  for (int i = 0; i < kCount; i += 3) {
    SendTo(tx_.get(), "x", addrs[static_cast<size_t>(i)]);
    ASSERT_TRUE(WaitReadable(socks[static_cast<size_t>(i)].get()));
  }
  std::vector<pollfd> pfds;
  for (const FileDescriptor& s : socks) pfds.push_back({s.get(), POLLIN, 0});
  EXPECT_THAT(SYSCALL(poll(pfds.data(), pfds.size(), 0)), SyscallSucceedsWithValue((kCount + 2) / 3));
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(pfds[static_cast<size_t>(i)].revents, i % 3 == 0 ? POLLIN : 0) << "socket " << i;

  fd_set rfds;
  FD_ZERO(&rfds);
  int nfds = 0;
  for (const FileDescriptor& s : socks) FD_SET(s.get(), &rfds), nfds = std::max(nfds, s.get() + 1);
  timeval zero = {0, 0};
  EXPECT_THAT(SYSCALL(select(nfds, &rfds, nullptr, nullptr, &zero)), SyscallSucceedsWithValue((kCount + 2) / 3));
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(FD_ISSET(socks[static_cast<size_t>(i)].get(), &rfds) != 0, i % 3 == 0) << "socket " << i;
}

TEST_P(PollTest, SelectZeroTimeoutWithNothingReadyClearsSet) {
  fd_set rfds;
  FD_ZERO(&rfds);
  FD_SET(rx_.get(), &rfds);
  timeval zero = {0, 0};
  EXPECT_THAT(SYSCALL(select(rx_.get() + 1, &rfds, nullptr, nullptr, &zero)),
              SyscallSucceedsWithValue(0));
  EXPECT_FALSE(FD_ISSET(rx_.get(), &rfds));
}

// Unlike poll, select fails as a whole on a closed fd.
TEST_P(PollTest, SelectOnClosedFdIsEBADF) {
  FileDescriptor gone = UdpSocket(family());
  const int n = gone.get();
  gone.reset();
  fd_set rfds;
  FD_ZERO(&rfds);
  FD_SET(n, &rfds);
  FD_SET(rx_.get(), &rfds);
  timeval zero = {0, 0};
  EXPECT_THAT(SYSCALL(select(std::max(n, rx_.get()) + 1, &rfds, nullptr, nullptr, &zero)),
              SyscallFailsWithErrno(EBADF));
}

// Best effort: waits (at most 2 s) until thread `tid` is asleep, so that the
// datagram sent next has to wake it up instead of being there before it
// blocks. If it never seems asleep the test still checks the outcome.
void WaitUntilAsleep(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string stat;
    std::getline(in, stat);
    // The state follows the parenthesised command name: "pid (comm) S ...".
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'S') {
      return;
    }
    std::this_thread::yield();
  }
}

TEST_P(PollTest, BlockedPollWakesOnDatagramFromAnotherThread) {
  std::atomic<pid_t> tid = 0;
  SyscallResult r = {};
  pollfd pfd = {rx_.get(), POLLIN, 0};
  std::thread poller([&] {
    tid = gettid();
    r = SYSCALL(poll(&pfd, 1, kEventTimeoutMs));
  });
  while (tid == 0) std::this_thread::yield();
  WaitUntilAsleep(tid);
  SendTo(tx_.get(), "wake", rx_addr_);
  poller.join();
  EXPECT_THAT(r, SyscallSucceedsWithValue(1));
  EXPECT_EQ(pfd.revents, POLLIN);
  EXPECT_EQ(RecvDatagram(rx_.get()), "wake");
}

TEST_P(PollTest, BlockedSelectWakesOnDatagramFromAnotherThread) {
  std::atomic<pid_t> tid = 0;
  SyscallResult r = {};
  fd_set rfds;
  FD_ZERO(&rfds);
  FD_SET(rx_.get(), &rfds);
  std::thread selector([&] {
    timeval timeout = {kEventTimeoutMs / 1000, 0};
    tid = gettid();
    r = SYSCALL(select(rx_.get() + 1, &rfds, nullptr, nullptr, &timeout));
  });
  while (tid == 0) std::this_thread::yield();
  WaitUntilAsleep(tid);
  SendTo(tx_.get(), "wake", rx_addr_);
  selector.join();
  EXPECT_THAT(r, SyscallSucceedsWithValue(1));
  EXPECT_TRUE(FD_ISSET(rx_.get(), &rfds));
}

INSTANTIATE_TEST_SUITE_P(Families, PollTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

}  // namespace
}  // namespace tapsock::testing
