#include "relay/daemon/control_commands.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/json_field.hpp"
#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/device/device_tunnel.hpp"

namespace sb::relay {

namespace asio = boost::asio;
using nlohmann::json;
using Reply = ControlServer::Reply;

namespace {

// How long device.disconnect waits for the key snapshot to show a revoked key (the store polls
// every 500 ms) before it closes the tunnel, so that a reconnect is refused.
constexpr auto kRevokeWait = std::chrono::seconds(3);
constexpr auto kRevokePoll = std::chrono::milliseconds(20);

json error(const std::string& message) {
  return {{"ok", false}, {"error", message}};
}

// The admin's user name, as the CLI reported it (it is written to the audit trail).
std::optional<std::string> requester(const json& request) {
  std::string by = string_field(request, "by");
  if (by.empty() || by.size() > 64 || !valid_label(by, 64)) return std::nullopt;
  return by;
}

std::shared_ptr<DeviceTunnel> live_device(Context& ctx, const std::string& session_id) {
  return ctx.router.find(session_id);
}

void kill_session(Context& ctx, const json& request, const Reply& reply) {
  auto by = requester(request);
  if (!by) return reply(error("\"by\" must name the admin (1-64 printable characters)"));
  auto id = parse_session_id(string_field(request, "session"));
  if (!id) return reply(error("\"session\" must be a nine-digit session ID"));
  std::string op = string_field(request, "operator");
  if (!op.empty() && !valid_name(op)) return reply(error("invalid operator name '" + op + "'"));
  auto device = live_device(ctx, *id);
  if (!device) return reply(error("session " + *id + " is not live"));
  asio::post(device->conn().executor(), [&ctx, device, id = *id, op, by = *by, reply] {
    if (device->conn().closing()) return reply(error("session " + id + " is not live"));
    const std::string reason = "killed by admin:" + by;
    json detail{{"session", id}, {"device", device->device_name()}, {"by", by}};
    if (!op.empty()) detail["operator"] = op;
    if (!op.empty()) {
      if (device->end_operator_by_admin(op, reason) == 0)
        return reply(error("operator " + op + " is not attached to session " + id));
      ctx.store.post([detail, by, when = utc_now()](store::Db& db) {
        db.add_event(store::events::kSessionKilled, "admin:" + by, detail, when);
      });
      device->conn().wake();
      return reply({{"ok", true}, {"session", id}, {"operators", json::array({op})}});
    }
    ctx.store.post([detail, by, when = utc_now()](store::Db& db) {
      db.add_event(store::events::kSessionKilled, "admin:" + by, detail, when);
    });
    auto ended = device->end_by_admin(reason, "session ended by the administrator");
    reply({{"ok", true}, {"session", id}, {"operators", ended}});
  });
}

// Closes a device's live tunnel once the key snapshot refuses its key (or the wait is over).
void close_when_refused(Context& ctx, std::shared_ptr<asio::steady_timer> timer,
                        std::shared_ptr<DeviceTunnel> device, std::string reason, std::string told,
                        std::chrono::steady_clock::time_point deadline, Reply reply) {
  bool refused = ctx.keys()->revoked_by_fingerprint.count(device->conn().fingerprint()) > 0;
  if (!refused && std::chrono::steady_clock::now() < deadline) {
    timer->expires_after(kRevokePoll);
    timer->async_wait(
        [&ctx, timer, device, reason, told, deadline, reply](const boost::system::error_code& ec) {
          if (!ec) close_when_refused(ctx, timer, device, reason, told, deadline, reply);
        });
    return;
  }
  if (!refused)
    spdlog::warn("device {}: its key is not marked revoked in the store; closing it anyway",
                 device->conn().fingerprint());
  asio::post(device->conn().executor(), [device, reason, told, reply] {
    if (device->conn().closing()) return reply({{"ok", true}, {"closed", false}});
    std::string session = device->session_id();
    auto ended = device->end_by_admin(reason, told);
    reply({{"ok", true}, {"closed", true}, {"session", session}, {"operators", ended}});
  });
}

void disconnect_device(const ControlTargets& targets, const json& request, const Reply& reply) {
  auto by = requester(request);
  if (!by) return reply(error("\"by\" must name the admin (1-64 printable characters)"));
  std::string name = string_field(request, "device");
  if (!valid_name(name)) return reply(error("invalid device name '" + name + "'"));
  const bool revoked = string_field(request, "reason") == "revoked";
  Context& ctx = targets.ctx;
  auto id = ctx.router.session_of_device(name);
  auto device = id ? live_device(ctx, *id) : nullptr;
  if (!device) return reply({{"ok", true}, {"closed", false}});
  const std::string reason = (revoked ? "revoked by admin:" : "disconnected by admin:") + *by;
  const std::string told = revoked ? "this device was revoked by the administrator"
                                   : "disconnected by the administrator";
  auto deadline = std::chrono::steady_clock::now() + (revoked ? kRevokeWait : kRevokeWait * 0);
  close_when_refused(ctx, std::make_shared<asio::steady_timer>(targets.executor), device, reason,
                     told, deadline, reply);
}

void purge_keys(const ControlTargets& targets, const json& request, const Reply& reply) {
  auto by = requester(request);
  if (!by) return reply(error("\"by\" must name the admin (1-64 printable characters)"));
  Context& ctx = targets.ctx;
  targets.check_all_tunnels([&ctx, by = *by, reply](int tunnels_closed) {
    bool posted = ctx.store.post([by, tunnels_closed, reply](store::Db& db) {
      const Time when = utc_now();
      int keys = db.purge_orphan_tunnel_keys(when);
      db.add_event(store::events::kJanitorPurge, "admin:" + by,
                   {{"by", by},
                    {"reason", "relay keys purge"},
                    {"tunnels_closed", tunnels_closed},
                    {"keys_purged", keys}},
                   when);
      db.after_commit([reply, tunnels_closed, keys] {
        reply({{"ok", true}, {"tunnels_closed", tunnels_closed}, {"keys_purged", keys}});
      });
    });
    if (!posted) reply(error("the relay's store queue is full; try again"));
  });
}

}  // namespace

ControlServer::Handler make_control_handler(ControlTargets targets) {
  return [targets](const json& request, Reply reply) {
    const std::string cmd = string_field(request, "cmd");
    spdlog::info("control socket: {} by {}", cmd, string_field(request, "by"));
    if (cmd == "ping") return reply({{"ok", true}, {"live_sessions", targets.ctx.router.live()}});
    if (cmd == "session.kill") return kill_session(targets.ctx, request, reply);
    if (cmd == "device.disconnect") return disconnect_device(targets, request, reply);
    if (cmd == "keys.purge") return purge_keys(targets, request, reply);
    reply(error("unknown command '" + cmd.substr(0, 64) + "'"));
  };
}

}  // namespace sb::relay
