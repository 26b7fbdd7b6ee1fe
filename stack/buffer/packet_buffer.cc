// Slab-backed pools: a slab holds a run of same-size buffers; slabs are only released with the pool.
#include "stack/buffer/packet_buffer.h"

#include <cstdlib>
#include <new>

namespace tapsock {

namespace {
constexpr size_t kSlabBytes = 1u << 20;
}

PacketPool::PacketPool(size_t max_bytes) : max_bytes_(max_bytes) {}

PacketPool::~PacketPool() {
  for (void* s : slabs_) std::free(s);
}

bool PacketPool::Grow(SizeClass& c) {
  size_t per = kSlabBytes / (c.size + sizeof(PacketBuffer));
  if (per == 0) per = 1;
  size_t bytes = per * (c.size + sizeof(PacketBuffer));
  if (bytes_reserved_ + bytes > max_bytes_) return false;
  void* slab = std::malloc(bytes);
  if (!slab) return false;
  slabs_.push_back(slab);
  bytes_reserved_ += bytes;
  auto* headers = static_cast<PacketBuffer*>(slab);
  auto* data = reinterpret_cast<uint8_t*>(headers + per);
  uint16_t index = static_cast<uint16_t>(&c - classes_);
  for (size_t i = 0; i < per; ++i) {
    auto* p = new (&headers[i]) PacketBuffer();
    p->storage = data + i * c.size;
    p->capacity = c.size;
    p->size_class = index;
    c.free.push_back(p);
  }
  return true;
}

PacketBuffer* PacketPool::Alloc(uint32_t size, uint32_t headroom) {
  uint64_t need = uint64_t{size} + headroom;
  SizeClass* c = nullptr;
  for (auto& candidate : classes_) {
    if (need <= candidate.size) {
      c = &candidate;
      break;
    }
  }
  if (!c) return nullptr;
  if (c->free.empty() && !Grow(*c)) return nullptr;
  PacketBuffer* p = c->free.back();
  c->free.pop_back();
  p->Reset(headroom);
  ++in_use_;
  return p;
}

void PacketPool::Free(PacketBuffer* p) {
  if (!p) return;
  --in_use_;
  classes_[p->size_class].free.push_back(p);
}

}  // namespace tapsock
