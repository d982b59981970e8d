#include "common/out_buffer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sb {
namespace {

TEST(OutBuffer, ConsumesFromTheFrontInOrder) {
  OutBuffer out;
  ASSERT_TRUE(out.append("hello "));
  ASSERT_TRUE(out.append("world"));
  EXPECT_EQ(out.data(), "hello world");
  out.consume(6);
  EXPECT_EQ(out.data(), "world");
  EXPECT_EQ(out.size(), 5u);
  out.consume(5);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.data(), "");
}

TEST(OutBuffer, ConsumeIsClampedToWhatIsWaiting) {
  OutBuffer out;
  ASSERT_TRUE(out.append("abc"));
  out.consume(100);
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(out.append("d"));
  EXPECT_EQ(out.data(), "d");
}

TEST(OutBuffer, RefusesWhatWouldPassTheCapAndKeepsItsContent) {
  OutBuffer out(8);
  ASSERT_TRUE(out.append("12345"));
  EXPECT_FALSE(out.append("6789"));  // 9 bytes: all or nothing
  EXPECT_EQ(out.data(), "12345");
  EXPECT_EQ(out.room(), 3u);
  ASSERT_TRUE(out.append("678"));
  EXPECT_EQ(out.room(), 0u);
  out.consume(4);  // consumed bytes free room at once
  EXPECT_EQ(out.room(), 4u);
  ASSERT_TRUE(out.append("9abc"));
  EXPECT_EQ(out.data(),
            "5678"
            "9abc");
}

// Many short writes interleaved with appends keep the stream intact (compaction happens
// behind the offset).
TEST(OutBuffer, ShortWritesKeepTheStreamIntact) {
  OutBuffer out(4096);
  std::string sent, expected;
  for (int i = 0; i < 2000; ++i) {
    std::string piece = std::to_string(i) + ",";
    if (out.append(piece)) expected += piece;
    std::size_t take = std::min<std::size_t>(out.size(), static_cast<std::size_t>(i % 7));
    sent.append(out.data().substr(0, take));
    out.consume(take);
  }
  sent.append(out.data());
  EXPECT_EQ(sent, expected);
}

TEST(OutBuffer, ClearEmptiesIt) {
  OutBuffer out(16);
  ASSERT_TRUE(out.append("abc"));
  out.consume(1);
  out.clear();
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.room(), 16u);
}

}  // namespace
}  // namespace sb
