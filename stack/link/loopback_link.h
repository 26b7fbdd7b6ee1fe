// The loopback device: packets written to it come back up the same NIC at the next FlushLocked,
// as Linux's loopback defers them to softirq, so a send never re-enters the receive path.
#pragma once

#include "stack/registration.h"

namespace tapsock {

class LoopbackLink : public LinkEndpoint {
 public:
  static constexpr uint32_t kMtu = 65536;

  uint32_t Mtu() const override { return kMtu; }
  MacAddr LinkAddress() const override { return {}; }
  bool HasLinkHeader() const override { return false; }
  void AttachLocked(NetworkDispatcher* d, Nic* nic) override {
    dispatcher_ = d;
    nic_ = nic;
  }
  void WritePacketLocked(PacketBuffer* packet) override { queue_.Push(packet); }
  // Delivers until the queue is empty; packets queued while delivering (replies) go too.
  void FlushLocked() override {
    while (PacketBuffer* p = queue_.Pop()) dispatcher_->DeliverFrameLocked(*nic_, p);
  }

 private:
  NetworkDispatcher* dispatcher_ = nullptr;
  Nic* nic_ = nullptr;
  PacketQueue queue_;
};

}  // namespace tapsock
