// Store: the writer thread. Reactor threads post jobs; this thread runs them in batches, one
// transaction per batch (a SAVEPOINT per job), keeps and retries a batch the disk refused, and
// publishes key snapshots when the keys change (or at once when asked: refresh_keys).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

namespace {

constexpr std::size_t kMaxBatch = 1000;  // jobs per transaction
constexpr auto kRefusalLogEvery = std::chrono::seconds(30);

bool same_keys(const KeySnapshot& a, const KeySnapshot& b) {
  return a.device_by_fingerprint == b.device_by_fingerprint &&
         a.revoked_by_fingerprint == b.revoked_by_fingerprint &&
         a.operator_by_fingerprint == b.operator_by_fingerprint && a.grants == b.grants &&
         a.groups_by_device == b.groups_by_device;
}

bool refused_by_storage(const std::exception& e) {
  const auto* sqlite = dynamic_cast<const detail::SqliteError*>(&e);
  return sqlite != nullptr && sqlite->refused_by_storage();
}

// For the log and the audit: the database's words, without the statement that failed.
std::string refusal_of(const std::exception& e) {
  const auto* sqlite = dynamic_cast<const detail::SqliteError*>(&e);
  return sqlite != nullptr ? sqlite->reason() : e.what();
}

}  // namespace

Store::Store(const std::filesystem::path& file, std::size_t max_queue)
    : db_(Db::open(file, /*create=*/false)), max_queue_(max_queue) {
  thread_ = std::thread([this] { run(); });
}

Store::~Store() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Store::post(Job job) {
  std::uint64_t dropped_total = 0;
  std::string cause;
  {
    std::unique_lock lk(mu_);
    if (queue_.size() < max_queue_) {
      queue_.push_back(std::move(job));
      ++posted_;
      lk.unlock();
      cv_.notify_one();  // cheap when the writer is busy: nobody waits
      return true;
    }
    ++dropped_;
    drop_cause_ = refusing_error_;
    const auto now = std::chrono::steady_clock::now();
    if (now - drop_warned_ >= std::chrono::seconds(1)) {
      drop_warned_ = now;
      dropped_total = dropped_;
      cause = drop_cause_;
    }
  }
  if (dropped_total > 0) {
    spdlog::warn("store: queue full ({} jobs waiting{}): job dropped, {} dropped in total",
                 max_queue_, cause.empty() ? "" : "; the disk refuses writes: " + cause,
                 dropped_total);
  }
  return false;
}

void Store::flush() {
  flush_for(std::chrono::milliseconds::max());
}

bool Store::flush_for(std::chrono::milliseconds limit) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    throw std::logic_error("Store::flush() called from a store job: it would never return");
  }
  std::unique_lock lk(mu_);
  const std::uint64_t target = posted_;
  const auto drained = [&] { return done_ >= target; };
  if (limit == std::chrono::milliseconds::max()) {
    drained_cv_.wait(lk, drained);
    return true;
  }
  return drained_cv_.wait_for(lk, limit, drained);
}

void Store::watch_keys(OnKeys on_change, std::chrono::milliseconds poll) {
  {
    std::lock_guard lk(mu_);
    on_keys_ = std::move(on_change);
    keys_poll_ = std::max(poll, std::chrono::milliseconds(1));
    keys_force_ = true;
  }
  cv_.notify_all();
}

void Store::refresh_keys(OnKeys done) {
  {
    std::lock_guard lk(mu_);
    keys_refreshes_.push_back(std::move(done));
    ++posted_;
  }
  cv_.notify_all();
}

std::uint64_t Store::dropped() const {
  std::lock_guard lk(mu_);
  return dropped_;
}

std::size_t Store::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

std::uint64_t Store::drops_to_report(std::uint64_t reported) const {
  std::lock_guard lk(mu_);
  if (dropped_ <= reported || queue_.size() >= max_queue_ / 2) return 0;
  return dropped_ - reported;
}

std::string Store::drop_cause() const {
  std::lock_guard lk(mu_);
  return drop_cause_;
}

bool Store::writes_refused() const {
  std::lock_guard lk(mu_);
  return !refusing_error_.empty();
}

