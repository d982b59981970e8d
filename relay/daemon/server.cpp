#include "relay/daemon/server.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>
#include <vector>

#include "common/io/reactor_pool.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/audit/retention.hpp"
#include "relay/connection/server_conn.hpp"
#include "relay/control/control_server.hpp"
#include "relay/daemon/control_commands.hpp"
#include "relay/daemon/data_dir.hpp"

namespace sb::relay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kSweepPeriod = std::chrono::seconds(1);
const char* const kCiphers =
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"
    "aes256-ctr";

// One reactor's share of the connections, and its timers. Touched only on that reactor.
class Shard {
 public:
  Shard(asio::io_context& io, Context& ctx, const DataDir& dir)
      : io_(io), ctx_(ctx), tick_(io), sweep_(io) {
    bind_.reset(ssh_bind_new());
    if (!bind_) throw std::runtime_error("ssh_bind_new failed");
    ssh_bind_options_set(bind_.get(), SSH_BIND_OPTIONS_HOSTKEY, dir.host_key().c_str());
    ssh_bind_options_set(bind_.get(), SSH_BIND_OPTIONS_CIPHERS_C_S, kCiphers);
    ssh_bind_options_set(bind_.get(), SSH_BIND_OPTIONS_CIPHERS_S_C, kCiphers);
  }

  void start_timers() {
    schedule_sweep();
    schedule_tick();
  }

  // Runs on this shard's reactor: wraps an accepted socket in a libssh session.
  void adopt(int fd, std::string source_addr) {
    if (stopping_) {
      ::close(fd);
      ctx_.leave_source(source_addr);
      return;
    }
    ssh::Session session(ssh_new());
    if (!session || ssh_bind_accept_fd(bind_.get(), session.get(), fd) != SSH_OK) {
      spdlog::error("cannot set up a session for {}: {}", source_addr,
                    session ? ssh_get_error(bind_.get()) : "out of memory");
      ::close(fd);
      ctx_.leave_source(source_addr);
      return;
    }
    ssh_set_blocking(session.get(), 0);
    auto conn = std::make_shared<ServerConn>(io_.get_executor(), std::move(session), ctx_,
                                             std::move(source_addr));
    conns_.push_back(conn);
    conn->start();
  }

  // The janitor's check of every tunnel on this shard, now (`relay keys purge`). Returns how
  // many tunnels it closed.
  int check_now() {
    if (stopping_) return 0;
    int closed = 0;
    auto now = Clock::now();
    for (auto& weak : conns_)
      if (auto conn = weak.lock();
          conn && !conn->closing() && conn->established() && conn->is_device()) {
        conn->check(now);
        if (conn->closing())
          ++closed;
        else
          conn->wake();
      }
    return closed;
  }

  void close_all(const std::string& reason) {
    stopping_ = true;
    tick_.cancel();
    sweep_.cancel();
    for (auto& weak : conns_)
      if (auto conn = weak.lock()) conn->close(reason);
    conns_.clear();
  }

 private:
  void schedule_sweep() {
    sweep_.expires_after(kSweepPeriod);
    sweep_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      auto now = Clock::now();
      std::erase_if(conns_, [](const std::weak_ptr<ServerConn>& w) { return w.expired(); });
      for (auto& weak : conns_)
        if (auto conn = weak.lock(); conn && !conn->is_operator()) conn->sweep(now);
      ctx_.guard.prune(now);
      schedule_sweep();
    });
  }

  void schedule_tick() {
    tick_.expires_after(ctx_.check_interval);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      auto now = Clock::now();
      for (auto& weak : conns_)
        if (auto conn = weak.lock(); conn && conn->established() && conn->is_device()) {
          conn->check(now);
          if (!conn->closing()) conn->wake();  // flush the ping
        }
      schedule_tick();
    });
  }

  asio::io_context& io_;
  Context& ctx_;
  ssh::Bind bind_;
  std::vector<std::weak_ptr<ServerConn>> conns_;
  asio::steady_timer tick_;
  asio::steady_timer sweep_;
  bool stopping_ = false;
};

