// Fault injection: the TAPSOCK_FAULTS grammar, then the link itself between an in-memory wire and
// a collector standing in for the stack, on a manual clock: the same seed gives the same faults,
// rates hold over many frames, each fault does exactly what it says, held frames leave on the
// timer hooks, and the stack folds those hooks into its own deadline.
#include "stack/link/fault_link.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "stack/link/memory_link.h"
#include "stack/stack.h"
#include "tests/unit/stack_fixture.h"

namespace tapsock {
namespace {

using test::Bytes;
using test::kStartTime;

// ------------------------------------------------------------------------------------ the grammar

FaultSpec Parse(std::string_view text) {
  FaultSpec spec;
  std::vector<std::string> errors;
  EXPECT_TRUE(ParseFaultSpec(text, &spec, &errors))
      << text << ": " << (errors.empty() ? "" : errors[0]);
  return spec;
}

TEST(FaultSpecTest, ReadsEveryKey) {
  FaultSpec s = Parse("drop=0.01,dup=0.5%,reorder=0.02,corrupt=0.001,delay=5ms,dir=tx,seed=7");
  EXPECT_DOUBLE_EQ(s.drop, 0.01);
  EXPECT_DOUBLE_EQ(s.dup, 0.005);
  EXPECT_DOUBLE_EQ(s.reorder, 0.02);
  EXPECT_DOUBLE_EQ(s.corrupt, 0.001);
  EXPECT_EQ(s.delay, 5 * kMillisecond);
  EXPECT_TRUE(s.tx);
  EXPECT_FALSE(s.rx);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_TRUE(s.Active());
}

TEST(FaultSpecTest, EveryKeyIsOptional) {
  FaultSpec s = Parse("");
  EXPECT_EQ(s.drop, 0);
  EXPECT_EQ(s.delay, 0);
  EXPECT_TRUE(s.tx && s.rx);
  EXPECT_EQ(s.seed, FaultSpec::kDefaultSeed);
  EXPECT_FALSE(s.Active());
  EXPECT_FALSE(Parse("seed=3,dir=rx").Active());
  EXPECT_TRUE(Parse("drop=1").Active());
  EXPECT_EQ(Parse(",drop=1,,").drop, 1);
}

TEST(FaultSpecTest, ReadsUnitsAndPercents) {
  EXPECT_EQ(Parse("delay=250us").delay, 250'000);
  EXPECT_EQ(Parse("delay=1.5s").delay, 1'500'000'000);
  EXPECT_EQ(Parse("delay=0ms").delay, 0);
  EXPECT_DOUBLE_EQ(Parse("drop=100%").drop, 1);
  EXPECT_DOUBLE_EQ(Parse("drop=.5").drop, 0.5);
  EXPECT_DOUBLE_EQ(Parse("dup=0.25%").dup, 0.0025);
  EXPECT_EQ(Parse("seed=18446744073709551615").seed, ~uint64_t{0});
  EXPECT_TRUE(Parse("dir=both").tx && Parse("dir=both").rx);
  EXPECT_TRUE(Parse("dir=rx").rx && !Parse("dir=rx").tx);
}

TEST(FaultSpecTest, NamesEachMalformedItemAndItsCause) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"drop=2", "'drop=2' is not a probability between 0 and 1 (or 0% and 100%)"},
      {"dup=-0.1", "'dup=-0.1' is not a probability between 0 and 1 (or 0% and 100%)"},
      {"reorder=101%", "'reorder=101%' is not a probability between 0 and 1 (or 0% and 100%)"},
      {"corrupt=nan", "'corrupt=nan' is not a probability between 0 and 1 (or 0% and 100%)"},
      {"drop=1e-3", "'drop=1e-3' is not a probability between 0 and 1 (or 0% and 100%)"},
      {"drop", "'drop' is not a probability between 0 and 1 (or 0% and 100%)"},
      {"delay=5", "'delay=5' is not a delay up to 10s with a unit (us, ms, s)"},
      {"delay=5min", "'delay=5min' is not a delay up to 10s with a unit (us, ms, s)"},
      {"delay=11s", "'delay=11s' is not a delay up to 10s with a unit (us, ms, s)"},
      {"delay=ms", "'delay=ms' is not a delay up to 10s with a unit (us, ms, s)"},
      {"dir=up", "'dir=up' is not a direction (tx, rx, both)"},
      {"seed=-1", "'seed=-1' is not a seed (a decimal number below 2^64)"},
      {"seed=18446744073709551616",
       "'seed=18446744073709551616' is not a seed (a decimal number below 2^64)"},
      {"loss=0.1", "'loss=0.1' is not a fault (drop, dup, reorder, corrupt, delay, dir, seed)"},
      {"drop=0.1,drop=0.2", "'drop=0.2': drop is given twice"},
  };
  for (const Case& c : cases) {
    FaultSpec spec;
    std::vector<std::string> errors;
    EXPECT_FALSE(ParseFaultSpec(c.text, &spec, &errors)) << c.text;
    ASSERT_EQ(errors.size(), 1u) << c.text;
    EXPECT_EQ(errors[0], c.error);
  }
  // Every malformed item is reported, not only the first.
  FaultSpec spec;
  std::vector<std::string> errors;
  EXPECT_FALSE(ParseFaultSpec("drop=2,dup=0.1,delay=x,dir=?", &spec, &errors));
  EXPECT_EQ(errors.size(), 3u);
}

TEST(FaultSpecTest, ToStringReadsBack) {
  for (const char* text : {"drop=0.05,dup=0.01,reorder=0.02,corrupt=0.001,delay=5ms,dir=tx,seed=7",
                           "delay=250us,dir=rx,seed=1", "drop=0.5%,delay=1.5ms"}) {
    FaultSpec a = Parse(text), b = Parse(a.ToString());
    EXPECT_EQ(a.drop, b.drop) << text;
    EXPECT_EQ(a.dup, b.dup);
    EXPECT_EQ(a.reorder, b.reorder);
    EXPECT_EQ(a.corrupt, b.corrupt);
    EXPECT_EQ(a.delay, b.delay);
    EXPECT_EQ(a.tx, b.tx);
    EXPECT_EQ(a.rx, b.rx);
    EXPECT_EQ(a.seed, b.seed);
  }
  EXPECT_EQ(Parse("drop=5%,delay=5ms,seed=7").ToString(), "drop=0.05,delay=5ms,dir=both,seed=7");
}

// -------------------------------------------------------------------------------------- the link

// Frame n: its number in the source MAC (the Ethernet header, which corruption leaves alone), then
// `size` bytes in all with a payload that depends on n.
Bytes Frame(uint32_t n, size_t size = 64) {
  Bytes b(size);
  for (size_t i = 0; i < size; ++i) b[i] = static_cast<uint8_t>(i * 7 + n);
  std::memcpy(&b[6], &n, 4);
  return b;
}
uint32_t NumberOf(const Bytes& b) {
  uint32_t n;
  std::memcpy(&n, &b[6], 4);
  return n;
}
std::vector<uint32_t> Numbers(const std::vector<Bytes>& frames) {
  std::vector<uint32_t> out;
  for (const Bytes& f : frames) out.push_back(NumberOf(f));
  return out;
}

// Stands in for the stack: keeps what comes up, returns the buffers to the pool.
class Collector : public NetworkDispatcher {
 public:
  explicit Collector(PacketPool& pool) : pool_(pool) {}
  void DeliverFrameLocked(Nic&, PacketBuffer* frame) override {
    frames.emplace_back(frame->bytes().begin(), frame->bytes().end());
    stamps.push_back(frame->rx_realtime_ns);
    pool_.Free(frame);
  }
  std::vector<Bytes> frames;
  std::vector<int64_t> stamps;

