#include "relay/connection/server_conn.hpp"

#include <spdlog/spdlog.h>

#include "common/names.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/device/janitor_policy.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxUserName = 128;
// How long packets no callback answered may stay the last thing a client sent before they are
// taken for a request libssh dropped (unanswered_auth.hpp). Short: that client is waiting.
constexpr auto kUnansweredGrace = std::chrono::milliseconds(250);
constexpr const char* kDroppedRequest =
    "signed request dropped by libssh unanswered: its signature does not verify over the user "
    "name as read (a NUL byte in the user name does that)";

const char* stage_of(ssh::KeyOffer offer) {
  return offer == ssh::KeyOffer::kProbe ? "offered" : "signed";
}

// Our agent is libssh; any other client (OpenSSH `ssh -R`) is an agentless device.
bool is_agent_client(ssh::SessionRef session) {
  return session.client_banner().starts_with("SSH-2.0-libssh");
}
}  // namespace

ServerConn::ServerConn(boost::asio::any_io_executor executor, ssh::Session session, Context& ctx,
                       std::string source_addr, Admission::Ticket ticket)
    : PeerConn(std::move(executor), std::move(session), ctx, std::move(source_addr)),
      ticket_(ticket),
      unanswered_(kUnansweredGrace) {
  ++ctx.connections;
  counted_unauthenticated_ = true;  // the listener admitted it before creating us
  listen({
      .auth_pubkey = [this](std::string_view user, ssh::BorrowedKey key,
                            ssh::KeyOffer offer) { return auth_pubkey(user, key, offer); },
      // Every OpenSSH client asks "none" first, for the list of methods: not a refusal to log.
      .auth_none =
          [this](std::string_view) {
            unanswered_.answered(packets_in());
            return false;
          },
      .open_session = [this] { return on_channel_open(); },
      // direct-tcpip has no typed callback in libssh 0.10: it arrives as a message.
      .message = [this](ssh::Message& message) { return on_message(message); },
  });
  this->session().allow_only_publickey_auth();  // the parameter was moved into Conn
}

ServerConn::~ServerConn() {
  leave_unauthenticated();
  --ctx_.connections;
}

bool ServerConn::established() const {
  if (const auto* device = std::get_if<DeviceTunnel>(&role_)) return device->has_session();
  return is_operator() || std::holds_alternative<OperatorQuery>(role_);
}

void ServerConn::leave_unauthenticated() {
  // Authenticated (or gone): nothing more to watch, and an operator's connection is about to
  // move to its device's reactor, away from this timer's.
  if (unanswered_timer_) unanswered_timer_->cancel();
  if (!counted_unauthenticated_) return;
  counted_unauthenticated_ = false;
  ctx_.admission.leave(ticket_, Admission::Clock::now());
}

void ServerConn::service() {
  if (closed_) return;
  std::visit(
      [this](auto& role) {
        using R = std::decay_t<decltype(role)>;
        if constexpr (std::is_same_v<R, KeyExchange>)
          step_key_exchange();
        else if constexpr (std::is_same_v<R, Authenticating>)
          watch_unanswered();  // authentication itself advances inside libssh's callbacks
        else
          role.service();
      },
      role_);
}

void ServerConn::watch_unanswered() {
  auto check = unanswered_.check(packets_in(), std::chrono::steady_clock::now());
  if (check.dropped) {
    refuse_auth(last_user_, kDroppedRequest, "unanswered");
    close("authentication request left unanswered");
    return;
  }
  if (!check.again || unanswered_armed_) return;
  if (!unanswered_timer_)
    unanswered_timer_ = std::make_unique<boost::asio::steady_timer>(executor());
  unanswered_armed_ = true;
  unanswered_timer_->expires_at(*check.again);
  std::weak_ptr<ssh::Conn> weak = shared_from_this();
  unanswered_timer_->async_wait([this, weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    unanswered_armed_ = false;
    if (!closed_ && !closing() && std::holds_alternative<Authenticating>(role_)) watch_unanswered();
  });
}