void Store::run() {
  std::deque<Job> batch;  // taken from the queue; kept until it commits
  std::vector<OnKeys> refreshes;
  OnKeys on_keys;
  for (;;) {
    Turn turn;
    if (!next_turn(batch, refreshes, on_keys, turn)) break;
    KeyCheck how = turn.how;
    // Before the batch: someone waits for it, and what the batch changes is checked after it.
    const std::size_t answered = refreshes.size();
    if (answered > 0) {
      answer_refreshes(on_keys, refreshes, how == KeyCheck::kPublish ? how : KeyCheck::kReload);
      how = KeyCheck::kIfChanged;  // done: a publication owed to watch_keys() went out first
    }
    Outcome outcome = Outcome::kRefused;  // a kept batch not tried this turn is still waiting
    if (turn.write) {
      std::string error;
      outcome = batch.empty() ? Outcome::kCommitted : run_batch(batch, error);
      if (outcome == Outcome::kCommitted && outage_) recovered(batch.size());
      if (outcome == Outcome::kRefused) refused(batch.size(), error);
      if (outcome == Outcome::kFailed) lost(batch.size(), error);
    }
    // Before the jobs count as done, so that after flush() the snapshot reflects them.
    if (on_keys) check_keys(on_keys, how);
    const std::size_t finished = outcome == Outcome::kRefused ? 0 : batch.size();
    if (finished + answered == 0) continue;
    if (finished > 0) batch.clear();  // the jobs' captures die before flush() can return
    {
      std::lock_guard lk(mu_);
      done_ += finished + answered;
    }
    drained_cv_.notify_all();
  }
}

bool Store::next_turn(std::deque<Job>& batch, std::vector<OnKeys>& refreshes, OnKeys& on_keys,
                      Turn& turn) {
  std::unique_lock lk(mu_);
  if (!batch.empty()) {
    // The disk refused this batch: wait for its retry (a stop does not cut the wait short, so
    // that a full disk is not hammered; a key refresh is answered meanwhile: reads still work).
    cv_.wait_until(lk, outage_->retry_at, [&] { return !keys_refreshes_.empty(); });
    const auto now = std::chrono::steady_clock::now();
    turn.write = now >= outage_->retry_at;
    if (stop_ && stop_seen_ == std::chrono::steady_clock::time_point{}) stop_seen_ = now;
    if (stop_ && now - stop_seen_ >= kStopRetryFor) {
      lk.unlock();
      give_up(batch);
      return false;
    }
  } else {
    const auto ready = [&] {
      return stop_ || keys_force_ || !queue_.empty() || !keys_refreshes_.empty();
    };
    if (on_keys_) {
      cv_.wait_for(lk, keys_poll_, ready);
    } else {
      cv_.wait(lk, ready);
    }
    if (stop_ && queue_.empty() && keys_refreshes_.empty()) return false;  // drained: stop
    if (queue_.size() <= kMaxBatch) {
      batch.swap(queue_);  // the usual case: O(1) under the lock
    } else {
      const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(kMaxBatch);
      std::move(queue_.begin(), end, std::back_inserter(batch));
      queue_.erase(queue_.begin(), end);
    }
    turn.write = true;
  }
  refreshes.swap(keys_refreshes_);
  if (keys_force_ || !on_keys) on_keys = on_keys_;
  if (keys_force_) turn.how = KeyCheck::kPublish;
  keys_force_ = false;
  return true;
}

void Store::answer_refreshes(const OnKeys& on_keys, std::vector<OnKeys>& waiters, KeyCheck how) {
  auto snapshot = check_keys(on_keys, how);
  for (OnKeys& done : waiters) {
    try {
      done(snapshot);
    } catch (const std::exception& e) {
      spdlog::error("store: key refresh callback failed: {}", e.what());
    } catch (...) {
      spdlog::error("store: key refresh callback failed (non-standard exception)");
    }
  }
  waiters.clear();  // their captures die before flush() can return
}

