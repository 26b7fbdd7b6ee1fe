// The out-of-order queue: trimming against what is held, the bounds, coalescing, and SACK blocks.
#include "stack/transport/tcp/reassembly_queue.h"

#include <algorithm>
#include <cstring>

namespace tapsock::tcp {

namespace {

// Wrap-aware comparisons ((int32_t)(a - b) < 0, as Linux's before()); private until the queue's API
// moves to SeqNum.
constexpr bool Before(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}
constexpr bool BeforeEq(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) <= 0;
}

// RFC 7323 2.3: a window never exceeds 2^30, so no two bytes a peer may legitimately have in flight
// are further apart. Keeping the queue inside that span keeps the modular order a total order.
constexpr int64_t kMaxSpan = int64_t{1} << 30;

// What a buffer costs the pool, whatever it holds.
size_t TrueSize(const PacketBuffer* p) {
  return p->capacity;
}

}  // namespace

ReassemblyQueue::ReassemblyQueue(PacketPool& pool, size_t max_bytes)
    : pool_(pool), max_bytes_(max_bytes) {}

ReassemblyQueue::~ReassemblyQueue() {
  Clear();
}

void ReassemblyQueue::Clear() {
  for (const Node& n : nodes_) pool_.Free(n.buf);
  nodes_.clear();
  bytes_ = 0;
  recent_count_ = 0;
}

size_t ReassemblyQueue::FirstEndingAfter(uint32_t seq) const {
  // Nodes never overlap, so their ends are sorted as their starts are.
  auto it = std::partition_point(nodes_.begin(), nodes_.end(),
                                 [seq](const Node& n) { return BeforeEq(n.end(), seq); });
  return static_cast<size_t>(it - nodes_.begin());
}

size_t ReassemblyQueue::RunAround(size_t i, size_t* first) const {
  size_t lo = i;
  while (lo > 0 && nodes_[lo - 1].end() == nodes_[lo].seq) --lo;
  size_t hi = i + 1;
  while (hi < nodes_.size() && nodes_[hi - 1].end() == nodes_[hi].seq) ++hi;
  *first = lo;
  return hi;
}

bool ReassemblyQueue::WithinSpan(uint32_t seq, uint32_t end) const {
  if (nodes_.empty()) return true;
  // Offsets from the lowest queued byte; the queue itself already spans less than kMaxSpan.
  const uint32_t base = nodes_.front().seq;
  const int64_t lo = std::min<int64_t>(0, static_cast<int32_t>(seq - base));
  const int64_t hi = std::max<int64_t>(static_cast<int32_t>(nodes_.back().end() - base),
                                       static_cast<int32_t>(end - base));
  return hi - lo < kMaxSpan;
}

bool ReassemblyQueue::CanAppend(const Node& to, uint32_t len) const {
  return len <= kCoalesceMax && len <= to.buf->tailroom();
}

void ReassemblyQueue::Append(Node& to, const PacketBuffer* from, uint32_t len) {
  std::memcpy(to.buf->data() + to.len, from->data(), len);
  to.buf->len += len;
  to.len += len;
}

bool ReassemblyQueue::Insert(uint32_t seq, PacketBuffer* p) {
  if (p->len == 0) {  // a bare FIN or a window probe: nothing to hold
    pool_.Free(p);
    return true;
  }
  if (!WithinSpan(seq, seq + p->len)) {
    pool_.Free(p);
    return false;
  }
  size_t i = FirstEndingAfter(seq);

  // Front overlap: the node at i already holds our first bytes; keep its copy.
  if (i < nodes_.size() && BeforeEq(nodes_[i].seq, seq)) {
    const uint32_t covered = nodes_[i].end() - seq;
    if (covered >= p->len) {  // an exact or contained duplicate
      pool_.Free(p);
      NoteRecent(i);
      return true;
    }
    p->Pull(covered);
    seq += covered;
    ++i;
  }

  // Nodes [i, k) lie wholly inside the new segment; a node straddling its end trims the segment.
  uint32_t end = seq + p->len;
  size_t k = i;
  size_t freed = 0;
  uint32_t held = 0;
  for (; k < nodes_.size() && Before(nodes_[k].seq, end); ++k) {
    if (Before(end, nodes_[k].end())) {
      end = nodes_[k].seq;
      break;
    }
    freed += TrueSize(nodes_[k].buf);
    held += nodes_[k].len;
  }
  const uint32_t len = end - seq;
  if (held == len) {  // every byte is queued already, perhaps across adjacent nodes: a duplicate
    pool_.Free(p);
    NoteRecent(i);  // the node holding seq (k == i when a straddling node holds it all)
    return true;
  }

  // Make room before changing [i, k), so a refusal leaves those nodes as they were. Pruning only
  // takes nodes wholly after `end`, which all lie at k or beyond.
  const bool into_prev = i > 0 && nodes_[i - 1].end() == seq && CanAppend(nodes_[i - 1], len);
  const int64_t more_nodes = (into_prev ? 0 : 1) - static_cast<int64_t>(k - i);
  const int64_t more_bytes = static_cast<int64_t>(into_prev ? 0 : TrueSize(p)) - static_cast<int64_t>(freed);
  if (!MakeRoomAbove(end, more_nodes, more_bytes)) {
    pool_.Free(p);
    return false;
  }

  // Contained nodes arrived first, so their bytes overwrite ours; then their nodes go. The copy is
  // at most len bytes, and each node removed was paid for by the Insert that added it.
  for (size_t j = i; j < k; ++j) {
    std::memcpy(p->data() + (nodes_[j].seq - seq), nodes_[j].buf->data(), nodes_[j].len);
    pool_.Free(nodes_[j].buf);
  }
  nodes_.erase(nodes_.begin() + static_cast<ptrdiff_t>(i),
               nodes_.begin() + static_cast<ptrdiff_t>(k));
  bytes_ -= freed;
  p->Trim(len);

  size_t at;
  if (into_prev) {
    at = i - 1;
    Append(nodes_[at], p, len);
    pool_.Free(p);
  } else {
    // Grow once, to what the bounds allow with pool-sized buffers, so steady state never allocates
    // and a connection that never reorders never allocates at all.
    if (nodes_.capacity() == 0) {
      nodes_.reserve(std::min(kMaxSegments, max_bytes_ / PacketPool::kSmall + 1));
    }
    at = i;
    nodes_.insert(nodes_.begin() + static_cast<ptrdiff_t>(at), Node{seq, len, p});
    bytes_ += TrueSize(p);
  }

  // A small successor that now touches us moves into our tailroom.
  if (at + 1 < nodes_.size() && nodes_[at].end() == nodes_[at + 1].seq &&
      CanAppend(nodes_[at], nodes_[at + 1].len)) {
    Node next = nodes_[at + 1];
    Append(nodes_[at], next.buf, next.len);
    bytes_ -= TrueSize(next.buf);
    pool_.Free(next.buf);
    nodes_.erase(nodes_.begin() + static_cast<ptrdiff_t>(at + 1));
  }
  NoteRecent(at);
  return true;
}