 private:
  PacketPool& pool_;
};

// A FaultLink between an in-memory wire (below) and a collector (above), with its own stack for
// the pool, the counters and the manual clock. Holds the stack lock for its lifetime.
struct Rig {
  explicit Rig(std::string_view text) {
    stack.SetNowLocked(kStartTime);
    fault = std::make_unique<FaultLink>(&wire, Parse(text), stack);
    nic = std::make_unique<Nic>(2, "f0", fault.get(), /*loopback=*/false);
    fault->AttachLocked(&up, nic.get());
  }

  void Send(const Bytes& frame) { fault->WritePacketLocked(Buffer(frame, 0)); }
  void Receive(const Bytes& frame, int64_t stamp = 0) {
    fault->DeliverFrameLocked(*nic, Buffer(frame, stamp));
  }
  PacketBuffer* Buffer(const Bytes& frame, int64_t stamp) {
    PacketBuffer* p = stack.pool().Alloc(static_cast<uint32_t>(frame.size()), 64);
    p->len = static_cast<uint32_t>(frame.size());
    std::memcpy(p->data(), frame.data(), frame.size());
    p->rx_realtime_ns = stamp;
    return p;
  }
  // What reached the wire / the stack since the last call.
  std::vector<Bytes> Sent() {
    std::vector<Bytes> out(wire.sent().begin(), wire.sent().end());
    wire.sent().clear();
    return out;
  }
  std::vector<Bytes> Received() { return std::exchange(up.frames, {}); }
  void Advance(Instant d) {
    stack.SetNowLocked(stack.now() + d);
    fault->RunTimersLocked(stack.now());
  }
  // Lets every held frame go; afterwards no buffer may be out of the pool.
  void Drain() {
    Advance(20 * kSecond);
    EXPECT_EQ(fault->NextDeadlineLocked(), kNever);
    EXPECT_EQ(stack.pool().in_use(), 0u) << "packet buffers leaked";
  }
  const FaultStats& stats() { return stack.stats().fault; }

