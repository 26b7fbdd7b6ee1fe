// Conformance tests for child processes of a program with open connections: what a vfork() or
// posix_spawn() child closes or dups is closed for the child alone (python's subprocess vforks and
// then closes every fd it does not pass on), and a fork() child that closes its copies and exits
// leaves the parent's connection as it was.

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

extern char** environ;

namespace tapsock::testing {
namespace {

class ChildProcessTest : public ConnectedPairTest {
 protected:
  void ExpectConnectionWorks() {
    ASSERT_TRUE(SendAll(client_.get(), "request"));
    EXPECT_EQ(RecvUpTo(server_.get(), 7), "request");
    ASSERT_TRUE(SendAll(server_.get(), "response"));
    EXPECT_EQ(RecvUpTo(client_.get(), 8), "response");
  }
  static void ExpectExitedWith(pid_t pid, int code) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), code);
  }
};

// What subprocess.run(["true"]) does in the child between vfork() and exec.
TEST_P(ChildProcessTest, VforkChildThatClosesAndDupsEverythingLeavesTheConnection) {
  const int client = client_.get(), server = server_.get();
  pid_t pid = vfork();
  if (pid == 0) {
    dup2(client, 100);
    close(client);
    close(server);
    close_range(3, ~0U, 0);
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  ExpectExitedWith(pid, 0);
  ExpectConnectionWorks();
  EXPECT_THAT(SYSCALL(fcntl(100, F_GETFD)), SyscallFailsWithErrno(EBADF)) << "the child's dup stayed its own";
}

TEST_P(ChildProcessTest, PosixSpawnAfterAConnectionLeavesIt) {
  posix_spawn_file_actions_t actions;
  ASSERT_EQ(posix_spawn_file_actions_init(&actions), 0);
  ASSERT_EQ(posix_spawn_file_actions_adddup2(&actions, client_.get(), 100), 0);
  ASSERT_EQ(posix_spawn_file_actions_addclose(&actions, server_.get()), 0);
  ASSERT_EQ(posix_spawn_file_actions_addclosefrom_np(&actions, 3), 0);
  pid_t pid = 0;
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/true", &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ExpectExitedWith(pid, 0);
  ExpectConnectionWorks();
}

// A fork() child that closes its copies of the sockets (close and close_range) and exits through
// exit() and its handlers: on Linux the sockets stay open in the parent.
TEST_P(ChildProcessTest, ForkChildThatClosesItsCopiesLeavesTheConnection) {
  const int client = client_.get(), server = server_.get();
  pid_t pid = fork();
  if (pid == 0) {
    close(client);
    close_range(static_cast<unsigned>(server), static_cast<unsigned>(server), 0);
    exit(0);
  }
  ASSERT_GT(pid, 0);
  ExpectExitedWith(pid, 0);
  ExpectConnectionWorks();
}

INSTANTIATE_TEST_SUITE_P(Families, ChildProcessTest, ::testing::Values(AF_INET, AF_INET6), FamilyName);

}  // namespace
}  // namespace tapsock::testing
