// Fault injection: the TAPSOCK_FAULTS grammar, the per-frame decisions, and the held frames.
#include "stack/link/fault_link.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "stack/stack.h"

namespace tapsock {

namespace {

constexpr uint32_t kEthernetHeader = 14;

// A decimal number with nothing around it ("0.5", ".5", "5"): no sign, exponent, inf or nan.
bool ParseDecimal(std::string_view s, double* out) {
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::fixed);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(*out);
}

// "0.05" or "5%".
bool ParseProbability(std::string_view s, double* out) {
  bool percent = !s.empty() && s.back() == '%';
  if (percent) s.remove_suffix(1);
  if (!ParseDecimal(s, out)) return false;
  if (percent) *out /= 100;
  return *out <= 1;
}

// "5ms", "250us", "1.5s": at most 10 s, which is already far beyond what TCP tolerates.
bool ParseDelay(std::string_view s, Instant* out) {
  size_t unit = s.find_first_not_of("0123456789.");
  if (unit == std::string_view::npos) return false;
  std::string_view u = s.substr(unit);
  double scale = u == "us" ? 1e3 : u == "ms" ? 1e6 : u == "s" ? 1e9 : 0;
  double v;
  if (scale == 0 || !ParseDecimal(s.substr(0, unit), &v) || v * scale > 10e9) return false;
  *out = static_cast<Instant>(std::llround(v * scale));
  return true;
}

bool ParseSeed(std::string_view s, uint64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// True with probability p, from one uniform 64-bit draw.
bool Chance(uint64_t draw, double p) {
  return static_cast<double>(draw >> 11) * 0x1.0p-53 < p;
}

// Flips one bit chosen by `draw` past the first `skip` bytes; false if there is nothing past them.
bool FlipBit(PacketBuffer& frame, uint32_t skip, uint64_t draw) {
  if (frame.len <= skip) return false;
  uint64_t bits = uint64_t{frame.len - skip} * 8;
  uint64_t bit = (draw >> 32) * bits >> 32;
  frame.data()[skip + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return true;
}

void AppendProbability(std::string& out, const char* key, double p) {
  if (p <= 0) return;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s=%.6g,", key, p);
  out += buf;
}

}  // namespace

std::string FaultSpec::ToString() const {
  std::string out;
  AppendProbability(out, "drop", drop);
  AppendProbability(out, "dup", dup);
  AppendProbability(out, "reorder", reorder);
  AppendProbability(out, "corrupt", corrupt);
  if (delay > 0) {
    char buf[48];
    if (delay % kMillisecond == 0)
      std::snprintf(buf, sizeof buf, "delay=%lldms,", static_cast<long long>(delay / kMillisecond));
    else
      std::snprintf(buf, sizeof buf, "delay=%.3fus,", static_cast<double>(delay) / 1e3);
    out += buf;
  }
  out += tx && rx ? "dir=both" : tx ? "dir=tx" : "dir=rx";
  out += ",seed=" + std::to_string(seed);
  return out;
}

bool ParseFaultSpec(std::string_view text, FaultSpec* spec, std::vector<std::string>* errors) {
  size_t before = errors->size();
  uint32_t seen = 0;  // one bit per key, to refuse a key given twice
  static constexpr std::string_view kKeys[] = {"drop",  "dup", "reorder", "corrupt",
                                               "delay", "dir", "seed"};
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    std::string quoted = "'" + std::string(item) + "'";
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq),
                     value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    unsigned k = 0;
    while (k < std::size(kKeys) && kKeys[k] != key) ++k;
    if (k == std::size(kKeys)) {
      errors->push_back(quoted + " is not a fault (drop, dup, reorder, corrupt, delay, dir, seed)");
      continue;
    }
    if (seen & (1u << k)) {
      errors->push_back(quoted + ": " + std::string(key) + " is given twice");
      continue;
    }
    seen |= 1u << k;
    bool ok = true;
    std::string cause;
    if (k < 4) {
      double* p[] = {&spec->drop, &spec->dup, &spec->reorder, &spec->corrupt};
      ok = ParseProbability(value, p[k]);
      cause = "is not a probability between 0 and 1 (or 0% and 100%)";
    } else if (key == "delay") {
      ok = ParseDelay(value, &spec->delay);
      cause = "is not a delay up to 10s with a unit (us, ms, s)";
    } else if (key == "dir") {
      ok = value == "both" || value == "tx" || value == "rx";
      if (ok) spec->tx = value != "rx", spec->rx = value != "tx";
      cause = "is not a direction (tx, rx, both)";
    } else {
      ok = ParseSeed(value, &spec->seed);
      cause = "is not a seed (a decimal number below 2^64)";
    }
    if (!ok) errors->push_back(quoted + " " + cause);
  }
  return errors->size() == before;
}

