// ChannelHost: accepts the channels the relay opens toward this agent and drives them from the
// tunnel's service step. See chan_internal.hpp for the rules everything here follows.
#include "device-agent/channel_host.hpp"

#include <libssh/server.h>
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

// Installed when we let go of a session that stays alive a little longer (ssh_disconnect):
// without functions libssh just refuses what still arrives.
ssh_server_callbacks_struct* no_server_callbacks() {
  static ssh_server_callbacks_struct cb = [] {
    ssh_server_callbacks_struct c{};
    ssh_callbacks_init(&c);
    return c;
  }();
  return &cb;
}

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
  ssh_session session = nullptr;
  ssh_server_callbacks_struct server_callbacks{};
  bool closed = false;

  bool accepting() const {
    return !closed && !state->detached && state->live_channels() < state->policy.max_channels;
  }

  // A session channel: the callbacks answer its requests synchronously.
  static ssh_channel on_session_open(ssh_session session, void* p) {
    auto* impl = static_cast<Impl*>(p);
    if (!impl->accepting()) return nullptr;  // libssh refuses the open
    ssh_channel channel = ssh_channel_new(session);
    if (!channel) return nullptr;
    impl->state->channels.push_back(detail::make_session_channel(impl->state, channel));
    return channel;
  }

  // direct-tcpip arrives as a message (0.10.6 has no callback for it). Return 1: libssh sends
  // its default refusal; 0: handled. The message is freed when we return.
  static int on_message(ssh_session, ssh_message msg, void* p) {
    auto* impl = static_cast<Impl*>(p);
    if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
        ssh_message_subtype(msg) != SSH_CHANNEL_DIRECT_TCPIP || !impl->accepting())
      return 1;
    const char* host = ssh_message_channel_request_open_destination(msg);
    int port = ssh_message_channel_request_open_destination_port(msg);
    std::string why;
    auto target = detail::route_forward(impl->state->policy, host ? host : "", port, &why);
    if (!target) {
      spdlog::info("refused forward to {}:{}: {}", host ? host : "", port, why);
      return 1;
    }
    ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg);
    if (!channel) return 0;  // the reply failed; libssh has nothing left to send
    impl->state->channels.push_back(
        detail::make_forward_channel(impl->state, channel, std::move(*target)));
    return 0;
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

void ChannelHost::install(ssh_session session) {
  if (impl_->closed || impl_->session) return;
  impl_->session = session;
  auto& cb = impl_->server_callbacks;
  ssh_callbacks_init(&cb);
  cb.userdata = impl_.get();
  cb.channel_open_request_session_function = &Impl::on_session_open;
  ssh_set_server_callbacks(session, &cb);
  ssh_set_message_callback(session, &Impl::on_message, impl_.get());
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
  bool session_alive = impl_->session != nullptr;
  for (auto& c : state.channels) c->abandon(session_alive);
  state.channels.clear();
  state.sigchld.reset();  // cancels the wait; its handler sees detached
  if (session_alive) {
    ssh_set_message_callback(impl_->session, nullptr, nullptr);
    ssh_set_server_callbacks(impl_->session, no_server_callbacks());
  }
}

std::size_t ChannelHost::open_channels() const {
  return impl_->state->live_channels();
}

}  // namespace sb::agent
