// The TAP device driven through io_uring (liburing 2.3).
//
// Receive: kRxDepth reads stay posted at all times, each into its own pool buffer; a completed
// read's buffer goes up the stack as is (no copy) and a fresh one is posted in its slot. Transmit:
// WritePacketLocked queues a write SQE for the frame's buffer and FlushLocked submits every frame
// queued during the operation with one io_uring_enter; the buffer returns to the pool when its
// completion is reaped. user_data encodes an operation and a slot index, never a pointer.
//
// Threads: application threads submit (under the stack lock); only the loop thread (RunLoop)
// posts reads, so read completions' task work runs on the loop thread, and only it delivers
// received frames. A sender that finds all kTxDepth slots in flight reaps the ring itself: write
// slots come back at once, received frames wait for the loop (never delivered inside a send).
// Timers and wake-ups share the ring: the loop waits for a completion or the stack's next
// deadline, and OnDeadlineChangedLocked posts a NOP to wake it when a deadline moves earlier.
#pragma once

#include <liburing.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "stack/registration.h"
#include "stack/stats.h"

namespace tapsock {

class Stack;

class TapLink : public LinkEndpoint, public TimerObserver {
 public:
  struct Config {
    std::string name;
    MacAddr mac;
    uint32_t mtu = 0;  // 0: the device's own MTU
    int fd_floor = 0;  // library fds are moved to or above this number
  };
  static constexpr unsigned kRxDepth = 64;
  static constexpr unsigned kTxDepth = 1024;  // frames in flight before a full queue drops
  static constexpr uint32_t kRxHeadroom = 64;  // lets a reply be built in the request's buffer

  // Attaches to an existing TAP device; on failure returns nullptr and explains in *error.
  static std::unique_ptr<TapLink> Open(const Config& config, Stack& stack, std::string* error);
  ~TapLink() override;

  uint32_t Mtu() const override { return mtu_; }
  MacAddr LinkAddress() const override { return mac_; }
  void AttachLocked(NetworkDispatcher* d, Nic* nic) override {
    dispatcher_ = d;
    nic_ = nic;
  }
  void WritePacketLocked(PacketBuffer* frame) override;
  void FlushLocked() override;
  bool OnDeadlineChangedLocked(Instant deadline) override;

  // The loop thread's body: returns when Stop() is called.
  void RunLoop();
  void Stop();
  int tap_fd() const { return tap_fd_; }
  int ring_fd() const { return ring_.ring_fd; }

 private:
  enum Op : uint32_t { kRead = 1, kWrite = 2, kWake = 3 };
  TapLink(Stack& stack) : stack_(stack) {}
  bool InitRing(int fd_floor, std::string* error);
  void PostReadsLocked();
  // Takes every completion off the ring: write slots return to the free list at once, received
  // frames wait in rx_done_ for DeliverReceivedLocked. Any thread may reap (under the lock), so a
  // sender that finds every TX slot in flight frees the completed ones instead of dropping.
  void ReapCompletionsLocked();
  // Pushes the reaped frames up the stack: only the loop thread, never from inside a send path.
  void DeliverReceivedLocked();
  io_uring_sqe* GetSqeLocked();

  Stack& stack_;
  int tap_fd_ = -1;
  io_uring ring_{};
  bool ring_ok_ = false;
  uint32_t mtu_ = 1500;
  MacAddr mac_;
  NetworkDispatcher* dispatcher_ = nullptr;
  Nic* nic_ = nullptr;
  PacketBuffer* rx_[kRxDepth] = {};
  struct RxDone {
    uint16_t slot;
    int32_t res;
  };
  RxDone rx_done_[kRxDepth] = {};  // reads completed but not yet delivered, in completion order
  unsigned rx_done_count_ = 0;
  int64_t rx_done_stamp_ = 0;      // when the oldest of them was reaped
  PacketBuffer* tx_[kTxDepth] = {};
  std::vector<uint16_t> tx_free_;
  unsigned unsubmitted_ = 0;         // SQEs queued since the last submit
  unsigned unsubmitted_frames_ = 0;  // of which frame writes
  unsigned rx_errors_in_a_row_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace tapsock
