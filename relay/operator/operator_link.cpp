#include "relay/operator/operator_link.hpp"

#include <spdlog/spdlog.h>

#include "common/util.hpp"
#include "relay/operator/operator_channel.hpp"

namespace sb::relay {

namespace {
// Every "not available" answer waits this long (plus any guessing penalty), whether the ID never
// existed, has ended, or belongs to a device this operator may not join. A granted attach never
// waits, and neither does a consent refusal: the device's user answered, so the session exists
// and this operator may ask (the answer is visible to the user anyway).
constexpr auto kUniformRefusalDelay = std::chrono::milliseconds(400);
constexpr auto kMaxChannels = 32;
constexpr auto kRefusalGrace = std::chrono::seconds(2);
}  // namespace

OperatorLink::OperatorLink(PeerConn& conn, OperatorTarget target, std::string operator_name)
    : conn_(conn), target_(std::move(target)), operator_name_(std::move(operator_name)) {}

OperatorLink::~OperatorLink() = default;

void OperatorLink::begin() {
  Context& ctx = conn_.context();
  started_ = std::chrono::steady_clock::now();
  // Only a key that itself guessed too often waits before the lookup; nobody else does.
  auto hold = ctx.guard.hold_key(conn_.fingerprint(), started_);
  if (hold.count() == 0) return resolve();
  record_rate_limit(hold, "key");
  delay_ = std::make_unique<boost::asio::steady_timer>(conn_.executor(), hold);
  std::weak_ptr<ssh::Conn> weak = conn_.shared_from_this();
  delay_->async_wait([this, weak](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec && !self->closing()) resolve();
  });
}

void OperatorLink::record_rate_limit(std::chrono::milliseconds delay, const char* by) {
  Context& ctx = conn_.context();
  spdlog::warn("rate limit ({}): operator {} fp={} from={} waits {} for its attempt on {}", by,
               operator_name_, conn_.fingerprint(), conn_.source_addr(), format_duration(delay),
               target_.display());
  ctx.store.post([detail = nlohmann::json{{"operator", operator_name_},
                                          {"fingerprint", conn_.fingerprint()},
                                          {"source_addr", conn_.source_addr()},
                                          {"target", target_.display()},
                                          {"by", by},
                                          {"delay_ms", delay.count()}},
                  fp = conn_.fingerprint(), when = utc_now()](store::Db& db) {
    db.add_event(store::events::kRateLimitHit, fp, detail, when);
  });
}

void OperatorLink::resolve() {
  Context& ctx = conn_.context();
  auto live = target_.session_id.empty() ? ctx.router.lookup_device(target_.device_name)
                                         : ctx.router.lookup_id(target_.session_id);
  bool permitted = false;
  if (live) {
    auto keys = ctx.keys();
    permitted = !live->enrolled || keys->grants.count({operator_name_, live->device_name}) > 0;
  }
  auto device = live && permitted ? live->device.lock() : nullptr;
  if (!device || device->conn().closing()) return refuse_uniformly();
  session_id_ = live->id;
  device_name_ = live->device_name;
  needs_consent_ = !live->enrolled || live->consent_prompt;
  move_to_device(std::move(device));
}

void OperatorLink::refuse_uniformly() {
  Context& ctx = conn_.context();
  auto now = std::chrono::steady_clock::now();
  auto penalty = ctx.guard.refusal_penalty(conn_.source_addr(), conn_.fingerprint(), now);
  ctx.guard.record_miss(conn_.source_addr(), conn_.fingerprint(), now);
  // Counted from the attempt's start: a hold already served (begin) is part of the penalty.
  auto answer_at = started_ + kUniformRefusalDelay + penalty;
  if (answer_at - now > kUniformRefusalDelay + std::chrono::milliseconds(1))
    record_rate_limit(std::chrono::duration_cast<std::chrono::milliseconds>(penalty), "refusal");
  spdlog::info("operator {} fp={} from={}: {} not available", operator_name_, conn_.fingerprint(),
               conn_.source_addr(), target_.display());
  ctx.store.post([detail = nlohmann::json{{"operator", operator_name_},
                                          {"fingerprint", conn_.fingerprint()},
                                          {"source_addr", conn_.source_addr()},
                                          {"target", target_.display()}},
                  fp = conn_.fingerprint(), when = utc_now()](store::Db& db) {
    db.add_event(store::events::kAttachRefused, fp, detail, when);
  });
  delay_ = std::make_unique<boost::asio::steady_timer>(conn_.executor(), answer_at);
  std::weak_ptr<ssh::Conn> weak = conn_.shared_from_this();
  delay_->async_wait([this, weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec || self->closing()) return;
    phase_ = Phase::kRefused;
    refusal_ = "session " + target_.display() +
               " is not available (it ended, never existed, or you may not join it)";
    fail_all(refusal_);
    self->wake();
  });
}

