// InfoReader: the system info is read on a thread of its own, one read at a time, and handed
// back on the agent's executor; a read that hangs stalls neither the loop nor the agent's end.
#include "device-agent/info_reader.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>
#include <thread>

namespace sb::agent {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A collector that blocks until released, like a read stuck on a dying disk. Its state is
// shared with the read's thread, which may outlive the test's objects by a moment.
class HeldRead {
 public:
  InfoReader::Collect collect() {
    return [state = state_] {
      ++state->calls;
      state->released.wait();
      return nlohmann::json{{"hostname", "held"}};
    };
  }
  void release() { state_->release.set_value(); }
  int calls() const { return state_->calls; }

 private:
  struct State {
    std::atomic<int> calls{0};
    std::promise<void> release;
    std::shared_future<void> released{release.get_future().share()};
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

TEST(InfoReader, HandsTheInfoBackOnTheExecutorThread) {
  asio::io_context io;
  std::thread::id read_on;
  nlohmann::json got;
  InfoReader reader(
      io.get_executor(),
      [] {
        return nlohmann::json{{"hostname", "box"}};
      },
      [&](const nlohmann::json& info) {
        got = info;
        read_on = std::this_thread::get_id();
        io.stop();
      });
  reader.read();
  EXPECT_TRUE(reader.reading());
  io.run_for(5s);
  EXPECT_EQ(got["hostname"], "box");
  EXPECT_EQ(read_on, std::this_thread::get_id());
  EXPECT_FALSE(reader.reading());
}

TEST(InfoReader, AHungReadStallsNeitherTheLoopNorMoreReadsPileUp) {
  asio::io_context io;
  HeldRead held;
  int results = 0;
  InfoReader reader(io.get_executor(), held.collect(), [&](const nlohmann::json&) { ++results; });
  reader.read();
  // The loop keeps serving its timers while the read hangs.
  bool timer_fired = false;
  asio::steady_timer timer(io, 50ms);
  timer.async_wait([&](const boost::system::error_code& ec) { timer_fired = !ec; });
  io.run_for(500ms);
  EXPECT_TRUE(timer_fired);
  reader.read();
  reader.read();
  io.restart();
  io.run_for(100ms);
  EXPECT_EQ(held.calls(), 1) << "a read started while another one hangs";
  EXPECT_EQ(results, 0);

  held.release();
  io.restart();
  ASSERT_TRUE([&] {
    for (auto until = std::chrono::steady_clock::now() + 5s;
         std::chrono::steady_clock::now() < until && results == 0;)
      io.run_for(10ms);
    return results == 1;
  }());
  // The next read is a new one.
  EXPECT_FALSE(reader.reading());
  reader.read();
  EXPECT_TRUE(reader.reading());
  io.restart();
  for (auto until = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < until && results < 2;)
    io.run_for(10ms);
  EXPECT_EQ(results, 2);
  EXPECT_EQ(held.calls(), 2);
}

TEST(InfoReader, GoingAwayDuringAHungReadReturnsAtOnceAndDropsItsResult) {
  HeldRead held;
  int results = 0;
  {
    asio::io_context io;
    {
      InfoReader reader(io.get_executor(), held.collect(),
                        [&](const nlohmann::json&) { ++results; });
      reader.read();
      const auto start = std::chrono::steady_clock::now();
      while (held.calls() == 0 && std::chrono::steady_clock::now() - start < 5s)
        std::this_thread::sleep_for(1ms);
      ASSERT_EQ(held.calls(), 1);
    }  // the reader goes while its read hangs
    held.release();
    io.run_for(200ms);
  }
  EXPECT_EQ(results, 0);
}

}  // namespace
}  // namespace sb::agent