  Stack stack;
  MutexLock lock{stack.mu()};
  MemoryLink wire{stack.pool(), test::kOurMac};
  Collector up{stack.pool()};
  std::unique_ptr<FaultLink> fault;
  std::unique_ptr<Nic> nic;
};

TEST(FaultLinkTest, NoFaultPassesFramesAsTheyAre) {
  Rig rig("seed=5");
  for (uint32_t n = 0; n < 100; ++n) rig.Send(Frame(n)), rig.Receive(Frame(n + 1000));
  std::vector<Bytes> sent = rig.Sent(), got = rig.Received();
  ASSERT_EQ(sent.size(), 100u);
  ASSERT_EQ(got.size(), 100u);
  for (uint32_t n = 0; n < 100; ++n) {
    EXPECT_EQ(sent[n], Frame(n));
    EXPECT_EQ(got[n], Frame(n + 1000));
  }
  EXPECT_EQ(rig.fault->NextDeadlineLocked(), kNever);
  rig.Drain();
}

TEST(FaultLinkTest, DirLimitsTheFaultsToOneDirection) {
  Rig rig("drop=1,dir=tx");
  for (uint32_t n = 0; n < 50; ++n) rig.Send(Frame(n)), rig.Receive(Frame(n));
  EXPECT_TRUE(rig.Sent().empty());
  EXPECT_EQ(rig.Received().size(), 50u);
  EXPECT_EQ(rig.stats().tx_dropped, 50u);
  EXPECT_EQ(rig.stats().rx_dropped, 0u);
  rig.Drain();
}

// All faults at once, both directions; the transmit side's frames interleaved with received ones
// in a pattern of its own, to show one direction's faults do not depend on the other's traffic.
void Exercise(Rig& rig, bool interleave) {
  for (uint32_t n = 0; n < 3000; ++n) {
    rig.Send(Frame(n, 60 + n % 1400));
    if (interleave || n % 3 == 0) rig.Receive(Frame(n, 60 + n % 700));
    if (n % 100 == 99) rig.Advance(kMillisecond / 2);
  }
  rig.Advance(10 * kMillisecond);
}
constexpr const char* kMixed = "drop=0.1,dup=0.1,reorder=0.1,corrupt=0.1,seed=42";

TEST(FaultLinkTest, SameSeedSameFaults) {
  Rig a(kMixed), b(kMixed), other("drop=0.1,dup=0.1,reorder=0.1,corrupt=0.1,seed=43");
  Exercise(a, true);
  Exercise(b, false);
  Exercise(other, true);
  std::vector<Bytes> a_sent = a.Sent(), b_sent = b.Sent(), other_sent = other.Sent();
  EXPECT_EQ(a_sent, b_sent);
  EXPECT_NE(a_sent, other_sent);
  EXPECT_EQ(a.stats().tx_dropped, b.stats().tx_dropped);
  EXPECT_EQ(a.stats().tx_reordered, b.stats().tx_reordered);
  // Received frames: the same sequence in a and other, different faults.
  EXPECT_NE(a.Received(), other.Received());
  a.Drain();
  b.Drain();
  other.Drain();
}

// Within 5 standard deviations of n Bernoulli(p) trials.
void ExpectRate(uint64_t count, double n, double p, const char* what) {
  double mean = n * p, sd = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(count), mean, 5 * sd) << what;
}

