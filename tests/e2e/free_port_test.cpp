// free_port() in the harness: the kernel alone hands a port it just gave out to the next caller
// once it is closed again, so tests running side by side could both start a program on it.
#include <gtest/gtest.h>

#include <set>

#include "harness.hpp"

namespace sb::e2e {
namespace {

TEST(FreePort, NeverGivesOutAPortTwiceWhileItIsClaimed) {
  // 300 draws from some 14,000 odd ephemeral ports repeat one with a probability near 96% when
  // nothing remembers what was given out.
  std::set<int> given;
  for (int i = 0; i < 300; ++i) {
    const int port = free_port();
    EXPECT_GT(port, 0);
    EXPECT_TRUE(given.insert(port).second) << "port " << port << " given out twice";
  }
}

}  // namespace
}  // namespace sb::e2e
