#include "device-agent/agent.hpp"

#include <spdlog/spdlog.h>

#include <csignal>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <iostream>

#include "common/io/read_ahead_switch.hpp"
#include "common/io/socket_handoff.hpp"
#include "common/util.hpp"
#include "device-agent/backoff.hpp"
#include "device-agent/consent_prompt.hpp"
#include "device-agent/device_info.hpp"
#include "device-agent/info_reader.hpp"
#include "device-agent/platform/data_dir.hpp"
#include "device-agent/status_file.hpp"
#include "device-agent/system_info_json.hpp"
#include "device-agent/tunnel.hpp"
#include "keys/keys.hpp"

namespace sb::agent {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::filesystem::path default_agent_dir() {
  return platform::default_data_dir();
}

namespace {

void print_banner(const std::string& id) {
  std::string spoken = format_session_id(id);
  std::cout << "\n  +-------------------------------+\n"
            << "  |   Session ID: " << spoken << "     |\n"
            << "  +-------------------------------+\n\n"
            << "Session ID: " << spoken << "\n"
            << "Read this number to your support engineer. Keep this window open while they\n"
            << "help you; press Ctrl-C to end the session.\n"
            << std::endl;
}

constexpr std::chrono::seconds kInfoWait{3};

class Agent {
 public:
  explicit Agent(const AgentOptions& options)
      : options_(options),
        backoff_(options.initial_backoff, options.max_backoff),
        signals_(io_, SIGINT, SIGTERM),
        retry_(io_),
        keepalive_(io_),
        info_timer_(io_),
        info_wait_(io_),
        connect_deadline_(io_),
        bye_deadline_(io_),
        socket_(io_),
        resolver_(io_),
        status_(options.data_dir / "status.json"),
        prompt_(io_.get_executor(),
                [this](std::uint64_t id, bool allow) {
                  if (tunnel_) tunnel_->answer_consent(id, allow);
                }),
        info_(io_.get_executor(), collect_device_info,
              [this](const nlohmann::json& info) { on_info_read(info); }) {}