class Listener {
 public:
  Listener(asio::io_context& io, const net::HostPort& where, Context& ctx,
           std::vector<std::unique_ptr<Shard>>& shards, ReactorPool& pool)
      : acceptor_(io), ctx_(ctx), shards_(shards), pool_(pool) {
    tcp::resolver resolver(io);
    auto results = resolver.resolve(where.host, std::to_string(where.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service);
    tcp::endpoint endpoint = *results.begin();
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(4096);
  }

  tcp::endpoint local() const { return acceptor_.local_endpoint(); }
  void start() { accept_next(); }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec)
        hand_over(std::move(socket));
      else
        spdlog::warn("accept failed: {}", ec.message());
      accept_next();
    });
  }

  void hand_over(tcp::socket socket) {
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string addr = ec ? "unknown" : remote.address().to_string();
    if (!ctx_.admit_source(addr)) {
      spdlog::warn("too many unauthenticated connections from {}; refusing", addr);
      return;  // the socket closes here
    }
    int fd = socket.release();
    net::tune_tcp_socket(fd);
    std::size_t index = next_shard_++ % shards_.size();
    asio::post(pool_.at(index), [shard = shards_[index].get(), fd, addr]() mutable {
      shard->adopt(fd, std::move(addr));
    });
  }

  tcp::acceptor acceptor_;
  Context& ctx_;
  std::vector<std::unique_ptr<Shard>>& shards_;
  ReactorPool& pool_;
  std::size_t next_shard_ = 0;
};

