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
  for (std::size_t i = 0; i < reactors_.size(); ++i) {
    threads_.emplace_back([this, i] {
      try {
        reactors_[i]->io.run();
      } catch (const std::exception& e) {
        spdlog::critical("reactor {} stopped by an exception: {}", i, e.what());
        std::terminate();
      }
    });
  }
}

void ReactorPool::stop() {
  for (auto& r : reactors_) r->guard.reset();
}

void ReactorPool::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace sb
