#include "relay/daemon/shard.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "relay/connection/server_conn.hpp"

namespace sb::relay {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kSweepPeriod = std::chrono::seconds(1);
const char* const kCiphers =
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"
    "aes256-ctr";

}  // namespace

// One reactor's share of the connections, and its timers. Touched only on that reactor.
class Shard {
 public:
  Shard(asio::io_context& io, Context& ctx, const DataDir& dir)
      : io_(io),
        ctx_(ctx),
        bind_(ssh::make_bind(dir.host_key(), kCiphers)),
        tick_(io),
        sweep_(io) {}

  void start_timers() {
    schedule_sweep();
    schedule_tick();
  }

  // Runs on this shard's reactor: wraps an accepted socket in a libssh session.
  void adopt(int fd, std::string source_addr, Admission::Ticket ticket) {
    if (stopping_) {
      ::close(fd);
      ctx_.admission.leave(ticket, Clock::now());
      return;
    }
    std::string why;
    ssh::Session session = ssh::accept_on(bind_, fd, &why);  // takes the fd
    if (!session) {
      spdlog::error("cannot set up a session for {}: {}", source_addr, why);
      ctx_.admission.leave(ticket, Clock::now());
      return;
    }
    auto conn = std::make_shared<ServerConn>(io_.get_executor(), std::move(session), ctx_,
                                             std::move(source_addr), ticket);
    // A flood evicts its own idle sockets: from the listener's thread, hence close_async.
    ctx_.admission.track(ticket, [weak = std::weak_ptr<ServerConn>(conn)] {
      if (auto evicted = weak.lock())
        evicted->close_async("evicted: idle unauthenticated connection during a flood");
    });
    conns_.push_back(conn);
    conn->start();
  }

  // The janitor's check of every tunnel on this shard, now. Returns how many it closed.
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
    // An operator's connection may have moved to its device's reactor: it closes there, in a
    // step of its own. Everything else lives here and closes now; a device's attached
    // operators hear of it (same reactor) before their own close request runs.
    for (auto& weak : conns_)
      if (auto conn = weak.lock()) {
        if (conn->is_operator())
          conn->close_async(reason);
        else
          conn->close(reason);
      }
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

Shards::Shards(ReactorPool& pool, Context& ctx, const DataDir& dir) : pool_(pool) {
  for (std::size_t i = 0; i < pool.size(); ++i)
    shards_.push_back(std::make_unique<Shard>(pool.at(i), ctx, dir));
}

Shards::~Shards() = default;

void Shards::start_timers() {
  for (std::size_t i = 0; i < shards_.size(); ++i)
    asio::post(pool_.at(i), [shard = shards_[i].get()] { shard->start_timers(); });
}

void Shards::adopt(int fd, std::string source_addr, Admission::Ticket ticket) {
  std::size_t index = next_++ % shards_.size();
  asio::post(pool_.at(index), [shard = shards_[index].get(), fd, addr = std::move(source_addr),
                               ticket]() mutable { shard->adopt(fd, std::move(addr), ticket); });
}

void Shards::check_all(std::function<void(int)> done) {
  struct Tally {
    std::atomic<int> closed{0};
    std::atomic<std::size_t> left;
    std::function<void(int)> done;
  };
  auto tally = std::make_shared<Tally>();
  tally->left = shards_.size();
  tally->done = std::move(done);
  for (std::size_t i = 0; i < shards_.size(); ++i)
    asio::post(pool_.at(i), [shard = shards_[i].get(), tally] {
      tally->closed += shard->check_now();
      if (--tally->left == 0) tally->done(tally->closed.load());
    });
}

void Shards::close_all(const std::string& reason) {
  for (std::size_t i = 0; i < shards_.size(); ++i)
    asio::post(pool_.at(i), [shard = shards_[i].get(), reason] { shard->close_all(reason); });
}

}  // namespace sb::relay