FaultLink::FaultLink(LinkEndpoint* lower, const FaultSpec& spec, Stack& stack)
    : lower_(lower), spec_(spec), stack_(stack) {
  FaultStats& s = stack.stats().fault;
  tx_.faulty = spec.tx;
  tx_.random.Seed(spec.seed);
  tx_.count = {&s.tx_dropped, &s.tx_duplicated, &s.tx_corrupted, &s.tx_reordered, &s.tx_delayed};
  rx_.faulty = spec.rx;
  rx_.rx = true;
  rx_.random.Seed(spec.seed ^ 0x5258'5258'5258'5258ull);  // "RXRX": a stream of its own
  rx_.count = {&s.rx_dropped, &s.rx_duplicated, &s.rx_corrupted, &s.rx_reordered, &s.rx_delayed};
}

FaultLink::~FaultLink() {
  FreeHeld(tx_);
  FreeHeld(rx_);
}

void FaultLink::FreeHeld(Direction& d) {
  stack_.pool().Free(d.stash.frame);
  d.stash = {};
  while (d.size) stack_.pool().Free(PopLine(d).frame);
}

void FaultLink::AttachLocked(NetworkDispatcher* d, Nic* nic) {
  upper_ = d;
  nic_ = nic;
  lower_->AttachLocked(this, nic);
}

void FaultLink::WritePacketLocked(PacketBuffer* frame) {
  if (tx_.faulty)
    HandleLocked(tx_, frame);
  else
    lower_->WritePacketLocked(frame);
}

void FaultLink::DeliverFrameLocked(Nic& nic, PacketBuffer* frame) {
  if (rx_.faulty)
    HandleLocked(rx_, frame);
  else
    upper_->DeliverFrameLocked(nic, frame);
}

void FaultLink::HandleLocked(Direction& d, PacketBuffer* frame) {
  // Five draws for every frame, whatever is decided: one fault's rate never shifts another's.
  uint64_t draw[5];
  for (uint64_t& r : draw) r = d.random.Next();
  if (Chance(draw[0], spec_.drop)) {
    ++*d.count.dropped;
    stack_.pool().Free(frame);
    return;
  }
  // Past the Ethernet header, so the damage is for the IP, ARP or transport checksums to find.
  if (Chance(draw[1], spec_.corrupt) &&
      FlipBit(*frame, HasLinkHeader() ? kEthernetHeader : 0, draw[4]))
    ++*d.count.corrupted;
  PacketBuffer* copy = Chance(draw[2], spec_.dup) ? CopyLocked(*frame) : nullptr;
  if (copy) ++*d.count.duplicated;
  // A frame held back leaves right after this one; this one is held instead only if none was.
  Held overtaken = d.stash;
  d.stash = {};
  if (Chance(draw[3], spec_.reorder) && !overtaken.frame) {
    d.stash = {frame, stack_.now()};
    ++*d.count.reordered;
    frame = nullptr;
  }
  if (frame) PassLocked(d, frame);
  if (copy) PassLocked(d, copy);
  if (overtaken.frame) PassLocked(d, Unhold(d, overtaken, stack_.now()));
}

void FaultLink::PassLocked(Direction& d, PacketBuffer* frame) {
  if (spec_.delay <= 0) {
    OutLocked(d, frame);
    return;
  }
  if (d.size == kHoldCapacity) OutLocked(d, Unhold(d, PopLine(d), stack_.now()));
  d.line[(d.head + d.size) % kHoldCapacity] = {frame, stack_.now()};
  ++d.size;
  ++*d.count.delayed;
}

void FaultLink::OutLocked(Direction& d, PacketBuffer* frame) {
  if (d.rx)
    upper_->DeliverFrameLocked(*nic_, frame);
  else
    lower_->WritePacketLocked(frame);
}

PacketBuffer* FaultLink::Unhold(Direction& d, Held h, Instant now) {
  // SO_TIMESTAMP and the capture above should say when the stack got the frame.
  if (d.rx && h.frame->rx_realtime_ns) h.frame->rx_realtime_ns += now - h.since;
  return h.frame;
}

FaultLink::Held FaultLink::PopLine(Direction& d) {
  Held h = d.line[d.head];
  d.line[d.head] = {};
  d.head = (d.head + 1) % kHoldCapacity;
  --d.size;
  return h;
}

Instant FaultLink::DeadlineOf(const Direction& d) const {
  Instant t = d.stash.frame ? d.stash.since + kReorderHold : kNever;
  if (d.size) t = std::min(t, d.line[d.head].since + spec_.delay);
  return t;
}

Instant FaultLink::NextDeadlineLocked() const {
  return std::min(DeadlineOf(tx_), DeadlineOf(rx_));
}

void FaultLink::RunTimersLocked(Instant now) {
  for (Direction* d : {&tx_, &rx_}) {
    // Nothing overtook it in time: it goes on alone (through the delay line, if any).
    if (d->stash.frame && d->stash.since + kReorderHold <= now) {
      Held h = d->stash;
      d->stash = {};
      PassLocked(*d, Unhold(*d, h, now));
    }
    while (d->size && d->line[d->head].since + spec_.delay <= now)
      OutLocked(*d, Unhold(*d, PopLine(*d), now));
  }
}

PacketBuffer* FaultLink::CopyLocked(const PacketBuffer& frame) {
  // The same headroom and room after the data as the original, so the copy fits the same uses.
  PacketBuffer* c = stack_.pool().Alloc(frame.len + frame.tailroom(), frame.headroom());
  if (!c) return nullptr;
  c->len = frame.len;
  std::memcpy(c->data(), frame.data(), frame.len);
  c->rx_realtime_ns = frame.rx_realtime_ns;
  c->link_multicast = frame.link_multicast;
  return c;
}

}  // namespace tapsock
