// N single-threaded Asio reactors. A connection lives on exactly one of them, so everything it
// touches (its libssh session, its channels, its bridges) is used from one thread only.
#pragma once
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
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
  void stop();   // lets run() return once the queued work is done
  void join();

 private:
  struct Reactor {
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        io.get_executor()};
  };
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::thread> threads_;
  std::size_t next_ = 0;
};

}  // namespace sb