void OperatorLink::move_to_device(std::shared_ptr<DeviceTunnel> device) {
  phase_ = Phase::kMoving;
  device_ = device;
  conn_.move_to(device->conn().executor(), [this] { on_moved(); });
}

void OperatorLink::on_moved() {
  auto device = device_.lock();
  if (!device || device->conn().closing()) {
    phase_ = Phase::kRefused;
    refusal_ = "the device disconnected";
    return fail_all(refusal_);
  }
  phase_ = Phase::kAttached;
  record_attach();
  device->attach(this);
  spdlog::info("operator {} fp={} from={} attached to session {} ({})", operator_name_,
               conn_.fingerprint(), conn_.source_addr(), session_id_, mode_name(target_.mode));
  start_ready_channels();
}

ssh_channel OperatorLink::open_session_channel() {
  if (phase_ == Phase::kRefused || channels_.size() >= kMaxChannels) return nullptr;
  ssh_channel channel = ssh_channel_new(conn_.raw());
  if (!channel) return nullptr;
  channels_.push_back(std::make_unique<OperatorChannel>(*this, channel));
  return channel;
}

ssh_channel OperatorLink::open_forward(ssh_message message) {
  if (phase_ == Phase::kRefused || channels_.size() >= kMaxChannels ||
      target_.mode == AttachMode::kObserver)
    return nullptr;
  const char* host = ssh_message_channel_request_open_destination(message);
  int port = ssh_message_channel_request_open_destination_port(message);
  const char* origin = ssh_message_channel_request_open_originator(message);
  std::string h = host ? host : "";
  spdlog::debug("operator {} asks for {}:{}", operator_name_, h, port);
  if (h.empty() || h.size() > 255 || port < 0 || port > 65535) return nullptr;
  if (!agentless_service_exists(h, port)) return nullptr;
  ssh_channel channel = ssh_message_channel_request_open_reply_accept(message);
  if (!channel) return nullptr;
  ForwardRequest forward{h, port, origin ? origin : "127.0.0.1",
                         ssh_message_channel_request_open_originator_port(message)};
  channels_.push_back(std::make_unique<OperatorChannel>(*this, channel, std::move(forward)));
  channel_ready();
  return channel;
}

bool OperatorLink::agentless_service_exists(const std::string& host, int port) const {
  // Known only once attached; earlier requests are checked when they start.
  auto tunnel = phase_ == Phase::kAttached ? device_.lock() : nullptr;
  if (!tunnel || !tunnel->agentless() || tunnel->services().find(host, port)) return true;
  spdlog::info("operator {} fp={}: no service \"{}\" (port {}) on session {}; it offers {}",
               operator_name_, conn_.fingerprint(), host, port, session_id_,
               tunnel->services().describe());
  return false;
}

bool OperatorLink::may_request(SessionRequest::Kind kind) const {
  if (target_.mode == AttachMode::kObserver) return kind == SessionRequest::Kind::kShell;
  return true;
}

void OperatorLink::channel_ready() {
  if (phase_ == Phase::kAttached) conn_.wake();
  if (phase_ == Phase::kRefused) fail_all(refusal_);
}

void OperatorLink::start_ready_channels() {
  auto device = device_.lock();
  if (!device) return;
  for (auto& channel : channels_) {
    if (!channel->ready_to_start()) continue;
    std::string capability = channel->capability();
    if (denied_.count(capability)) {
      channel->fail("the device's user declined (" + capability + ")");
    } else if (!needs_consent_ || device->agentless() || allowed_.count(capability)) {
      channel->start(*device);
    } else if (!asked_.count(capability)) {
      asked_.insert(capability);
      device->request_consent(this, capability, channel->target_description());
    }
  }
}

