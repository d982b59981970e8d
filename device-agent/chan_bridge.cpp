// The channel base (callbacks, close and free) and the two bounded pumps.
#include <boost/asio/error.hpp>

#include "device-agent/chan_internal.hpp"

namespace sb::agent::detail {

std::size_t HostState::live_channels() const {
  return static_cast<std::size_t>(
      std::count_if(channels.begin(), channels.end(), [](const auto& c) { return c->live(); }));
}

HostedChannel::HostedChannel(std::shared_ptr<HostState> host, ssh::Channel channel)
    : host_(std::move(host)), channel_(std::move(channel)) {}

void HostedChannel::install_callbacks(ssh::ChannelEvents events) {
  // Data stays in libssh's buffer (0 consumed): it is read when the destination can take it,
  // and until then libssh stops growing the window. The flag saves a poll per channel per step.
  events.data = [this](std::string_view, bool is_stderr) -> std::size_t {
    (is_stderr ? stderr_pending_ : input_pending_) = true;
    return 0;
  };
  events.eof = [this] {
    remote_eof_ = true;
    input_pending_ = true;  // a poll reports EOF once the buffer is empty
  };
  // Only records: freeing here would never send our CLOSE (LIBSSH_NOTES §5.2).
  events.close = [this] {
    remote_closed_ = true;
    input_pending_ = true;
  };
  if (!channel_.listen(std::move(events))) want_close();
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
  if (channel_.close() == ssh::Rc::kAgain) return;
  channel_.reset();  // callbacks first: a channel freed before the peer's CLOSE still fires them
}

void HostedChannel::abandon() {
  stop_local_once();
  channel_.abandon();  // libssh frees it with the session
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
  ssh::SessionRef session = channel_.session();
  return session && session.write_pending();
}

bool OutPump::flush(ssh::Channel& channel) {
  while (begin_ < end_) {
    std::uint32_t window = channel.window();
    if (window == 0) return true;  // a WINDOW_ADJUST will bring us back through service()
    std::string_view chunk(buf_.data() + begin_, std::min<std::size_t>(end_ - begin_, window));
    ssh::Io written = is_stderr_ ? channel.write_stderr(chunk) : channel.write(chunk);
    if (written.error) {
      failed_ = true;
      return false;
    }
    if (written.bytes == 0) return true;  // re-key in progress: libssh takes nothing; retried
    begin_ += written.bytes;
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
  if (!platform::is_end_of_output(ec)) failed_ = true;
}

InPump::Fill InPump::fill(ssh::Channel& channel, bool* pending) {
  if (!*pending || !wants_fill()) return Fill::kNothing;
  ssh::Io avail = channel.poll();
  if (avail.eof) {
    eof_ = true;
    *pending = false;
    return Fill::kEof;
  }
  if (avail.error) return Fill::kError;
  if (avail.bytes == 0) {
    *pending = false;
    return Fill::kNothing;
  }
  if (buf_.empty()) buf_.resize(kMax);
  ssh::Io n = channel.read(std::span(buf_.data(), std::min(avail.bytes, kMax)));
  if (n.eof) {
    eof_ = true;
    return Fill::kEof;
  }
  if (n.error) return Fill::kError;
  len_ = n.bytes;
  return n.bytes > 0 ? Fill::kData : Fill::kNothing;
}

void discard_stderr(ssh::Channel& channel, bool* pending) {
  char sink[4096];
  for (int i = 0; i < 16; ++i) {
    ssh::Io avail = channel.poll(true);
    if (avail.eof || avail.error || avail.bytes == 0) {
      *pending = false;
      return;
    }
    channel.read(sink, true);
  }
}

}  // namespace sb::agent::detail