void purge_after_crash(store::Store& store) {
  store.post([](store::Db& db) {
    int ended = db.purge_stale("relay restarted", now_iso8601());
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

// Jobs refused by a full store queue are lost audit rows: Store::post warns while it happens;
// once the queue has room again, the loss itself goes into the audit trail.
void schedule_drop_check(asio::steady_timer& timer, store::Store& store, std::uint64_t reported) {
  timer.expires_after(std::chrono::seconds(1));
  timer.async_wait([&timer, &store, reported](const boost::system::error_code& ec) mutable {
    if (ec) return;
    if (const std::uint64_t lost = store.drops_to_report(reported); lost > 0) {
      const std::uint64_t dropped = reported + lost;
      spdlog::warn("store: {} jobs (audit rows) were dropped while its queue was full", lost);
      bool posted = store.post([lost, dropped](store::Db& db) {
        db.add_event("store.dropped", "", {{"dropped", lost}, {"dropped_total", dropped}},
                     now_iso8601());
      });
      if (posted) reported = dropped;
    }
    schedule_drop_check(timer, store, reported);
  });
}

// Runs every shard's liveness check on its own reactor; done(total) after the last one.
void check_all_tunnels(ReactorPool& pool, std::vector<std::unique_ptr<Shard>>& shards,
                       std::function<void(int)> done) {
  struct Tally {
    std::atomic<int> closed{0};
    std::atomic<std::size_t> left;
    std::function<void(int)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->left = shards.size();
  tally->done = std::move(done);
  for (std::size_t i = 0; i < shards.size(); ++i)
    asio::post(pool.at(i), [shard = shards[i].get(), tally] {
      tally->closed += shard->check_now();
      if (--tally->left == 0) tally->done(tally->closed.load());
    });
}

void watch_keys(store::Store& store, Context& ctx) {
  store.watch_keys([&ctx](std::shared_ptr<const store::KeySnapshot> snapshot) {
    spdlog::debug("key snapshot: {} enrolled, {} revoked, {} operators, {} grants",
                  snapshot->device_by_fingerprint.size(), snapshot->revoked_by_fingerprint.size(),
                  snapshot->operator_by_fingerprint.size(), snapshot->grants.size());
    ctx.set_keys(std::move(snapshot));
  });
}

void schedule_orphan_sweep(asio::steady_timer& timer, store::Store& store,
                           std::chrono::milliseconds every) {
  timer.expires_after(every);
  timer.async_wait([&timer, &store, every](const boost::system::error_code& ec) {
    if (ec) return;
    store.post([](store::Db& db) { db.purge_orphan_tunnel_keys(now_iso8601()); });
    schedule_orphan_sweep(timer, store, every);
  });
}

// Starts a retention run (relay/retention.hpp) now and then every `every`: recordings and rows
// older than the retention go, in small jobs on the store's writer thread, never here on a
// reactor. A run still going when the next is due (a huge backlog) is left to finish.
void schedule_audit_prune(asio::steady_timer& timer, store::Store& store,
                          const RetentionOptions& options, std::chrono::milliseconds every,
                          std::shared_ptr<std::atomic<bool>> running = nullptr) {
  if (!running) running = std::make_shared<std::atomic<bool>>(false);
  if (!running->exchange(true) &&
      !start_retention_run(store, options, [running] { running->store(false); })) {
    spdlog::warn("audit retention: store queue full; trying again in {}", format_duration(every));
    running->store(false);
  }
  timer.expires_after(every);
  timer.async_wait([&timer, &store, options, every, running](const boost::system::error_code& ec) {
    if (!ec) schedule_audit_prune(timer, store, options, every, running);
  });
}

}  // namespace

int serve(const ServeOptions& options) {
  DataDir dir{options.data_dir};
  ServeLock lock(dir);
  net::raise_fd_limit();
  std::string fingerprint = keys::fingerprint(keys::load_private_key(dir.host_key()));
  store::Store store(dir.database());
  purge_after_crash(store);

  Context ctx(store, options.check_interval, options.limits, fingerprint);
  start_audit_ids(store, ctx);
  watch_keys(store, ctx);
  std::unique_ptr<Recorder> recorder;
  if (options.record) recorder = std::make_unique<Recorder>(dir.root, options.recording, store);
  ctx.recorder = recorder.get();

  unsigned threads =
      options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  ReactorPool pool(threads);
  std::vector<std::unique_ptr<Shard>> shards;
  for (std::size_t i = 0; i < pool.size(); ++i)
    shards.push_back(std::make_unique<Shard>(pool.at(i), ctx, dir));

  asio::io_context& main_io = pool.at(0);
  Listener listener(main_io, options.listen, ctx, shards, pool);
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  asio::steady_timer orphan_sweep(main_io);
  asio::steady_timer audit_prune(main_io);
  asio::steady_timer drop_check(main_io);
  ControlServer control(main_io, dir.control_socket(),
                        make_control_handler({ctx, main_io.get_executor(),
                                              [&pool, &shards](std::function<void(int)> done) {
                                                check_all_tunnels(pool, shards, std::move(done));
                                              }}));

  for (std::size_t i = 0; i < shards.size(); ++i)
    asio::post(pool.at(i), [shard = shards[i].get()] { shard->start_timers(); });
  listener.start();
  schedule_orphan_sweep(orphan_sweep, store, options.check_interval);
  auto retention_stop = std::make_shared<std::atomic<bool>>(false);
  if (options.audit_retention.count() > 0)
    schedule_audit_prune(audit_prune, store,
                         {.data_dir = dir.root,
                          .keep = options.audit_retention,
                          .recorder = recorder.get(),
                          .stop = retention_stop},
                         std::chrono::hours(1));
  schedule_drop_check(drop_check, store, 0);
  control.start();
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping: closing tunnels and ending sessions",
                 signo == SIGTERM ? "SIGTERM" : "SIGINT");
    sd_notify(0, "STOPPING=1");
    listener.stop();
    orphan_sweep.cancel();
    audit_prune.cancel();
    drop_check.cancel();
    control.stop();
    for (std::size_t i = 0; i < shards.size(); ++i)
      asio::post(pool.at(i),
                 [shard = shards[i].get()] { shard->close_all("relay shutting down"); });
    pool.stop();
  });

  auto local = listener.local();
  spdlog::info("relay listening on {}:{} with {} reactor{}; host key {}; check interval {}",
               local.address().to_string(), local.port(), threads, threads == 1 ? "" : "s",
               fingerprint, format_duration(options.check_interval));
  pool.start();
  sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%u", local.address().to_string().c_str(),
             static_cast<unsigned>(local.port()));
  pool.join();
  retention_stop->store(true);
  store.flush();     // a queued retention run may still ask the recorder which files are open
  recorder.reset();  // closes the recordings, then their recording.stopped events are stored
  store.flush();
  spdlog::info("relay stopped");
  return 0;
}

}  // namespace sb::relay
