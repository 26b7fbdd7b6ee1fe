// Conformance tests for bad user memory on every data call: a buffer that is PROT_NONE, unmapped,
// read-only where the call writes, or that runs into a hole gets EFAULT (or, for a large stream
// write, a partial count whose bytes arrive intact), never a signal, and the socket stays usable.
//
// The buffers are real mappings, so these run in the unsanitized conformance binary only.

#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

// Three pages: read-write, then PROT_NONE, then unmapped; and a read-only page elsewhere.
class BadMemory {
 public:
  BadMemory() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    // The read-only page first: mapped after the hole, it could land in it.
    void* r = mmap(nullptr, page_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(r, MAP_FAILED);
    read_only_ = static_cast<char*>(r);
    void* m = mmap(nullptr, 3 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    base_ = static_cast<char*>(m);
    std::memset(base_, 'x', page_);
    EXPECT_EQ(mprotect(base_ + page_, page_, PROT_NONE), 0);
    EXPECT_EQ(munmap(base_ + 2 * page_, page_), 0);
  }
  ~BadMemory() {
    munmap(base_, 2 * page_);
    munmap(read_only_, page_);
  }
  char* prot_none() const { return base_ + page_; }
  char* unmapped() const { return base_ + 2 * page_; }  // until something else is mapped there
  char* read_only() const { return read_only_; }
  // `valid` readable bytes that run straight into the PROT_NONE page.
  char* into_hole(size_t valid) const { return base_ + page_ - valid; }

 private:
  size_t page_ = 0;
  char* base_ = nullptr;
  char* read_only_ = nullptr;
};

msghdr MessageOf(iovec* iov) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 1;
  return msg;
}

class TcpUserMemoryTest : public ConnectedPairTest {
 protected:
  // The connection still carries bytes both ways after the failed calls.
  void ExpectStillWorks() {
    ASSERT_TRUE(SendAll(client_.get(), "ping"));
    EXPECT_EQ(RecvUpTo(server_.get(), 4), "ping");
    ASSERT_TRUE(SendAll(server_.get(), "pong"));
    EXPECT_EQ(RecvUpTo(client_.get(), 4), "pong");
  }
  BadMemory mem_;
};

TEST_P(TcpUserMemoryTest, SendsFromBadBuffersAreEFAULT) {
  for (char* bad : {mem_.prot_none(), mem_.unmapped(), mem_.into_hole(100)}) {
    EXPECT_THAT(SYSCALL(send(client_.get(), bad, 200, MSG_NOSIGNAL)), SyscallFailsWithErrno(EFAULT));
    EXPECT_THAT(SYSCALL(sendto(client_.get(), bad, 200, MSG_NOSIGNAL, nullptr, 0)), SyscallFailsWithErrno(EFAULT));
    EXPECT_THAT(SYSCALL(write(client_.get(), bad, 200)), SyscallFailsWithErrno(EFAULT));
    iovec iov{bad, 200};
    EXPECT_THAT(SYSCALL(writev(client_.get(), &iov, 1)), SyscallFailsWithErrno(EFAULT));
    msghdr msg = MessageOf(&iov);
    EXPECT_THAT(SYSCALL(sendmsg(client_.get(), &msg, MSG_NOSIGNAL)), SyscallFailsWithErrno(EFAULT));
    mmsghdr mm{};
    mm.msg_hdr = msg;
    EXPECT_THAT(SYSCALL(sendmmsg(client_.get(), &mm, 1, MSG_NOSIGNAL)), SyscallFailsWithErrno(EFAULT));
  }
  ExpectStillWorks();
}

TEST_P(TcpUserMemoryTest, ReceivesIntoBadBuffersAreEFAULTAndLoseNothing) {
  ASSERT_TRUE(SendAll(server_.get(), "data"));
  ASSERT_TRUE(WaitForInq(client_.get(), 4));
  for (char* bad : {mem_.prot_none(), mem_.unmapped(), mem_.read_only()}) {
    EXPECT_THAT(SYSCALL(recv(client_.get(), bad, 4, 0)), SyscallFailsWithErrno(EFAULT));
    EXPECT_THAT(SYSCALL(recvfrom(client_.get(), bad, 4, 0, nullptr, nullptr)), SyscallFailsWithErrno(EFAULT));
    EXPECT_THAT(SYSCALL(read(client_.get(), bad, 4)), SyscallFailsWithErrno(EFAULT));
    iovec iov{bad, 4};
    EXPECT_THAT(SYSCALL(readv(client_.get(), &iov, 1)), SyscallFailsWithErrno(EFAULT));
    msghdr msg = MessageOf(&iov);
    EXPECT_THAT(SYSCALL(recvmsg(client_.get(), &msg, 0)), SyscallFailsWithErrno(EFAULT));
    mmsghdr mm{};
    mm.msg_hdr = msg;
    EXPECT_THAT(SYSCALL(recvmmsg(client_.get(), &mm, 1, MSG_DONTWAIT, nullptr)), SyscallFailsWithErrno(EFAULT));
  }
  EXPECT_EQ(RecvUpTo(client_.get(), 4), "data") << "nothing was consumed by the failed reads";
  ExpectStillWorks();
}

