#include "relay/operator/operator_link.hpp"

#include <spdlog/spdlog.h>

#include "common/logging.hpp"
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
// An attach to a session whose device is reconnecting after a blip waits this long for it,
// looking again every kHeldPoll, before it is told to try again.
constexpr auto kHeldWait = std::chrono::seconds(10);
constexpr auto kHeldPoll = std::chrono::milliseconds(200);

// What the guessing guard did to an attempt, for its log line ("" if nothing).
std::string rate_limit_text(std::chrono::milliseconds held, std::chrono::milliseconds penalty) {
  std::string text;
  if (held.count() > 0) text = "held " + format_duration(held) + " before the lookup";
  if (penalty.count() > 0)
    text += (text.empty() ? "" : ", ") + std::string("answered ") + format_duration(penalty) +
            " later than the uniform delay";
  return text.empty() ? text : "rate limit: " + text;
}
}  // namespace

OperatorLink::OperatorLink(PeerConn& conn, OperatorTarget target, std::string operator_name)
    : conn_(conn), target_(std::move(target)), operator_name_(std::move(operator_name)) {}

OperatorLink::~OperatorLink() = default;

void OperatorLink::begin() {
  Context& ctx = conn_.context();
  started_ = std::chrono::steady_clock::now();
  // Only a key that itself guessed too often waits before the lookup; nobody else does.
  held_ = ctx.guard.hold_key(conn_.fingerprint(), started_);
  if (held_.count() == 0) return resolve();
  delay_ = std::make_unique<boost::asio::steady_timer>(conn_.executor(), held_);
  std::weak_ptr<ssh::Conn> weak = conn_.shared_from_this();
  delay_->async_wait([this, weak](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec && !self->closing()) resolve();
  });
}

void OperatorLink::resolve() {
  Context& ctx = conn_.context();
  bool by_name = target_.session_id.empty();
  auto live = by_name ? ctx.router.lookup_device(target_.device_name)
                      : ctx.router.lookup_id(target_.session_id);
  if (!live) return refuse_uniformly(by_name ? "device not connected" : "unknown session ID");
  if (live->held) return wait_for_resume();
  auto keys = ctx.keys();
  if (live->enrolled && !keys->may_join(operator_name_, live->device_name))
    return refuse_uniformly("no grant for this device");
  auto device = live->device.lock();
  if (!device || device->conn().closing()) return refuse_uniformly("device disconnecting");
  session_id_ = live->id;
  device_name_ = live->device_name;
  needs_consent_ = !live->enrolled || live->consent_prompt;
  move_to_device(std::move(device));
}

void OperatorLink::wait_for_resume() {
  // The ID is real (held for its agent): this is no guess, so no miss is counted.
  if (std::chrono::steady_clock::now() - started_ >= kHeldWait) {
    phase_ = Phase::kRefused;
    refusal_ = "session " + target_.display() +
               ": the device is reconnecting after a network interruption; try the same "
               "session ID again in a moment";
    record_refusal("device reconnecting", std::chrono::milliseconds(0));
    fail_all(refusal_);
    conn_.wake();
    return;
  }
  if (!waiting_for_resume_) {
    waiting_for_resume_ = true;
    spdlog::info("operator {} fp={} from={} waits for session {}: its device is reconnecting",
                 operator_name_, conn_.fingerprint(), conn_.source_addr(), target_.display());
  }
  delay_ = std::make_unique<boost::asio::steady_timer>(conn_.executor(), kHeldPoll);
  std::weak_ptr<ssh::Conn> weak = conn_.shared_from_this();
  delay_->async_wait([this, weak](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec && !self->closing()) resolve();
  });
}

void OperatorLink::refuse_uniformly(const char* reason) {
  Context& ctx = conn_.context();
  auto now = std::chrono::steady_clock::now();
  auto penalty = ctx.guard.refusal_penalty(conn_.source_addr(), conn_.fingerprint(), now);
  ctx.guard.record_miss(conn_.source_addr(), conn_.fingerprint(), now);
  record_refusal(reason, std::chrono::duration_cast<std::chrono::milliseconds>(penalty));
  // Counted from the attempt's start: a hold already served (begin) is part of the penalty.
  delay_ = std::make_unique<boost::asio::steady_timer>(conn_.executor(),
                                                       started_ + kUniformRefusalDelay + penalty);
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

void OperatorLink::record_refusal(const std::string& reason, std::chrono::milliseconds penalty) {
  if (attempt_recorded_) return;
  attempt_recorded_ = true;
  Context& ctx = conn_.context();
  const std::string limited = rate_limit_text(held_, penalty);
  // A rate-limited refusal is its own kind of line, so the throttle never hides the first one.
  refused("attach", limited.empty() ? reason : reason + ", rate limited", limited);
  nlohmann::json detail{{"operator", operator_name_},
                        {"fingerprint", conn_.fingerprint()},
                        {"source_addr", conn_.source_addr()},
                        {"target", target_.display()},
                        {"reason", reason}};
  if (held_.count() > 0) detail["held_ms"] = held_.count();
  if (penalty.count() > 0) detail["penalty_ms"] = penalty.count();
  ctx.store.post([detail, fp = conn_.fingerprint(), when = utc_now()](store::Db& db) {
    db.add_event(store::events::kAttachRefused, fp, detail, when);
  });
}

void OperatorLink::refused(std::string_view what, std::string_view reason,
                           std::string detail) const {
  conn_.context().refusals.log({.what = what,
                                .reason = reason,
                                .target = target_.display(),
                                .fingerprint = conn_.fingerprint(),
                                .source = conn_.source_addr(),
                                .operator_name = operator_name_,
                                .detail = std::move(detail)});
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
    record_refusal("device disconnected while the operator joined", std::chrono::milliseconds(0));
    return fail_all(refusal_);
  }
  phase_ = Phase::kAttached;
  record_attach();
  device->attach(this);
  spdlog::info("operator {} fp={} from={} attached to session {} ({})", operator_name_,
               conn_.fingerprint(), conn_.source_addr(), session_id_, mode_name(target_.mode));
  start_ready_channels();
}

