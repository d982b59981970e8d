// ChannelHost: accepts the channels the relay opens toward this agent and drives them from the
// tunnel's service step. See chan_internal.hpp for the rules everything here follows.
#include "device-agent/channel_host.hpp"

#include <spdlog/spdlog.h>

#include "device-agent/chan_internal.hpp"

namespace sb::agent {

namespace detail {

void HostState::watch_children() {
  if (child_watch || detached) return;
  // The watch keeps the state alive while it waits; close_all() ends it.
  child_watch.emplace(executor, [self = shared_from_this()] { self->check_children(); });
}

void HostState::check_children() {
  if (detached) return;
  // Each channel waits for its own process only: other children of this process are not ours.
  auto snapshot = channels;
  for (auto& c : snapshot) c->check_child();
  wake();
}

}  // namespace detail

namespace {

using detail::HostState;

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
  if (policy.shell.empty()) policy.shell = platform::default_shell();
  platform::ignore_broken_pipes();
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
  state.child_watch.reset();  // cancels the wait; its handler sees detached
  // Without functions libssh just refuses what still arrives until the session is freed.
  if (impl_->installed) state.conn.stop_listening();
}

std::size_t ChannelHost::open_channels() const {
  return impl_->state->live_channels();
}

}  // namespace sb::agent
