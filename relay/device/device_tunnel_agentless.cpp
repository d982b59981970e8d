// The agentless half of DeviceTunnel: a device that is plain OpenSSH
// (`ssh -N -R screen:5900:localhost:5900 device@relay`). See device_tunnel.hpp.
#include <spdlog/spdlog.h>

#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/device/device_tunnel.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxClientBanner = 128;

std::string client_software(ssh::SessionRef session) {
  std::string text = session.client_banner().substr(0, kMaxClientBanner);
  return valid_label(text) ? text : "";
}
}  // namespace

void DeviceTunnel::begin_agentless() {
  if (agentless_ || has_session()) return;
  agentless_ = true;
  info_["address"] = conn_.source_addr();
  info_["client"] = client_software(conn_.session());
  info_["agentless"] = true;
  auto keys = conn_.context().keys();
  auto known = keys->device_by_fingerprint.find(conn_.fingerprint());
  bool enrolled = known != keys->device_by_fingerprint.end();
  issue_session(enrolled ? known->second : "", enrolled ? "enrolled" : "adhoc");
  // OpenSSH prints userauth banners on stderr (unless LogLevel is below INFO), so `ssh -N -R`
  // shows the ID the user reads out to the helper.
  std::string text =
      "switchboard: " + (enrolled ? "device " + device_name_ + ", " : std::string()) +
      "session ID " + format_session_id(session_id_) +
      " - services only; tell your helper this ID\r\n";
  conn_.session().send_issue_banner(text);
}

bool DeviceTunnel::on_global_request(ssh::Message& message) {
  ssh::Message::Kind kind = message.kind();
  if (kind != ssh::Message::Kind::kTcpipForward && kind != ssh::Message::Kind::kCancelTcpipForward)
    return false;
  if (subsystem_ok_) {
    spdlog::warn(
        "session {}: agent device fp={} asked for tcpip-forward: refused (the agent "
        "offers its services itself)",
        session_id_, conn_.fingerprint());
    return false;
  }
  // A libssh client that is not our agent never got a banner: its first service starts it.
  if (!agentless_) begin_agentless();
  return kind == ssh::Message::Kind::kTcpipForward ? register_service(message)
                                                   : cancel_service(message);
}

bool DeviceTunnel::register_service(ssh::Message& message) {
  auto added = services_.add(message.bind_address(), message.bind_port());
  if (!added.service) {
    spdlog::warn("session {}: service refused fp={}: {}", session_id_, conn_.fingerprint(),
                 added.error);
    return false;
  }
  message.reply_success(static_cast<std::uint16_t>(added.service->port));
  spdlog::info("session {}: service {}:{} registered fp={}", session_id_, added.service->name,
               added.service->port, conn_.fingerprint());
  record_service_event(store::events::kServiceRegistered, *added.service);
  return true;
}

bool DeviceTunnel::cancel_service(ssh::Message& message) {
  DeviceService service{message.bind_address(), message.bind_port()};
  if (!services_.remove(service.name, service.port)) return false;
  message.reply_success(0);
  spdlog::info("session {}: service {}:{} withdrawn fp={}", session_id_, service.name, service.port,
               conn_.fingerprint());
  record_service_event(store::events::kServiceWithdrawn, service);
  return true;
}

void DeviceTunnel::record_service_event(const store::EventKind& kind,
                                        const DeviceService& service) {
  nlohmann::json detail{{"session", session_id_},
                        {"device", device_name_},
                        {"fingerprint", conn_.fingerprint()},
                        {"service", service.name},
                        {"port", service.port}};
  conn_.context().store.post(
      [kind, detail, when = utc_now()](store::Db& db) { db.add_event(kind, "", detail, when); });
}

bool DeviceTunnel::on_shell() {
  if (!agentless_ || console_requested_) return false;
  console_requested_ = true;
  conn_.wake();
  return true;
}

std::string DeviceTunnel::console_text() const {
  return "switchboard: session ID " + format_session_id(session_id_) +
         (device_name_.empty() ? "" : " (device " + device_name_ + ")") +
         " - tell your helper this ID.\r\n" +
         "This device offers services only (no shell): " + services_.describe() + ".\r\n" +
         "Keep this window open while you are being helped; press Ctrl-C to end.\r\n";
}

void DeviceTunnel::service_console() {
  if (!console_requested_ || console_ended_ || !control_channel_) return;
  if (!console_shown_) {
    control_channel_.write(console_text());
    console_shown_ = true;
  }
  // Typed input only matters for Ctrl-C / Ctrl-D (with a pty, OpenSSH sends them as bytes).
  char buf[256];
  bool end = control_channel_.is_eof();
  for (std::size_t n; (n = control_channel_.read(buf).bytes) > 0;)
    end = end || std::string_view(buf, n).find_first_of("\x03\x04") != std::string_view::npos;
  if (!end) return;
  console_ended_ = true;
  spdlog::info("session {}: the device's user ended it from its terminal fp={}", session_id_,
               conn_.fingerprint());
  control_channel_.write("switchboard: session ended.\r\n");
  control_channel_.send_exit_status(0);
  control_channel_.send_eof();
  control_channel_.close();
}

void DeviceTunnel::send_keepalive() {
  // libssh 0.10 keeps one global request in flight: a non-blocking call either sends a
  // keepalive or collects the previous reply. Two calls per tick: collect, then send.
  conn_.session().send_keepalive();
  conn_.session().send_keepalive();
}

}  // namespace sb::relay
