// What every connection on every reactor shares: the store, the registry of live sessions, the
// key snapshot used by authentication, and the settings of `relay serve`.
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "relay/router/admission.hpp"
#include "relay/router/channel_progress.hpp"
#include "relay/router/guess_guard.hpp"
#include "relay/router/refusal_log.hpp"
#include "relay/router/router.hpp"
#include "relay/store/store.hpp"

namespace sb::relay {

class Recorder;

struct Limits {
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(20)};
  int max_auth_attempts = 6;
  int max_unauthenticated_per_source = 32;
  // Early drop of new connections as unauthenticated ones pile up (serve --max-startups).
  int startups_begin = 100;
  int startups_rate = 30;
  int startups_full = 300;
  std::size_t max_control_line = 16 * 1024;
  std::chrono::milliseconds consent_timeout{std::chrono::seconds(60)};
  // How long an ad-hoc session's ID is held for its agent after the tunnel drops without a
  // goodbye (serve --grace); 0 ends it at once.
  std::chrono::milliseconds resume_grace{std::chrono::minutes(2)};
};

class Context {
 public:
  Context(store::Store& store, std::chrono::milliseconds check_interval, Limits limits,
          std::string relay_fingerprint)
      : store(store),
        check_interval(check_interval),
        limits(limits),
        relay_fingerprint(std::move(relay_fingerprint)),
        admission(admission_limits(limits)) {}

  store::Store& store;
  Router router;
  GuessGuard guard;
  store::AuditIds ids;       // attachment and channel IDs, set from the store at start
  ChannelProgress progress;  // open channels' byte counts, stored every few seconds
  const std::chrono::milliseconds check_interval;
  const Limits limits;
  const std::string relay_fingerprint;
  // Connections that exist now (each counts itself from construction to destruction): a
  // stopping relay waits until every one has closed and let go.
  std::atomic<int> connections{0};
  // Set when the relay begins to stop: tunnels closing from then on end their sessions
  // instead of holding them for a resume.
  std::atomic<bool> stopping{false};
  // Shell recordings; null with `serve --no-record`. Set before the reactors start.
  Recorder* recorder = nullptr;

  std::shared_ptr<const store::KeySnapshot> keys() const { return std::atomic_load(&keys_); }
  void set_keys(std::shared_ptr<const store::KeySnapshot> keys) {
    std::atomic_store(&keys_, std::move(keys));
  }

  // Unauthenticated connections: who may start a handshake, and until when (floods).
  Admission admission;
  // Every refusal of a peer's request is logged here (repeats summarised).
  RefusalLog refusals;

 private:
  static Admission::Limits admission_limits(const Limits& limits) {
    Admission::Limits out;
    out.per_source = limits.max_unauthenticated_per_source;
    out.start = limits.startups_begin;
    out.rate = limits.startups_rate;
    out.full = limits.startups_full;
    return out;
  }
  std::shared_ptr<const store::KeySnapshot> keys_ = std::make_shared<store::KeySnapshot>();
};

}  // namespace sb::relay
