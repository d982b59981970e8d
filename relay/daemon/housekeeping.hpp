// The relay's periodic jobs on the main reactor: tunnel keys left without a session are purged
// every check interval, sessions held for a resume end once their grace ran out (checked every
// second), audit retention runs at start and hourly, open channels' byte counts
// are stored every ChannelProgress::kPeriod, and jobs the store had to drop (a full queue) are
// written into the audit trail once it has room again.
#pragma once
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "relay/audit/retention.hpp"
#include "relay/router/channel_progress.hpp"
#include "relay/router/router.hpp"
#include "relay/store/store.hpp"

namespace sb::relay {

class Housekeeping {
 public:
  // Without `retention`, audit rows and recordings are kept forever.
  Housekeeping(boost::asio::io_context& io, store::Store& store,
               std::chrono::milliseconds check_interval, std::optional<RetentionOptions> retention,
               ChannelProgress& progress, Router& router, std::chrono::milliseconds grace);

  void start();
  // Cancels the timers (on the main reactor, when the relay stops).
  void stop();
  // Once the reactors have stopped: a retention run still going ends after its current job.
  void finish() { retention_stop_->store(true); }

 private:
  store::Store& store_;
  std::chrono::milliseconds check_interval_;
  std::optional<RetentionOptions> retention_;
  std::shared_ptr<std::atomic<bool>> retention_stop_ = std::make_shared<std::atomic<bool>>(false);
  boost::asio::steady_timer orphan_sweep_;
  boost::asio::steady_timer audit_prune_;
  boost::asio::steady_timer drop_check_;
  ChannelProgress& progress_;
  boost::asio::steady_timer progress_flush_;
  Router& router_;
  std::chrono::milliseconds grace_;
  boost::asio::steady_timer held_sweep_;
  bool stopped_ = false;  // read and written on the main reactor only
};

}  // namespace sb::relay
