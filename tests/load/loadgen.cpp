// sb-loadgen: holds many idle device tunnels to one relay from a single process, for the scale
// test (tests/e2e/scale_test.cpp) and bench/idle_devices.
//
//   sb-loadgen --relay 127.0.0.1:2222 --count 5000 [--rate 500] [--relay-key SHA256:...]
//              [--hold 0|30s] [--threads 1] [--timeout 300s]
//
// Each tunnel is a real sb::agent::Tunnel (the device agent's own client state machine) in
// ad-hoc mode, driven by Asio exactly as device-agent does it: async TCP connect, tune the
// socket, hand the fd to a non-blocking libssh session. Connections are opened at a steady rate
// (token bucket refilled by a 10 ms timer). A failed attempt is counted with its reason and
// retried (up to --attempts per tunnel) so a transient refusal does not spoil a long run.
//
// Output contract (scripts parse it):
//  - stdout: exactly one line `READY established=N failed=F seconds=S` once all N tunnels hold a
//    session ID (F = failed attempts that were retried, S = wall time since the first connect).
//  - stderr: progress, `LOST session=... reason=...` for every tunnel that closes after it was
//    established, and a final summary with the failure reasons aggregated.
// Exit: 0 after SIGTERM/SIGINT or the end of --hold (tunnels are closed first); 1 if fewer than
// N tunnels were established within --timeout (or every retry is used up); 2 on bad usage.
//
// Sources: the relay admits at most 32 unauthenticated connections per source address (a
// handshake-flood guard), which a loadgen on one address would hit at a few hundred connects
// per second, and certainly several loadgens at once. Against a loopback relay the tunnels are
// spread over --sources local addresses 127.0.0.1, 127.0.0.2, ... (all of 127/8 is local on
// Linux), like real devices coming from many hosts; --max-in-flight bounds the handshakes in
// progress as well.
//
// Threads: --threads T shards the tunnels over T io_contexts, one thread each (a libssh session
// must only be used from one thread). The main thread runs the control loop (rate, progress,
// deadlines, signals); shards report to it by posting, so its counters need no locks.
#include <netinet/in.h>
#include <signal.h>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/io/net.hpp"
#include "common/logging.hpp"
#include "common/util.hpp"
#include "device-agent/tunnel.hpp"
#include "keys/keys.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

struct Options {
  sb::net::HostPort relay;
  tcp::endpoint endpoint;
  std::string relay_key;  // "" = accept whatever host key the relay shows
  int count = 0;
  double rate = 500;
  std::optional<milliseconds> hold;  // nullopt = until SIGTERM/SIGINT
  unsigned threads = 1;
  milliseconds timeout = 300s;
  milliseconds connect_timeout = 30s;  // TCP connect + SSH handshake + session ID, per attempt
  milliseconds keepalive = 15s;
  milliseconds silence = 60s;
  int attempts = 5;
  int max_in_flight = 256;  // attempts between TCP connect and session ID, all shards together
  int sources = 1;          // local addresses 127.0.0.1 .. (loopback relays only)
};

// Said by verify_host when the relay shows another host key: no retry can help.
constexpr const char* kHostKeyMismatch = "relay host key mismatch: ";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

class Loadgen;

constexpr std::size_t kKeepaliveBuckets = 15;

// One io_context and its thread, owning the tunnels whose index i has i % threads == shard.
// Everything in a Shard is touched only from its own thread.
class Shard {
 public:
  Shard(Loadgen& owner, const Options& options, std::size_t index, std::size_t slots)
      : owner_(owner),
        options_(options),
        index_(index),
        work_(asio::make_work_guard(io_)),
        sweep_(io_),
        keepalive_(io_),
        bye_deadline_(io_),
        slots_(slots) {}