void ServerConn::step_key_exchange() {
  ssh::Rc rc = session().handle_key_exchange();
  // The first call creates the session's poll context; from then on we pump it ourselves.
  if (!has_event() && !attach_event()) {
    close("cannot set up the session's event loop");
    return;
  }
  if (rc == ssh::Rc::kOk) {
    ctx_.admission.progressed(ticket_);  // no longer an idle socket a flood may evict
    // Authentication may already have chosen a role in the pump that finished the exchange, or
    // a request been dropped in it: no readiness would tell.
    if (std::holds_alternative<KeyExchange>(role_)) role_.emplace<Authenticating>();
    if (std::holds_alternative<Authenticating>(role_)) watch_unanswered();
  } else if (rc == ssh::Rc::kError) {
    spdlog::info("handshake failed from {}: {}", source_addr_, session().error());
    close("key exchange failed");
  }
}

void ServerConn::refuse_auth(const std::string& user, const std::string& reason,
                             const char* stage) {
  ++auth_failures_;
  bool last_try = auth_failures_ >= ctx_.limits.max_auth_attempts;
  ctx_.refusals.log(
      {.what = "auth",
       .reason = reason,
       .target = user,
       .fingerprint = fingerprint_,
       .source = source_addr_,
       .detail = std::string(stage) + (last_try ? "; closing: too many failures" : "")});
  nlohmann::json detail{{"user", user},
                        {"fingerprint", fingerprint_},
                        {"source_addr", source_addr_},
                        {"reason", reason},
                        {"stage", stage}};
  ctx_.store.post([detail, when = utc_now()](store::Db& db) {
    db.add_event(store::events::kAuthRefused, detail.value("fingerprint", ""), detail, when);
  });
  if (last_try) close("too many authentication failures");
}

void ServerConn::refuse_message(const ssh::Message& message) {
  if (message.kind() == ssh::Message::Kind::kAuthRequest)
    return refuse_auth(last_user_, "only public-key authentication is offered", "method");
  const auto* link = std::get_if<OperatorLink>(&role_);
  ctx_.refusals.log({.what = "request",
                     .reason = "not offered to this connection",
                     .target = refusal_target(),
                     .fingerprint = fingerprint_,
                     .source = source_addr_,
                     .operator_name = link ? std::string_view(link->operator_name()) : "",
                     .detail = message.describe()});
}

std::string ServerConn::refusal_target() const {
  if (const auto* link = std::get_if<OperatorLink>(&role_)) return link->target().display();
  if (std::holds_alternative<OperatorQuery>(role_)) return std::string(kRelayQueryUser);
  if (const auto* device = std::get_if<DeviceTunnel>(&role_))
    return "device " + device->session_id();
  return last_user_;
}

bool ServerConn::auth_pubkey(std::string_view user_name, ssh::BorrowedKey key,
                             ssh::KeyOffer offer) {
  unanswered_.answered(packets_in());
  // libssh only asks once key exchange is complete; our state may not have caught up yet when
  // the request came in the same pump that finished the exchange.
  bool may_authenticate =
      std::holds_alternative<Authenticating>(role_) || std::holds_alternative<KeyExchange>(role_);
  if (!may_authenticate) return false;
  std::string user(user_name.substr(0, kMaxUserName + 1));
  if (user.size() > kMaxUserName) user.resize(kMaxUserName);
  last_user_ = user;
  std::string fp = keys::fingerprint(key);
  auto snapshot = ctx_.keys();
  bool revoked = snapshot->revoked_by_fingerprint.count(fp) > 0;

  if (offer == ssh::KeyOffer::kOther) {  // libssh 0.10 never asks so; refused all the same
    fingerprint_ = fp;
    refuse_auth(user, "signature not verified", "signed");
    return false;
  }
  if (user != "device") return auth_operator(user, fp, offer);
  if (revoked) {
    fingerprint_ = fp;
    refuse_auth(user, "device key revoked", stage_of(offer));
    return false;
  }
  // A probe (no signature yet) only asks whether this key would do.
  if (offer == ssh::KeyOffer::kProbe) return true;

  fingerprint_ = fp;
  key_line_ = keys::public_key_of(key).openssh_line();
  leave_unauthenticated();
  auto& device = role_.emplace<DeviceTunnel>(*this);
  // The banner with its session ID has to go out before authentication succeeds.
  if (!is_agent_client(session())) device.begin_agentless();
  return true;
}

