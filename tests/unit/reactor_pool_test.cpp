// ReactorPool's stop: reactors end once their work is done, and a reactor whose work never ends
// (a timer that arms itself again) is stopped after the grace instead of holding the join.
#include "common/io/reactor_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

namespace sb {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ReactorPool, StopLetsQueuedWorkFinishThenJoins) {
  ReactorPool pool(2);
  pool.start();
  std::atomic<int> ran{0};
  for (std::size_t i = 0; i < pool.size(); ++i) boost::asio::post(pool.at(i), [&ran] { ++ran; });
  pool.stop(10s);
  auto started = Clock::now();
  pool.join();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_LT(Clock::now() - started, 5s);  // ended by running out of work, not by the grace
}

TEST(ReactorPool, AReactorThatNeverRunsOutOfWorkIsStoppedAfterTheGrace) {
  ReactorPool pool(2);
  boost::asio::steady_timer timer(pool.at(1));
  std::function<void()> arm = [&] {
    timer.expires_after(5ms);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) arm();
    });
  };
  arm();
  pool.start();
  auto started = Clock::now();
  pool.stop(200ms);
  pool.join();
  auto took = Clock::now() - started;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 5s);
}

TEST(ReactorPool, JoinWaitsForAStopFromAnotherThread) {
  ReactorPool pool(1);
  pool.start();
  std::atomic<bool> stopped{false};
  boost::asio::steady_timer timer(pool.at(0), 100ms);
  timer.async_wait([&](const boost::system::error_code&) {
    stopped = true;
    pool.stop();
  });
  pool.join();
  EXPECT_TRUE(stopped.load());
}

}  // namespace
}  // namespace sb
