// Nagle's algorithm meeting delayed ACKs: a reply written as two small sends must still arrive,
// because the peer's delayed-ACK timer releases the second one (RFC 1122 4.2.3.2 bounds the delay).
// Each round trip waits at most a few seconds, so a stack without running timers fails here
// instead of hanging.
#include <gtest/gtest.h>
#include <poll.h>

#include <string>

#include "tests/conformance/tcp_util.h"
#include "tests/conformance/test_util.h"

namespace tapsock::testing {
namespace {

class TcpNagleTest : public ::testing::TestWithParam<int> {};

TEST_P(TcpNagleTest, TwoSmallWritesPerReplyAllArrive) {
  TcpPair pair = ConnectedPair(GetParam());
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(SendAll(pair.client.get(), "q"));
    ASSERT_EQ(RecvUpTo(pair.server.get(), 1), "q");
    ASSERT_TRUE(SendAll(pair.server.get(), "0123456789"));
    ASSERT_TRUE(SendAll(pair.server.get(), "abcdefghij"));  // held by Nagle until an ACK
    std::string got;
    while (got.size() < 20) {
      pollfd p{pair.client.get(), POLLIN, 0};
      ASSERT_EQ(poll(&p, 1, 3000), 1) << "round " << round << ": the second write never came";
      char buf[64];
      ssize_t n = recv(pair.client.get(), buf, sizeof buf, 0);
      ASSERT_GT(n, 0);
      got.append(buf, n);
    }
    EXPECT_EQ(got, "0123456789abcdefghij");
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TcpNagleTest, ::testing::Values(AF_INET, AF_INET6));

}  // namespace
}  // namespace tapsock::testing
