// Tests for CUBIC (stack/transport/tcp/cubic.cc, RFC 9438) with a manual clock and a sender that
// keeps its window full: the 0.7 reduction, concave growth back to W_max after K seconds and convex
// beyond, the Reno-friendly region on short paths, fast convergence, the K = 0 curve after a
// timeout, and the epoch clock stopping while the application limits sending.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/transport/congestion_flow.h"

namespace tapsock::test {
namespace {

constexpr double kC = 0.4, kBeta = 0.7;

double Wcubic(double t, double k, double w_max) {
  return kC * std::pow(t - k, 3) + w_max;
}

TEST(CubicTest, CongestionEventLeavesSeventyPercent) {
  Flow f("cubic");
  f.GrowTo(100);
  f.cc->OnCongestionEvent(Segs(100), f.now);
  EXPECT_EQ(f.cc->ssthresh(), Segs(70));
  EXPECT_EQ(f.cc->cwnd(), Segs(70));
  Flow tiny("cubic");
  for (int i = 0; i < 5; ++i) tiny.Loss();  // 10 * 0.7^5 = 1.7 segments
  EXPECT_EQ(tiny.cc->ssthresh(), Segs(2));  // never below 2*SMSS
  EXPECT_EQ(tiny.cc->cwnd(), Segs(2));
}

TEST(CubicTest, ConcaveBackToWmaxAfterKSecondsThenConvex) {
  Flow f("cubic");
  const double w_max = 1000;
  f.GrowTo(1000);
  f.Loss();
  ASSERT_EQ(f.cc->cwnd(), Segs(700));
  const double k = std::cbrt(w_max * (1 - kBeta) / kC);  // 9.09 s
  // cwnd in segments at t = 0, K/4, ..., 7K/4.
  double w[8];
  w[0] = InSegs(f.cc->cwnd());
  for (int i = 1; i < 8; ++i) {
    f.RunFor(k / 4);
    w[i] = InSegs(f.cc->cwnd());
    EXPECT_NEAR(w[i], Wcubic(i * k / 4, k, w_max), 0.01 * w_max) << "at " << i << "K/4";
  }
  EXPECT_NEAR(w[4], w_max, 0.05 * w_max);  // t = K
  for (int i = 1; i < 4; ++i) EXPECT_LT(w[i], w_max) << "plateau before K";
  // Concave: growth slows towards W_max. Convex: it speeds up beyond.
  EXPECT_GT(w[1] - w[0], w[2] - w[1]);
  EXPECT_GT(w[2] - w[1], w[3] - w[2]);
  EXPECT_LT(w[5] - w[4], w[6] - w[5]);
  EXPECT_LT(w[6] - w[5], w[7] - w[6]);
  EXPECT_GT(w[7], 1.05 * w_max);
}

TEST(CubicTest, RenoFriendlyRegionDominatesOnShortRtts) {
  // W_max 20 segments over a 1 ms path: the curve would take K = 2.5 s to get back, while Reno
  // gains a segment per millisecond.
  Flow f("cubic");
  f.rtt = 1 * kMillisecond;
  f.GrowTo(20);
  f.Loss();
  ASSERT_EQ(f.cc->cwnd(), Segs(14));
  // alpha_cubic = 3 (1 - beta) / (1 + beta) = 0.53 segments per RTT until W_est passes cwnd_prior.
  for (int i = 0; i < 10; ++i) f.Round();
  EXPECT_NEAR(InSegs(f.cc->cwnd()), 14 + 10 * 3 * (1 - kBeta) / (1 + kBeta), 0.5);
  f.RunFor(1.0);
  const double k = std::cbrt(20 * (1 - kBeta) / kC);
  EXPECT_LT(Wcubic(1.0, k, 20), 20);
  EXPECT_GT(InSegs(f.cc->cwnd()), 900);  // about one segment per RTT, as Reno
  EXPECT_LT(InSegs(f.cc->cwnd()), 1100);
}

TEST(CubicTest, FastConvergenceLowersWmaxAfterALossBelowIt) {
  Flow f("cubic");
  f.GrowTo(1000);
  f.Loss();  // W_max = 1000, cwnd 700
  f.Loss();  // 700 < 1000: W_max = 700 (1 + 0.7) / 2 = 595, cwnd 490
  ASSERT_EQ(f.cc->cwnd(), Segs(490));
  EXPECT_EQ(f.cc->ssthresh(), Segs(490));
  const double w_max = 595;
  const double k = std::cbrt((w_max - 490) / kC);  // 6.4 s
  f.RunFor(k);
  EXPECT_NEAR(InSegs(f.cc->cwnd()), w_max, 0.05 * w_max);  // not back at 700
}

TEST(CubicTest, AfterTimeoutTheCurveStartsFlatFromWhereCongestionAvoidanceBegins) {
  // RFC 9438 4.8: K = 0 and W_max = cwnd at the start of congestion avoidance.
  Flow f("cubic");
  f.GrowTo(1000);
  f.cc->OnRetransmitTimeout(Segs(1000), f.now);
  EXPECT_EQ(f.cc->ssthresh(), Segs(700));
  EXPECT_EQ(f.cc->cwnd(), kMss);
  while (f.cc->InSlowStart()) f.Round();
  const double start = InSegs(f.cc->cwnd());
  f.RunFor(5.0);
  EXPECT_NEAR(InSegs(f.cc->cwnd()), Wcubic(5.0, 0, start), 0.05 * start);
}

TEST(CubicTest, ApplicationLimitedTimeDoesNotAdvanceTheCurve) {
  Flow a("cubic"), b("cubic");
  for (Flow* f : {&a, &b}) {
    f->GrowTo(1000);
    f->Loss();
  }
  a.RunFor(4.0);
  b.RunFor(2.0);
  const uint32_t before = b.cc->cwnd();
  for (int i = 0; i < 100; ++i, b.now += kRtt) {
    b.cc->OnAck(kMss, kRtt, before / 4, b.now);  // ten seconds with a quarter of the window used
  }
  EXPECT_EQ(b.cc->cwnd(), before);
  b.RunFor(2.0);
  EXPECT_NEAR(InSegs(b.cc->cwnd()), InSegs(a.cc->cwnd()), 0.01 * InSegs(a.cc->cwnd()));
}

}  // namespace
}  // namespace tapsock::test
