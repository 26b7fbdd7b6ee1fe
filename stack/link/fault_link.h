// Seeded fault injection on the stack's own link (smoltcp's phy/fault_injector, netem's loss,
// duplicate, corrupt, reorder and delay): a decorator between the stack and a device that perturbs
// frames in either direction, so tests and users can see how a program and the stack cope with a
// bad link that the kernel side (no netem here) cannot provide.
//
//   stack -> [CaptureLink] -> FaultLink -> TapLink      (transmit)
//   stack <- [CaptureLink] <- FaultLink <- TapLink      (receive)
//
// Decisions are reproducible: each direction draws from its own xoshiro stream seeded from the
// spec's seed, always the same number of draws per frame, so the same seed and the same frame
// sequence give the same faults whatever the other direction does. Held frames (reorder, delay)
// wait in fixed storage per direction and leave on the stack's timers (NextDeadlineLocked /
// RunTimersLocked): nothing is allocated per frame but a duplicate's pool buffer.
// Not thread-safe: under the stack lock.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "stack/base/random.h"
#include "stack/registration.h"

namespace tapsock {

class Stack;

// What to inject, as TAPSOCK_FAULTS spells it: "drop=0.01,dup=0.5%,reorder=0.02,corrupt=0.001,
// delay=5ms,dir=both,seed=7". Every key is optional.
struct FaultSpec {
  static constexpr uint64_t kDefaultSeed = 1;
  double drop = 0, dup = 0, reorder = 0, corrupt = 0;  // per frame, 0..1
  Instant delay = 0;                                   // every frame is held this long (ns)
  bool tx = true, rx = true;                           // dir=tx|rx|both
  uint64_t seed = kDefaultSeed;

  bool Active() const {
    return (tx || rx) && (drop > 0 || dup > 0 || reorder > 0 || corrupt > 0 || delay > 0);
  }
  // The spec in the form ParseFaultSpec reads back (for the log line that names the seed).
  std::string ToString() const;
};

// Parses a TAPSOCK_FAULTS value into *spec. Each malformed item adds one message to *errors that
// quotes it and gives the cause; returns false if there was any.
bool ParseFaultSpec(std::string_view text, FaultSpec* spec, std::vector<std::string>* errors);

class FaultLink : public LinkEndpoint, public NetworkDispatcher {
 public:
  // Frames held at once per direction; a frame that finds the delay line full pushes the oldest
  // out early (the delay shrinks under load rather than memory growing).
  static constexpr unsigned kHoldCapacity = 256;
  // How long a frame held for reordering waits for a later one to overtake it.
  static constexpr Instant kReorderHold = kMillisecond;

  // `lower` is not owned; counters go to stack.stats().fault, buffers come from stack.pool().
  FaultLink(LinkEndpoint* lower, const FaultSpec& spec, Stack& stack);
  ~FaultLink() override;
  FaultLink(const FaultLink&) = delete;
  FaultLink& operator=(const FaultLink&) = delete;

  uint32_t Mtu() const override { return lower_->Mtu(); }
  MacAddr LinkAddress() const override { return lower_->LinkAddress(); }
  bool HasLinkHeader() const override { return lower_->HasLinkHeader(); }
  void AttachLocked(NetworkDispatcher* d, Nic* nic) override;
  void WritePacketLocked(PacketBuffer* frame) override;
  void FlushLocked() override { lower_->FlushLocked(); }
  void AddKernelCounters(LinkStats& stats) const override { lower_->AddKernelCounters(stats); }
  Instant NextDeadlineLocked() const override;
  void RunTimersLocked(Instant now) override;
  void DeliverFrameLocked(Nic& nic, PacketBuffer* frame) override;

  const FaultSpec& spec() const { return spec_; }

 private:
  struct Held {
    PacketBuffer* frame = nullptr;
    Instant since = 0;  // when it was held
  };
  // The stack's counters for one direction.
  struct Counters {
    uint64_t *dropped, *duplicated, *corrupted, *reordered, *delayed;
  };
  struct Direction {
    bool faulty = false;  // the spec covers this direction
    bool rx = false;
    Random random{0};
    Counters count{};
    Held stash;                            // a frame waiting to be overtaken (reorder)
    std::array<Held, kHoldCapacity> line;  // the delay line, a FIFO ring: a fixed delay keeps order
    unsigned head = 0, size = 0;
  };

  // Consumes `frame`: decides its faults and passes on what survives.
  void HandleLocked(Direction& d, PacketBuffer* frame);
  // Consumes `frame`: through the delay line if there is one, else straight out.
  void PassLocked(Direction& d, PacketBuffer* frame);
  // Consumes `frame`: down to the device or up to the stack.
  void OutLocked(Direction& d, PacketBuffer* frame);
  // Takes a held frame back; a received frame's timestamp moves by the time it was held.
  PacketBuffer* Unhold(Direction& d, Held h, Instant now);
  Held PopLine(Direction& d);
  Instant DeadlineOf(const Direction& d) const;
  void FreeHeld(Direction& d);
  // A copy of `frame` in a fresh pool buffer, or nullptr when the pool is exhausted.
  PacketBuffer* CopyLocked(const PacketBuffer& frame);

  LinkEndpoint* lower_;
  const FaultSpec spec_;
  Stack& stack_;
  NetworkDispatcher* upper_ = nullptr;
  Nic* nic_ = nullptr;
  Direction tx_, rx_;
};

}  // namespace tapsock
