// Store: the writer thread. Reactor threads post jobs; this thread runs them in batches, one
// transaction per batch (a SAVEPOINT per job), and publishes key snapshots when the keys change
// (or at once when asked: refresh_keys).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

namespace {

constexpr std::size_t kMaxBatch = 1000;  // jobs per transaction
constexpr int kBeginRetries = 3;         // each attempt waits up to busy_timeout (5 s)

bool same_keys(const KeySnapshot& a, const KeySnapshot& b) {
  return a.device_by_fingerprint == b.device_by_fingerprint &&
         a.revoked_by_fingerprint == b.revoked_by_fingerprint &&
         a.operator_by_fingerprint == b.operator_by_fingerprint && a.grants == b.grants;
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
    const auto now = std::chrono::steady_clock::now();
    if (now - drop_warned_ >= std::chrono::seconds(1)) {
      drop_warned_ = now;
      dropped_total = dropped_;
    }
  }
  if (dropped_total > 0) {
    spdlog::warn("store: queue full ({} jobs waiting): job dropped, {} dropped in total",
                 max_queue_, dropped_total);
  }
  return false;
}

void Store::flush() {
  if (std::this_thread::get_id() == thread_.get_id()) {
    throw std::logic_error("Store::flush() called from a store job: it would never return");
  }
  std::unique_lock lk(mu_);
  const std::uint64_t target = posted_;
  drained_cv_.wait(lk, [&] { return done_ >= target; });
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

void Store::run() {
  std::deque<Job> batch;
  std::vector<OnKeys> refreshes;
  OnKeys on_keys;
  for (;;) {
    KeyCheck how = KeyCheck::kIfChanged;
    {
      std::unique_lock lk(mu_);
      const auto ready = [&] {
        return stop_ || keys_force_ || !queue_.empty() || !keys_refreshes_.empty();
      };
      if (on_keys_) {
        cv_.wait_for(lk, keys_poll_, ready);
      } else {
        cv_.wait(lk, ready);
      }
      if (stop_ && queue_.empty() && keys_refreshes_.empty()) break;  // drained: stop
      if (queue_.size() <= kMaxBatch) {
        batch.swap(queue_);  // the usual case: O(1) under the lock
      } else {
        const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(kMaxBatch);
        std::move(queue_.begin(), end, std::back_inserter(batch));
        queue_.erase(queue_.begin(), end);
      }
      refreshes.swap(keys_refreshes_);
      if (keys_force_ || !on_keys) on_keys = on_keys_;
      if (keys_force_) how = KeyCheck::kPublish;
      keys_force_ = false;
    }
    // Before the batch: someone waits for it, and what the batch changes is checked after it.
    const std::size_t answered = refreshes.size();
    if (answered > 0) {
      answer_refreshes(on_keys, refreshes, how == KeyCheck::kPublish ? how : KeyCheck::kReload);
      how = KeyCheck::kIfChanged;  // done: a publication owed to watch_keys() went out first
    }
    if (!batch.empty()) run_batch(batch);
    // Before the jobs count as done, so that after flush() the snapshot reflects them.
    if (on_keys) check_keys(on_keys, how);
    if (batch.empty() && answered == 0) continue;
    const std::size_t n = batch.size() + answered;
    batch.clear();  // the jobs' captures die before flush() can return
    {
      std::lock_guard lk(mu_);
      done_ += n;
    }
    drained_cv_.notify_all();
  }
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

void Store::run_batch(std::deque<Job>& batch) {
  Db& db = *db_;
  for (int attempt = 1;; ++attempt) {
    bool began = false;
    try {
      db.transaction([&] {
        began = true;
        for (Job& job : batch) {
          try {
            db.transaction([&] { job(db); });
          } catch (const std::exception& e) {
            spdlog::error("store: job failed: {}", e.what());
          } catch (...) {
            spdlog::error("store: job failed (non-standard exception)");
          }
          job = nullptr;  // release its captures now
          if (db.transaction_lost()) {
            throw std::runtime_error("the transaction was rolled back by a failed job");
          }
        }
      });
      return;
    } catch (const std::exception& e) {
      if (!began && attempt < kBeginRetries) {
        spdlog::warn("store: cannot start a transaction ({}); retrying", e.what());
        continue;
      }
      spdlog::error("store: a batch of {} jobs was not committed: {}", batch.size(), e.what());
      return;
    }
  }
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