void OperatorLink::consent_answer(const std::string& capability, bool allow,
                                  const std::string& why) {
  (allow ? allowed_ : denied_).insert(capability);
  asked_.erase(capability);
  if (!allow) {
    for (auto& channel : channels_)
      if (channel->ready_to_start() && channel->capability() == capability)
        channel->fail("refused: " + why);
  }
  start_ready_channels();
  conn_.wake();
}

void OperatorLink::service() {
  if (phase_ == Phase::kAttached) {
    start_ready_channels();
    for (auto& channel : channels_) channel->pump();
  }
  std::erase_if(channels_, [](const auto& channel) { return channel->done(); });
  if (phase_ == Phase::kRefused && channels_.empty()) linger_then_close();
}

void OperatorLink::linger_then_close() {
  // OpenSSH prints the refusal only once it has closed the channel itself; disconnecting at
  // once would lose the message. Let the client leave, or close after a short grace.
  if (lingering_) return;
  lingering_ = true;
  delay_ = std::make_unique<boost::asio::steady_timer>(conn_.executor(), kRefusalGrace);
  std::weak_ptr<ssh::Conn> weak = conn_.shared_from_this();
  delay_->async_wait([this, weak](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec && !self->closing()) self->close(refusal_);
  });
}

void OperatorLink::fail_all(const std::string& message) {
  for (auto& channel : channels_) channel->fail(message);
  conn_.wake();
}

void OperatorLink::device_gone(const std::string& why) {
  phase_ = Phase::kRefused;
  refusal_ = "the device disconnected (" + why + ")";
  for (auto& channel : channels_) channel->device_gone(why);
  record_detach("device disconnected: " + why);
  device_.reset();
  conn_.wake();
}

void OperatorLink::notice(const std::string& text) {
  for (auto& channel : channels_) channel->notice(text);
}

void OperatorLink::end_by_admin(const std::string& reason) {
  if (phase_ != Phase::kAttached) return;
  phase_ = Phase::kRefused;
  refusal_ = "session ended by the administrator";
  fail_all(refusal_);
  record_detach(reason);
  spdlog::info("operator {} fp={} removed from session {}: {}", operator_name_, conn_.fingerprint(),
               session_id_, reason);
}

void OperatorLink::on_closed(const std::string& reason) {
  if (delay_) delay_->cancel();
  for (auto& channel : channels_) channel->session_gone();
  if (phase_ == Phase::kAttached) {
    record_detach(reason);
    if (auto device = device_.lock()) device->detach(this);
  }
  channels_.clear();
  spdlog::info("operator {} fp={} left {}: {}", operator_name_, conn_.fingerprint(),
               target_.display(), reason);
}

nlohmann::json OperatorLink::audit_detail() const {
  return {{"session", session_id_},          {"device", device_name_},
          {"operator", operator_name_},      {"fingerprint", conn_.fingerprint()},
          {"mode", mode_name(target_.mode)}, {"source_addr", conn_.source_addr()},
          {"attachment", attachment_id_}};
}

void OperatorLink::record_attach() {
  Context& ctx = conn_.context();
  attachment_id_ = ctx.ids.attachments.next();
  attached_at_ = std::chrono::steady_clock::now();
  store::AttachmentStart row{
      attachment_id_,          session_id_,         operator_name_, conn_.fingerprint(),
      mode_name(target_.mode), conn_.source_addr(), utc_now()};
  ctx.store.post([row, detail = audit_detail()](store::Db& db) {
    db.insert_attachment(row);
    db.add_event(store::events::kOperatorAttached, row.operator_name, detail, row.started);
  });
}

void OperatorLink::record_detach(const std::string& reason) {
  if (attachment_id_ == 0 || detach_recorded_) return;
  detach_recorded_ = true;
  for (auto& channel : channels_) channel->record_end();
  auto detail = audit_detail();
  detail["reason"] = reason;
  detail["duration_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - attached_at_)
                              .count();
  conn_.context().store.post([id = attachment_id_, reason, detail, actor = operator_name_,
                              when = utc_now()](store::Db& db) {
    db.end_attachment(id, reason, when);
    db.add_event(store::events::kOperatorDetached, actor, detail, when);
  });
}

}  // namespace sb::relay