  void run_thread() {
    thread_ = std::thread([this] {
      schedule_sweep();
      schedule_keepalive();
      io_.run();
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Starts one connection attempt for global tunnel index i (posted by the control loop).
  void start(int i) {
    asio::post(io_, [this, i] { connect(i); });
  }
  // Closes every tunnel and lets the thread end once nothing is pending. Tunnels with a session
  // say goodbye first, as a stopping agent does (the relay then ends their sessions at once
  // instead of holding their IDs for a resume), and close when the relay hangs up.
  void close_all();
  // Last resort if close_all did not let the thread end.
  void force_stop() { io_.stop(); }

 private:
  struct Slot {
    // Per-tunnel key, kept across retries like `device-agent help` keeps its key for the life
    // of the process. One shared key would save the loadgen ~1 KiB per tunnel, but the relay
    // would then see one fingerprint N times; with distinct keys it holds what it holds for N
    // real devices (fingerprint strings, key blobs, store rows), which is what we measure.
    sb::ssh::Key key;
    std::unique_ptr<tcp::socket> socket;  // during the TCP connect only
    std::shared_ptr<sb::agent::Tunnel> tunnel;
    Clock::time_point attempt_started{};
    bool ready = false;
    std::string session_id;
  };

  Slot& slot(int i) { return slots_[static_cast<std::size_t>(i) / options_.threads]; }
  void connect(int i);
  void start_tunnel(int i);
  void on_session(int i, const std::string& id);
  void on_closed(int i, const std::string& reason, bool permanent);
  void schedule_sweep();
  void schedule_keepalive();

  Loadgen& owner_;
  const Options& options_;
  std::size_t index_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer sweep_;
  asio::steady_timer keepalive_;
  asio::steady_timer bye_deadline_;
  std::vector<Slot> slots_;
  std::size_t keepalive_tick_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

class Loadgen {
 public:
  explicit Loadgen(const Options& options)
      : options_(options),
        signals_(io_, SIGINT, SIGTERM),
        rate_timer_(io_),
        progress_timer_(io_),
        deadline_(io_),
        hold_timer_(io_),
        stop_watchdog_(io_),
        attempts_(static_cast<std::size_t>(options.count), 0) {
    std::size_t per_shard =
        (static_cast<std::size_t>(options.count) + options.threads - 1) / options.threads;
    for (unsigned s = 0; s < options.threads; ++s)
      shards_.push_back(std::make_unique<Shard>(*this, options_, s, per_shard));
    for (int i = 0; i < options.count; ++i) pending_.push_back(i);
  }

  int run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      std::cerr << "sb-loadgen: " << (signo == SIGINT ? "SIGINT" : "SIGTERM")
                << ": closing all tunnels" << std::endl;
      stop(0);
    });
    for (auto& shard : shards_) shard->run_thread();
    started_at_ = Clock::now();
    last_refill_ = started_at_;
    tick_rate();
    tick_progress();
    deadline_.expires_after(options_.timeout);
    deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || ready_ || stopping_) return;
      std::cerr << "sb-loadgen: only " << established_ << " of " << options_.count
                << " tunnels established within " << sb::format_duration(options_.timeout)
                << std::endl;
      stop(1);
    });
    io_.run();
    for (auto& shard : shards_) shard->join();
    print_summary();
    return exit_code_;
  }

  // Reports from the shards, posted to the control loop.
  void post_established(int i, std::string id) {
    asio::post(io_, [this, i, id = std::move(id)] { established(i, id); });
  }
  void post_failed(int i, std::string reason, bool permanent) {
    asio::post(io_, [this, i, r = std::move(reason), permanent] { failed(i, r, permanent); });
  }
  void post_lost(int i, std::string id, std::string reason) {
    asio::post(io_, [this, i, id = std::move(id), r = std::move(reason)] { lost(i, id, r); });
  }
  void post_shard_closed() {
    asio::post(io_, [this] {
      if (++shards_closed_ == shards_.size()) finish();
    });
  }

 private:
  Shard& shard_of(int i) { return *shards_[static_cast<std::size_t>(i) % shards_.size()]; }

  void tick_rate() {
    if (stopping_ || ready_) return;
    auto now = Clock::now();
    double dt = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    // Bucket capped at 20 ms worth of attempts: steady pacing, no burst after a quiet spell.
    tokens_ = std::min(tokens_ + dt * options_.rate, std::max(1.0, options_.rate * 0.02));
    while (tokens_ >= 1.0 && !pending_.empty() && in_flight_ < options_.max_in_flight) {
      tokens_ -= 1.0;
      int i = pending_.front();
      pending_.pop_front();
      ++attempts_[static_cast<std::size_t>(i)];
      ++in_flight_;
      ++started_;
      shard_of(i).start(i);
    }
    rate_timer_.expires_after(10ms);
    rate_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick_rate();
    });
  }

  void tick_progress() {
    if (stopping_) return;
    if (!ready_) print_progress();
    progress_timer_.expires_after(1s);
    progress_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick_progress();
    });
  }

  void print_progress() {
    std::cerr << "sb-loadgen: " << established_ << "/" << options_.count << " established, "
              << in_flight_ << " connecting, " << failed_ << " failed attempts, " << given_up_
              << " given up, " << lost_ << " lost (" << fixed(seconds_since(started_at_), 1) << "s)"
              << std::endl;
  }

  void established(int, const std::string&) {
    --in_flight_;
    ++established_;
    if (ready_ || stopping_ || established_ < options_.count) return;
    ready_ = true;
    ready_seconds_ = seconds_since(started_at_);
    print_progress();
    std::cout << "READY established=" << established_ << " failed=" << failed_
              << " seconds=" << fixed(ready_seconds_, 2) << std::endl;  // endl flushes
    rate_timer_.cancel();
    deadline_.cancel();
    if (options_.hold) {
      hold_timer_.expires_after(*options_.hold);
      hold_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        std::cerr << "sb-loadgen: held " << sb::format_duration(*options_.hold)
                  << ": closing all tunnels" << std::endl;
        stop(0);
      });
    }
  }

  void failed(int i, const std::string& reason, bool permanent) {
    --in_flight_;
    if (stopping_) return;
    ++failed_;
    ++reasons_[reason];
    if (failed_ <= 5 || (failed_ & (failed_ - 1)) == 0)  // the first few, then sparsely
      std::cerr << "sb-loadgen: attempt failed (" << failed_ << " so far): " << reason << std::endl;
    if (reason.rfind(kHostKeyMismatch, 0) == 0) {
      std::cerr << "sb-loadgen: " << reason << "; giving up" << std::endl;
      return stop(1);
    }
    // Other refusals the agent would call permanent (e.g. "the relay refused this device's
    // key") are retried like any failure: for a fresh ad-hoc key they can only be a relay
    // glitch, which the reason summary shows.
    (void)permanent;
    if (attempts_[static_cast<std::size_t>(i)] >= options_.attempts) {
      ++given_up_;
      if (established_ + given_up_ >= options_.count) {
        std::cerr << "sb-loadgen: giving up: " << given_up_ << " tunnels failed all "
                  << options_.attempts << " attempts" << std::endl;
        stop(1);
      }
      return;
    }
    pending_.push_back(i);
  }

  void lost(int i, const std::string& id, const std::string& reason) {
    if (stopping_) return;
    --established_;
    ++lost_;
    std::cerr << "LOST session=" << id << " reason=" << reason << " (lost=" << lost_
              << ", up=" << established_ << ")" << std::endl;
    // Before READY a lost tunnel is just a failed attempt that got further: retry it.
    if (!ready_) {
      ++in_flight_;  // failed() counts it back down
      failed(i, "lost before all were up: " + reason, false);
    }
  }

  void stop(int code) {
    if (stopping_) return;
    stopping_ = true;
    exit_code_ = code;
    rate_timer_.cancel();
    progress_timer_.cancel();
    deadline_.cancel();
    hold_timer_.cancel();
    for (auto& shard : shards_) shard->close_all();
    stop_watchdog_.expires_after(10s);
    stop_watchdog_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::cerr << "sb-loadgen: tunnels did not close within 10s; stopping anyway" << std::endl;
      for (auto& shard : shards_) shard->force_stop();
      finish();
    });
  }

  void finish() {
    stop_watchdog_.cancel();
    signals_.cancel();
    io_.stop();
  }

  void print_summary() {
    std::cerr << "sb-loadgen: done: " << established_ << "/" << options_.count
              << " up at the end, ready=" << (ready_ ? "yes" : "no");
    if (ready_) std::cerr << " after " << fixed(ready_seconds_, 2) << "s";
    std::cerr << ", " << started_ << " attempts, " << failed_ << " failed, " << given_up_
              << " given up, " << lost_ << " lost" << std::endl;
    for (const auto& [reason, n] : reasons_)
      std::cerr << "sb-loadgen:   " << n << " x " << reason << std::endl;
  }

  const Options& options_;
  asio::io_context io_{1};
  asio::signal_set signals_;
  asio::steady_timer rate_timer_;
  asio::steady_timer progress_timer_;
  asio::steady_timer deadline_;
  asio::steady_timer hold_timer_;
  asio::steady_timer stop_watchdog_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::deque<int> pending_;
  std::vector<int> attempts_;
  std::map<std::string, int> reasons_;
  Clock::time_point started_at_{};
  Clock::time_point last_refill_{};
  double tokens_ = 0;
  int started_ = 0;
  int in_flight_ = 0;
  int established_ = 0;
  int failed_ = 0;
  int given_up_ = 0;
  int lost_ = 0;
  bool ready_ = false;
  double ready_seconds_ = 0;
  bool stopping_ = false;
  std::size_t shards_closed_ = 0;
  int exit_code_ = 0;
};