TEST(FaultLinkTest, RatesHoldAndCountersMatchWhatHappened) {
  constexpr uint32_t kFrames = 100'000;
  constexpr double kDrop = 0.05, kDup = 0.02, kReorder = 0.03, kCorrupt = 0.01;
  Rig rig("drop=0.05,dup=2%,reorder=0.03,corrupt=0.01,dir=tx,seed=7");
  for (uint32_t n = 0; n < kFrames; ++n) rig.Send(Frame(n));
  rig.Advance(FaultLink::kReorderHold);  // the last frame held back goes alone
  const FaultStats& s = rig.stats();
  double survivors = kFrames - static_cast<double>(s.tx_dropped);
  ExpectRate(s.tx_dropped, kFrames, kDrop, "dropped");
  ExpectRate(s.tx_duplicated, survivors, kDup, "duplicated");
  ExpectRate(s.tx_corrupted, survivors, kCorrupt, "corrupted");
  // A frame is held back only when none is waiting already: r / (1 + r) of the survivors.
  ExpectRate(s.tx_reordered, survivors, kReorder / (1 + kReorder), "reordered");

  // The counters against the frames on the wire.
  std::vector<Bytes> sent = rig.Sent();
  EXPECT_EQ(sent.size(), kFrames - s.tx_dropped + s.tx_duplicated);
  std::vector<int> seen(kFrames, 0);
  std::set<uint32_t> corrupted, overtaken;
  uint32_t highest = 0;
  bool first = true;
  for (const Bytes& f : sent) {
    uint32_t n = NumberOf(f);
    ASSERT_LT(n, kFrames);
    ++seen[n];
    if (f != Frame(n)) corrupted.insert(n);
    if (!first && n < highest) overtaken.insert(n);
    highest = first ? n : std::max(highest, n);
    first = false;
  }
  uint64_t missing = 0, twice = 0;
  for (int c : seen) missing += c == 0, twice += c == 2;
  EXPECT_EQ(missing, s.tx_dropped);
  EXPECT_EQ(twice, s.tx_duplicated);
  EXPECT_EQ(corrupted.size(), s.tx_corrupted);
  // Every frame held back was overtaken, but perhaps the last (released by the timer).
  EXPECT_LE(s.tx_reordered - overtaken.size(), 1u);
  EXPECT_EQ(s.rx_dropped + s.rx_duplicated + s.rx_corrupted + s.rx_reordered, 0u);
  rig.Drain();
}

