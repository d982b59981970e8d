#include "relay/device/device_tunnel.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "common/json_field.hpp"
#include "common/names.hpp"
#include "common/time.hpp"
#include "common/util.hpp"
#include "keys/keys.hpp"
#include "relay/device/device_messages.hpp"
#include "relay/device/janitor_policy.hpp"
#include "relay/router/operator_target.hpp"

namespace sb::relay {

namespace {
constexpr const char* kSubsystem = "switchboard-agent";

std::string redeem_error(const store::RedeemResult& result) {
  switch (result.status) {
    case store::RedeemStatus::kUnknownToken:
      return "enrollment token not recognised";
    case store::RedeemStatus::kExpired:
      return "enrollment token expired: ask the admin for a new one (relay enroll create)";
    case store::RedeemStatus::kAlreadyUsed:
      if (result.max_uses > 1)
        return "enrollment token already used by " + std::to_string(result.max_uses) +
               " devices, all it allows: ask the admin for a new one (relay enroll create)";
      return "enrollment token already used: tokens are single use";
    case store::RedeemStatus::kNameTaken:
      return "a device with that name is already enrolled";
    case store::RedeemStatus::kRevoked:
      return "enrollment token revoked by the admin: ask for a new one (relay enroll create)";
    case store::RedeemStatus::kBadHostname:
      return "this device's hostname makes no valid device name (a-z 0-9 - _ ., not all "
             "digits): start the agent with --name NAME";
    case store::RedeemStatus::kOk:
      break;
  }
  return "";
}
}  // namespace

DeviceTunnel::DeviceTunnel(PeerConn& conn) : conn_(conn) {}

std::shared_ptr<DeviceTunnel> DeviceTunnel::handle() {
  return std::shared_ptr<DeviceTunnel>(conn_.shared_from_this(), this);
}

DeviceTunnel::~DeviceTunnel() {
  control_.reset();
  control_channel_.abandon();  // freed with the session
}

ssh::Channel* DeviceTunnel::open_control() {
  if (control_channel_) return nullptr;  // one control channel per tunnel
  control_channel_ = ssh::Channel::create(conn_.session());
  if (!control_channel_) return nullptr;
  control_channel_.listen({
      // Only an agentless device's shell gets a pty (the console shows its session ID).
      .pty = [this](const ssh::PtyRequest&) { return agentless_; },
      .shell = [this] { return on_shell(); },
      .subsystem = [this](std::string_view name) { return on_subsystem(name); },
  });
  return &control_channel_;
}

bool DeviceTunnel::on_subsystem(std::string_view subsystem) {
  if (subsystem_ok_ || agentless_ || subsystem != kSubsystem) return false;
  subsystem_ok_ = true;
  control_ =
      std::make_unique<ssh::LineChannel>(control_channel_, conn_.context().limits.max_control_line);
  return true;
}

void DeviceTunnel::service() {
  // Data from the device for operators' channels arrived with this pump.
  for (DeviceMember* link : std::vector<DeviceMember*>(operators_)) link->service();
  if (shared_) {
    shared_->pump();
    if (shared_->finished() && shared_->empty()) shared_.reset();
  }
  if (agentless_) return service_console();
  if (!control_ || finish_failure()) return;
  while (!conn_.closing() && failure_.empty()) {
    auto message = control_->receive();
    if (!message) break;
    handle(*message);
  }
  if (conn_.closing()) return;
  if (!control_->error().empty()) {
    protocol_error_ = true;
    conn_.close("control channel: " + control_->error());
    return;
  }
  control_->flush();
  if (control_->peer_closed()) {
    bool socket_gone = conn_.session().socket_closed();
    conn_.close(socket_gone ? "tunnel dropped" : "agent closed its control channel");
  }
}

void DeviceTunnel::handle(const nlohmann::json& message) {
  const std::string type = string_field(message, "type");
  if (type == "hello") {
    if (hello_seen_) return fail("hello sent twice");
    hello_seen_ = true;
    handle_hello(message);
  } else if (type == "ping") {
    control_->send({{"type", "pong"}});
  } else if (type == "consent-answer") {
    handle_consent_answer(message);
  } else if (type == "bye") {
    // A deliberate end (the user quit, SIGTERM): the session ends now, no ID is held.
    bye_ = true;
    conn_.close("the agent ended the session");
  }
  // "pong" and unknown types from newer agents need no answer: any packet proves liveness.
}

void DeviceTunnel::handle_hello(const nlohmann::json& message) {
  HelloResult parsed = parse_hello(message);
  if (!parsed.hello) return fail(parsed.error);
  const DeviceHello& hello = *parsed.hello;
  info_ = hello.info;
  info_["address"] = conn_.source_addr();
  const std::string& kind = hello.kind;
  const std::string& name = hello.name;
  const std::string& token = hello.enroll_token;
  consent_prompt_ = hello.consent_prompt;

  auto keys = conn_.context().keys();
  auto known = keys->device_by_fingerprint.find(conn_.fingerprint());
  if (known != keys->device_by_fingerprint.end()) {
    if (!name.empty() && name != known->second)
      return fail("this key is enrolled as '" + known->second + "', not '" + name + "'");
    return issue_session(known->second, "enrolled");
  }
  if (!token.empty()) {
    if (!keys::looks_like_enrollment_token(token)) return fail("malformed enrollment token");
    return redeem_token(token, name);
  }
  if (kind == "enrolled")
    return fail(
        "this device is not enrolled: create a token with `relay enroll create --name "
        "NAME` and start the agent once with --enroll-token");
  if (hello.resume_asked) return resume_session(hello);
  issue_session("", "adhoc");
}

void DeviceTunnel::redeem_token(const std::string& token, const std::string& wanted_name) {
  waiting_for_store_ = true;
  std::weak_ptr<DeviceTunnel> weak = handle();
  auto executor = conn_.executor();
  store::Redemption redemption{keys::hash_token(token),
                               conn_.fingerprint(),
                               conn_.key_line(),
                               wanted_name,
                               string_field(info_, "hostname"),
                               Time{}};
  auto job = [weak, executor, wanted_name, redemption](store::Db& db) mutable {
    redemption.when = utc_now();
    auto result = db.redeem_enrollment(redemption);
    db.after_commit([executor, weak, result, wanted_name] {
      boost::asio::post(executor, [weak, result, wanted_name] {
        auto self_handle = weak.lock();
        if (!self_handle || self_handle->conn().closing()) return;
        DeviceTunnel& self = *self_handle;
        PeerConn* conn = &self.conn();
        self.waiting_for_store_ = false;
        if (result.status != store::RedeemStatus::kOk) return self.fail(redeem_error(result));
        if (!wanted_name.empty() && wanted_name != result.device)
          spdlog::warn("device asked for name {} but its token enrolls {}", wanted_name,
                       result.device);
        spdlog::info("device enrolled name={} fp={} from={}", result.device, conn->fingerprint(),
                     conn->source_addr());
        self.issue_session(result.device, "enrolled");
        conn->wake();
      });
    });
  };
  if (!conn_.context().store.post(std::move(job))) fail("relay is overloaded, try again later");
}

void DeviceTunnel::issue_session(const std::string& device_name, const std::string& kind) {
  Context& ctx = conn_.context();
  device_name_ = device_name;
  kind_ = kind;
  // Agentless devices have nobody to ask: registering a service with -R is the consent.
  bool prompt = !agentless_ && (kind == "adhoc" || consent_prompt_);
  session_id_ = ctx.router.issue(handle(), device_name, kind == "enrolled", prompt);
  if (!device_name.empty()) {
    if (auto previous = ctx.router.bind_device(device_name, session_id_))
      previous->conn().close_async("replaced by a new connection from " + conn_.source_addr());
  }
  store::SessionStart start{session_id_, device_name,         conn_.fingerprint(), conn_.key_line(),
                            kind,        conn_.source_addr(), utc_now(),           info_};
  ctx.store.post([start](store::Db& db) {
    db.add_event(store::events::kDeviceConnected, start.fingerprint,
                 {{"session", start.id},
                  {"device", start.device},
                  {"fingerprint", start.fingerprint},
                  {"source_addr", start.source_addr},
                  {"kind", start.kind}},
                 start.started);
    db.insert_session(start);
    if (!start.device.empty()) db.device_seen(start.device, "online", start.info, start.started);
  });
  // Attended help keeps its ID through a blip: the token (with the key) proves a comeback.
  std::string token;
  if (kind == "adhoc" && !agentless_ && ctx.limits.resume_grace.count() > 0) {
    token = keys::generate_resume_token();
    ctx.router.arm_resume(session_id_, conn_.fingerprint(), keys::hash_token(token));
  }
  send_session(token, std::exchange(resume_refused_, {}), false);
  spdlog::info("session {} issued: {}{} device{} fp={} from={}", session_id_,
               agentless_ ? "agentless " : "", kind, device_name.empty() ? "" : " " + device_name,
               conn_.fingerprint(), conn_.source_addr());
}

void DeviceTunnel::send_session(const std::string& resume_token, const std::string& refused,
                                bool resumed) {
  nlohmann::json reply{
      {"type", "session"},
      {"id", session_id_},
      {"device", device_name_.empty() ? nlohmann::json() : nlohmann::json(device_name_)},
      {"check_interval_ms", conn_.context().check_interval.count()}};
  if (!resume_token.empty()) reply["resume_token"] = resume_token;
  if (resumed) reply["resumed"] = true;
  if (!refused.empty()) reply["resume_refused"] = refused;
  if (control_) control_->send(reply);
}

void DeviceTunnel::resume_session(const DeviceHello& hello) {
  Context& ctx = conn_.context();
  std::string refused;
  if (ctx.limits.resume_grace.count() <= 0) {
    refused = "this relay does not keep session IDs after a drop";
  } else if (hello.resume_session.empty()) {
    refused = "malformed resume request";
  } else {
    std::string token = keys::generate_resume_token();
    auto outcome =
        ctx.router.resume(hello.resume_session, conn_.fingerprint(),
                          keys::hash_token(hello.resume_token), handle(), keys::hash_token(token));
    if (outcome.status == ResumeStatus::kResumed) {
      session_id_ = hello.resume_session;
      device_name_.clear();
      kind_ = "adhoc";
      resumed_ = true;
      // The old tunnel still looked alive (a NAT rebinding): it ends, the session does not.
      if (outcome.previous)
        outcome.previous->conn().close_async("resumed by a new connection from " +
                                             conn_.source_addr());
      ctx.store.post([detail = nlohmann::json{{"session", session_id_},
                                              {"device", ""},
                                              {"fingerprint", conn_.fingerprint()},
                                              {"source_addr", conn_.source_addr()},
                                              {"away_ms", outcome.away.count()}},
                      fp = conn_.fingerprint(), when = utc_now()](store::Db& db) {
        db.add_event(store::events::kDeviceResumed, fp, detail, when);
      });
      send_session(token, "", true);
      spdlog::info("session {} resumed after {} fp={} from={}", session_id_,
                   format_duration(outcome.away), conn_.fingerprint(), conn_.source_addr());
      return;
    }
    refused = outcome.status == ResumeStatus::kWrongProof
                  ? "the resume token or key does not match that session"
                  : "that session ID is no longer held (its grace period ran out, it ended, or "
                    "the relay restarted)";
  }
  ctx.store.post([detail = nlohmann::json{{"session", hello.resume_session},
                                          {"fingerprint", conn_.fingerprint()},
                                          {"source_addr", conn_.source_addr()},
                                          {"reason", refused}},
                  fp = conn_.fingerprint(), when = utc_now()](store::Db& db) {
    db.add_event(store::events::kDeviceResumeRefused, fp, detail, when);
  });
  spdlog::warn("session {} not resumed fp={} from={}: {}", hello.resume_session,
               conn_.fingerprint(), conn_.source_addr(), refused);
  resume_refused_ = refused;
  issue_session("", "adhoc");
}

bool DeviceTunnel::hold_for_resume(const std::string& reason) {
  Context& ctx = conn_.context();
  const auto grace = ctx.limits.resume_grace;
  // Only a drop is held: a goodbye, an administrator's kill, a refusal, a broken control
  // channel or the relay's own stop end the session as before.
  if (session_id_.empty() || kind_ != "adhoc" || agentless_ || grace.count() <= 0 || bye_ ||
      protocol_error_ || !kill_reason_.empty() || !failure_.empty() || ctx.stopping.load())
    return false;
  std::string screen = shared_ ? shared_->recent_screen() : std::string();
  auto now = std::chrono::steady_clock::now();
  if (!ctx.router.hold(session_id_, this, now + grace, std::move(screen), reason, now))
    return false;
  ctx.store.post([detail = nlohmann::json{{"session", session_id_},
                                          {"device", ""},
                                          {"fingerprint", conn_.fingerprint()},
                                          {"reason", reason},
                                          {"grace_ms", grace.count()}},
                  fp = conn_.fingerprint(), when = utc_now()](store::Db& db) {
    db.add_event(store::events::kDeviceInterrupted, fp, detail, when);
  });
  spdlog::info("session {} interrupted: {} fp={}; its ID is held {} for the agent to resume",
               session_id_, reason, conn_.fingerprint(), format_duration(grace));
  return true;
}

void DeviceTunnel::fail(const std::string& message) {
  spdlog::warn("device refused fp={} from={}: {}", conn_.fingerprint(), conn_.source_addr(),
               message);
  if (!control_) return conn_.close(message);
  control_->send({{"type", "error"}, {"message", message}});
  // The agent hangs up once it has read this. Closing here instead could lose the message:
  // libssh's non-blocking disconnect drops queued output, and a close with unread input resets
  // the connection. An agent that never hangs up is cut off by the handshake timeout.
  failure_ = message;
  conn_.wake();
}

bool DeviceTunnel::finish_failure() {
  if (failure_.empty()) return false;
  control_->flush();
  if (!eof_sent_ && control_->pending_out() == 0) {
    control_channel_.send_eof();
    eof_sent_ = true;
  }
  return true;
}

void DeviceTunnel::check(std::chrono::steady_clock::time_point now) {
  if (JanitorPolicy::check(last_ping_, conn_.last_inbound()) == Liveness::kDead) {
    conn_.close("keepalive timeout");
    return;
  }
  last_ping_ = now;
  if (agentless_) return send_keepalive();
  if (control_ && !control_->send({{"type", "ping"}})) conn_.close("control channel blocked");
}

void DeviceTunnel::on_closed(const std::string& closed_because) {
  // After the administrator's kill the agent usually hangs up first; the kill is the reason.
  const std::string reason = kill_reason_.empty() ? closed_because : kill_reason_;
  if (kill_timer_) kill_timer_->cancel();
  consents_.clear();
  // Before the shared terminal goes: a held session keeps its screen.
  const bool held = hold_for_resume(reason);
  const std::string told =
      held ? reason + "; it may reconnect: try the same session ID again in a moment" : reason;
  if (shared_) shared_->device_gone(told);
  for (DeviceMember* link : std::exchange(operators_, {})) link->device_gone(told);
  shared_.reset();
  control_.reset();
  control_channel_.abandon();  // freed with the session
  if (session_id_.empty() || held) return;
  Context& ctx = conn_.context();
  if (!ctx.router.release_owned(session_id_, this)) {
    spdlog::info("session {}: its previous connection closed ({}); it goes on on the new one",
                 session_id_, reason);
    return;
  }
  ctx.store.post([id = session_id_, device = device_name_, fp = conn_.fingerprint(), reason,
                  when = utc_now()](store::Db& db) {
    db.add_event(store::events::kDeviceDisconnected, fp,
                 {{"session", id}, {"device", device}, {"fingerprint", fp}, {"reason", reason}},
                 when);
    db.end_session(id, reason, when);
  });
  spdlog::info("session {} ended{}: {} fp={}", session_id_,
               device_name_.empty() ? "" : " (" + device_name_ + ")", reason, conn_.fingerprint());
}

SharedTerminal& DeviceTunnel::shared_terminal() {
  if (!shared_ || shared_->finished()) {
    RecordingInfo recording;
    recording.session = session_id_;
    recording.device = device_name_;
    shared_ = std::make_unique<SharedTerminal>(conn_, conn_.context().recorder, recording);
    // After a blip, the operators who come back see the screen they had (the shell is new).
    if (resumed_) {
      std::string screen = conn_.context().router.take_screen(session_id_);
      if (!screen.empty())
        shared_->seed_screen(screen +
                             "\r\n[switchboard] the device reconnected after a network "
                             "interruption; a new shell starts here\r\n");
    }
  }
  return *shared_;
}

void DeviceTunnel::attach(DeviceMember* link) {
  operators_.push_back(link);
  broadcast_notice(link->operator_name() + " (" + link->conn().fingerprint() + ") joined (" +
                       mode_name(link->mode()) + ")",
                   link);
}

void DeviceTunnel::detach(DeviceMember* link) {
  std::erase(operators_, link);
  std::erase_if(consents_, [link](const auto& kv) { return kv.second.link == link; });
  broadcast_notice(link->operator_name() + " left");
}

void DeviceTunnel::broadcast_notice(const std::string& text, DeviceMember* except) {
  if (control_) control_->send({{"type", "notice"}, {"text", text}});
  for (DeviceMember* link : operators_)
    if (link != except) link->notice(text);
  conn_.wake();
}

void DeviceTunnel::request_consent(DeviceMember* link, const std::string& capability,
                                   const std::string& what) {
  if (!control_) return link->consent_answer(capability, false, "the device cannot be asked");
  std::uint64_t id = next_consent_id_++;
  auto deadline = std::chrono::steady_clock::now() + conn_.context().limits.consent_timeout;
  consents_[id] = PendingConsent{link, capability, deadline};
  control_->send({{"type", "consent"},
                  {"id", id},
                  {"operator", link->operator_name()},
                  {"fingerprint", link->conn().fingerprint()},
                  {"source_addr", link->conn().source_addr()},
                  {"capability", capability},
                  {"what", what.substr(0, 200)}});
  spdlog::info("session {}: asking the device's user to let {} ({}) use {}", session_id_,
               link->operator_name(), link->conn().fingerprint(), capability);
  conn_.context().store.post([detail = nlohmann::json{{"session", session_id_},
                                                      {"device", device_name_},
                                                      {"operator", link->operator_name()},
                                                      {"fingerprint", link->conn().fingerprint()},
                                                      {"attachment", link->attachment_id()},
                                                      {"capability", capability},
                                                      {"what", what.substr(0, 200)}},
                              when = utc_now()](store::Db& db) {
    db.add_event(store::events::kConsentAsked, detail["operator"], detail, when);
  });
  conn_.wake();
}

void DeviceTunnel::handle_consent_answer(const nlohmann::json& answer) {
  auto parsed = parse_consent_answer(answer);
  if (!parsed) return;
  auto it = consents_.find(parsed->id);
  if (it == consents_.end()) return;  // answered too late, or the operator left
  const bool allow = parsed->allow;
  PendingConsent pending = it->second;
  consents_.erase(it);
  spdlog::info("session {}: the device's user {} {} for {}", session_id_,
               allow ? "allowed" : "declined", pending.capability, pending.link->operator_name());
  conn_.context().store.post(
      [detail = nlohmann::json{{"session", session_id_},
                               {"device", device_name_},
                               {"operator", pending.link->operator_name()},
                               {"fingerprint", pending.link->conn().fingerprint()},
                               {"attachment", pending.link->attachment_id()},
                               {"capability", pending.capability},
                               {"allow", allow}},
       when = utc_now()](store::Db& db) {
        db.add_event(store::events::kConsentAnswered, detail["operator"], detail, when);
      });
  pending.link->consent_answer(pending.capability, allow, "the device's user declined");
}

void DeviceTunnel::expire_consents(std::chrono::steady_clock::time_point now) {
  for (auto it = consents_.begin(); it != consents_.end();) {
    if (now < it->second.deadline) {
      ++it;
      continue;
    }
    PendingConsent pending = it->second;
    it = consents_.erase(it);
    if (control_)
      control_->send({{"type", "consent-expired"}, {"operator", pending.link->operator_name()}});
    pending.link->consent_answer(pending.capability, false,
                                 "the device's user did not answer in time");
  }
}

std::vector<std::string> DeviceTunnel::end_by_admin(const std::string& reason,
                                                    const std::string& told) {
  std::vector<std::string> ended;
  if (!kill_reason_.empty() || conn_.closing()) return ended;
  kill_reason_ = reason;
  Context& ctx = conn_.context();
  // No operator may join from now on, even before the tunnel is gone.
  ctx.router.release(session_id_, device_name_);
  consents_.clear();
  for (DeviceMember* link : std::exchange(operators_, {})) {
    ended.push_back(link->operator_name());
    link->end_by_admin(reason);
  }
  spdlog::warn("session {}{} ended by the administrator: {} fp={}", session_id_,
               device_name_.empty() ? "" : " (" + device_name_ + ")", reason, conn_.fingerprint());
  if (!control_) {
    conn_.close(reason);
    return ended;
  }
  control_->send({{"type", "ended"}, {"reason", told}});
  control_->flush();
  // The agent hangs up once it has read this (closing at once could drop the message, see
  // fail()); one that does not is cut off shortly.
  kill_timer_ =
      std::make_unique<boost::asio::steady_timer>(conn_.executor(), std::chrono::milliseconds(500));
  std::weak_ptr<ssh::Conn> weak = conn_.shared_from_this();
  kill_timer_->async_wait([weak, reason](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec && !self->closing()) self->close(reason);
  });
  conn_.wake();
  return ended;
}

int DeviceTunnel::end_operator_by_admin(const std::string& operator_name,
                                        const std::string& reason) {
  int ended = 0;
  for (DeviceMember* link : std::vector<DeviceMember*>(operators_)) {
    if (link->operator_name() != operator_name) continue;
    link->end_by_admin(reason);
    detach(link);
    ++ended;
  }
  return ended;
}

}  // namespace sb::relay
