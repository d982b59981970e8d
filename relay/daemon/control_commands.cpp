#include "relay/daemon/control_commands.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "common/json_field.hpp"
#include "common/names.hpp"
#include "common/util.hpp"
#include "relay/device/device_tunnel.hpp"
#include "relay/device/held_sessions.hpp"

namespace sb::relay {

namespace asio = boost::asio;
using nlohmann::json;
using Reply = ControlServer::Reply;

namespace {

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
  if (!device && op.empty()) {
    // Held for its agent after a blip: no tunnel to close, the session just ends.
    if (auto held = ctx.router.drop_held(*id)) {
      json detail{{"session", *id}, {"device", ""}, {"by", *by}};
      ctx.store.post([detail, by = *by, when = utc_now()](store::Db& db) {
        db.add_event(store::events::kSessionKilled, "admin:" + by, detail, when);
      });
      end_held_sessions(ctx.store, {*held}, "killed by admin:" + *by);
      return reply({{"ok", true}, {"session", *id}, {"operators", json::array()}});
    }
  }
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

// Closes the device's live tunnel, if it has one. After a revocation the key snapshot already
// refuses its key (disconnect_device reloaded it), so the agent cannot slip back in.
void close_device(Context& ctx, const std::string& name, bool revoked, const std::string& by,
                  const Reply& reply) {
  auto id = ctx.router.session_of_device(name);
  auto device = id ? live_device(ctx, *id) : nullptr;
  if (!device) return reply({{"ok", true}, {"closed", false}});
  if (revoked && ctx.keys()->revoked_by_fingerprint.count(device->conn().fingerprint()) == 0)
    spdlog::warn("device {} fp={}: its key is not marked revoked in the store; closing it anyway",
                 name, device->conn().fingerprint());
  const std::string reason = (revoked ? "revoked by admin:" : "disconnected by admin:") + by;
  const std::string told = revoked ? "this device was revoked by the administrator"
                                   : "disconnected by the administrator";
  asio::post(device->conn().executor(), [device, reason, told, reply] {
    if (device->conn().closing()) return reply({{"ok", true}, {"closed", false}});
    std::string session = device->session_id();
    auto ended = device->end_by_admin(reason, told);
    reply({{"ok", true}, {"closed", true}, {"session", session}, {"operators", ended}});
  });
}

// Answers once every reactor sees a snapshot read after the request arrived: the store's
// writer reads it and hands it to Context::set_keys before it calls back. Never blocks here.
// With `then`, that runs on the control socket's reactor instead, even if the read failed.
void reload_keys(Context& ctx, boost::asio::any_io_executor executor,
                 std::function<void(const Reply&)> then, const Reply& reply) {
  ctx.store.refresh_keys(
      [executor, then = std::move(then), reply](std::shared_ptr<const store::KeySnapshot> keys) {
        if (then) {
          asio::post(executor, [then, reply] { then(reply); });
        } else if (!keys) {
          reply(error("the relay could not read the keys from its database; see its log"));
        } else {
          reply({{"ok", true}, {"keys_version", keys->version}});
        }
      });
}

void disconnect_device(const ControlTargets& targets, const json& request, const Reply& reply) {
  auto by = requester(request);
  if (!by) return reply(error("\"by\" must name the admin (1-64 printable characters)"));
  std::string name = string_field(request, "device");
  if (!valid_name(name)) return reply(error("invalid device name '" + name + "'"));
  Context& ctx = targets.ctx;
  if (string_field(request, "reason") != "revoked")
    return close_device(ctx, name, false, *by, reply);
  // The CLI has committed the revocation: the snapshot refuses the key before the tunnel closes.
  reload_keys(
      ctx, targets.executor,
      [&ctx, name, by = *by](const Reply& done) { close_device(ctx, name, true, by, done); },
      reply);
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
    if (cmd == "keys.reload") return reload_keys(targets.ctx, targets.executor, nullptr, reply);
    reply(error("unknown command '" + cmd.substr(0, 64) + "'"));
  };
}

}  // namespace sb::relay