TEST(FaultLinkTest, DuplicateIsTheSameBytesInAnotherBuffer) {
  Rig rig("dup=1");
  for (uint32_t n = 0; n < 20; ++n)
    rig.Send(Frame(n, 60 + 70 * n)), rig.Receive(Frame(n, 1514), 5000 + n);
  std::vector<Bytes> sent = rig.Sent(), got = rig.Received();
  ASSERT_EQ(sent.size(), 40u);
  ASSERT_EQ(got.size(), 40u);
  for (uint32_t n = 0; n < 20; ++n) {
    EXPECT_EQ(sent[2 * n], Frame(n, 60 + 70 * n));
    EXPECT_EQ(sent[2 * n + 1], sent[2 * n]);
    EXPECT_EQ(got[2 * n], Frame(n, 1514));
    EXPECT_EQ(got[2 * n + 1], got[2 * n]);
    EXPECT_EQ(rig.up.stamps[2 * n + 1], 5000 + n);  // the copy keeps the receive time
  }
  EXPECT_EQ(rig.stats().tx_duplicated, 20u);
  EXPECT_EQ(rig.stats().rx_duplicated, 20u);
  rig.Drain();
}

int DifferingBits(const Bytes& a, const Bytes& b, size_t* first_byte) {
  int bits = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && bits == 0) *first_byte = i;
    bits += __builtin_popcount(a[i] ^ b[i]);
  }
  return bits;
}

TEST(FaultLinkTest, CorruptFlipsExactlyOneBitPastTheEthernetHeader) {
  Rig rig("corrupt=1,seed=9");
  std::set<size_t> positions;
  for (uint32_t n = 0; n < 2000; ++n) {
    size_t size = 15 + n % 1500;
    rig.Send(Frame(n, size));
    std::vector<Bytes> sent = rig.Sent();
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(sent[0].size(), size);
    size_t at = 0;
    EXPECT_EQ(DifferingBits(sent[0], Frame(n, size), &at), 1) << "frame " << n;
    EXPECT_GE(at, 14u);
    positions.insert(at);
  }
  EXPECT_GT(positions.size(), 500u);  // spread over the frame, not always the same byte
  // A bare Ethernet header has nothing to corrupt: it passes, uncounted.
  rig.Receive(Frame(1, 14));
  EXPECT_EQ(rig.Received(), std::vector<Bytes>{Frame(1, 14)});
  EXPECT_EQ(rig.stats().tx_corrupted, 2000u);
  EXPECT_EQ(rig.stats().rx_corrupted, 0u);
  rig.Drain();
}

TEST(FaultLinkTest, ReorderLetsTheNextFrameOvertake) {
  Rig rig("reorder=1");
  for (uint32_t n = 1; n <= 5; ++n) rig.Send(Frame(n));
  // 1 held, 2 overtakes it (and is not held itself: one waits at a time), 3 held, 4 overtakes ...
  EXPECT_EQ(Numbers(rig.Sent()), (std::vector<uint32_t>{2, 1, 4, 3}));
  EXPECT_EQ(rig.stats().tx_reordered, 3u);
  // 5 waits for a frame that does not come: it leaves alone after the hold time.
  EXPECT_EQ(rig.fault->NextDeadlineLocked(), kStartTime + FaultLink::kReorderHold);
  rig.Advance(FaultLink::kReorderHold - 1);
  EXPECT_TRUE(rig.Sent().empty());
  rig.Advance(1);
  EXPECT_EQ(Numbers(rig.Sent()), std::vector<uint32_t>{5});
  EXPECT_EQ(rig.fault->NextDeadlineLocked(), kNever);
  rig.Drain();
}

TEST(FaultLinkTest, DelayHoldsEveryFrameAndKeepsOrder) {
  Rig rig("delay=5ms");
  rig.Send(Frame(1));
  rig.Receive(Frame(2), 777);
  rig.Advance(2 * kMillisecond);
  rig.Send(Frame(3));
  EXPECT_TRUE(rig.Sent().empty());
  EXPECT_TRUE(rig.Received().empty());
  EXPECT_EQ(rig.fault->NextDeadlineLocked(), kStartTime + 5 * kMillisecond);
  rig.Advance(3 * kMillisecond - 1);
  EXPECT_TRUE(rig.Sent().empty());
  rig.Advance(1);  // kStartTime + 5 ms
  EXPECT_EQ(Numbers(rig.Sent()), std::vector<uint32_t>{1});
  EXPECT_EQ(Numbers(rig.Received()), std::vector<uint32_t>{2});
  EXPECT_EQ(rig.up.stamps.back(), 777 + 5 * kMillisecond);  // received when the stack got it
  EXPECT_EQ(rig.fault->NextDeadlineLocked(), kStartTime + 7 * kMillisecond);
  rig.Advance(2 * kMillisecond);
  EXPECT_EQ(Numbers(rig.Sent()), std::vector<uint32_t>{3});
  EXPECT_EQ(rig.stats().tx_delayed, 2u);
  EXPECT_EQ(rig.stats().rx_delayed, 1u);
  rig.Drain();
}

