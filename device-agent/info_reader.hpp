// Reads the device info away from the agent's event loop. Reading it walks mounted file systems
// and asks the system who is logged in; a dying disk or a hung call there must not stall the
// tunnel, its keepalives or a stop. One read at a time, on a thread of its own; each result is
// handed to `on_read` on the agent's executor.
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

namespace sb::agent {

class InfoReader {
 public:
  using Collect = std::function<nlohmann::json()>;
  using OnRead = std::function<void(const nlohmann::json&)>;

  InfoReader(boost::asio::any_io_executor executor, Collect collect, OnRead on_read);
  // Returns at once even while a read hangs: that read's thread is left to end on its own, and
  // its result is dropped.
  ~InfoReader();
  InfoReader(const InfoReader&) = delete;
  InfoReader& operator=(const InfoReader&) = delete;

  // Starts a read unless one is still running (a stuck read is not joined by more of them).
  void read();
  bool reading() const { return reading_; }

 private:
  struct Shared;
  boost::asio::any_io_executor executor_;
  Collect collect_;
  std::shared_ptr<Shared> shared_;
  bool reading_ = false;
};

}  // namespace sb::agent