ssh::Channel* OperatorLink::open_session_channel() {
  if (!may_open_channel("channel")) return nullptr;
  ssh::Channel channel = ssh::Channel::create(conn_.session());
  if (!channel) {
    refused("channel", "could not create the channel");
    return nullptr;
  }
  channels_.push_back(std::make_unique<OperatorChannel>(*this, std::move(channel)));
  return &channels_.back()->channel();
}

bool OperatorLink::may_open_channel(std::string_view what) const {
  if (phase_ == Phase::kRefused) {
    refused(what, "the attach was refused or has ended");
    return false;
  }
  if (channels_.size() >= kMaxChannels) {
    refused(what, "channel cap reached", std::to_string(kMaxChannels) + " channels open");
    return false;
  }
  return true;
}

bool OperatorLink::open_forward(ssh::Message& message) {
  if (!may_open_channel("forward")) return false;
  if (target_.mode == AttachMode::kObserver) {
    refused("forward", "observers (+ro) may not forward");
    return false;
  }
  std::string h = message.destination();
  int port = message.destination_port();
  spdlog::debug("operator {} asks for {}:{}", operator_name_, h, port);
  if (h.empty() || h.size() > 255 || port < 0 || port > 65535) {
    refused("forward", "invalid destination",
            quote_log_text(h.substr(0, 64)) + " port " + std::to_string(port));
    return false;
  }
  if (!agentless_service_exists(h, port)) return false;
  ssh::Channel channel = message.accept_channel();
  if (!channel) {
    refused("forward", "could not accept the channel");
    return false;
  }
  std::string origin = message.originator();
  ForwardRequest forward{h, port, origin.empty() ? "127.0.0.1" : origin, message.originator_port()};
  channels_.push_back(
      std::make_unique<OperatorChannel>(*this, std::move(channel), std::move(forward)));
  channel_ready();
  return true;
}

bool OperatorLink::agentless_service_exists(const std::string& host, int port) const {
  // Known only once attached; earlier requests are checked when they start.
  auto tunnel = phase_ == Phase::kAttached ? device_.lock() : nullptr;
  if (!tunnel || !tunnel->agentless() || tunnel->services().find(host, port)) return true;
  refused("forward", "no such service on this device",
          quote_log_text(host) + " port " + std::to_string(port) + "; it offers " +
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
  each_channel([&](OperatorChannel& channel) {
    if (!channel.ready_to_start()) return;
    std::string capability = channel.capability();
    if (denied_.count(capability)) {
      channel.fail("the device's user declined (" + capability + ")");
    } else if (!needs_consent_ || device->agentless() || allowed_.count(capability)) {
      channel.start(*device);
    } else if (!asked_.count(capability)) {
      asked_.insert(capability);
      device->request_consent(this, capability, channel.target_description());
    }
  });
}

void OperatorLink::consent_answer(const std::string& capability, bool allow,
                                  const std::string& why) {
  (allow ? allowed_ : denied_).insert(capability);
  asked_.erase(capability);
  if (!allow) {
    each_channel([&](OperatorChannel& channel) {
      if (channel.ready_to_start() && channel.capability() == capability)
        channel.fail("refused: " + why);
    });
  }
  start_ready_channels();
  conn_.wake();
}

void OperatorLink::service() {
  if (phase_ == Phase::kAttached) {
    start_ready_channels();
    each_channel([](OperatorChannel& channel) { channel.pump(); });
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
  each_channel([&](OperatorChannel& channel) { channel.fail(message); });
  conn_.wake();
}

void OperatorLink::device_gone(const std::string& why) {
  phase_ = Phase::kRefused;
  refusal_ = "the device disconnected (" + why + ")";
  each_channel([&](OperatorChannel& channel) { channel.device_gone(why); });
  record_detach("device disconnected: " + why);
  device_.reset();
  conn_.wake();
}

void OperatorLink::notice(const std::string& text) {
  each_channel([&](OperatorChannel& channel) { channel.notice(text); });
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
  // Held by the guessing guard (or moving to its device) when the client left: the attempt
  // still gets its one record.
  record_refusal("connection closed before the answer", std::chrono::milliseconds(0));
  each_channel([](OperatorChannel& channel) { channel.session_gone(); });
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
  attempt_recorded_ = true;
  attachment_id_ = ctx.ids.attachments.next();
  attached_at_ = std::chrono::steady_clock::now();
  store::AttachmentStart row{
      attachment_id_,          session_id_,         operator_name_, conn_.fingerprint(),
      mode_name(target_.mode), conn_.source_addr(), utc_now()};
  auto detail = audit_detail();
  if (held_.count() > 0) detail["held_ms"] = held_.count();  // a guessing key that got in
  ctx.store.post([row, detail](store::Db& db) {
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