  int run() {
    platform::prepare_data_dir(options_.data_dir);
    load_key();
    enrollment_ = read_enrollment(options_.data_dir);
    status_.update({{"state", "connecting"}, {"relay", options_.relay.str()}});
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) stop();
    });
    // Detached however run() ends: a later request must not reach a destroyed agent.
    struct Detach {
      StopSignal* signal;
      ~Detach() {
        if (signal) signal->set_handler({});
      }
    } detach{options_.stop};
    if (options_.stop) options_.stop->set_handler([this] { asio::post(io_, [this] { stop(); }); });
    connect();
    schedule_keepalive();
    schedule_info();
    io_.run();
    status_.update({{"state", exit_code_ == 0 ? "stopped" : "refused"}, {"session_id", nullptr}});
    return exit_code_;
  }

 private:
  void load_key() {
    if (options_.adhoc) {
      key_ = keys::generate_ed25519();  // a tunnel key for this session only
      return;
    }
    bool created = false;
    key_ = keys::load_or_create_private_key(options_.data_dir / "device_ed25519_key", &created);
    spdlog::info("{} device key {}", created ? "created" : "using", keys::fingerprint(key_));
  }

  std::string verify_host(const std::string& fingerprint) {
    if (!options_.relay_key.empty()) {
      if (fingerprint == options_.relay_key) return "";
      return "relay " + options_.relay.str() + " presented host key " + fingerprint +
             ", which does not match --relay-key " + options_.relay_key +
             ": refusing to connect (the connection may be intercepted, or the relay's key "
             "changed)";
    }
    auto pin_file = options_.data_dir / "known_relays";
    auto check = keys::check_and_pin_host(pin_file, options_.relay.str(), fingerprint);
    switch (check.result) {
      case keys::PinResult::kMatch:
        return "";
      case keys::PinResult::kFirstUse:
        spdlog::warn("trusting relay {} host key {} on first use (pinned in {})",
                     options_.relay.str(), fingerprint, pin_file.string());
        return "";
      case keys::PinResult::kMismatch:
        break;
    }
    return "relay " + options_.relay.str() + " now presents host key " + fingerprint + " but " +
           pin_file.string() + " pins " + check.pinned +
           ": refusing to connect. If the relay's key really changed, remove that line.";
  }

  // The relay stores what the hello says: the info read for this connection (connect()).
  nlohmann::json hello() {
    sent_info_ = read_info_;
    nlohmann::json h{{"type", "hello"},
                     {"version", 1},
                     {"kind", options_.adhoc ? "adhoc" : "enrolled"},
                     {"info", sent_info_}};
    if (!options_.name.empty()) h["name"] = options_.name;
    if (options_.adhoc || options_.consent_prompt) h["consent"] = "prompt";
    if (!options_.enroll_token.empty() && !enrollment_.with(options_.relay.str()))
      h["enroll_token"] = options_.enroll_token;
    // Back after a blip: the same key (kept in memory) and this token get the same ID back.
    if (options_.adhoc && !resume_token_.empty())
      h["resume"] = {{"session", resume_id_}, {"token", resume_token_}};
    return h;
  }

  // Each connection starts with a fresh read of the info for its hello. A read that hangs delays
  // the connection by kInfoWait at most; the hello then carries the last info read.
  void connect() {
    if (stopping_) return;
    status_.update({{"state", "connecting"}, {"session_id", nullptr}});
    awaiting_info_ = true;
    info_.read();
    info_wait_.expires_after(kInfoWait);
    info_wait_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || !awaiting_info_) return;
      // Once per hung reading, however often the agent reconnects meanwhile.
      if (!info_hang_logged_)
        spdlog::warn(
            "reading the system info takes over {} s; connecting with what was read before",
            std::chrono::duration_cast<std::chrono::seconds>(kInfoWait).count());
      info_hang_logged_ = true;
      info_ready();
    });
  }

  void on_info_read(const nlohmann::json& info) {
    if (info_hang_logged_) spdlog::info("the system info was read again after a hang");
    info_hang_logged_ = false;
    read_info_ = info;
    if (awaiting_info_) return info_ready();
    if (tunnel_ && tunnel_->state() == Tunnel::State::kReady && info_changed(sent_info_, info) &&
        tunnel_->send_info(info)) {
      spdlog::debug("system info changed; sent to the relay");
      sent_info_ = info;
    }
  }

  void info_ready() {
    awaiting_info_ = false;
    info_wait_.cancel();
    if (!stopping_) resolve_relay();
  }

  void resolve_relay() {
    resolver_.async_resolve(
        options_.relay.host, std::to_string(options_.relay.port),
        [this](const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
          if (ec) return retry("cannot resolve " + options_.relay.host + ": " + ec.message());
          connect_deadline_.expires_after(options_.connect_timeout);
          connect_deadline_.async_wait([this](const boost::system::error_code& e) {
            if (!e) socket_.close();
          });
          asio::async_connect(
              socket_, results, [this](const boost::system::error_code& e, const tcp::endpoint&) {
                connect_deadline_.cancel();
                if (e)
                  return retry("cannot reach relay " + options_.relay.str() + ": " + e.message());
                start_tunnel();
              });
        });
  }

  void start_tunnel() {
    net::tune_tcp_socket(static_cast<int>(socket_.native_handle()));
    boost::system::error_code ec;
    int fd = io::hand_over_socket(socket_, ec);
    if (fd < 0) return retry("cannot use the connection: " + ec.message());
    TunnelConfig config{options_.relay.str(),
                        [this](const std::string& fp) { return verify_host(fp); }, &key_, hello(),
                        options_.policy};
    TunnelEvents events{
        [this](const std::string& id, const std::string& device, std::chrono::milliseconds check) {
          on_session(id, device, check);
        },
        [this](const std::string& reason, bool permanent) { on_closed(reason, permanent); },
        [this](const nlohmann::json& request) { prompt_.ask(request); },
        [this](const nlohmann::json& message) { prompt_.expired(message); },
        [this](const std::string& text) { on_notice(text); },
        [this](const RelayMessage& session) { on_session_message(session); }};
    tunnel_ =
        std::make_shared<Tunnel>(io_.get_executor(), Tunnel::make_session(fd, options_.relay.host),
                                 std::move(config), std::move(events));
    tunnel_->start(fd);
  }

  // Comes just before on_session: whether the ID is the one the user already gave out.
  void on_session_message(const RelayMessage& session) {
    if (!options_.adhoc) return;
    const bool had_id = !resume_id_.empty();
    const bool same_id = session.resumed && session.id == resume_id_;
    if (had_id && !same_id) {
      const std::string why = session.resume_refused.empty()
                                  ? std::string("the relay did not keep it")
                                  : session.resume_refused;
      spdlog::warn("session {} could not be resumed ({}); new session {}",
                   format_session_id(resume_id_), why, format_session_id(session.id));
      std::cout << "\nThe connection was interrupted and the old session ID "
                << format_session_id(resume_id_) << " could not be kept (" << why
                << ").\nYou have a NEW session ID: read the new number below to your support "
                   "engineer."
                << std::endl;
    }
    resumed_ = same_id;
    resume_id_ = session.id;
    resume_token_ = session.resume_token;
  }

  void on_session(const std::string& id, const std::string& device,
                  std::chrono::milliseconds relay_check) {
    backoff_.reset();
    relay_check_ = relay_check;
    const Enrollment now{device, options_.relay.str()};
    if (!device.empty() && (enrollment_.device != now.device || enrollment_.relay != now.relay)) {
      if (!enrollment_.device.empty() && enrollment_.relay != now.relay)
        spdlog::info("enrolled with relay {} now (as device {}; before: relay {} as {})", now.relay,
                     now.device, enrollment_.relay, enrollment_.device);
      write_enrollment(options_.data_dir, now);
      enrollment_ = now;
    }
    status_.update({{"state", "connected"},
                    {"session_id", id},
                    {"device", device.empty() ? nlohmann::json() : nlohmann::json(device)},
                    {"since", now_iso8601()}});
    spdlog::info("connected to {}: session {}{}", options_.relay.str(), format_session_id(id),
                 device.empty() ? "" : " as device " + device);
    if (options_.adhoc && resumed_) {
      std::cout << "Reconnected to the relay. Your session ID is still " << format_session_id(id)
                << "." << std::endl;
    } else if (options_.adhoc) {
      print_banner(id);
    }
    // Posted: this runs inside the tunnel's own event, which the goodbye must not re-enter.
    if (options_.stop_when_enrolled && enrollment_.with(options_.relay.str()))
      asio::post(io_, [this] { stop(); });
  }

  void on_notice(const std::string& text) {
    spdlog::info("notice: {}", text);
    if (options_.adhoc) std::cout << "[switchboard] " << text << std::endl;
  }

  void on_closed(const std::string& reason, bool permanent) {
    // A tunnel that had its session dropped: back at once (the relay holds the ID for a while).
    const bool was_ready = tunnel_ && tunnel_->state() == Tunnel::State::kReady;
    tunnel_.reset();
    bye_deadline_.cancel();
    prompt_.clear();
    if (stopping_) {
      io_.stop();
      return;
    }
    if (permanent) {
      std::string why = reason;
      // The relay's refusal of an unknown key, for a device enrolled with another relay.
      if (!enrollment_.device.empty() && !enrollment_.with(options_.relay.str()) &&
          options_.enroll_token.empty() && reason.find("not enrolled") != std::string::npos)
        why += " (this device is enrolled as " + enrollment_.device + " with relay " +
               enrollment_.relay + "; to move it to " + options_.relay.str() +
               ", give a token of that relay with --enroll-token)";
      spdlog::error("{}", why);
      std::cerr << "device-agent: " << why << '\n';
      exit_code_ = 2;
      stopping_ = true;
      status_.update({{"last_error", why}});
      io_.stop();
      return;
    }
    if (reason.starts_with("the relay ended this session")) {
      std::cerr << "device-agent: " << reason << std::endl;
      // Attended help ends with its session: a fresh ID nobody asked for would only confuse
      // the user. A fleet agent (run) reconnects and gets a new session, as after any drop.
      if (options_.adhoc) return finish_after_admin_end();
    }
    retry(reason, was_ready && options_.adhoc && !resume_token_.empty());
  }

  void finish_after_admin_end() {
    std::cout << "The session was ended by the relay's administrator. Run `device-agent help` "
                 "again if you still need help."
              << std::endl;
    stopping_ = true;
    io_.stop();
  }

  // quick: the first try after a blip, with a little jitter so that the devices of a relay
  // that dropped them all do not come back in one burst.
  void retry(const std::string& reason, bool quick = false) {
    if (stopping_) return;
    boost::system::error_code ignored;
    socket_.close(ignored);
    auto delay = quick ? std::chrono::milliseconds(50 + random_below(200)) : backoff_.next();
    spdlog::warn("tunnel down ({}); reconnecting in {}", reason, format_duration(delay));
    status_.update({{"state", "reconnecting"}, {"session_id", nullptr}, {"last_error", reason}});
    if (options_.adhoc)
      std::cout << "Connection to the relay lost; reconnecting"
                << (resume_token_.empty() ? "..." : " (your session ID is kept for a while)...")
                << std::endl;
    retry_.expires_after(delay);
    retry_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) connect();
    });
  }

  void schedule_keepalive() {
    keepalive_.expires_after(options_.keepalive);
    keepalive_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      auto silence = std::max(options_.keepalive * 3, relay_check_ * 5 / 2);
      if (tunnel_) tunnel_->keepalive(silence);
      schedule_keepalive();
    });
  }

  // Between connections nothing is sent: the next hello reads the info again anyway.
  void schedule_info() {
    info_timer_.expires_after(options_.info_interval);
    info_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      if (tunnel_ && tunnel_->state() == Tunnel::State::kReady) info_.read();
      schedule_info();
    });
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    spdlog::info("stopping");
    retry_.cancel();
    keepalive_.cancel();
    info_timer_.cancel();
    info_wait_.cancel();
    connect_deadline_.cancel();
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (!tunnel_) return io_.stop();
    // A goodbye first, so that the relay ends the session now instead of holding its ID; the
    // relay hangs up on it (on_closed then stops), or the deadline does.
    if (!tunnel_->say_bye()) return tunnel_->close("agent stopping");
    bye_deadline_.expires_after(std::chrono::seconds(1));
    bye_deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && tunnel_) tunnel_->close("agent stopping");
    });
  }

  AgentOptions options_;
  asio::io_context io_{1};
  Backoff backoff_;
  asio::signal_set signals_;
  asio::steady_timer retry_;
  asio::steady_timer keepalive_;
  asio::steady_timer info_timer_;
  asio::steady_timer info_wait_;
  asio::steady_timer connect_deadline_;
  asio::steady_timer bye_deadline_;
  tcp::socket socket_;
  tcp::resolver resolver_;
  StatusFile status_;
  ssh::Key key_;
  Enrollment enrollment_;
  ConsentPrompt prompt_;
  std::shared_ptr<Tunnel> tunnel_;
  InfoReader info_;
  // The last system info read; until a first read ends, what is known without reading.
  nlohmann::json read_info_ = unread_device_info();
  nlohmann::json sent_info_;       // the system info the relay has from this connection
  bool awaiting_info_ = false;     // connect() waits for a read before it resolves the relay
  bool info_hang_logged_ = false;  // the current reading was reported as hanging
  std::chrono::milliseconds relay_check_{std::chrono::seconds(30)};
  bool stopping_ = false;
  int exit_code_ = 0;
  // Ad hoc: the session ID given out and the token that gets it back after a blip (memory
  // only: a restarted agent is a new session).
  std::string resume_id_;
  std::string resume_token_;
  bool resumed_ = false;
};

}  // namespace

int run_agent(const AgentOptions& options) {
  io::check_read_ahead();
  return Agent(options).run();
}

}  // namespace sb::agent
