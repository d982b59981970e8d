#include "relay/connection/server_conn.hpp"

#include <spdlog/spdlog.h>

#include "common/names.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/device/janitor_policy.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxUserName = 128;

// Our agent is libssh; any other client (OpenSSH `ssh -R`) is an agentless device.
bool is_agent_client(ssh_session session) {
  const char* banner = ssh_get_clientbanner(session);
  return banner && std::string_view(banner).starts_with("SSH-2.0-libssh");
}
}  // namespace

ServerConn::ServerConn(boost::asio::any_io_executor executor, ssh::Session session, Context& ctx,
                       std::string source_addr, Admission::Ticket ticket)
    : PeerConn(std::move(executor), std::move(session), ctx, std::move(source_addr)),
      ticket_(ticket) {
  ++ctx.connections;
  counted_unauthenticated_ = true;  // the listener admitted it before creating us
  server_callbacks_.userdata = this;
  server_callbacks_.auth_pubkey_function = &ServerConn::on_auth_pubkey;
  server_callbacks_.auth_none_function = &ServerConn::on_auth_none;
  server_callbacks_.channel_open_request_session_function = &ServerConn::on_channel_open;
  ssh_callbacks_init(&server_callbacks_);
  ssh_set_server_callbacks(raw(), &server_callbacks_);
  // direct-tcpip has no typed callback in libssh 0.10: it arrives as a message.
  ssh_set_message_callback(raw(), &ServerConn::on_message, this);
  ssh_set_auth_methods(raw(), SSH_AUTH_METHOD_PUBLICKEY);
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
        else if constexpr (!std::is_same_v<R, Authenticating>)
          role.service();  // authentication itself advances inside libssh's callbacks
      },
      role_);
}

void ServerConn::step_key_exchange() {
  int rc = ssh_handle_key_exchange(raw());
  // The first call creates the session's poll context; from then on we pump it ourselves.
  if (!has_event() && !attach_event()) {
    close("cannot set up the session's event loop");
    return;
  }
  if (rc == SSH_OK) {
    ctx_.admission.progressed(ticket_);  // no longer an idle socket a flood may evict
    // Authentication may already have chosen a role in the pump that finished the exchange.
    if (std::holds_alternative<KeyExchange>(role_)) role_.emplace<Authenticating>();
  } else if (rc == SSH_ERROR) {
    spdlog::info("handshake failed from {}: {}", source_addr_, ssh_get_error(raw()));
    close("key exchange failed");
  }
}

int ServerConn::on_auth_none(ssh_session, const char*, void*) {
  return SSH_AUTH_DENIED;
}

int ServerConn::on_auth_pubkey(ssh_session, const char* user, ssh_key_struct* key,
                               char signature_state, void* userdata) {
  return static_cast<ServerConn*>(userdata)->auth_pubkey(user, key, signature_state);
}

void ServerConn::refuse_auth(const std::string& user, const std::string& reason) {
  ++auth_failures_;
  spdlog::warn("auth refused user={} fp={} from={}: {}", user, fingerprint_, source_addr_, reason);
  nlohmann::json detail{{"user", user},
                        {"fingerprint", fingerprint_},
                        {"source_addr", source_addr_},
                        {"reason", reason}};
  ctx_.store.post([detail, when = utc_now()](store::Db& db) {
    db.add_event(store::events::kAuthRefused, detail.value("fingerprint", ""), detail, when);
  });
  if (auth_failures_ >= ctx_.limits.max_auth_attempts) close("too many authentication failures");
}