void Shard::connect(int i) {
  if (stopping_) return;
  Slot& s = slot(i);
  if (!s.key) s.key = sb::keys::generate_ed25519();
  s.attempt_started = Clock::now();
  s.ready = false;
  s.socket = std::make_unique<tcp::socket>(io_);
  if (options_.sources > 1) {
    // 127.0.0.1 + (i mod sources); the port is picked at connect() (IP_BIND_ADDRESS_NO_PORT),
    // so ports are only unique per (source, relay) pair, not per source.
    boost::system::error_code ec;
    auto source = asio::ip::address_v4(0x7f000001u + static_cast<unsigned>(i % options_.sources));
    s.socket->open(tcp::v4(), ec);
    int one = 1;
    if (!ec)
      setsockopt(s.socket->native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (!ec) s.socket->bind(tcp::endpoint(source, 0), ec);
    if (ec) {
      s.socket.reset();
      owner_.post_failed(i, "cannot bind " + source.to_string() + ": " + ec.message(), false);
      return;
    }
  }
  s.socket->async_connect(options_.endpoint, [this, i](const boost::system::error_code& ec) {
    Slot& s = slot(i);
    if (ec == asio::error::operation_aborted || stopping_) return;
    if (ec) {
      s.socket.reset();
      owner_.post_failed(i, "cannot reach relay: " + ec.message(), false);
      return;
    }
    start_tunnel(i);
  });
}

void Shard::start_tunnel(int i) {
  Slot& s = slot(i);
  sb::net::tune_tcp_socket(s.socket->native_handle());
  int fd = s.socket->release();
  s.socket.reset();
  sb::agent::TunnelConfig config;
  config.relay_host_port = options_.relay.str();
  const std::string* pin = &options_.relay_key;
  config.verify_host = [pin](const std::string& fp) -> std::string {
    if (pin->empty() || fp == *pin) return "";
    return kHostKeyMismatch + fp + " does not match --relay-key " + *pin;
  };
  config.key = &s.key;
  // A small, valid device description (the relay checks each field); the hostname tells the
  // tunnels apart in `relay session list`.
  config.hello = {{"type", "hello"},
                  {"version", 1},
                  {"kind", "adhoc"},
                  {"info",
                   {{"hostname", "loadgen-" + std::to_string(i)},
                    {"os", "sb-loadgen"},
                    {"kernel", "-"},
                    {"arch", "-"},
                    {"agent_version", SB_VERSION}}}};
  sb::agent::TunnelEvents events;
  events.on_session = [this, i](const std::string& id, const std::string&, milliseconds) {
    on_session(i, id);
  };
  events.on_closed = [this, i](const std::string& reason, bool permanent) {
    on_closed(i, reason, permanent);
  };
  try {
    s.tunnel = std::make_shared<sb::agent::Tunnel>(
        io_.get_executor(), sb::agent::Tunnel::make_session(fd, options_.relay.host),
        std::move(config), std::move(events));
  } catch (const std::exception& e) {
    ::close(fd);
    owner_.post_failed(i, std::string("cannot create session: ") + e.what(), false);
    return;
  }
  auto tunnel = s.tunnel;  // start() may close at once, which resets the slot
  tunnel->start(fd);
}

void Shard::on_session(int i, const std::string& id) {
  Slot& s = slot(i);
  if (s.ready) return;
  s.ready = true;
  s.session_id = id;
  owner_.post_established(i, id);
}

void Shard::on_closed(int i, const std::string& reason, bool permanent) {
  Slot& s = slot(i);
  s.tunnel.reset();  // the Conn keeps itself alive until its teardown is done
  if (stopping_) {
    // The last goodbye answered: nothing is left to wait for.
    if (std::none_of(slots_.begin(), slots_.end(), [](const Slot& o) { return o.tunnel; }))
      bye_deadline_.cancel();
    return;
  }
  if (s.ready) {
    s.ready = false;
    owner_.post_lost(i, s.session_id, reason);
    // Lost tunnels are not reopened (a benchmark wants to see them), except before READY,
    // where the control loop re-queues them through start().
  } else {
    owner_.post_failed(i, reason, permanent);
  }
}

void Shard::schedule_sweep() {
  sweep_.expires_after(1s);
  sweep_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    auto now = Clock::now();
    for (auto& s : slots_) {
      if (s.ready || (!s.socket && !s.tunnel)) continue;
      if (now - s.attempt_started < options_.connect_timeout) continue;
      std::string why = "no session ID within " + sb::format_duration(options_.connect_timeout);
      if (s.socket) {
        // Closing the socket completes its connect with operation_aborted; report here.
        s.socket.reset();
        int i =
            static_cast<int>(index_ + options_.threads * static_cast<std::size_t>(&s - &slots_[0]));
        owner_.post_failed(i, "TCP connect: " + why, false);
      } else {
        auto tunnel = s.tunnel;
        tunnel->close(why + " (handshake state " +
                      std::to_string(static_cast<int>(tunnel->state())) + ")");
      }
    }
    schedule_sweep();
  });
}

