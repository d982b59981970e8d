#include "common/ssh/channel.hpp"

#include <utility>

namespace sb::ssh {

namespace {

std::string_view view_of(const char* s) {
  return s ? std::string_view(s) : std::string_view();
}

ChannelEvents& channel_events_of(void* userdata) {
  return *static_cast<ChannelEvents*>(userdata);
}

// libssh's request callbacks answer 0 to accept and -1 to refuse.
int answer(bool accept) {
  return accept ? 0 : -1;
}

int on_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr, void* userdata) {
  std::size_t taken = channel_events_of(userdata).data(
      std::string_view(static_cast<const char*>(data), len), is_stderr);
  return static_cast<int>(std::min<std::size_t>(taken, len));
}

void on_eof(ssh_session, ssh_channel, void* userdata) {
  channel_events_of(userdata).eof();
}

void on_close(ssh_session, ssh_channel, void* userdata) {
  channel_events_of(userdata).close();
}

void on_signal(ssh_session, ssh_channel, const char* signal, void* userdata) {
  channel_events_of(userdata).signal(view_of(signal));
}

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
  channel_events_of(userdata).exit_status(status);
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int core, const char*,
                    const char*, void* userdata) {
  channel_events_of(userdata).exit_signal(view_of(signal), core != 0);
}

int on_pty(ssh_session, ssh_channel, const char* term, int cols, int rows, int px, int py,
           void* userdata) {
  return answer(channel_events_of(userdata).pty(PtyRequest{view_of(term), cols, rows, px, py}));
}

int on_shell(ssh_session, ssh_channel, void* userdata) {
  return answer(channel_events_of(userdata).shell());
}

int on_exec(ssh_session, ssh_channel, const char* command, void* userdata) {
  return answer(channel_events_of(userdata).exec(view_of(command)));
}

int on_env(ssh_session, ssh_channel, const char* name, const char* value, void* userdata) {
  return answer(channel_events_of(userdata).env(view_of(name), view_of(value)));
}

int on_subsystem(ssh_session, ssh_channel, const char* name, void* userdata) {
  return answer(channel_events_of(userdata).subsystem(view_of(name)));
}

int on_window_change(ssh_session, ssh_channel, int cols, int rows, int px, int py, void* userdata) {
  return answer(channel_events_of(userdata).window_change(WindowSize{cols, rows, px, py}));
}

// Only the events that are set get a libssh function: an unset one keeps libssh's default.
void fill_table(ssh_channel_callbacks_struct& table, const ChannelEvents& e) {
  if (e.data) table.channel_data_function = &on_data;
  if (e.eof) table.channel_eof_function = &on_eof;
  if (e.close) table.channel_close_function = &on_close;
  if (e.signal) table.channel_signal_function = &on_signal;
  if (e.exit_status) table.channel_exit_status_function = &on_exit_status;
  if (e.exit_signal) table.channel_exit_signal_function = &on_exit_signal;
  if (e.pty) table.channel_pty_request_function = &on_pty;
  if (e.shell) table.channel_shell_request_function = &on_shell;
  if (e.exec) table.channel_exec_request_function = &on_exec;
  if (e.env) table.channel_env_request_function = &on_env;
  if (e.subsystem) table.channel_subsystem_request_function = &on_subsystem;
  if (e.window_change) table.channel_pty_window_change_function = &on_window_change;
}

Io io_from(int rc) {
  if (rc == SSH_EOF) return Io{0, true, false};
  if (rc < 0) return Io{0, false, true};
  return Io{static_cast<std::size_t>(rc), false, false};
}

}  // namespace

ChannelCallbacks::ChannelCallbacks(ssh_channel channel, ChannelEvents events)
    : channel_(channel), events_(std::move(events)) {
  ssh_callbacks_init(&table_);
  table_.userdata = &events_;
  fill_table(table_, events_);
  installed_ = ssh_set_channel_callbacks(channel_, &table_) == SSH_OK;
}

ChannelCallbacks::~ChannelCallbacks() {
  if (installed_) ssh_remove_channel_callbacks(channel_, &table_);
}

Channel Channel::create(SessionRef session) {
  return Channel(session ? ssh_channel_new(session.raw()) : nullptr);
}

Channel::Channel(Channel&& other) noexcept
    : raw_(std::exchange(other.raw_, nullptr)), callbacks_(std::move(other.callbacks_)) {}