TEST(FaultLinkTest, AFullDelayLinePushesTheOldestOut) {
  Rig rig("delay=1s,dir=tx");
  constexpr uint32_t kExtra = 10;
  for (uint32_t n = 0; n < FaultLink::kHoldCapacity + kExtra; ++n) rig.Send(Frame(n));
  std::vector<uint32_t> early = Numbers(rig.Sent());
  EXPECT_EQ(early, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  rig.Advance(kSecond);
  std::vector<uint32_t> late = Numbers(rig.Sent());
  ASSERT_EQ(late.size(), FaultLink::kHoldCapacity);
  EXPECT_EQ(late.front(), kExtra);
  EXPECT_EQ(late.back(), FaultLink::kHoldCapacity + kExtra - 1);
  rig.Drain();
}

TEST(FaultLinkTest, ReorderAndDelayTogether) {
  Rig rig("reorder=1,delay=2ms,dir=tx");
  rig.Send(Frame(1));  // held back for reordering, then for the delay
  rig.Advance(FaultLink::kReorderHold);
  EXPECT_TRUE(rig.Sent().empty());
  rig.Advance(2 * kMillisecond);
  EXPECT_EQ(Numbers(rig.Sent()), std::vector<uint32_t>{1});
  rig.Drain();
}

// ----------------------------------------------------------------------- through the stack's
// timers

class DeadlineRecorder : public TimerObserver {
 public:
  bool OnDeadlineChangedLocked(Instant deadline) override {
    deadlines.push_back(deadline);
    return true;
  }
  std::vector<Instant> deadlines;
};

TEST(FaultLinkTest, TheStackWakesForHeldFrames) {
  Stack stack;
  MutexLock lock(stack.mu());
  MemoryLink wire(stack.pool(), test::kOurMac);
  FaultLink fault(&wire, Parse("delay=5ms,dir=tx"), stack);
  Nic* nic = stack.AddNicLocked("tap0", &fault);
  stack.AddAddressLocked(*nic, {test::kOurIp, test::kPrefixLen});
  stack.SetNowLocked(kStartTime);
  DeadlineRecorder loop;
  stack.SetTimerObserver(&loop);
  stack.LoopArmedLocked(kNever);  // the loop sleeps with nothing to wait for

  // The stack announces its address (gratuitous ARP); the frame is held in the delay line.
  stack.arp().AnnounceLocked(*nic);
  stack.FlushLocked();
  EXPECT_TRUE(wire.sent().empty());
  ASSERT_FALSE(loop.deadlines.empty());
  EXPECT_EQ(loop.deadlines.back(), kStartTime + 5 * kMillisecond);  // the loop is woken to re-arm
  EXPECT_EQ(stack.NextDeadlineLocked(), kStartTime + 5 * kMillisecond);

  stack.SetNowLocked(kStartTime + 5 * kMillisecond);
  stack.RunTimersLocked();
  stack.FlushLocked();
  ASSERT_EQ(wire.sent().size(), 1u);
  EXPECT_TRUE(test::ParseSent(wire.PopSent()).arp.has_value());
  EXPECT_EQ(stack.stats().fault.tx_delayed, 1u);
  EXPECT_EQ(fault.NextDeadlineLocked(), kNever);
  EXPECT_EQ(stack.pool().in_use(), 0u);
}

}  // namespace
}  // namespace tapsock
