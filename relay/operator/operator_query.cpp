#include "relay/operator/operator_query.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/names.hpp"

#include "relay/router/peer_conn.hpp"

namespace sb::relay {

namespace {
constexpr std::size_t kMaxQueryChannels = 4;
constexpr std::size_t kMaxCommandShown = 1024;
// Answers are a few KB; a client that keeps the connection longer is not reading them.
constexpr auto kMaxLifetime = std::chrono::seconds(30);
constexpr std::size_t kMaxChunk = 32 * 1024;
}  // namespace

struct OperatorQuery::QueryChannel {
  ssh::Channel channel;
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

// Each channel's destructor removes its callbacks, then frees it.
OperatorQuery::~OperatorQuery() = default;

ssh::Channel* OperatorQuery::open_channel() {
  if (channels_.size() >= kMaxQueryChannels) {
    refused("channel", "channel cap reached");
    return nullptr;
  }
  ssh::Channel channel = ssh::Channel::create(conn_.session());
  if (!channel) {
    refused("channel", "could not create the channel");
    return nullptr;
  }
  auto c = std::make_unique<QueryChannel>();
  c->channel = std::move(channel);
  QueryChannel* q = c.get();
  c->channel.listen({
      .pty =
          [this](const ssh::PtyRequest&) { return refused("pty", "nothing here is interactive"); },
      .shell = [this, q] { return on_shell(*q); },
      .exec = [this, q](std::string_view command) { return on_exec(*q, command); },
      // Accepted and ignored: the answers do not depend on the locale.
      .env = [](std::string_view, std::string_view) { return true; },
      .subsystem = [this](std::string_view) { return refused("subsystem", "no subsystems here"); },
  });
  channels_.push_back(std::move(c));
  return &q->channel;
}

bool OperatorQuery::refused(std::string_view what, std::string_view reason) const {
  conn_.context().refusals.log({.what = what,
                                .reason = reason,
                                .target = kRelayQueryUser,
                                .fingerprint = conn_.fingerprint(),
                                .source = conn_.source_addr(),
                                .operator_name = operator_name_});
  return false;
}

bool OperatorQuery::on_shell(QueryChannel& c) {
  if (c.asked) return refused("shell", "the channel already made its session request");
  answer(c, "");  // a shell gets the usage text and exit status 2
  return true;
}

bool OperatorQuery::on_exec(QueryChannel& c, std::string_view command) {
  if (c.asked) return refused("exec", "the channel already made its session request");
  std::string text(command.substr(0, kMaxCommandShown + 1));
  answer(c, text.size() > kMaxCommandShown ? text.substr(0, kMaxCommandShown) + "..." : text);
  return true;
}

void OperatorQuery::answer(QueryChannel& c, const std::string& command) {
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
bool OperatorQuery::flush(QueryChannel& c) {
  if (!c.asked || c.channel.is_closed()) return false;
  auto write_part = [&](const std::string& text, std::size_t& sent, bool is_stderr) {
    while (sent < text.size()) {
      std::size_t window = c.channel.window();
      std::size_t n = std::min({text.size() - sent, window, kMaxChunk});
      if (n == 0) return false;
      std::string_view part(text.data() + sent, n);
      ssh::Io written = is_stderr ? c.channel.write_stderr(part) : c.channel.write(part);
      if (written.error) {
        sent = text.size();  // the channel is gone; nothing more to say
        return true;
      }
      if (written.bytes == 0) return false;
      sent += written.bytes;
    }
    return true;
  };
  if (!write_part(c.reply.out, c.out_sent, false)) return false;
  if (!write_part(c.reply.err, c.err_sent, true)) return false;
  if (!c.status_sent) {
    c.channel.send_exit_status(c.reply.exit_status);
    c.status_sent = true;
  }
  // A close may return kAgain before queueing CLOSE (libssh 0.10): repeat it.
  if (!c.close_sent) c.close_sent = c.channel.close() == ssh::Rc::kOk;
  return c.close_sent;
}

void OperatorQuery::service() {
  // By index: a write may pump the session, and a channel opened in that pump is appended.
  for (std::size_t i = 0; i < channels_.size(); ++i) flush(*channels_[i]);
  // Closed by us once answered, or by the client at any time; the channel's destructor
  // removes its callbacks, then frees it.
  std::erase_if(channels_, [](const auto& c) { return c->channel.is_closed(); });
}

void OperatorQuery::sweep(std::chrono::steady_clock::time_point now) {
  if (now - started_ > kMaxLifetime) conn_.close("relay query connection held too long");
}

void OperatorQuery::on_closed() {
  // libssh frees the channels with the session; only our callbacks must go first.
  for (auto& c : channels_) c->channel.abandon();
  channels_.clear();
}

}  // namespace sb::relay
