// Tests for the packet buffer and its pools (stack/buffer/packet_buffer.h): the headroom / len /
// tailroom arithmetic every layer relies on to prepend headers without copying, the two size
// classes, the memory bound that turns exhaustion into a drop instead of an allocation, reuse
// through the free lists, and the intrusive FIFO used by ARP and socket queues.
#include "stack/buffer/packet_buffer.h"

#include <gtest/gtest.h>

#include <vector>

namespace tapsock {
namespace {

TEST(PacketBuffer, AllocGivesAnEmptyBufferWithTheRequestedHeadroom) {
  PacketPool pool;
  PacketBuffer* p = pool.Alloc(100, 64);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->capacity, PacketPool::kSmall);
  EXPECT_EQ(p->headroom(), 64u);
  EXPECT_EQ(p->len, 0u);
  EXPECT_EQ(p->data(), p->storage + 64);
  EXPECT_EQ(p->tailroom(), PacketPool::kSmall - 64);
  EXPECT_EQ(p->next, nullptr);
  EXPECT_EQ(pool.in_use(), 1u);
  pool.Free(p);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PacketBuffer, DefaultHeadroomFitsEveryHeader) {
  PacketPool pool;
  PacketBuffer* p = pool.Alloc(8);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->headroom(), kMaxHeaderRoom);
  EXPECT_GE(kMaxHeaderRoom, 14u + 60 + 60 + 12) << "Ethernet + max IPv4 + max TCP + vnet header";
  pool.Free(p);
}

TEST(PacketBuffer, SizeClassesAndTheLargestRequest) {
  PacketPool pool;
  struct Case {
    uint32_t size, headroom;
    uint32_t capacity;  // 0: refused
  };
  const Case kCases[] = {
      {0, 0, PacketPool::kSmall},
      {PacketPool::kSmall - kMaxHeaderRoom, kMaxHeaderRoom, PacketPool::kSmall},
      {PacketPool::kSmall - kMaxHeaderRoom + 1, kMaxHeaderRoom, PacketPool::kLarge},
      {65535, kMaxHeaderRoom, PacketPool::kLarge},
      {PacketPool::kLarge, 0, PacketPool::kLarge},
      {PacketPool::kLarge, 1, 0},
      {UINT32_MAX, UINT32_MAX, 0},  // no overflow in size + headroom
  };
  for (const auto& c : kCases) {
    PacketBuffer* p = pool.Alloc(c.size, c.headroom);
    if (c.capacity == 0) {
      EXPECT_EQ(p, nullptr) << c.size << " + " << c.headroom;
      continue;
    }
    ASSERT_NE(p, nullptr) << c.size << " + " << c.headroom;
    EXPECT_EQ(p->capacity, c.capacity) << c.size << " + " << c.headroom;
    pool.Free(p);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PacketBuffer, PrependPullAndTrimMoveTheWindow) {
  PacketPool pool;
  PacketBuffer* p = pool.Alloc(64, 42);
  p->len = 10;
  uint8_t* payload = p->data();
  uint8_t* header = p->Prepend(8);
  EXPECT_EQ(header, payload - 8);
  EXPECT_EQ(p->len, 18u);
  EXPECT_EQ(p->headroom(), 34u);
  p->Pull(8);
  EXPECT_EQ(p->data(), payload);
  EXPECT_EQ(p->len, 10u);
  p->Trim(4);
  EXPECT_EQ(p->len, 4u);
  EXPECT_EQ(p->bytes().size(), 4u);
  EXPECT_EQ(p->tailroom(), PacketPool::kSmall - 42 - 4);
  pool.Free(p);
}

TEST(PacketBuffer, PoolBoundTurnsExhaustionIntoNullptr) {
  PacketPool pool(1u << 20);  // room for one slab
  std::vector<PacketBuffer*> held;
  while (PacketBuffer* p = pool.Alloc(100)) {
    held.push_back(p);
    ASSERT_LT(held.size(), 10000u) << "the bound is not enforced";
  }
  EXPECT_GT(held.size(), 100u);
  EXPECT_LE(pool.bytes_reserved(), 1u << 20);
  EXPECT_EQ(pool.Alloc(60000), nullptr) << "no room for a large slab either";
  pool.Free(held.back());
  held.pop_back();
  PacketBuffer* again = pool.Alloc(100);
  EXPECT_NE(again, nullptr) << "a freed buffer is reused";
  held.push_back(again);
  for (PacketBuffer* p : held) pool.Free(p);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PacketBuffer, ReusedBufferIsReset) {
  PacketPool pool;
  PacketBuffer* p = pool.Alloc(100, 10);
  p->len = 50;
  p->rx_realtime_ns = 1234;
  PacketBuffer other;
  p->next = &other;
  pool.Free(p);
  PacketBuffer* q = pool.Alloc(200, 20);
  ASSERT_EQ(q, p) << "the free list is LIFO, so the hot buffer comes back";
  EXPECT_EQ(q->len, 0u);
  EXPECT_EQ(q->headroom(), 20u);
  EXPECT_EQ(q->next, nullptr);
  EXPECT_EQ(q->rx_realtime_ns, 0);
  pool.Free(q);
}

TEST(PacketBuffer, FreeOfNullIsANoOp) {
  PacketPool pool;
  pool.Free(nullptr);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PacketQueue, IsAFifo) {
  PacketPool pool;
  PacketQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.Pop(), nullptr);
  PacketBuffer* a = pool.Alloc(1);
  PacketBuffer* b = pool.Alloc(1);
  PacketBuffer* c = pool.Alloc(1);
  q.Push(a);
  q.Push(b);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.front(), a);
  EXPECT_EQ(q.Pop(), a);
  q.Push(c);
  EXPECT_EQ(q.Pop(), b);
  EXPECT_EQ(q.Pop(), c);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.Pop(), nullptr);
  q.Push(a);  // usable again after draining
  EXPECT_EQ(q.front(), a);
  EXPECT_EQ(a->next, nullptr);
  pool.FreeQueue(q);
  pool.Free(b);
  pool.Free(c);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace tapsock
