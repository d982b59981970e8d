#include "common/io/reactor_pool.hpp"

#include <spdlog/spdlog.h>

namespace sb {

ReactorPool::ReactorPool(unsigned threads) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) reactors_.push_back(std::make_unique<Reactor>());
}

ReactorPool::~ReactorPool() {
  stop();
  join();
}

boost::asio::io_context& ReactorPool::next() {
  auto& io = reactors_[next_]->io;
  next_ = (next_ + 1) % reactors_.size();
  return io;
}

void ReactorPool::start() {
  {
    std::lock_guard lock(mu_);
    running_ = reactors_.size();
  }
  for (std::size_t i = 0; i < reactors_.size(); ++i) {
    threads_.emplace_back([this, i] {
      try {
        reactors_[i]->io.run();
      } catch (const std::exception& e) {
        spdlog::critical("reactor {} stopped by an exception: {}", i, e.what());
        std::terminate();
      }
      std::lock_guard lock(mu_);
      --running_;
      changed_.notify_all();
    });
  }
}

void ReactorPool::stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  for (auto& r : reactors_) r->guard.reset();
  if (!hard_stop_at_) hard_stop_at_ = std::chrono::steady_clock::now() + grace;
  changed_.notify_all();
}

void ReactorPool::join() {
  {
    std::unique_lock lock(mu_);
    for (;;) {
      if (running_ == 0) break;
      if (!hard_stop_at_) {
        changed_.wait(lock);
      } else if (!changed_.wait_until(lock, *hard_stop_at_, [this] { return running_ == 0; })) {
        spdlog::warn("stopping {} reactor(s) that still had work after the stop", running_);
        stop_the_rest();
        break;
      }
    }
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void ReactorPool::stop_the_rest() {
  for (auto& r : reactors_) r->io.stop();
}

}  // namespace sb