bool ServerConn::auth_operator(const std::string& user, const std::string& fp,
                               ssh::KeyOffer offer) {
  fingerprint_ = fp;
  auto snapshot = ctx_.keys();
  auto op = snapshot->operator_by_fingerprint.find(fp);
  bool query = user == kRelayQueryUser;
  auto target = query ? std::nullopt : parse_operator_user(user);
  spdlog::debug("operator auth user={} fp={} state={} registered={} target={}", user, fp,
                static_cast<int>(offer), op != snapshot->operator_by_fingerprint.end(),
                target.has_value());
  if (op == snapshot->operator_by_fingerprint.end() || (!target && !query)) {
    // Refused when offered too: OpenSSH signs only with a key the relay accepted, so a refusal
    // left for the signature would never be told (and each offer counts, as in OpenSSH).
    refuse_auth(user,
                target || query ? "key is not a registered operator key"
                                : "user name is not a session ID or device name",
                stage_of(offer));
    return false;
  }
  if (offer == ssh::KeyOffer::kProbe) return true;
  leave_unauthenticated();
  if (query) {
    role_.emplace<OperatorQuery>(*this, op->second);
    return true;
  }
  role_.emplace<OperatorLink>(*this, *target, op->second).begin();
  return true;
}

ssh::Channel* ServerConn::on_channel_open() {
  if (closed_) return nullptr;
  if (auto* device = std::get_if<DeviceTunnel>(&role_)) return device->open_control();
  if (auto* link = std::get_if<OperatorLink>(&role_)) return link->open_session_channel();
  if (auto* query = std::get_if<OperatorQuery>(&role_)) return query->open_channel();
  return nullptr;
}

// False: libssh sends the default reply (a refusal, but for the service request: accepted).
bool ServerConn::on_message(ssh::Message& message) {
  unanswered_.answered(packets_in());  // answered here or by libssh's default reply
  if (closed_) return false;
  using Kind = ssh::Message::Kind;
  const Kind kind = message.kind();
  if (kind == Kind::kServiceRequest) return false;
  auto* link = std::get_if<OperatorLink>(&role_);
  if (kind == Kind::kDirectTcpip && link) return link->open_forward(message);
  // tcpip-forward from `ssh -R NAME:PORT:...`: an agentless device's services.
  auto* device = std::get_if<DeviceTunnel>(&role_);
  if (device && (kind == Kind::kTcpipForward || kind == Kind::kCancelTcpipForward))
    return device->on_global_request(message);
  refuse_message(message);
  return false;
}

void ServerConn::check(std::chrono::steady_clock::time_point now) {
  if (closing()) return;
  if (!established()) {
    auto limit = ctx_.admission.deadline(ticket_, ctx_.limits.handshake_timeout, now);
    if (JanitorPolicy::handshake_expired(created(), now, limit)) close("handshake timeout");
    return;
  }
  if (auto* device = std::get_if<DeviceTunnel>(&role_)) device->check(now);
}

void ServerConn::sweep(std::chrono::steady_clock::time_point now) {
  if (closing()) return;
  if (!established()) return check(now);
  if (auto* device = std::get_if<DeviceTunnel>(&role_)) device->expire_consents(now);
  if (auto* query = std::get_if<OperatorQuery>(&role_)) query->sweep(now);
}

void ServerConn::on_closed(const std::string& reason) {
  closed_ = true;
  if (auto* device = std::get_if<DeviceTunnel>(&role_)) device->on_closed(reason);
  if (auto* link = std::get_if<OperatorLink>(&role_)) link->on_closed(reason);
  if (auto* query = std::get_if<OperatorQuery>(&role_)) query->on_closed();
  leave_unauthenticated();
}

}  // namespace sb::relay
