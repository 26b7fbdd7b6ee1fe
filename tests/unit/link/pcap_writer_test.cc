// The capture file: the header tcpdump expects, records with the stack's timestamps, the snap
// length, and rotation into PATH.1.. when a file reaches its size bound.
#include "stack/link/pcap_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace tapsock {
namespace {

struct Capture {
  bool ok = false;
  uint32_t snaplen = 0;
  struct Frame {
    uint32_t sec, nsec, caplen, len;
    std::vector<uint8_t> bytes;
  };
  std::vector<Frame> frames;
};

uint32_t Get32(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

Capture Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Capture c;
  if (b.size() < 24 || Get32(b, 0) != 0xa1b23c4d || Get32(b, 20) != 1) return c;
  c.snaplen = Get32(b, 16);
  size_t at = 24;
  while (at + 16 <= b.size()) {
    Capture::Frame f{Get32(b, at), Get32(b, at + 4), Get32(b, at + 8), Get32(b, at + 12), {}};
    at += 16;
    if (at + f.caplen > b.size()) return c;  // truncated record: not ok
    f.bytes.assign(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + f.caplen));
    at += f.caplen;
    c.frames.push_back(std::move(f));
  }
  c.ok = at == b.size();
  return c;
}

class PcapWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/tsk-pcap-test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/cap.pcap";
  }
  void TearDown() override {
    for (int i = 0; i < 8; ++i) std::remove((i ? path_ + "." + std::to_string(i) : path_).c_str());
    rmdir(dir_.c_str());
  }
  // Frame i: 200 bytes, all equal to i, stamped i seconds and i ns.
  static void WriteFrames(PcapWriter& w, int from, int to) {
    for (int i = from; i < to; ++i) {
      std::vector<uint8_t> frame(200, static_cast<uint8_t>(i));
      w.Record(frame, int64_t{i} * 1'000'000'000 + i);
    }
    w.Flush();
  }
  std::string dir_, path_;
};

TEST_F(PcapWriterTest, HeaderAndRecordsWithNanosecondStamps) {
  PcapWriter w;
  ASSERT_TRUE(w.Open(path_, 0).ok());
  WriteFrames(w, 1, 4);
  Capture c = Read(path_);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.snaplen, PcapWriter::kMaxSnapLen);
  ASSERT_EQ(c.frames.size(), 3u);
  EXPECT_EQ(c.frames[1].sec, 2u);
  EXPECT_EQ(c.frames[1].nsec, 2u);
  EXPECT_EQ(c.frames[1].len, 200u);
  EXPECT_EQ(c.frames[1].bytes, std::vector<uint8_t>(200, 2));
}

TEST_F(PcapWriterTest, SnapLengthCutsFramesButKeepsTheirLength) {
  PcapWriter w;
  PcapWriter::Limits limits;
  limits.snaplen = 96;
  ASSERT_TRUE(w.Open(path_, 0, limits).ok());
  WriteFrames(w, 0, 2);
  Capture c = Read(path_);
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.snaplen, 96u);
  ASSERT_EQ(c.frames.size(), 2u);
  EXPECT_EQ(c.frames[0].caplen, 96u);
  EXPECT_EQ(c.frames[0].len, 200u);
}

TEST_F(PcapWriterTest, RotatesIntoNumberedFilesAndKeepsTheNewest) {
  PcapWriter w;
  PcapWriter::Limits limits;
  limits.max_file_bytes = 24 + 10 * 216;  // ten 200-byte frames per file
  limits.files = 3;
  ASSERT_TRUE(w.Open(path_, 0, limits).ok());
  int fd = w.fd();
  WriteFrames(w, 0, 45);
  EXPECT_EQ(w.fd(), fd) << "the fd number survives rotation";
  EXPECT_EQ(w.rotations(), 4u);
  Capture newest = Read(path_), middle = Read(path_ + ".1"), oldest = Read(path_ + ".2");
  ASSERT_TRUE(newest.ok && middle.ok && oldest.ok);
  EXPECT_NE(access((path_ + ".3").c_str(), F_OK), 0) << "only `files` files are kept";
  ASSERT_EQ(newest.frames.size(), 5u);
  ASSERT_EQ(middle.frames.size(), 10u);
  ASSERT_EQ(oldest.frames.size(), 10u);
  EXPECT_EQ(oldest.frames.front().sec, 20u);
  EXPECT_EQ(middle.frames.front().sec, 30u);
  EXPECT_EQ(newest.frames.front().sec, 40u);
  EXPECT_EQ(newest.frames.back().sec, 44u);
}

TEST_F(PcapWriterTest, OneFileStartsOverWhenFull) {
  PcapWriter w;
  PcapWriter::Limits limits;
  limits.max_file_bytes = 24 + 10 * 216;
  limits.files = 1;
  ASSERT_TRUE(w.Open(path_, 0, limits).ok());
  WriteFrames(w, 0, 25);
  Capture c = Read(path_);
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(c.frames.size(), 5u);
  EXPECT_EQ(c.frames.front().sec, 20u);
  EXPECT_NE(access((path_ + ".1").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace tapsock
