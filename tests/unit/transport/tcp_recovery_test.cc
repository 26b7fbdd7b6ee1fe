// Loss recovery over many holes, segment by segment against a scripted receiver: the stall two
// stacks fell into after a burst loss (issue 10). A burst loses every other segment of a window
// and the retransmissions too, until the RTO; then the receiver holds more ranges than its SACK
// blocks can name, so the sender cannot know the highest ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>
#include <utility>
#include <vector>

#include "tests/unit/transport/tcp_segments_fixture.h"

namespace tapsock::test {
namespace {

using Block = std::pair<uint32_t, uint32_t>;  // [left, right) in sequence space

// The peer's receive side, byte by byte over the `size` bytes the test sends: it keeps what
// arrives, acknowledges cumulatively and names at most `max_blocks` held ranges above the ACK,
// the lowest first (RFC 2018 lets a receiver choose; naming the lowest leaves the highest ranges
// unknown to the sender, as after a real burst).
class ScriptedReceiver {
 public:
  ScriptedReceiver(uint32_t first_seq, size_t size) : first_(first_seq), held_(size, false) {}

  void Take(uint32_t seq, size_t len) {
    for (size_t i = seq - first_; i < std::min(held_.size(), seq - first_ + len); ++i) held_[i] = true;
  }
  uint32_t Ack() const {
    auto hole = std::find(held_.begin(), held_.end(), false);
    return first_ + static_cast<uint32_t>(hole - held_.begin());
  }
  std::vector<Block> Blocks(size_t max_blocks) const {
    std::vector<Block> out;
    size_t i = Ack() - first_;
    while (i < held_.size() && out.size() < max_blocks) {
      while (i < held_.size() && !held_[i]) ++i;
      size_t j = i;
      while (j < held_.size() && held_[j]) ++j;
      if (j > i) out.push_back({first_ + static_cast<uint32_t>(i), first_ + static_cast<uint32_t>(j)});
      i = j;
    }
    return out;
  }

 private:
  uint32_t first_;
  std::vector<bool> held_;
};

class TcpRecoveryTest : public TcpSegmentsFixture {
 protected:
  static constexpr uint32_t kSegments = 30;
  static constexpr size_t kMaxBlocks = 3;

  // Delivers what the stack sent to the receiver (dropping the segments `lost` names) and answers
  // each with an ACK, until the stack sends nothing more. Segments are checked against the blocks
  // reported before they left (TakeChecked).
  void Exchange(ScriptedReceiver& rx, bool (*lost)(uint32_t index)) {
    std::deque<Out> pending;
    TakeChecked(pending);
    for (int budget = 100000; !pending.empty() && budget > 0; --budget) {
      Out o = pending.front();
      pending.pop_front();
      if (o.data.empty()) continue;
      if (!lost || !lost((o.h.seq - data_seq_) / kPeerMss)) rx.Take(o.h.seq, o.data.size());
      TcpRepr ack = Peer(kA);
      ack.ack = rx.Ack();
      std::vector<Block> blocks = rx.Blocks(kMaxBlocks);
      std::copy(blocks.begin(), blocks.end(), ack.options.sack_blocks.begin());
      ack.options.sack_count = static_cast<uint8_t>(blocks.size());
      reported_.insert(blocks.begin(), blocks.end());
      InjectTcp(ack);
      TakeChecked(pending);
    }
  }
  void TakeChecked(std::deque<Out>& to) {
    for (Out& o : SentTcp()) {
      if (!o.data.empty() && InsideReported(o.h.seq, static_cast<uint32_t>(o.data.size()))) ++resent_reported_;
      to.push_back(std::move(o));
    }
  }
  bool InsideReported(uint32_t seq, uint32_t len) const {
    return std::any_of(reported_.begin(), reported_.end(), [&](const Block& b) {
      return static_cast<int32_t>(seq - b.first) >= 0 && static_cast<int32_t>(b.second - (seq + len)) >= 0;
    });
  }

  uint32_t data_seq_ = 0;
  std::set<Block> reported_;  // the SACK blocks the receiver sent (since the test cleared them)
  int resent_reported_ = 0;   // segments sent that lay wholly inside a block reported before
};

// Every other segment of the second flight is lost, and so is every retransmission of them,
// until the retransmission timer fires. After it the network loses nothing. The sender goes back
// to snd_una in slow start (RFC 5681 3.1; Linux's Loss state) and must finish on the ACKs alone:
// it may not fall back into fast recovery for the same loss, where the pipe (RFC 6675) would count
// everything above the highest SACK block as in flight and stop it until the next timeout, one
// segment per RTO, which is the stall two stacks showed.
TEST_F(TcpRecoveryTest, AfterATimeoutTheAcksAloneFinishTheTransfer) {
  TcpEndpoint* c = ActiveOpen();
  data_seq_ = iss_ + 1;
  const Bytes data = Pattern(kSegments * kPeerMss);
  ScriptedReceiver rx(data_seq_, data.size());
  ASSERT_EQ(Send(data).value(), data.size());
  auto burst = [](uint32_t index) { return index >= 10 && index % 2 == 0; };
  Exchange(rx, burst);
  for (int i = 0; i < 20; ++i) {  // loss probes and lost retransmissions, until the RTO
    Advance(UntilDeadline());
    if (stack_.stats().tcp.timeouts > 0) break;
    Exchange(rx, burst);
  }
  ASSERT_EQ(stack_.stats().tcp.timeouts, 1u);
  ASSERT_GT(rx.Blocks(100).size(), kMaxBlocks) << "the receiver holds more ranges than it can name";

  reported_.clear();
  resent_reported_ = 0;
  Exchange(rx, nullptr);  // from the timeout's retransmission on, nothing is lost
  EXPECT_EQ(c->UnsentOrUnackedBytesLocked(), 0u) << "the ACKs alone carried the transfer to its end";
  EXPECT_EQ(rx.Ack(), data_seq_ + data.size());
  EXPECT_EQ(stack_.stats().tcp.timeouts, 1u);
  EXPECT_FALSE(c->InfoLocked().in_recovery);
  // Going back, the sender skips what the receiver has said it holds since the timeout.
  EXPECT_EQ(resent_reported_, 0);
}

}  // namespace
}  // namespace tapsock::test