Store::Outcome Store::run_batch(std::deque<Job>& batch, std::string& error) {
  Db& db = *db_;
  try {
    db.transaction([&] {
      for (Job& job : batch) {
        try {
          db.transaction([&] { job(db); });
        } catch (const std::exception& e) {
          // The disk's refusal is the batch's, not the job's: the whole batch is tried again.
          if (refused_by_storage(e) || db.transaction_lost()) throw;
          spdlog::error("store: job failed: {}", e.what());
        } catch (...) {
          spdlog::error("store: job failed (non-standard exception)");
        }
        if (db.transaction_lost()) {
          throw std::runtime_error("the transaction was rolled back by a failed job");
        }
      }
      if (outage_) {
        db.add_event(events::kStoreWriteFailed, "",
                     {{"error", outage_->error},
                      {"since", iso8601_utc(outage_->since)},
                      {"attempts", outage_->attempts},
                      {"jobs_waiting", batch.size() + queued()}},
                     utc_now());
      }
    });
    return Outcome::kCommitted;
  } catch (const std::exception& e) {
    error = refusal_of(e);
    return refused_by_storage(e) ? Outcome::kRefused : Outcome::kFailed;
  }
}

// Not the disk: something in the batch undid the whole transaction, and would again.
void Store::lost(std::size_t batch_size, const std::string& error) {
  spdlog::error("store: a batch of {} jobs was not committed: {}", batch_size, error);
  std::lock_guard lk(mu_);
  dropped_ += batch_size;
  drop_cause_ = error;
}

void Store::refused(std::size_t batch_size, const std::string& error) {
  const auto now = std::chrono::steady_clock::now();
  const bool first = !outage_;
  if (first) outage_ = Outage{utc_now(), now, 0, error, kFirstRetryDelay, now, now};
  Outage& outage = *outage_;
  ++outage.attempts;
  outage.error = error;
  if (!first) outage.delay = std::min(outage.delay * 2, kMaxRetryDelay);
  outage.retry_at = now + outage.delay;
  {
    std::lock_guard lk(mu_);
    refusing_error_ = error;
  }
  if (first) {
    spdlog::error(
        "store: the disk refused a batch of {} jobs ({}); kept in memory and retried "
        "until it has room ({} more waiting)",
        batch_size, error, queued());
  } else if (now - outage.logged >= kRefusalLogEvery) {
    outage.logged = now;
    spdlog::error("store: the disk still refuses writes after {} attempts ({}); {} jobs waiting",
                  outage.attempts, error, batch_size + queued());
  }
}

void Store::recovered(std::size_t batch_size) {
  spdlog::warn(
      "store: writing again after {} attempts over {}; the {} jobs that waited are written",
      outage_->attempts,
      format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - outage_->since_steady)),
      batch_size + queued());
  outage_.reset();
  std::lock_guard lk(mu_);
  refusing_error_.clear();
}

// The relay stops and the disk still refuses: what is waiting cannot be kept any longer.
void Store::give_up(std::deque<Job>& batch) {
  std::size_t lost = batch.size();
  {
    std::lock_guard lk(mu_);
    lost += queue_.size();
    queue_.clear();
    dropped_ += lost;
    done_ = posted_;
  }
  batch.clear();
  drained_cv_.notify_all();
  spdlog::error("store: stopping while the disk refuses writes ({}): {} jobs (audit rows) lost",
                outage_ ? outage_->error : "", lost);
}

std::shared_ptr<const KeySnapshot> Store::check_keys(const OnKeys& on_change, KeyCheck how) {
  try {
    const bool changed = db_->keys_changed() || keys_retry_;
    if (!changed && how == KeyCheck::kIfChanged) return keys_last_;
    keys_retry_ = true;  // until this read succeeds
    auto snap = std::make_shared<KeySnapshot>(db_->load_key_snapshot());
    keys_retry_ = false;
    if (how != KeyCheck::kPublish && keys_last_ && same_keys(*keys_last_, *snap)) return keys_last_;
    snap->version = ++keys_generation_;
    keys_last_ = snap;
    if (on_change) on_change(snap);
    return snap;
  } catch (const std::exception& e) {
    spdlog::error("store: key snapshot: {}", e.what());
  } catch (...) {
    spdlog::error("store: key snapshot: non-standard exception");
  }
  return nullptr;
}

}  // namespace sb::store