bool ReassemblyQueue::MakeRoomAbove(uint32_t end, int64_t more_nodes, int64_t more_bytes) {
  auto over = [&] {
    return static_cast<int64_t>(nodes_.size()) + more_nodes > static_cast<int64_t>(kMaxSegments) ||
           static_cast<int64_t>(bytes_) + more_bytes > static_cast<int64_t>(max_bytes_);
  };
  while (over()) {
    if (nodes_.empty() || Before(nodes_.back().seq, end)) return false;
    bytes_ -= TrueSize(nodes_.back().buf);
    pool_.Free(nodes_.back().buf);
    nodes_.pop_back();
    ++pruned_;
  }
  return true;  // recent-arrival entries may now name dropped data: SackBlocks skips those
}

void ReassemblyQueue::NoteRecent(size_t at) {
  // One entry per contiguous range: an arrival that extends or joins ranges replaces their entries,
  // so the four slots name four distinct ranges (RFC 2018 4: no block a subset of another).
  size_t first;
  const size_t last = RunAround(at, &first);
  const uint32_t lo = nodes_[first].seq;
  const uint32_t hi = nodes_[last - 1].end();
  size_t kept = 0;
  uint32_t keep[kRecentRanges];
  for (size_t r = 0; r < recent_count_; ++r) {
    const uint32_t s = recent_[r];
    if (BeforeEq(lo, s) && Before(s, hi)) continue;
    if (kept < kRecentRanges - 1) keep[kept++] = s;
  }
  recent_[0] = nodes_[at].seq;
  std::copy(keep, keep + kept, recent_ + 1);
  recent_count_ = kept + 1;
}

uint32_t ReassemblyQueue::PopInOrder(uint32_t rcv_nxt, PacketQueue& out) {
  size_t k = 0;
  for (; k < nodes_.size() && BeforeEq(nodes_[k].seq, rcv_nxt); ++k) {
    const Node& n = nodes_[k];
    bytes_ -= TrueSize(n.buf);
    if (BeforeEq(n.end(), rcv_nxt)) {  // every byte already delivered (a jump in rcv_nxt)
      pool_.Free(n.buf);
      continue;
    }
    n.buf->Pull(rcv_nxt - n.seq);
    rcv_nxt = n.end();
    out.Push(n.buf);
  }
  nodes_.erase(nodes_.begin(), nodes_.begin() + static_cast<ptrdiff_t>(k));
  return rcv_nxt;
}

size_t ReassemblyQueue::SackBlocks(std::pair<uint32_t, uint32_t>* out, size_t max) const {
  size_t count = 0;
  auto emitted = [&](uint32_t left) {
    for (size_t b = 0; b < count; ++b) {
      if (out[b].first == left) return true;
    }
    return false;
  };
  // The recent arrivals first. An entry may have been delivered since; then it is skipped.
  for (size_t r = 0; r < recent_count_ && count < max; ++r) {
    const size_t i = FirstEndingAfter(recent_[r]);
    if (i == nodes_.size() || Before(recent_[r], nodes_[i].seq)) continue;
    size_t first;
    const size_t last = RunAround(i, &first);
    if (emitted(nodes_[first].seq)) continue;
    out[count++] = {nodes_[first].seq, nodes_[last - 1].end()};
  }
  // Then the rest from the lowest, the holes a sender most needs to hear about.
  for (size_t i = 0; i < nodes_.size() && count < max;) {
    size_t first;
    const size_t last = RunAround(i, &first);
    if (!emitted(nodes_[first].seq)) out[count++] = {nodes_[first].seq, nodes_[last - 1].end()};
    i = last;
  }
  return count;
}

}  // namespace tapsock::tcp
