// N single-threaded Asio reactors. A connection lives on exactly one of them, so everything it
// touches (its libssh session, its channels, its bridges) is used from one thread only.
#pragma once
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sb {

class ReactorPool {
 public:
  explicit ReactorPool(unsigned threads);
  ~ReactorPool();
  ReactorPool(const ReactorPool&) = delete;
  ReactorPool& operator=(const ReactorPool&) = delete;

  std::size_t size() const { return reactors_.size(); }
  boost::asio::io_context& at(std::size_t i) { return reactors_[i]->io; }
  // Round robin, for spreading new connections.
  boost::asio::io_context& next();
  void start();  // one thread per reactor
  // Lets each run() return once its queued work is done; a reactor still running after `grace`
  // (a timer that keeps arming itself, a wait nobody will end) is stopped by join(), with a
  // warning, so that a stop always ends. Any thread may call it.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(1));
  void join();  // waits for every reactor thread

 private:
  struct Reactor {
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        io.get_executor()};
  };
  std::vector<std::unique_ptr<Reactor>> reactors_;
  void stop_the_rest();

  std::vector<std::thread> threads_;
  std::size_t next_ = 0;
  std::mutex mu_;
  std::condition_variable changed_;
  std::size_t running_ = 0;                                            // guarded by mu_
  std::optional<std::chrono::steady_clock::time_point> hard_stop_at_;  // guarded by mu_
};

}  // namespace sb
