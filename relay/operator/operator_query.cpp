#include "relay/operator/operator_query.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "relay/router/peer_conn.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxQueryChannels = 4;
constexpr std::size_t kMaxCommandShown = 1024;
// Answers are a few KB; a client that keeps the connection longer is not reading them.
constexpr auto kMaxLifetime = std::chrono::seconds(30);
constexpr std::size_t kMaxChunk = 32 * 1024;
}  // namespace

struct OperatorQuery::Channel {
  OperatorQuery* owner = nullptr;
  ssh_channel channel = nullptr;
  ssh_channel_callbacks_struct callbacks{};
  bool asked = false;  // exec or shell arrived
  QueryAnswer reply;
  std::size_t out_sent = 0;
  std::size_t err_sent = 0;
  bool status_sent = false;
  bool close_sent = false;
};

OperatorQuery::OperatorQuery(PeerConn& conn, std::string operator_name)
    : conn_(conn),
      operator_name_(std::move(operator_name)),
      started_(std::chrono::steady_clock::now()) {}

OperatorQuery::~OperatorQuery() {
  for (auto& c : channels_) {
    if (!c->channel) continue;
    ssh_remove_channel_callbacks(c->channel, &c->callbacks);
    ssh_channel_free(c->channel);
  }
}

ssh_channel OperatorQuery::open_channel() {
  if (channels_.size() >= kMaxQueryChannels) return nullptr;
  ssh_channel channel = ssh_channel_new(conn_.raw());
  if (!channel) return nullptr;
  auto c = std::make_unique<Channel>();
  c->owner = this;
  c->channel = channel;
  c->callbacks.userdata = c.get();
  c->callbacks.channel_pty_request_function = &OperatorQuery::on_pty;
  c->callbacks.channel_env_request_function = &OperatorQuery::on_env;
  c->callbacks.channel_shell_request_function = &OperatorQuery::on_shell;
  c->callbacks.channel_exec_request_function = &OperatorQuery::on_exec;
  c->callbacks.channel_subsystem_request_function = &OperatorQuery::on_subsystem;
  ssh_callbacks_init(&c->callbacks);
  ssh_set_channel_callbacks(channel, &c->callbacks);
  channels_.push_back(std::move(c));
  return channel;
}

int OperatorQuery::on_pty(ssh_session, ssh_channel, const char*, int, int, int, int, void*) {
  return SSH_ERROR;  // nothing here is interactive
}

int OperatorQuery::on_env(ssh_session, ssh_channel, const char*, const char*, void*) {
  return SSH_OK;  // accepted and ignored: the answers do not depend on the locale
}

int OperatorQuery::on_subsystem(ssh_session, ssh_channel, const char*, void*) {
  return SSH_ERROR;
}

int OperatorQuery::on_shell(ssh_session, ssh_channel, void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  if (c->asked) return SSH_ERROR;
  c->owner->answer(*c, "");  // a shell gets the usage text and exit status 2
  return SSH_OK;
}

int OperatorQuery::on_exec(ssh_session, ssh_channel, const char* command, void* userdata) {
  auto* c = static_cast<Channel*>(userdata);
  if (c->asked || !command) return SSH_ERROR;
  std::string text(command, strnlen(command, kMaxCommandShown + 1));
  c->owner->answer(
      *c, text.size() > kMaxCommandShown ? text.substr(0, kMaxCommandShown) + "..." : text);
  return SSH_OK;
}

void OperatorQuery::answer(Channel& c, const std::string& command) {
  c.asked = true;
  auto request = parse_query(command);
  if (request.verb == QueryRequest::Verb::kSessions) {
    c.reply = sessions_answer(request.json);
  } else {
    c.reply = unknown_query_answer(command);
    spdlog::info("operator {} fp={} from={}: relay query refused: {}", operator_name_,
                 conn_.fingerprint(), conn_.source_addr(),
                 command.empty() ? "(shell)" : command.substr(0, 80));
  }
  // The request's reply goes out when this callback returns; the answer follows in service().
  conn_.wake();
}

QueryAnswer OperatorQuery::sessions_answer(bool json) const {
  Context& ctx = conn_.context();
  auto devices = granted_devices(*ctx.keys(), operator_name_, [&](const std::string& name) {
    auto live = ctx.router.lookup_device(name);
    return live ? std::optional<std::string>(live->id) : std::nullopt;
  });
  spdlog::info("operator {} fp={} from={} listed its sessions ({} granted devices)", operator_name_,
               conn_.fingerprint(), conn_.source_addr(), devices.size());
  QueryAnswer reply{render_granted_devices(devices, json), "", 0};
  if (devices.empty() && !json)
    reply.err = "No device grants for operator '" + operator_name_ +
                "'. An admin grants one with: relay grant add " + operator_name_ + " DEVICE\n";
  if (devices.size() >= kMaxListedDevices)
    reply.err += "(only the first " + std::to_string(kMaxListedDevices) + " devices are listed)\n";
  return reply;
}

// Writes what the peer's window takes (never more: a short write would lose data), then
// exit-status, EOF and CLOSE.
bool OperatorQuery::flush(Channel& c) {
  if (!c.asked || ssh_channel_is_closed(c.channel)) return false;
  auto write_part = [&](const std::string& text, std::size_t& sent, bool is_stderr) {
    while (sent < text.size()) {
      std::size_t window = ssh_channel_window_size(c.channel);
      std::size_t n = std::min({text.size() - sent, window, kMaxChunk});
      if (n == 0) return false;
      int rc =
          is_stderr
              ? ssh_channel_write_stderr(c.channel, text.data() + sent, static_cast<uint32_t>(n))
              : ssh_channel_write(c.channel, text.data() + sent, static_cast<uint32_t>(n));
      if (rc < 0) {
        sent = text.size();  // the channel is gone; nothing more to say
        return true;
      }
      if (rc == 0) return false;
      sent += static_cast<std::size_t>(rc);
    }
    return true;
  };
  if (!write_part(c.reply.out, c.out_sent, false)) return false;
  if (!write_part(c.reply.err, c.err_sent, true)) return false;
  if (!c.status_sent) {
    ssh_channel_request_send_exit_status(c.channel, c.reply.exit_status);
    c.status_sent = true;
  }
  // ssh_channel_close may return SSH_AGAIN before queueing CLOSE (libssh 0.10): repeat it.
  if (!c.close_sent) c.close_sent = ssh_channel_close(c.channel) == SSH_OK;
  return c.close_sent;
}

void OperatorQuery::service() {
  for (auto& c : channels_) flush(*c);
  // Closed by us once answered, or by the client at any time.
  std::erase_if(channels_, [](const auto& c) {
    if (!ssh_channel_is_closed(c->channel)) return false;
    ssh_remove_channel_callbacks(c->channel, &c->callbacks);
    ssh_channel_free(c->channel);
    c->channel = nullptr;
    return true;
  });
}

void OperatorQuery::sweep(std::chrono::steady_clock::time_point now) {
  if (now - started_ > kMaxLifetime) conn_.close("relay query connection held too long");
}

void OperatorQuery::on_closed() {
  // libssh frees the channels with the session; only our callbacks must go first.
  for (auto& c : channels_) {
    if (c->channel) ssh_remove_channel_callbacks(c->channel, &c->callbacks);
    c->channel = nullptr;
  }
  channels_.clear();
}

}  // namespace sb::relay