// A large write whose end is a hole: Linux keeps what it copied in whole page fragments, so the
// result is EFAULT or a partial count, and exactly that prefix arrives.
TEST_P(TcpUserMemoryTest, LargeSendIntoAHoleDeliversExactlyThePrefixItCounts) {
  const size_t valid = 64 * 1024;
  void* m = mmap(nullptr, valid + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  char* buf = static_cast<char*>(m);
  for (size_t i = 0; i < valid; ++i) buf[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(mprotect(buf + valid, 4096, PROT_NONE), 0);
  const ssize_t n = send(client_.get(), buf, valid + 4096, MSG_NOSIGNAL);
  if (n < 0) {
    EXPECT_EQ(errno, EFAULT);
  } else {
    EXPECT_LT(static_cast<size_t>(n), valid + 4096);
    EXPECT_EQ(RecvUpTo(server_.get(), static_cast<size_t>(n)), std::string(buf, static_cast<size_t>(n)));
  }
  munmap(m, valid + 4096);
  ExpectStillWorks();
}

sigjmp_buf g_fault_jump;
void JumpBack(int) { siglongjmp(g_fault_jump, 1); }

// The program's own SIGSEGV handler still sees the program's own faults, and once it has put the
// previous handler back, a bad buffer is EFAULT again.
TEST_P(TcpUserMemoryTest, TheProgramsOwnSegvHandlerSeesItsOwnFaults) {
  struct sigaction mine = {}, previous = {};
  mine.sa_handler = JumpBack;
  sigemptyset(&mine.sa_mask);
  ASSERT_EQ(sigaction(SIGSEGV, &mine, &previous), 0);
  volatile bool caught = false;
  if (sigsetjmp(g_fault_jump, 1) == 0) {
    *reinterpret_cast<volatile char*>(mem_.prot_none()) = 1;
  } else {
    caught = true;
  }
  ASSERT_EQ(sigaction(SIGSEGV, &previous, nullptr), 0);
  EXPECT_TRUE(caught);
  EXPECT_THAT(SYSCALL(send(client_.get(), mem_.prot_none(), 10, MSG_NOSIGNAL)), SyscallFailsWithErrno(EFAULT));
  ExpectStillWorks();
}

INSTANTIATE_TEST_SUITE_P(Families, TcpUserMemoryTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

class UdpUserMemoryTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    receiver_ = BoundUdpSocket(GetParam(), &addr_);
    sender_ = UdpSocket(GetParam());
    ASSERT_THAT(SYSCALL(connect(sender_.get(), addr_.get(), addr_.len)), SyscallSucceeds());
  }
  SocketAddress addr_;
  FileDescriptor receiver_;
  FileDescriptor sender_;
  BadMemory mem_;
};

TEST_P(UdpUserMemoryTest, SendsFromBadBuffersAreEFAULTAndSendNothing) {
  for (char* bad : {mem_.prot_none(), mem_.unmapped(), mem_.into_hole(100)}) {
    EXPECT_THAT(SYSCALL(send(sender_.get(), bad, 200, 0)), SyscallFailsWithErrno(EFAULT));
    EXPECT_THAT(SYSCALL(write(sender_.get(), bad, 200)), SyscallFailsWithErrno(EFAULT));
    iovec iov{bad, 200};
    msghdr msg = MessageOf(&iov);
    EXPECT_THAT(SYSCALL(sendmsg(sender_.get(), &msg, 0)), SyscallFailsWithErrno(EFAULT));
  }
  EXPECT_EQ(PollOne(receiver_.get(), POLLIN, 100), 0) << "no datagram left";
  SendTo(sender_.get(), "ok", addr_);
  EXPECT_EQ(RecvDatagram(receiver_.get()), "ok");
}

// udp_recvmsg drops a datagram it cannot copy (a peek leaves it).
TEST_P(UdpUserMemoryTest, ReceiveIntoABadBufferIsEFAULTAndDropsTheDatagram) {
  SendTo(sender_.get(), "first", addr_);
  SendTo(sender_.get(), "second", addr_);
  ASSERT_TRUE(WaitReadable(receiver_.get()));
  EXPECT_THAT(SYSCALL(recv(receiver_.get(), mem_.prot_none(), 16, MSG_PEEK)), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(SYSCALL(recv(receiver_.get(), mem_.read_only(), 16, 0)), SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(RecvDatagram(receiver_.get()), "second");
}

INSTANTIATE_TEST_SUITE_P(Families, UdpUserMemoryTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

}  // namespace
}  // namespace tapsock::testing
