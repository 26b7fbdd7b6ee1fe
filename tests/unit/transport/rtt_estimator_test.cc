// Tests for the RFC 6298 RTT estimator (stack/transport/tcp/rtt_estimator.cc): the initial RTO,
// the first and later samples worked through by hand, the 200 ms floor (Linux's TCP_RTO_MIN) and
// 120 s ceiling, the clock granularity G once the variance has decayed, exponential backoff and
// its cap, and that only a valid sample ends a backoff.
#include "stack/transport/tcp/rtt_estimator.h"

#include <gtest/gtest.h>

namespace tapsock::test {
namespace {

using tcp::RttEstimator;
constexpr int64_t kMs = kMillisecond;

TEST(RttEstimator, InitialRtoIsOneSecond) {
  RttEstimator rtt;
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.Rto(), 1 * kSecond);
  EXPECT_EQ(rtt.srtt(), 0);
  EXPECT_EQ(rtt.rttvar(), 0);
  EXPECT_EQ(rtt.min_rtt(), 0);
}

TEST(RttEstimator, FirstSampleSetsSrttAndHalfVariance) {
  // RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR = 3R.
  RttEstimator rtt;
  rtt.Sample(100 * kMs);
  EXPECT_TRUE(rtt.has_sample());
  EXPECT_EQ(rtt.srtt(), 100 * kMs);
  EXPECT_EQ(rtt.rttvar(), 50 * kMs);
  EXPECT_EQ(rtt.Rto(), 300 * kMs);
  EXPECT_EQ(rtt.min_rtt(), 100 * kMs);
}

TEST(RttEstimator, LaterSamplesSmoothWithAlphaAndBeta) {
  // RFC 6298 2.3 by hand, RTTVAR updated with the old SRTT:
  //   R'=200: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5, SRTT = 7/8*100 + 1/8*200 = 112.5,
  //           RTO = 112.5 + 4*62.5 = 362.5 ms
  //   R'=50:  RTTVAR = 3/4*62.5 + 1/4*|112.5-50| = 62.5, SRTT = 7/8*112.5 + 1/8*50 = 104.6875,
  //           RTO = 104.6875 + 250 = 354.6875 ms
  RttEstimator rtt;
  rtt.Sample(100 * kMs);
  rtt.Sample(200 * kMs);
  EXPECT_EQ(rtt.rttvar(), 62'500'000);
  EXPECT_EQ(rtt.srtt(), 112'500'000);
  EXPECT_EQ(rtt.Rto(), 362'500'000);
  rtt.Sample(50 * kMs);
  EXPECT_EQ(rtt.rttvar(), 62'500'000);
  EXPECT_EQ(rtt.srtt(), 104'687'500);
  EXPECT_EQ(rtt.Rto(), 354'687'500);
  EXPECT_EQ(rtt.min_rtt(), 50 * kMs);
}

TEST(RttEstimator, ShortRttsAreClampedToTheLinuxMinimum) {
  RttEstimator rtt;
  rtt.Sample(10 * kMs);  // 10 + 4*5 = 30 ms computed
  EXPECT_EQ(rtt.Rto(), RttEstimator::kMinRto);
  EXPECT_EQ(rtt.Rto(), 200 * kMs);
  rtt.Sample(0);  // loopback can be faster than the clock: still a valid sample
  EXPECT_EQ(rtt.min_rtt(), 0);
  EXPECT_EQ(rtt.Rto(), 200 * kMs);
}

TEST(RttEstimator, GranularityBoundsTheVarianceTerm) {
  // Identical samples decay RTTVAR towards 0; then RTO = SRTT + G (RFC 6298 2.3).
  RttEstimator rtt;
  for (int i = 0; i < 40; ++i) rtt.Sample(500 * kMs);
  EXPECT_EQ(rtt.srtt(), 500 * kMs);
  EXPECT_LT(4 * rtt.rttvar(), RttEstimator::kGranularity);
  EXPECT_EQ(rtt.Rto(), 501 * kMs);
}

TEST(RttEstimator, LongRttsAreClampedToTheMaximum) {
  RttEstimator rtt;
  rtt.Sample(100 * kSecond);  // 100 s + 200 s computed
  EXPECT_EQ(rtt.Rto(), RttEstimator::kMaxRto);
  EXPECT_EQ(rtt.Rto(), 120 * kSecond);
}

TEST(RttEstimator, NegativeSamplesAreIgnored) {
  RttEstimator rtt;
  rtt.Sample(-5 * kMs);
  EXPECT_FALSE(rtt.has_sample());
  rtt.Sample(100 * kMs);
  rtt.Backoff();
  rtt.Sample(-1);
  EXPECT_EQ(rtt.srtt(), 100 * kMs);
  EXPECT_EQ(rtt.backoffs(), 1);  // not a valid sample, so the backoff stays
}

TEST(RttEstimator, BackoffDoublesUpToTheCap) {
  // RFC 6298 5.5, from the initial 1 s: 2, 4, ... 64, then 120 (not 128) and it stays there.
  RttEstimator rtt;
  const int64_t expected[] = {2, 4, 8, 16, 32, 64, 120, 120, 120};
  for (int64_t seconds : expected) {
    rtt.Backoff();
    EXPECT_EQ(rtt.Rto(), seconds * kSecond) << "after " << rtt.backoffs() << " backoffs";
  }
  EXPECT_EQ(rtt.backoffs(), 9);  // still counted past the cap, for the retry limits
  for (int i = 0; i < 100; ++i) rtt.Backoff();
  EXPECT_EQ(rtt.Rto(), 120 * kSecond);
}

TEST(RttEstimator, BackoffStartsFromTheComputedRto) {
  RttEstimator rtt;
  rtt.Sample(100 * kMs);  // 300 ms
  rtt.Backoff();
  EXPECT_EQ(rtt.Rto(), 600 * kMs);
  rtt.Backoff();
  EXPECT_EQ(rtt.Rto(), 1200 * kMs);
  rtt.ResetBackoff();
  EXPECT_EQ(rtt.backoffs(), 0);
  EXPECT_EQ(rtt.Rto(), 300 * kMs);
}

TEST(RttEstimator, MinimumIsAppliedBeforeDoubling) {
  // 30 ms computed is raised to 200 ms first, so the backed-off timer is 400 ms, not 60 ms.
  RttEstimator rtt;
  rtt.Sample(10 * kMs);
  rtt.Backoff();
  EXPECT_EQ(rtt.Rto(), 400 * kMs);
}

TEST(RttEstimator, ValidSampleEndsTheBackoff) {
  RttEstimator rtt;
  rtt.Sample(100 * kMs);
  rtt.Backoff();
  rtt.Backoff();
  rtt.Backoff();
  EXPECT_EQ(rtt.Rto(), 2400 * kMs);
  rtt.Sample(100 * kMs);  // RTTVAR = 3/4*50 = 37.5, SRTT = 100: RTO = 250 ms
  EXPECT_EQ(rtt.backoffs(), 0);
  EXPECT_EQ(rtt.Rto(), 250 * kMs);
}

TEST(RttEstimator, FallbackAfterSynRetransmitOnlyWithoutSamples) {
  // RFC 6298 5.7: 3 s once data flows if the handshake needed a retransmission.
  RttEstimator rtt;
  rtt.UseFallbackRto();
  EXPECT_EQ(rtt.Rto(), 3 * kSecond);
  rtt.Sample(100 * kMs);
  EXPECT_EQ(rtt.Rto(), 300 * kMs);

  RttEstimator measured;
  measured.Sample(100 * kMs);
  measured.UseFallbackRto();
  EXPECT_EQ(measured.Rto(), 300 * kMs);
}

}  // namespace
}  // namespace tapsock::test