// Real agents ping at random phases, not all at once: the slots are split into kKeepaliveBuckets
// groups, and every keepalive/kKeepaliveBuckets one group is pinged.
void Shard::schedule_keepalive() {
  keepalive_.expires_after(
      std::max(milliseconds(1), options_.keepalive / static_cast<long>(kKeepaliveBuckets)));
  keepalive_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    const std::size_t bucket = keepalive_tick_++ % kKeepaliveBuckets;
    for (std::size_t j = bucket; j < slots_.size(); j += kKeepaliveBuckets) {
      Slot& s = slots_[j];
      if (!s.ready || !s.tunnel) continue;
      auto tunnel = s.tunnel;  // keepalive() may close it, which resets the slot
      tunnel->keepalive(options_.silence);
    }
    schedule_keepalive();
  });
}

void Shard::close_all() {
  asio::post(io_, [this] {
    stopping_ = true;
    sweep_.cancel();
    keepalive_.cancel();
    for (auto& s : slots_) {
      if (s.socket) {
        boost::system::error_code ignored;
        s.socket->close(ignored);
        s.socket.reset();
      }
      if (s.tunnel) {
        auto tunnel = s.tunnel;
        if (!tunnel->say_bye()) tunnel->close("loadgen stopping");
      }
    }
    bye_deadline_.expires_after(2s);
    bye_deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      for (auto& s : slots_)
        if (auto tunnel = s.tunnel) tunnel->close("loadgen stopping");
    });
    work_.reset();  // run() returns once the cancelled waits have drained
    owner_.post_shard_closed();
  });
}

