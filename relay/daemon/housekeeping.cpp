#include "relay/daemon/housekeeping.hpp"

#include <spdlog/spdlog.h>

#include "common/time.hpp"
#include "common/util.hpp"
#include "relay/device/held_sessions.hpp"

namespace sb::relay {

namespace asio = boost::asio;

namespace {

constexpr auto kAuditPrunePeriod = std::chrono::hours(1);

// Jobs refused by a full store queue are lost audit rows: Store::post warns while it happens;
// once the queue has room again, the loss itself goes into the audit trail.
void schedule_drop_check(asio::steady_timer& timer, const bool& stopped, store::Store& store,
                         std::uint64_t reported) {
  timer.expires_after(std::chrono::seconds(1));
  timer.async_wait(
      [&timer, &stopped, &store, reported](const boost::system::error_code& ec) mutable {
        if (ec || stopped) return;
        if (const std::uint64_t lost = store.drops_to_report(reported); lost > 0) {
          const std::uint64_t dropped = reported + lost;
          nlohmann::json detail{{"dropped", lost}, {"dropped_total", dropped}};
          if (std::string cause = store.drop_cause(); !cause.empty()) detail["cause"] = cause;
          spdlog::warn("store: {} jobs (audit rows) were dropped while its queue was full{}", lost,
                       detail.contains("cause") ? " (the disk refused writes)" : "");
          bool posted = store.post([detail](store::Db& db) {
            db.add_event(store::events::kStoreDropped, "", detail, utc_now());
          });
          if (posted) reported = dropped;
        }
        schedule_drop_check(timer, stopped, store, reported);
      });
}

// One job for every open channel whose counts moved: a few rows every few seconds, not one
// write per packet.
void schedule_progress_flush(asio::steady_timer& timer, const bool& stopped, store::Store& store,
                             ChannelProgress& progress) {
  timer.expires_after(ChannelProgress::kPeriod);
  timer.async_wait([&timer, &stopped, &store, &progress](const boost::system::error_code& ec) {
    if (ec || stopped) return;
    if (auto rows = progress.changed(); !rows.empty())
      store.post([rows = std::move(rows)](store::Db& db) { db.update_channel_bytes(rows); });
    schedule_progress_flush(timer, stopped, store, progress);
  });
}

void schedule_orphan_sweep(asio::steady_timer& timer, const bool& stopped, store::Store& store,
                           std::chrono::milliseconds every) {
  timer.expires_after(every);
  timer.async_wait([&timer, &stopped, &store, every](const boost::system::error_code& ec) {
    if (ec || stopped) return;
    store.post([](store::Db& db) { db.purge_orphan_tunnel_keys(utc_now()); });
    schedule_orphan_sweep(timer, stopped, store, every);
  });
}

// Held sessions whose agent did not come back in time end as any dropped tunnel did.
void schedule_held_sweep(asio::steady_timer& timer, const bool& stopped, store::Store& store,
                         Router& router, std::chrono::milliseconds grace) {
  timer.expires_after(std::chrono::seconds(1));
  timer.async_wait([&timer, &stopped, &store, &router, grace](const boost::system::error_code& ec) {
    if (ec || stopped) return;
    auto expired = router.expire_held(std::chrono::steady_clock::now());
    if (!expired.empty())
      end_held_sessions(store, expired, "not resumed within " + format_duration(grace));
    schedule_held_sweep(timer, stopped, store, router, grace);
  });
}

// Starts a retention run (relay/audit/retention.hpp) now and then every `every`: recordings and
// rows older than the retention go, in small jobs on the store's writer thread, never here on a
// reactor. A run still going when the next is due (a huge backlog) is left to finish.
void schedule_audit_prune(asio::steady_timer& timer, const bool& stopped, store::Store& store,
                          const RetentionOptions& options, std::chrono::milliseconds every,
                          std::shared_ptr<std::atomic<bool>> running = nullptr) {
  if (!running) running = std::make_shared<std::atomic<bool>>(false);
  if (!running->exchange(true) &&
      !start_retention_run(store, options, [running] { running->store(false); })) {
    spdlog::warn("audit retention: store queue full; trying again in {}", format_duration(every));
    running->store(false);
  }
  timer.expires_after(every);
  timer.async_wait(
      [&timer, &stopped, &store, options, every, running](const boost::system::error_code& ec) {
        if (!ec && !stopped) schedule_audit_prune(timer, stopped, store, options, every, running);
      });
}

}  // namespace

Housekeeping::Housekeeping(asio::io_context& io, store::Store& store,
                           std::chrono::milliseconds check_interval,
                           std::optional<RetentionOptions> retention, ChannelProgress& progress,
                           Router& router, std::chrono::milliseconds grace)
    : store_(store),
      check_interval_(check_interval),
      retention_(std::move(retention)),
      orphan_sweep_(io),
      audit_prune_(io),
      drop_check_(io),
      progress_(progress),
      progress_flush_(io),
      router_(router),
      grace_(grace),
      held_sweep_(io) {
  if (retention_) retention_->stop = retention_stop_;
}

void Housekeeping::start() {
  schedule_orphan_sweep(orphan_sweep_, stopped_, store_, check_interval_);
  if (retention_)
    schedule_audit_prune(audit_prune_, stopped_, store_, *retention_, kAuditPrunePeriod);
  schedule_drop_check(drop_check_, stopped_, store_, 0);
  schedule_progress_flush(progress_flush_, stopped_, store_, progress_);
  if (grace_.count() > 0) schedule_held_sweep(held_sweep_, stopped_, store_, router_, grace_);
}

// A timer that expired just before this has its handler queued already: cancel() cannot reach
// it, and without the flag it would arm itself again and keep the reactor running.
void Housekeeping::stop() {
  stopped_ = true;
  orphan_sweep_.cancel();
  audit_prune_.cancel();
  drop_check_.cancel();
  progress_flush_.cancel();
  held_sweep_.cancel();
}

}  // namespace sb::relay
