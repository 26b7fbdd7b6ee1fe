// An in-memory Ethernet device for unit tests (gVisor's link/channel): tests inject inbound frames
// and collect what the stack sends, byte for byte. Not thread-safe: under the stack lock.
#pragma once

#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "stack/registration.h"

namespace tapsock {

class MemoryLink : public LinkEndpoint {
 public:
  MemoryLink(PacketPool& pool, MacAddr mac, uint32_t mtu = 1500) : pool_(pool), mac_(mac), mtu_(mtu) {}

  uint32_t Mtu() const override { return mtu_; }
  MacAddr LinkAddress() const override { return mac_; }
  void AttachLocked(NetworkDispatcher* d, Nic* nic) override {
    dispatcher_ = d;
    nic_ = nic;
  }
  void WritePacketLocked(PacketBuffer* frame) override {
    auto b = frame->bytes();
    sent_.emplace_back(b.begin(), b.end());
    pool_.Free(frame);
  }

  // Delivers a copy of `frame` up the stack, as if it arrived from the wire.
  void InjectLocked(std::span<const uint8_t> frame) {
    PacketBuffer* p = pool_.Alloc(static_cast<uint32_t>(frame.size()), 64);
    if (!p) return;
    p->len = static_cast<uint32_t>(frame.size());
    if (!frame.empty()) std::memcpy(p->data(), frame.data(), frame.size());
    dispatcher_->DeliverFrameLocked(*nic_, p);
  }

  // Frames the stack sent, oldest first.
  std::deque<std::vector<uint8_t>>& sent() { return sent_; }
  std::vector<uint8_t> PopSent() {
    if (sent_.empty()) return {};
    auto f = std::move(sent_.front());
    sent_.pop_front();
    return f;
  }

 private:
  PacketPool& pool_;
  MacAddr mac_;
  uint32_t mtu_;
  NetworkDispatcher* dispatcher_ = nullptr;
  Nic* nic_ = nullptr;
  std::deque<std::vector<uint8_t>> sent_;
};

}  // namespace tapsock
