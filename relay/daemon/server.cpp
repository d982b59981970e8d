// `relay serve`: opens the data dir and the store, then runs the shards, the listener, the
// control socket and the housekeeping on the reactors until SIGTERM or SIGINT.
#include "relay/daemon/server.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <thread>

#include "common/io/reactor_pool.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/control/control_server.hpp"
#include "relay/daemon/control_commands.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/daemon/housekeeping.hpp"
#include "relay/daemon/listener.hpp"
#include "relay/daemon/shard.hpp"
#include "relay/device/held_sessions.hpp"

namespace sb::relay {

namespace asio = boost::asio;

namespace {

// What the previous run left open (it was killed, or its stop ran out of time) is closed now,
// each session, attachment and channel with an event saying why.
void purge_after_crash(store::Store& store, bool crashed) {
  const std::string reason =
      crashed ? "relay restarted after a crash" : "relay stopped before closing it";
  store.post([reason](store::Db& db) {
    int ended = db.purge_stale(reason, utc_now());
    if (ended > 0) spdlog::warn("purged {} sessions left open by an earlier run", ended);
  });
  store.flush();
}

// Attachment and channel IDs continue after the largest ones stored.
void start_audit_ids(store::Store& store, Context& ctx) {
  store.post([&ctx](store::Db& db) {
    auto [attachments, channels] = db.max_audit_ids();
    ctx.ids.attachments.reset(attachments);
    ctx.ids.channels.reset(channels);
  });
  store.flush();
}

void watch_keys(store::Store& store, Context& ctx) {
  store.watch_keys([&ctx](std::shared_ptr<const store::KeySnapshot> snapshot) {
    spdlog::debug("key snapshot: {} enrolled, {} revoked, {} operators, {} grants",
                  snapshot->device_by_fingerprint.size(), snapshot->revoked_by_fingerprint.size(),
                  snapshot->operator_by_fingerprint.size(), snapshot->grants.size());
    ctx.set_keys(std::move(snapshot));
  });
}

unsigned reactor_count(const ServeOptions& options) {
  return options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
}

std::optional<RetentionOptions> retention(const ServeOptions& options, const DataDir& dir,
                                          const Recorder* recorder) {
  if (options.audit_retention.count() <= 0) return std::nullopt;
  return RetentionOptions{
      .data_dir = dir.root, .keep = options.audit_retention, .recorder = recorder};
}

// What `relay serve` runs on the main reactor (pool.at(0)) besides that reactor's shard.
struct MainReactor {
  Listener listener;
  asio::signal_set signals;
  Housekeeping housekeeping;
  ControlServer control;
};

// A stop closes every connection on its own reactor and waits for them to go (each ends its
// session, attachment or channels in the store as it closes); what is still open after this
// is left to the next start's purge, so that systemd's stop timeout is never reached.
constexpr auto kStopDeadline = std::chrono::seconds(4);
constexpr auto kStopPoll = std::chrono::milliseconds(10);

void stop_when_closed(std::shared_ptr<asio::steady_timer> timer, const Context& ctx,
                      ReactorPool& pool, std::chrono::steady_clock::time_point deadline) {
  const int open = ctx.connections.load();
  if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (open > 0) spdlog::warn("stopping with {} connection(s) still closing", open);
    return pool.stop();
  }
  timer->expires_after(kStopPoll);
  timer->async_wait([timer, &ctx, &pool, deadline](const boost::system::error_code& ec) {
    if (!ec) stop_when_closed(timer, ctx, pool, deadline);
  });
}

void stop_on_signal(MainReactor& main, Shards& shards, ReactorPool& pool, Context& ctx) {
  main.signals.async_wait(
      [&main, &shards, &pool, &ctx](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        spdlog::info("received {}, stopping: closing tunnels and ending sessions",
                     signo == SIGTERM ? "SIGTERM" : "SIGINT");
        sd_notify(0, "STOPPING=1");
        main.listener.stop();
        main.housekeeping.stop();
        main.control.stop();
        ctx.stopping = true;  // closing tunnels end their sessions: nothing is held any more
        shards.close_all("relay stopped");
        stop_when_closed(std::make_shared<asio::steady_timer>(main.signals.get_executor()), ctx,
                         pool, std::chrono::steady_clock::now() + kStopDeadline);
      });
}

// Runs the reactors until a signal stops them; tells systemd once connections are accepted.
void run(ReactorPool& pool, const MainReactor& main, const std::string& fingerprint,
         std::chrono::milliseconds check_interval) {
  auto local = main.listener.local();
  spdlog::info("relay listening on {}:{} with {} reactor{}; host key {}; check interval {}",
               local.address().to_string(), local.port(), pool.size(), pool.size() == 1 ? "" : "s",
               fingerprint, format_duration(check_interval));
  pool.start();
  sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u", local.address().to_string().c_str(),
             static_cast<unsigned>(local.port()));
  pool.join();
}

}  // namespace

int serve(const ServeOptions& options) {
  DataDir dir{options.data_dir};
  ServeLock lock(dir);
  net::raise_fd_limit();
  // Past a file size limit (LimitFSIZE), a write fails with EFBIG, which the store and the
  // recorder handle as a full disk, instead of killing the relay.
  ::signal(SIGXFSZ, SIG_IGN);
  std::string fingerprint = keys::fingerprint(keys::load_private_key(dir.host_key()));
  store::Store store(dir.database());
  purge_after_crash(store, lock.previous_run_crashed());

  Context ctx(store, options.check_interval, options.limits, fingerprint);
  start_audit_ids(store, ctx);
  watch_keys(store, ctx);
  std::unique_ptr<Recorder> recorder;
  if (options.record) recorder = std::make_unique<Recorder>(dir.root, options.recording, store);
  ctx.recorder = recorder.get();

  ReactorPool pool(reactor_count(options));
  Shards shards(pool, ctx, dir);
  asio::io_context& main_io = pool.at(0);
  auto check_all = [&shards](std::function<void(int)> done) { shards.check_all(std::move(done)); };
  MainReactor main{
      Listener(main_io, options.listen, ctx, shards), asio::signal_set(main_io, SIGINT, SIGTERM),
      Housekeeping(main_io, store, options.check_interval, retention(options, dir, recorder.get()),
                   ctx.progress, ctx.router, options.limits.resume_grace),
      ControlServer(main_io, dir.control_socket(),
                    make_control_handler({ctx, main_io.get_executor(), check_all}))};

  shards.start_timers();
  main.listener.start();
  main.housekeeping.start();
  main.control.start();
  stop_on_signal(main, shards, pool, ctx);
  run(pool, main, fingerprint, options.check_interval);

  main.housekeeping.finish();
  // Sessions held for a resume have no tunnel to close: they end here.
  end_held_sessions(store, ctx.router.drop_all_held(), "relay stopped");
  // Bounded: on a full disk the store gives up what it cannot write (logged, and after its own
  // kStopRetryFor) instead of holding the stop.
  const auto flush_by = std::chrono::steady_clock::now() + kStopDeadline;
  const auto left = [flush_by] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::max(
        flush_by - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration{}));
  };
  store.flush_for(left());  // a queued retention run may still ask the recorder what is open
  recorder.reset();         // closes the recordings, then their recording.stopped events are stored
  store.flush_for(left());
  spdlog::info("relay stopped");
  return 0;
}

}  // namespace sb::relay
