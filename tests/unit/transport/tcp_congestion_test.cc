// Tests for TCP congestion control (stack/transport/tcp/congestion_control.cc, new_reno.cc),
// driven by a manual clock and a sender that keeps its window full: the factory, slow start with
// RFC 3465 byte counting, the fast recovery and RTO window arithmetic every algorithm shares (run
// for each), and Reno's FlightSize/2 reductions and one segment per RTT. CUBIC's curve is in
// tcp_cubic_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/transport/congestion_flow.h"

namespace tapsock::test {
namespace {

TEST(CongestionFactory, ByLinuxName) {
  const auto names = tcp::AvailableCongestionControls();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_STREQ(names[0], "reno");  // Linux lists reno (built in) first
  EXPECT_STREQ(names[1], "cubic");
  for (const char* name : names) EXPECT_STREQ(MakeCongestionControl(name)->name(), name);
  EXPECT_EQ(MakeCongestionControl("bbr"), nullptr);
  EXPECT_EQ(MakeCongestionControl("CUBIC"), nullptr);
  EXPECT_EQ(MakeCongestionControl(""), nullptr);
  EXPECT_STREQ(MakeCongestionControl(tcp::kDefaultCongestionControl)->name(), "cubic");
}

// ---- What every algorithm shares ----

class CongestionCommon : public testing::TestWithParam<const char*> {
 protected:
  Flow f_{GetParam()};
  CongestionControl& cc_ = *f_.cc;
};

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, CongestionCommon,
                         testing::ValuesIn(tcp::AvailableCongestionControls().begin(),
                                           tcp::AvailableCongestionControls().end()),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(CongestionCommon, InitialWindowIsTenSegments) {
  EXPECT_EQ(cc_.cwnd(), Segs(10));
  EXPECT_EQ(cc_.ssthresh(), 0x7fffffffu);
  EXPECT_EQ(cc_.mss(), kMss);
  EXPECT_TRUE(cc_.InSlowStart());
}

TEST_P(CongestionCommon, SlowStartCountsBytesUpToTwoSegmentsPerAck) {
  f_.Ack(kMss);
  EXPECT_EQ(cc_.cwnd(), Segs(11));
  f_.Ack(500);
  EXPECT_EQ(cc_.cwnd(), Segs(11) + 500);
  f_.Ack(Segs(2));  // a delayed ACK
  EXPECT_EQ(cc_.cwnd(), Segs(13) + 500);
  f_.Ack(Segs(5));  // a stretch ACK: RFC 3465 L = 2*SMSS
  EXPECT_EQ(cc_.cwnd(), Segs(15) + 500);
}

TEST_P(CongestionCommon, SlowStartDoublesEachRtt) {
  for (uint32_t expected : {20u, 40u, 80u}) {
    f_.Round();
    EXPECT_EQ(cc_.cwnd(), Segs(expected));
  }
  f_.Round(Segs(2));  // delayed ACKs every other segment still double it
  EXPECT_EQ(cc_.cwnd(), Segs(160));
}

TEST_P(CongestionCommon, NoGrowthWhenApplicationLimited) {
  cc_.OnAck(kMss, kRtt, Segs(3), f_.now);  // 3 segments in flight of a 10-segment window
  EXPECT_EQ(cc_.cwnd(), Segs(10));
}

TEST_P(CongestionCommon, FastRecoveryInflatesAndDeflates) {
  f_.GrowTo(40);
  cc_.OnCongestionEvent(Segs(40), f_.now);
  const uint32_t ssthresh = cc_.ssthresh();
  EXPECT_EQ(cc_.cwnd(), ssthresh);
  cc_.InflateForDupAcks(3);  // RFC 6582 3.2 step 2: ssthresh + 3*SMSS
  EXPECT_EQ(cc_.cwnd(), ssthresh + Segs(3));
  cc_.InflateForDupAcks(1);
  EXPECT_EQ(cc_.cwnd(), ssthresh + Segs(4));
  cc_.DeflateForPartialAck(Segs(5));  // step 5: minus 5 segments, plus one back
  EXPECT_EQ(cc_.cwnd(), ssthresh);
  cc_.DeflateForPartialAck(500);  // less than a segment: nothing added back
  EXPECT_EQ(cc_.cwnd(), ssthresh - 500);
  cc_.DeflateForPartialAck(Segs(1000));  // never below one segment
  EXPECT_EQ(cc_.cwnd(), kMss);
  cc_.OnRecoveryExit(f_.now);  // step 6, full ACK
  EXPECT_EQ(cc_.cwnd(), ssthresh);
  EXPECT_EQ(cc_.ssthresh(), ssthresh);
}

TEST_P(CongestionCommon, RetransmitTimeoutCollapsesToOneSegment) {
  f_.GrowTo(40);
  cc_.OnRetransmitTimeout(Segs(40), f_.now);
  const uint32_t ssthresh = cc_.ssthresh();
  EXPECT_EQ(cc_.cwnd(), kMss);
  EXPECT_GE(ssthresh, Segs(20));
  EXPECT_LE(ssthresh, Segs(28));
  // The same segment times out again: ssthresh is held (RFC 5681 3.1).
  cc_.OnRetransmitTimeout(kMss, f_.now + kSecond);
  EXPECT_EQ(cc_.ssthresh(), ssthresh);
  EXPECT_EQ(cc_.cwnd(), kMss);
  // New data acknowledged, then another timeout: a new loss, a new ssthresh from 2 segments.
  f_.Ack(kMss);
  EXPECT_EQ(cc_.cwnd(), Segs(2));
  cc_.OnRetransmitTimeout(Segs(2), f_.now + 2 * kSecond);
  EXPECT_EQ(cc_.ssthresh(), Segs(2));  // the 2*SMSS floor
  EXPECT_EQ(cc_.cwnd(), kMss);
}

TEST_P(CongestionCommon, TimeoutDuringFastRecoveryKeepsItsSsthresh) {
  f_.GrowTo(40);
  cc_.OnCongestionEvent(Segs(40), f_.now);
  const uint32_t ssthresh = cc_.ssthresh();
  cc_.OnRetransmitTimeout(Segs(40), f_.now + kSecond);  // Linux's tcp_enter_loss
  EXPECT_EQ(cc_.ssthresh(), ssthresh);
  EXPECT_EQ(cc_.cwnd(), kMss);
}

TEST_P(CongestionCommon, IdleRestartFallsBackToTheInitialWindow) {
  f_.GrowTo(40);
  cc_.OnIdleRestart(f_.now + 5 * kSecond);
  EXPECT_EQ(cc_.cwnd(), Segs(10));  // RFC 5681 4.1
  EXPECT_EQ(cc_.ssthresh(), 0x7fffffffu);
  f_.Loss();
  f_.RunFor(1);
  const uint32_t before = cc_.cwnd();
  cc_.OnIdleRestart(f_.now + 5 * kSecond);
  EXPECT_EQ(cc_.cwnd(), Segs(10));
  EXPECT_EQ(cc_.ssthresh(), std::max(before / 4 * 3, cc_.ssthresh()));
  EXPECT_GE(cc_.ssthresh(), before / 4 * 3);
}

// ---- Reno (RFC 5681, RFC 6582) ----

TEST(RenoTest, FastRecoverySsthreshIsHalfTheFlight) {
  Flow f("reno");
  f.GrowTo(40);
  f.cc->OnCongestionEvent(Segs(30), f.now);  // FlightSize, not cwnd
  EXPECT_EQ(f.cc->ssthresh(), Segs(15));
  EXPECT_EQ(f.cc->cwnd(), Segs(15));

  Flow small("reno");
  small.cc->OnCongestionEvent(Segs(3), small.now);
  EXPECT_EQ(small.cc->ssthresh(), Segs(2));  // max(FlightSize/2, 2*SMSS)
}

TEST(RenoTest, RetransmitTimeoutSsthreshIsHalfTheFlight) {
  Flow f("reno");
  f.GrowTo(40);
  f.cc->OnRetransmitTimeout(Segs(33), f.now);
  EXPECT_EQ(f.cc->ssthresh(), 16500u);
  EXPECT_EQ(f.cc->cwnd(), kMss);
}

TEST(RenoTest, SlowStartHandsOverToCongestionAvoidanceAtSsthresh) {
  Flow f("reno");
  f.GrowTo(40);
  f.cc->OnRetransmitTimeout(Segs(40), f.now);  // ssthresh 20 segments
  for (uint32_t expected : {2u, 4u, 8u, 16u, 20u}) {
    f.Round();
    EXPECT_EQ(f.cc->cwnd(), Segs(expected));
  }
  EXPECT_FALSE(f.cc->InSlowStart());
  // Two segments acked past ssthresh count towards congestion avoidance, not slow start.
  f.cc->OnRetransmitTimeout(Segs(40), f.now);
  f.GrowTo(19);
  f.Ack(Segs(2));
  EXPECT_EQ(f.cc->cwnd(), Segs(20));
}

TEST(RenoTest, CongestionAvoidanceAddsOneSegmentPerRtt) {
  Flow f("reno");
  f.GrowTo(40);
  f.Loss();  // cwnd = ssthresh = 20 segments
  ASSERT_EQ(f.cc->cwnd(), Segs(20));
  for (uint32_t expected = 21; expected <= 30; ++expected) {
    f.Round();
    EXPECT_EQ(f.cc->cwnd(), Segs(expected));
  }
  for (int i = 0; i < 10; ++i) f.Round(Segs(2));  // delayed ACKs: byte counting keeps the pace
  EXPECT_EQ(f.cc->cwnd(), Segs(40));
}

}  // namespace
}  // namespace tapsock::test