// "0" means no limit (hold until a signal).
std::optional<milliseconds> parse_hold(const std::string& text) {
  if (text == "0") return std::nullopt;
  auto d = sb::parse_duration(text);
  if (!d) throw CLI::ValidationError("--hold", "expected 0 (until SIGTERM) or a duration like 30s");
  return d;
}

milliseconds duration_or_throw(const std::string& text, const char* option) {
  auto d = sb::parse_duration(text);
  if (!d) throw CLI::ValidationError(option, "expected a duration like 500ms, 30s, 5m");
  return *d;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sb-loadgen: holds many idle ad-hoc device tunnels to one relay (scale test, benchmarks). "
      "Prints `READY established=N failed=F seconds=S` on stdout once all are up; stops on "
      "SIGTERM/SIGINT.",
      "sb-loadgen"};
  std::string relay, hold = "0", timeout = "300s", connect_timeout = "30s", log_level = "warn";
  Options options;
  app.add_option("--relay", relay, "The relay, HOST:PORT (an IP address)")->required();
  app.add_option("--count", options.count, "How many tunnels to hold")
      ->required()
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", options.rate, "New connections per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--relay-key", options.relay_key,
                 "Expected relay host key (SHA256:...); without it any key is accepted");
  app.add_option("--hold", hold, "How long to hold the tunnels once all are up (0 = until SIGTERM)")
      ->capture_default_str();
  app.add_option("--threads", options.threads, "io_context threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--timeout", timeout, "Exit 1 unless all tunnels are up by then")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout,
                 "Per attempt: TCP connect, SSH handshake and session ID")
      ->capture_default_str();
  app.add_option("--attempts", options.attempts, "Connection attempts per tunnel before giving up")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  std::string keepalive = "15s", silence = "60s";
  app.add_option("--keepalive", keepalive, "How often each tunnel pings the relay")
      ->capture_default_str();
  app.add_option("--silence", silence, "Close a tunnel whose relay was silent this long")
      ->capture_default_str();
  int sources = -1;
  app.add_option("--sources", sources,
                 "Local source addresses 127.0.0.1.. to spread the tunnels over (loopback relay "
                 "only; default 64 there, else 1)")
      ->check(CLI::Range(1, 65000));
  app.add_option("--max-in-flight", options.max_in_flight,
                 "At most this many connection attempts in progress at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--log-level", log_level, "libssh/agent log level: trace ... error, off")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
    std::string error;
    auto hp = sb::net::parse_host_port(relay, 0, &error);
    if (!hp) throw CLI::ValidationError("--relay", error);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(hp->host, ec);
    if (ec) throw CLI::ValidationError("--relay", "HOST must be an IP address (loopback tests)");
    options.relay = *hp;
    bool loopback_v4 = address.is_v4() && address.to_v4().to_bytes()[0] == 127;
    if (sources > 1 && !loopback_v4)
      throw CLI::ValidationError("--sources", "only for a relay on 127.0.0.0/8");
    options.sources = sources > 0 ? sources : (loopback_v4 ? 64 : 1);
    options.endpoint = tcp::endpoint(address, hp->port);
    if (!options.relay_key.empty() && !sb::keys::looks_like_fingerprint(options.relay_key))
      throw CLI::ValidationError("--relay-key", "expected SHA256:... as printed by `relay init`");
    options.hold = parse_hold(hold);
    options.timeout = duration_or_throw(timeout, "--timeout");
    options.connect_timeout = duration_or_throw(connect_timeout, "--connect-timeout");
    options.keepalive = duration_or_throw(keepalive, "--keepalive");
    options.silence = duration_or_throw(silence, "--silence");
    sb::setup_logging("sb-loadgen", log_level, false);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "sb-loadgen: " << e.what() << std::endl;
    return 2;
  }

  // One descriptor per tunnel (libssh opens no others), plus a margin for the process itself.
  sb::net::raise_fd_limit();
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  const long long usable = static_cast<long long>(lim.rlim_cur) - 100;
  if (options.count > usable) {
    long long per = std::max(1LL, usable);
    long long procs = (options.count + per - 1) / per;
    std::cerr << "sb-loadgen: --count " << options.count << " needs " << options.count
              << " sockets but this process may open only " << lim.rlim_cur
              << " descriptors (RLIMIT_NOFILE, hard limit " << lim.rlim_max
              << "); use --count <= " << per << " and start several sb-loadgen processes (e.g. "
              << procs << " x --count " << (options.count + procs - 1) / procs << ")" << std::endl;
    return 2;
  }
  if (static_cast<unsigned>(options.count) < options.threads)
    options.threads = static_cast<unsigned>(options.count);
  signal(SIGPIPE, SIG_IGN);

  try {
    Loadgen loadgen(options);
    return loadgen.run();
  } catch (const std::exception& e) {
    std::cerr << "sb-loadgen: " << e.what() << std::endl;
    return 1;
  }
}
