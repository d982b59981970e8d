// The agentless half of DeviceTunnel: a device that is plain OpenSSH
// (`ssh -N -R screen:5900:localhost:5900 device@relay`). See device_tunnel.hpp.
#include <spdlog/spdlog.h>

#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/device/device_tunnel.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxClientBanner = 128;

std::string client_software(ssh_session session) {
  const char* banner = ssh_get_clientbanner(session);
  std::string text = banner ? std::string(banner).substr(0, kMaxClientBanner) : "";
  return valid_label(text) ? text : "";
}
}  // namespace

void DeviceTunnel::begin_agentless() {
  if (agentless_ || has_session()) return;
  agentless_ = true;
  info_["address"] = conn_.source_addr();
  info_["client"] = client_software(conn_.raw());
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
  ssh_string banner = ssh_string_from_char(text.c_str());
  if (banner) {
    ssh_send_issue_banner(conn_.raw(), banner);
    ssh_string_free(banner);
  }
}

bool DeviceTunnel::on_global_request(ssh_message message) {
  int subtype = ssh_message_subtype(message);
  if (subtype != SSH_GLOBAL_REQUEST_TCPIP_FORWARD &&
      subtype != SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD)
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
  return subtype == SSH_GLOBAL_REQUEST_TCPIP_FORWARD ? register_service(message)
                                                     : cancel_service(message);
}

bool DeviceTunnel::register_service(ssh_message message) {
  const char* address = ssh_message_global_request_address(message);
  int port = ssh_message_global_request_port(message);
  auto added = services_.add(address ? address : "", port);
  if (!added.service) {
    spdlog::warn("session {}: service refused fp={}: {}", session_id_, conn_.fingerprint(),
                 added.error);
    return false;
  }
  ssh_message_global_request_reply_success(message, static_cast<uint16_t>(added.service->port));
  spdlog::info("session {}: service {}:{} registered fp={}", session_id_, added.service->name,
               added.service->port, conn_.fingerprint());
  record_service_event(store::events::kServiceRegistered, *added.service);
  return true;
}

bool DeviceTunnel::cancel_service(ssh_message message) {
  const char* address = ssh_message_global_request_address(message);
  DeviceService service{address ? address : "", ssh_message_global_request_port(message)};
  if (!services_.remove(service.name, service.port)) return false;
  ssh_message_global_request_reply_success(message, 0);
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

int DeviceTunnel::on_pty(ssh_session, ssh_channel channel, const char*, int, int, int, int,
                         void* userdata) {
  auto* self = static_cast<DeviceTunnel*>(userdata);
  return self->agentless_ && channel == self->control_raw_ ? SSH_OK : SSH_ERROR;
}

int DeviceTunnel::on_shell(ssh_session, ssh_channel channel, void* userdata) {
  auto* self = static_cast<DeviceTunnel*>(userdata);
  if (!self->agentless_ || channel != self->control_raw_ || self->console_requested_)
    return SSH_ERROR;
  self->console_requested_ = true;
  self->conn_.wake();
  return SSH_OK;
}

std::string DeviceTunnel::console_text() const {
  return "switchboard: session ID " + format_session_id(session_id_) +
         (device_name_.empty() ? "" : " (device " + device_name_ + ")") +
         " - tell your helper this ID.\r\n" +
         "This device offers services only (no shell): " + services_.describe() + ".\r\n" +
         "Keep this window open while you are being helped; press Ctrl-C to end.\r\n";
}

void DeviceTunnel::service_console() {
  if (!console_requested_ || console_ended_ || !control_raw_) return;
  if (!console_shown_) {
    std::string text = console_text();
    ssh_channel_write(control_raw_, text.data(), static_cast<uint32_t>(text.size()));
    console_shown_ = true;
  }
  // Typed input only matters for Ctrl-C / Ctrl-D (with a pty, OpenSSH sends them as bytes).
  char buf[256];
  bool end = ssh_channel_is_eof(control_raw_);
  for (int n; (n = ssh_channel_read_nonblocking(control_raw_, buf, sizeof buf, 0)) > 0;)
    end = end || std::string_view(buf, static_cast<std::size_t>(n)).find_first_of("\x03\x04") !=
                     std::string_view::npos;
  if (!end) return;
  console_ended_ = true;
  spdlog::info("session {}: the device's user ended it from its terminal fp={}", session_id_,
               conn_.fingerprint());
  std::string bye = "switchboard: session ended.\r\n";
  ssh_channel_write(control_raw_, bye.data(), static_cast<uint32_t>(bye.size()));
  ssh_channel_request_send_exit_status(control_raw_, 0);
  ssh_channel_send_eof(control_raw_);
  ssh_channel_close(control_raw_);
}

void DeviceTunnel::send_keepalive() {
  // libssh 0.10 keeps one global request in flight: a non-blocking call either sends a
  // keepalive or collects the previous reply. Two calls per tick: collect, then send.
  ssh_send_keepalive(conn_.raw());
  ssh_send_keepalive(conn_.raw());
}

}  // namespace sb::relay
