// The channel base (callbacks, close and free) and the two bounded pumps.
#include <errno.h>

#include <boost/asio/error.hpp>

#include "device-agent/chan_internal.hpp"

namespace sb::agent::detail {

std::size_t HostState::live_channels() const {
  return static_cast<std::size_t>(
      std::count_if(channels.begin(), channels.end(), [](const auto& c) { return c->live(); }));
}

HostedChannel::HostedChannel(std::shared_ptr<HostState> host, ssh_channel channel)
    : host_(std::move(host)), channel_(channel) {
  ssh_callbacks_init(&callbacks_);
  callbacks_.userdata = this;
  callbacks_.channel_data_function = &HostedChannel::on_data;
  callbacks_.channel_eof_function = &HostedChannel::on_eof;
  callbacks_.channel_close_function = &HostedChannel::on_close;
}

void HostedChannel::install_callbacks() {
  callbacks_installed_ = ssh_set_channel_callbacks(channel_, &callbacks_) == SSH_OK;
  if (!callbacks_installed_) want_close();
}

// Data stays in libssh's buffer (return 0): it is read when the destination can take it, and
// until then libssh stops growing the window. The flag saves a poll per channel per step.
int HostedChannel::on_data(ssh_session, ssh_channel, void*, uint32_t, int is_stderr, void* self) {
  auto* c = static_cast<HostedChannel*>(self);
  (is_stderr ? c->stderr_pending_ : c->input_pending_) = true;
  return 0;
}

void HostedChannel::on_eof(ssh_session, ssh_channel, void* self) {
  auto* c = static_cast<HostedChannel*>(self);
  c->remote_eof_ = true;
  c->input_pending_ = true;  // ssh_channel_poll reports SSH_EOF once the buffer is empty
}

// Only records: freeing here would never send our CLOSE (LIBSSH_NOTES §5.2).
void HostedChannel::on_close(ssh_session, ssh_channel, void* self) {
  auto* c = static_cast<HostedChannel*>(self);
  c->remote_closed_ = true;
  c->input_pending_ = true;
}

void HostedChannel::stop_local_once() {
  if (stopped_) return;
  stopped_ = true;
  stop_local();
}

void HostedChannel::sweep() {
  if (!channel_ || !closing()) return;
  stop_local_once();
  // Non-blocking close may return SSH_AGAIN before CLOSE was queued (§5.3): repeat on a later
  // step (pending output arms the tunnel's write wait, which runs one).
  if (ssh_channel_close(channel_) == SSH_AGAIN) return;
  // Callbacks first: a channel freed before the peer's CLOSE still fires them (§5.1).
  if (callbacks_installed_) ssh_remove_channel_callbacks(channel_, &callbacks_);
  ssh_channel_free(channel_);
  channel_ = nullptr;
}

void HostedChannel::abandon(bool session_alive) {
  stop_local_once();
  if (channel_ && session_alive && callbacks_installed_)
    ssh_remove_channel_callbacks(channel_, &callbacks_);
  channel_ = nullptr;  // libssh frees it with the session
}

void HostedChannel::kick() {
  if (host_->detached) return;
  auto keep = shared_from_this();
  if (channel_) step();
  host_->after_foreign_use();
  if (channel_ && (closing() || output_pending())) host_->wake();
}

// libssh sends only after its own poll saw the socket writable: what we just wrote may wait in
// its out-buffer, and only the tunnel's step arms the wait for writability.
bool HostedChannel::output_pending() const {
  ssh_session session = ssh_channel_get_session(channel_);
  return session && (ssh_get_poll_flags(session) & SSH_WRITE_PENDING);
}

bool OutPump::flush(ssh_channel channel) {
  while (begin_ < end_) {
    uint32_t window = ssh_channel_window_size(channel);
    if (window == 0) return true;  // a WINDOW_ADJUST will bring us back through service()
    auto n = static_cast<uint32_t>(std::min<std::size_t>(end_ - begin_, window));
    int rc = is_stderr_ ? ssh_channel_write_stderr(channel, buf_.data() + begin_, n)
                        : ssh_channel_write(channel, buf_.data() + begin_, n);
    if (rc < 0) {
      failed_ = true;
      return false;
    }
    if (rc == 0) return true;  // re-key in progress: libssh takes nothing; retried next step
    begin_ += static_cast<std::size_t>(rc);
  }
  return true;
}

boost::asio::mutable_buffer OutPump::start_read() {
  if (buf_.empty()) buf_.resize(kChunk);
  reading_ = true;
  return boost::asio::buffer(buf_);
}

void OutPump::on_read(const boost::system::error_code& ec, std::size_t n) {
  reading_ = false;
  if (!ec) {
    set_data(n);
    return;
  }
  if (ec == boost::asio::error::operation_aborted) return;
  eof_ = true;
  // A pty master reports EIO once every holder of the slave is gone: that is its EOF.
  bool clean = ec == boost::asio::error::eof || ec.value() == EIO;
  if (!clean) failed_ = true;
}

InPump::Fill InPump::fill(ssh_channel channel, bool* pending) {
  if (!*pending || !wants_fill()) return Fill::kNothing;
  int avail = ssh_channel_poll(channel, 0);
  if (avail == SSH_EOF) {
    eof_ = true;
    *pending = false;
    return Fill::kEof;
  }
  if (avail < 0) return Fill::kError;
  if (avail == 0) {
    *pending = false;
    return Fill::kNothing;
  }
  if (buf_.empty()) buf_.resize(kMax);
  auto want = static_cast<uint32_t>(std::min<std::size_t>(static_cast<std::size_t>(avail), kMax));
  int n = ssh_channel_read_nonblocking(channel, buf_.data(), want, 0);
  if (n == SSH_EOF) {
    eof_ = true;
    return Fill::kEof;
  }
  if (n < 0) return Fill::kError;
  len_ = static_cast<std::size_t>(n);
  return n > 0 ? Fill::kData : Fill::kNothing;
}

void discard_stderr(ssh_channel channel, bool* pending) {
  char sink[4096];
  for (int i = 0; i < 16; ++i) {
    if (ssh_channel_poll(channel, 1) <= 0) {
      *pending = false;
      return;
    }
    ssh_channel_read_nonblocking(channel, sink, sizeof sink, 1);
  }
}

}  // namespace sb::agent::detail
