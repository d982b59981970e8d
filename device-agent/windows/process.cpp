// Operator processes on Windows: CreateProcess with three overlapped pipes, or attached to a
// pseudo console (ConPTY) for a terminal; a job object so that ending one ends everything it
// started; the process handle tells when it ended.
//
// Our ends of the pipes are overlapped named pipes (Asio's stream_handle needs overlapped I/O);
// the child's ends are ordinary handles. A "signal" request has one equivalent on Windows:
// ending the job (reported back as that signal).
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/windows/object_handle.hpp>
#include <cwctype>
#include <map>
#include <thread>
#include <vector>

#include "device-agent/platform/process.hpp"
#include "device-agent/windows/win_text.hpp"

namespace sb::agent::platform {

namespace {

namespace asio = boost::asio;
using win::error_text;
using win::to_utf8;
using win::to_wide;

constexpr DWORD kPipeBuffer = 64 * 1024;

class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
  Handle(Handle&& o) noexcept : h_(o.release()) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  ~Handle() { reset(); }
  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }
  HANDLE release() { return std::exchange(h_, nullptr); }
  void reset(HANDLE h = nullptr) {
    if (h_) ::CloseHandle(h_);
    h_ = h;
  }

 private:
  HANDLE h_ = nullptr;
};

// A pipe whose one end is ours (overlapped, for Asio) and whose other end is the child's (or
// the pseudo console's). we_read: data flows from them to us.
bool make_pipe(bool we_read, bool theirs_inheritable, Handle* ours, Handle* theirs,
               std::string* error) {
  static std::atomic<unsigned> counter{0};
  const std::wstring name = L"\\\\.\\pipe\\switchboard-agent-" +
                            std::to_wstring(::GetCurrentProcessId()) + L"-" +
                            std::to_wstring(counter++);
  const DWORD access = (we_read ? PIPE_ACCESS_INBOUND : PIPE_ACCESS_OUTBOUND) |
                       FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
  Handle server(::CreateNamedPipeW(
      name.c_str(), access,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, kPipeBuffer,
      kPipeBuffer, 0, nullptr));
  if (!server) {
    *error = "cannot create a pipe: " + error_text(::GetLastError());
    return false;
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, nullptr, theirs_inheritable ? TRUE : FALSE};
  Handle client(::CreateFileW(name.c_str(), we_read ? GENERIC_WRITE : GENERIC_READ, 0, &sa,
                              OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!client) {
    *error = "cannot open a pipe: " + error_text(::GetLastError());
    return false;
  }
  *ours = std::move(server);
  *theirs = std::move(client);
  return true;
}

// Quoting that CommandLineToArgvW and the C runtime undo.
std::wstring quote_arg(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  for (auto it = arg.begin();; ++it) {
    std::size_t backslashes = 0;
    while (it != arg.end() && *it == L'\\') ++it, ++backslashes;
    if (it == arg.end()) {
      out.append(backslashes * 2, L'\\');
      break;
    }
    if (*it == L'"') {
      out.append(backslashes * 2 + 1, L'\\');
      out.push_back(L'"');
    } else {
      out.append(backslashes, L'\\');
      out.push_back(*it);
    }
  }
  out.push_back(L'"');
  return out;
}

std::wstring lower(std::wstring s) {
  std::transform(s.begin(), s.end(), s.begin(), [](wchar_t c) { return std::towlower(c); });
  return s;
}

std::wstring base_name(const std::wstring& path) {
  auto slash = path.find_last_of(L"\\/");
  std::wstring name = slash == std::wstring::npos ? path : path.substr(slash + 1);
  return lower(name);
}

std::wstring comspec() {
  wchar_t buf[MAX_PATH] = {};
  DWORD n = ::GetEnvironmentVariableW(L"ComSpec", buf, MAX_PATH);
  return n > 0 && n < MAX_PATH ? std::wstring(buf, n) : L"cmd.exe";
}

// exec runs through the system's command interpreter (as /bin/sh -c on POSIX); a shell is
// the --shell program alone.
std::wstring command_line(const ProcessRequest& request) {
  if (!request.program.empty()) return quote_arg(to_wide(request.program));
  if (!request.command) return quote_arg(to_wide(request.shell));
  const std::wstring shell = comspec();
  const std::wstring name = base_name(shell);
  std::wstring flag = L"-c";
  if (name == L"cmd.exe" || name == L"cmd") flag = L"/c";
  if (name == L"powershell.exe" || name == L"pwsh.exe") flag = L"-Command";
  // cmd.exe parses the rest of its command line itself: the command goes in as it came.
  return quote_arg(shell) + L" " + flag + L" " + to_wide(*request.command);
}

// The agent's environment (Windows programs need SystemRoot, PATH, ...) with the operator's
// accepted variables on top; sorted case-insensitively, as Windows expects.
std::vector<wchar_t> environment_block(const ProcessRequest& request) {
  std::map<std::wstring, std::wstring> env;  // UPPER name -> "Name=value"
  if (wchar_t* block = ::GetEnvironmentStringsW()) {
    for (const wchar_t* p = block; *p; p += std::wcslen(p) + 1) {
      std::wstring entry(p);
      auto eq = entry.find(L'=', 1);  // "=C:=C:\..." entries start with '='
      if (eq == std::wstring::npos) continue;
      env[lower(entry.substr(0, eq))] = entry;
    }
    ::FreeEnvironmentStringsW(block);
  }
  auto set = [&env](const std::string& name, const std::string& value) {
    env[lower(to_wide(name))] = to_wide(name) + L"=" + to_wide(value);
  };
  for (const auto& [name, value] : request.env) set(name, value);
  if (request.pty && !request.term.empty()) set("TERM", request.term);
  std::vector<wchar_t> out;
  for (const auto& [key, entry] : env) {
    out.insert(out.end(), entry.begin(), entry.end());
    out.push_back(L'\0');
  }
  out.push_back(L'\0');
  return out;
}

std::wstring working_dir() {
  wchar_t buf[MAX_PATH] = {};
  DWORD n = ::GetEnvironmentVariableW(L"USERPROFILE", buf, MAX_PATH);
  if (n == 0 || n >= MAX_PATH) return {};
  DWORD attributes = ::GetFileAttributesW(buf);
  if (attributes == INVALID_FILE_ATTRIBUTES || !(attributes & FILE_ATTRIBUTE_DIRECTORY)) return {};
  return std::wstring(buf, n);
}

COORD to_coord(const PtySize& size) {
  return {static_cast<SHORT>(std::clamp(size.cols, 1, 32767)),
          static_cast<SHORT>(std::clamp(size.rows, 1, 32767))};
}

// ClosePseudoConsole may wait until its last output was read, which only our reactor does:
// it runs on a thread of its own.
void close_pseudo_console_later(HPCON console) {
  if (!console) return;
  std::thread([console] { ::ClosePseudoConsole(console); }).detach();
}

class AttributeList {
 public:
  explicit AttributeList(DWORD count) {
    SIZE_T size = 0;
    ::InitializeProcThreadAttributeList(nullptr, count, 0, &size);
    buf_.resize(size);
    list_ = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(buf_.data());
    if (!::InitializeProcThreadAttributeList(list_, count, 0, &size)) list_ = nullptr;
  }
  ~AttributeList() {
    if (list_) ::DeleteProcThreadAttributeList(list_);
  }
  LPPROC_THREAD_ATTRIBUTE_LIST get() const { return list_; }

 private:
  std::vector<char> buf_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

class WindowsProcess final : public Process {
 public:
  explicit WindowsProcess(const asio::any_io_executor& executor)
      : executor_(executor), exit_wait_(executor) {}
  ~WindowsProcess() override { stop(); }

  bool start(const ProcessRequest& request, std::function<void()> on_exit, std::string* error) {
    Handle in_ours, in_theirs, out_ours, out_theirs, err_ours, err_theirs;
    // A subsystem's server speaks a binary protocol: pipes, never a pseudo console.
    const bool pty = request.pty.has_value() && request.program.empty();
    if (!make_pipe(false, !pty, &in_ours, &in_theirs, error) ||
        !make_pipe(true, !pty, &out_ours, &out_theirs, error) ||
        (!pty && !make_pipe(true, true, &err_ours, &err_theirs, error)))
      return false;
    if (pty) {
      HRESULT hr = ::CreatePseudoConsole(to_coord(*request.pty), in_theirs.get(), out_theirs.get(),
                                         0, &console_);
      if (FAILED(hr)) {
        *error = "cannot create a pseudo console: " + error_text(static_cast<DWORD>(hr));
        return false;
      }
    }

    AttributeList attributes(1);
    if (!attributes.get()) {
      *error = "cannot prepare the process attributes: " + error_text(::GetLastError());
      return false;
    }
    STARTUPINFOEXW si{};
    si.StartupInfo.cb = sizeof si;
    si.lpAttributeList = attributes.get();
    // With a pseudo console: no standard handles of ours may reach the child (it would write
    // to them instead of the console), so STARTF_USESTDHANDLES with none at all.
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    HANDLE inherited[3] = {in_theirs.get(), out_theirs.get(), err_theirs.get()};
    if (pty) {
      if (!::UpdateProcThreadAttribute(attributes.get(), 0, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE,
                                       console_, sizeof console_, nullptr, nullptr)) {
        *error = "cannot attach the pseudo console: " + error_text(::GetLastError());
        return false;
      }
    } else {
      si.StartupInfo.hStdInput = inherited[0];
      si.StartupInfo.hStdOutput = inherited[1];
      si.StartupInfo.hStdError = inherited[2];
      // Only these three handles are inherited, not whatever else is inheritable right now.
      ::UpdateProcThreadAttribute(attributes.get(), 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited,
                                  sizeof inherited, nullptr, nullptr);
    }

    std::wstring cmdline = command_line(request);
    std::vector<wchar_t> env = environment_block(request);
    std::wstring cwd = working_dir();
    DWORD flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED |
                  CREATE_NEW_PROCESS_GROUP;
    if (!pty) flags |= CREATE_NO_WINDOW;
    PROCESS_INFORMATION pi{};
    if (!::CreateProcessW(nullptr, cmdline.data(), nullptr, nullptr, pty ? FALSE : TRUE, flags,
                          env.data(), cwd.empty() ? nullptr : cwd.c_str(), &si.StartupInfo, &pi)) {
      *error = "cannot start " + to_utf8(cmdline) + ": " + error_text(::GetLastError());
      return false;
    }
    process_.reset(pi.hProcess);
    Handle thread(pi.hThread);
    pid_ = pi.dwProcessId;
    // Everything it starts stays in its job, so ending the job ends them all.
    job_.reset(::CreateJobObjectW(nullptr, nullptr));
    if (job_) {
      JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
      limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
      ::SetInformationJobObject(job_.get(), JobObjectExtendedLimitInformation, &limits,
                                sizeof limits);
      if (!::AssignProcessToJobObject(job_.get(), process_.get())) job_.reset();
    }
    ::ResumeThread(thread.get());

    in_.emplace(executor_, in_ours.release());
    out_.emplace(executor_, out_ours.release());
    if (err_ours) err_.emplace(executor_, err_ours.release());
    // The child (or the pseudo console) holds its own copies of its ends; ours would keep the
    // pipes from ever reporting EOF.
    in_theirs.reset(), out_theirs.reset(), err_theirs.reset();

    HANDLE wait_copy = nullptr;
    if (::DuplicateHandle(::GetCurrentProcess(), process_.get(), ::GetCurrentProcess(), &wait_copy,
                          SYNCHRONIZE, FALSE, 0)) {
      exit_wait_.assign(wait_copy);
      std::weak_ptr<int> alive = alive_;
      exit_wait_.async_wait([alive, on_exit](const boost::system::error_code& ec) {
        if (!ec && !alive.expired() && on_exit) on_exit();
      });
    }
    return true;
  }

  Stream* input() override { return in_ ? &*in_ : nullptr; }
  Stream* output() override { return out_ ? &*out_ : nullptr; }
  Stream* error_output() override { return err_ ? &*err_ : nullptr; }
  void close_input() override { close_stream(in_); }

  void resize(const PtySize& size) override {
    if (console_) ::ResizePseudoConsole(console_, to_coord(size));  // Wine 8: E_NOTIMPL
  }

  bool signal(const std::string& name) override {
    static const char* const kEnding[] = {"INT", "TERM", "KILL", "HUP", "QUIT", "ABRT"};
    if (std::find_if(std::begin(kEnding), std::end(kEnding),
                     [&](const char* s) { return name == s; }) == std::end(kEnding))
      return false;
    if (exited_ || !process_) return true;
    if (signal_.empty()) signal_ = name;
    terminate();
    return true;
  }

  std::optional<ExitStatus> poll_exit() override {
    if (exited_ || !process_) return std::nullopt;
    if (::WaitForSingleObject(process_.get(), 0) != WAIT_OBJECT_0) return std::nullopt;
    exited_ = true;
    DWORD code = 0;
    ExitStatus status;
    if (!::GetExitCodeProcess(process_.get(), &code)) code = 255;
    if (!signal_.empty())
      status.signal = signal_;
    else
      status.code = static_cast<int>(code);
    return status;
  }

  bool drain_synchronously() const override { return false; }

  // The pseudo console keeps its output pipe open until it is closed: closing it flushes the
  // last output and then ends the pipe, which is our EOF.
  void on_exited() override { close_pseudo_console_later(std::exchange(console_, nullptr)); }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (!exited_ && process_) terminate();
    exited_ = true;
    boost::system::error_code ignored;
    exit_wait_.cancel(ignored);
    close_stream(in_), close_stream(out_), close_stream(err_);
    close_pseudo_console_later(std::exchange(console_, nullptr));
  }

  long id() const override { return static_cast<long>(pid_); }

 private:
  void terminate() {
    if (job_ && ::TerminateJobObject(job_.get(), 1)) return;
    if (process_) ::TerminateProcess(process_.get(), 1);
  }

  static void close_stream(std::optional<Stream>& s) {
    if (!s) return;
    boost::system::error_code ignored;
    s->close(ignored);  // pending operations complete with operation_aborted
    s.reset();
  }

  asio::any_io_executor executor_;
  Handle process_, job_;
  DWORD pid_ = 0;
  HPCON console_ = nullptr;
  std::optional<Stream> in_, out_, err_;
  asio::windows::object_handle exit_wait_;
  std::string signal_;
  bool exited_ = false;
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace

std::unique_ptr<Process> start_process(const asio::any_io_executor& executor,
                                       const ProcessRequest& request, std::function<void()> on_exit,
                                       std::string* error) {
  auto process = std::make_unique<WindowsProcess>(executor);
  if (!process->start(request, std::move(on_exit), error)) return nullptr;
  return process;
}

// Each process waits on its own handle (start_process's on_exit): nothing to watch here.
struct ChildWatch::Impl {};
ChildWatch::ChildWatch(const asio::any_io_executor&, std::function<void()>) {}
ChildWatch::~ChildWatch() = default;

bool is_end_of_output(const boost::system::error_code& ec) {
  // A pipe whose writer closed its end reports a broken pipe.
  return ec == asio::error::eof || ec == asio::error::broken_pipe;
}

std::string default_shell() {
  return to_utf8(comspec());
}

void ignore_broken_pipes() {}  // no SIGPIPE: writes to a closed pipe fail with an error

bool process_alive(long pid) {
  if (pid <= 0) return false;
  Handle h(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE,
                         static_cast<DWORD>(pid)));
  if (!h) return ::GetLastError() == ERROR_ACCESS_DENIED;  // exists, but not ours to open
  return ::WaitForSingleObject(h.get(), 0) == WAIT_TIMEOUT;
}

long current_process_id() {
  return static_cast<long>(::GetCurrentProcessId());
}

}  // namespace sb::agent::platform