Channel& Channel::operator=(Channel&& other) noexcept {
  if (this != &other) {
    reset();
    raw_ = std::exchange(other.raw_, nullptr);
    callbacks_ = std::move(other.callbacks_);
  }
  return *this;
}

SessionRef Channel::session() const {
  return SessionRef(raw_ ? ssh_channel_get_session(raw_) : nullptr);
}

bool Channel::listen(ChannelEvents events) {
  if (!raw_) return false;
  callbacks_.reset();  // the old table is removed before the new one goes in
  callbacks_.reset(new ChannelCallbacks(raw_, std::move(events)));
  return callbacks_->installed();
}

Rc Channel::open_session() {
  return to_rc(ssh_channel_open_session(raw_));
}

Rc Channel::open_forward(const std::string& host, int port, const std::string& origin_host,
                         int origin_port) {
  return to_rc(
      ssh_channel_open_forward(raw_, host.c_str(), port, origin_host.c_str(), origin_port));
}

Rc Channel::open_reverse_forward(const std::string& host, int port, const std::string& origin_host,
                                 int origin_port) {
  return to_rc(
      ssh_channel_open_reverse_forward(raw_, host.c_str(), port, origin_host.c_str(), origin_port));
}

Rc Channel::request_pty(const std::string& term, int cols, int rows) {
  return to_rc(ssh_channel_request_pty_size(raw_, term.c_str(), cols, rows));
}

Rc Channel::request_shell() {
  return to_rc(ssh_channel_request_shell(raw_));
}

Rc Channel::request_exec(const std::string& command) {
  return to_rc(ssh_channel_request_exec(raw_, command.c_str()));
}

Rc Channel::request_env(const std::string& name, const std::string& value) {
  return to_rc(ssh_channel_request_env(raw_, name.c_str(), value.c_str()));
}

Rc Channel::request_subsystem(const std::string& name) {
  return to_rc(ssh_channel_request_subsystem(raw_, name.c_str()));
}

Rc Channel::change_window(int cols, int rows) {
  return to_rc(ssh_channel_change_pty_size(raw_, cols, rows));
}

Rc Channel::send_signal(const std::string& name) {
  return to_rc(ssh_channel_request_send_signal(raw_, name.c_str()));
}

Rc Channel::send_exit_status(int status) {
  return to_rc(ssh_channel_request_send_exit_status(raw_, status));
}

Rc Channel::send_exit_signal(const std::string& signal, bool core_dumped,
                             const std::string& message) {
  return to_rc(ssh_channel_request_send_exit_signal(raw_, signal.c_str(), core_dumped ? 1 : 0,
                                                    message.c_str(), ""));
}

Io Channel::read(std::span<char> into, bool is_stderr) {
  auto len = static_cast<uint32_t>(std::min<std::size_t>(into.size(), UINT32_MAX));
  return io_from(ssh_channel_read_nonblocking(raw_, into.data(), len, is_stderr ? 1 : 0));
}

Io Channel::poll(bool is_stderr) {
  return io_from(ssh_channel_poll(raw_, is_stderr ? 1 : 0));
}

Io Channel::write(std::string_view data) {
  auto len = static_cast<uint32_t>(std::min<std::size_t>(data.size(), UINT32_MAX));
  return io_from(ssh_channel_write(raw_, data.data(), len));
}

Io Channel::write_stderr(std::string_view data) {
  auto len = static_cast<uint32_t>(std::min<std::size_t>(data.size(), UINT32_MAX));
  return io_from(ssh_channel_write_stderr(raw_, data.data(), len));
}

std::uint32_t Channel::window() const {
  return raw_ ? ssh_channel_window_size(raw_) : 0;
}

Rc Channel::send_eof() {
  return to_rc(ssh_channel_send_eof(raw_));
}

Rc Channel::close() {
  return to_rc(ssh_channel_close(raw_));
}

bool Channel::is_open() const {
  return raw_ && ssh_channel_is_open(raw_);
}

bool Channel::is_eof() const {
  return raw_ && ssh_channel_is_eof(raw_);
}

bool Channel::is_closed() const {
  return !raw_ || ssh_channel_is_closed(raw_);
}

void Channel::reset() {
  callbacks_.reset();  // before the free: a freed channel may still fire them (libssh 0.10)
  if (raw_) ssh_channel_free(std::exchange(raw_, nullptr));
}

void Channel::abandon() {
  callbacks_.reset();
  raw_ = nullptr;
}

}  // namespace sb::ssh
