// ChannelHost: accepts the channels the relay opens toward this agent and drives them from the
// tunnel's service step. See chan_internal.hpp for the rules everything here follows.
#include "device-agent/channel_host.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "device-agent/chan_internal.hpp"

namespace sb::agent {

namespace detail {

void HostState::watch_children() {
  if (sigchld || detached) return;
  sigchld.emplace(executor, SIGCHLD);
  arm_sigchld();
}

void HostState::arm_sigchld() {
  // The handler keeps the state alive; after close_all() the set is cancelled and gone.
  sigchld->async_wait([self = shared_from_this()](const boost::system::error_code& ec, int) {
    if (ec || self->detached || !self->sigchld) return;
    // Each channel waits for its own pid only: other children of this process are not ours.
    auto snapshot = self->channels;
    for (auto& c : snapshot) c->check_child();
    self->wake();
    self->arm_sigchld();
  });
}

}  // namespace detail

namespace {

using detail::HostState;

// Writing to a process's stdin after it closed it raises SIGPIPE, which would kill the whole
// agent. Only the default disposition is replaced (an embedding program's choice is kept); the
// child resets every signal before exec.
void ignore_sigpipe() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
    ::signal(SIGPIPE, SIG_IGN);
}

std::string default_shell() {
  const char* shell = std::getenv("SHELL");
  return shell && *shell ? shell : "/bin/sh";
}

}  // namespace

struct ChannelHost::Impl {
  std::shared_ptr<HostState> state;
  bool installed = false;
  bool closed = false;

  bool accepting() const {
    return !closed && !state->detached && state->live_channels() < state->policy.max_channels;
  }

  // A session channel: its callbacks answer its requests synchronously.
  ssh::Channel* on_session_open() {
    if (!accepting()) return nullptr;  // libssh refuses the open
    ssh::Channel channel = ssh::Channel::create(state->conn.session());
    if (!channel) return nullptr;
    state->channels.push_back(detail::make_session_channel(state, std::move(channel)));
    return &state->channels.back()->channel();
  }

  // direct-tcpip arrives as a message (0.10.6 has no callback for it). False: libssh sends
  // its default refusal; true: handled. The message is freed when we return.
  bool on_message(ssh::Message& msg) {
    if (msg.kind() != ssh::Message::Kind::kDirectTcpip || !accepting()) return false;
    std::string host = msg.destination();
    int port = msg.destination_port();
    std::string why;
    auto target = detail::route_forward(state->policy, host, port, &why);
    if (!target) {
      spdlog::info("refused forward to {}:{}: {}", host, port, why);
      return false;
    }
    ssh::Channel channel = msg.accept_channel();
    if (!channel) return true;  // the reply failed; libssh has nothing left to send
    state->channels.push_back(
        detail::make_forward_channel(state, std::move(channel), std::move(*target)));
    return true;
  }
};

ChannelHost::ChannelHost(ssh::Conn& conn, boost::asio::any_io_executor executor,
                         ChannelPolicy policy)
    : impl_(std::make_unique<Impl>()) {
  if (policy.shell.empty()) policy.shell = default_shell();
  ignore_sigpipe();
  impl_->state = std::make_shared<HostState>(conn, std::move(executor), std::move(policy));
}

ChannelHost::~ChannelHost() {
  close_all();
}

void ChannelHost::install() {
  if (impl_->closed || impl_->installed) return;
  impl_->installed = true;
  ssh::ServerEvents events;
  events.open_session = [impl = impl_.get()] { return impl->on_session_open(); };
  events.message = [impl = impl_.get()](ssh::Message& msg) { return impl->on_message(msg); };
  impl_->state->conn.listen(std::move(events));
}

void ChannelHost::service() {
  auto& state = *impl_->state;
  if (impl_->closed || state.detached) return;
  // A snapshot: hidden pumping inside a step may open new channels (appended to the list).
  auto snapshot = state.channels;
  for (auto& c : snapshot) c->step();
  for (auto& c : snapshot) c->sweep();
  std::erase_if(state.channels, [](const auto& c) { return c->done(); });
}

void ChannelHost::close_all() {
  if (impl_->closed) return;
  impl_->closed = true;
  auto& state = *impl_->state;
  state.detached = true;
  // The tunnel's session outlives this call (the Conn frees it after on_closed, or after its
  // subclass, which owns us, is gone), so callbacks can still be removed.
  for (auto& c : state.channels) c->abandon();
  state.channels.clear();
  state.sigchld.reset();  // cancels the wait; its handler sees detached
  // Without functions libssh just refuses what still arrives until the session is freed.
  if (impl_->installed) state.conn.stop_listening();
}

std::size_t ChannelHost::open_channels() const {
  return impl_->state->live_channels();
}

}  // namespace sb::agent