int ServerConn::auth_pubkey(const char* user_c, ssh_key key, char signature_state) {
  // libssh only asks once key exchange is complete; our state may not have caught up yet when
  // the request came in the same pump that finished the exchange.
  bool may_authenticate =
      std::holds_alternative<Authenticating>(role_) || std::holds_alternative<KeyExchange>(role_);
  if (!may_authenticate || user_c == nullptr) return SSH_AUTH_DENIED;
  std::string user(user_c, strnlen(user_c, kMaxUserName + 1));
  if (user.size() > kMaxUserName) user.resize(kMaxUserName);
  std::string fp = keys::fingerprint(key);
  auto snapshot = ctx_.keys();
  bool revoked = snapshot->revoked_by_fingerprint.count(fp) > 0;

  if (user != "device") return auth_operator(user, fp, signature_state);
  if (revoked) {
    fingerprint_ = fp;
    if (signature_state == SSH_PUBLICKEY_STATE_VALID) refuse_auth(user, "device key revoked");
    return SSH_AUTH_DENIED;
  }
  // A probe (no signature yet) only asks whether this key would do.
  if (signature_state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;
  if (signature_state != SSH_PUBLICKEY_STATE_VALID) return SSH_AUTH_DENIED;

  fingerprint_ = fp;
  key_line_ = keys::public_key_of(key).openssh_line();
  leave_unauthenticated();
  auto& device = role_.emplace<DeviceTunnel>(*this);
  // The banner with its session ID has to go out before authentication succeeds.
  if (!is_agent_client(raw())) device.begin_agentless();
  return SSH_AUTH_SUCCESS;
}

int ServerConn::auth_operator(const std::string& user, const std::string& fp,
                              char signature_state) {
  fingerprint_ = fp;
  auto snapshot = ctx_.keys();
  auto op = snapshot->operator_by_fingerprint.find(fp);
  bool query = user == kRelayQueryUser;
  auto target = query ? std::nullopt : parse_operator_user(user);
  spdlog::debug("operator auth user={} fp={} state={} registered={} target={}", user, fp,
                static_cast<int>(signature_state), op != snapshot->operator_by_fingerprint.end(),
                target.has_value());
  if (op == snapshot->operator_by_fingerprint.end() || (!target && !query)) {
    if (signature_state == SSH_PUBLICKEY_STATE_VALID)
      refuse_auth(user, target || query ? "key is not a registered operator key"
                                        : "user name is not a session ID or device name");
    return SSH_AUTH_DENIED;
  }
  if (signature_state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;
  if (signature_state != SSH_PUBLICKEY_STATE_VALID) return SSH_AUTH_DENIED;
  leave_unauthenticated();
  if (query) {
    role_.emplace<OperatorQuery>(*this, op->second);
    return SSH_AUTH_SUCCESS;
  }
  role_.emplace<OperatorLink>(*this, *target, op->second).begin();
  return SSH_AUTH_SUCCESS;
}

ssh_channel ServerConn::on_channel_open(ssh_session, void* userdata) {
  auto* self = static_cast<ServerConn*>(userdata);
  if (self->closed_) return nullptr;
  if (auto* device = std::get_if<DeviceTunnel>(&self->role_)) return device->open_control();
  if (auto* link = std::get_if<OperatorLink>(&self->role_)) return link->open_session_channel();
  if (auto* query = std::get_if<OperatorQuery>(&self->role_)) return query->open_channel();
  return nullptr;
}

int ServerConn::on_message(ssh_session, ssh_message message, void* userdata) {
  auto* self = static_cast<ServerConn*>(userdata);
  bool direct_tcpip = ssh_message_type(message) == SSH_REQUEST_CHANNEL_OPEN &&
                      ssh_message_subtype(message) == SSH_CHANNEL_DIRECT_TCPIP;
  if (self->closed_) return 1;
  auto* link = std::get_if<OperatorLink>(&self->role_);
  if (direct_tcpip && link) return link->open_forward(message) ? 0 : 1;
  // tcpip-forward from `ssh -R NAME:PORT:...`: an agentless device's services.
  auto* device = std::get_if<DeviceTunnel>(&self->role_);
  if (ssh_message_type(message) == SSH_REQUEST_GLOBAL && device)
    return device->on_global_request(message) ? 0 : 1;
  return 1;  // libssh sends the default refusal
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
