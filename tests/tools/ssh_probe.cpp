// sb-ssh-probe: a libssh client that does what OpenSSH will not, for the refusal tests
// (tests/e2e/refusal_test.cpp).
//
//   sb-ssh-probe HOST PORT KEY USER auth          one signed public-key request as USER
//   sb-ssh-probe HOST PORT KEY USER channels N    authenticate, then open up to N session
//                                                 channels on the one connection
//   sb-ssh-probe HOST PORT KEY USER forwards N DEST DEST_PORT [busy]
//                                                 authenticate, then send N direct-tcpip opens
//                                                 to DEST:DEST_PORT at once, without waiting
//                                                 for any answer; then use each one accepted.
//                                                 busy: two are open and in use before the
//                                                 others follow, behind 256 KiB of
//                                                 SSH_MSG_IGNORE
//   sb-ssh-probe HOST PORT KEY device hello JSON  as a device: open the control channel (the
//                                                 switchboard-agent subsystem), send JSON as
//                                                 the hello, print the relay's first line
//
// USER may carry bytes no command line can: "\xHH" is the byte HH, so "482913075\x00x" is a
// user name with a NUL in it, sent with all its 11 bytes and a valid signature over them.
// libssh measures a user name with strlen() when it packs the request, so this program gives
// its own strlen() to the whole process (libssh calls it through the dynamic linker), and for
// that one buffer alone answers the full length; every other string is measured by libc's.
//
// Output (one line on stdout): `auth=denied|success|partial|closed|again seconds=S` for auth
// (closed: the relay closed the connection instead of answering; again: no answer within 10 s),
// or `channels=K` with the number of channels the relay accepted, or `reply=LINE` for hello
// (empty when the relay sent no line within the time limit), or for forwards
// `forwards=K refused=R prohibited=P unanswered=U served=S`: K accepted, R refused, P of those
// refused as "administratively prohibited" (what the relay answers at its channel cap), U with
// no answer within the time limit, and S of the accepted ones through which "ping\n" came back
// as "echo:ping" (an echo service at DEST). Exit 0 when it ran, 2 on bad usage, 1 when it could
// not connect.
//
// The authentication runs non-blocking, watching the connection: a blocking libssh client
// does not notice a connection closed under it while it waits for an answer (its poll set is
// empty then, and it sleeps out its whole timeout).
#include <dlfcn.h>
#include <libssh/libssh.h>
#include <poll.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

// The crafted user name (constant-initialised: strlen may run before any constructor).
const char* g_user = nullptr;
std::size_t g_user_size = 0;

std::string decode_escapes(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "\\x") == 0 && i + 4 <= text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

const char* auth_name(int rc, ssh_session session) {
  if (rc == SSH_AUTH_ERROR ||
      (rc == SSH_AUTH_AGAIN && (ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR))))
    return "closed";
  switch (rc) {
    case SSH_AUTH_SUCCESS:
      return "success";
    case SSH_AUTH_DENIED:
      return "denied";
    case SSH_AUTH_PARTIAL:
      return "partial";
    case SSH_AUTH_AGAIN:
      return "again";
    default:
      return "error";
  }
}

// Non-blocking, so that a closed connection ends the wait at once.
int authenticate(ssh_session session, ssh_key key, std::chrono::seconds limit) {
  ssh_set_blocking(session, 0);
  auto deadline = std::chrono::steady_clock::now() + limit;
  int rc = SSH_AUTH_AGAIN;
  while (std::chrono::steady_clock::now() < deadline) {
    rc = ssh_userauth_publickey(session, g_user, key);
    if (rc != SSH_AUTH_AGAIN || (ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR))) break;
    pollfd waiting{ssh_get_fd(session), POLLIN, 0};
    if (waiting.fd < 0) break;
    poll(&waiting, 1, 50);
  }
  ssh_set_blocking(session, 1);
  return rc;
}

int open_channels(ssh_session session, int wanted) {
  std::vector<ssh_channel> open;
  for (int i = 0; i < wanted; ++i) {
    ssh_channel channel = ssh_channel_new(session);
    if (!channel || ssh_channel_open_session(channel) != SSH_OK) {
      if (channel) ssh_channel_free(channel);
      break;
    }
    open.push_back(channel);
  }
  int count = static_cast<int>(open.size());
  for (ssh_channel channel : open) ssh_channel_free(channel);
  return count;
}

struct ForwardCounts {
  int open = 0, refused = 0, prohibited = 0, unanswered = 0, served = 0;
};

// Every open is queued before any answer is read: the relay gets them all in one burst, as
// from `ssh -L` with many connections at once, or a client that never waits.
// busy: two channels are opened, and the first carries the service's first bytes, before the
// others are sent, behind 256 KiB of SSH_MSG_IGNORE: the relay reads at most 256 KiB per turn
// of a connection, so the opens are left in its read-ahead and reach it while it moves the
// first forward's data (a libssh call for that forward pumps the session and finds them).
ForwardCounts open_forwards(ssh_session session, int wanted, const std::string& dest, int port,
                            std::chrono::seconds limit, bool busy) {
  ForwardCounts counts;
  std::vector<ssh_channel> pending, open;
  std::string first_bytes;
  if (busy && wanted >= 2) {
    // Two forwards in use: the relay's walk over them is then past its first element when the
    // first one's libssh calls find the opens.
    for (int i = 0; i < 2; ++i) {
      ssh_channel channel = ssh_channel_new(session);
      if (!channel ||
          ssh_channel_open_forward(channel, dest.c_str(), port, "127.0.0.1", 9998 + i) != SSH_OK) {
        if (channel) ssh_channel_free(channel);
        return counts;
      }
      open.push_back(channel);
    }
    wanted -= 2;
    char buf[256];
    int n = ssh_channel_read_timeout(open.front(), buf, sizeof buf, 0,
                                     static_cast<int>(limit.count()) * 1000);
    if (n > 0) first_bytes.assign(buf, static_cast<std::size_t>(n));
  }
  ssh_set_blocking(session, 0);
  if (busy) {
    // 8 x 32 KiB: a little more than one turn's 64 reads of 4 KiB, so the opens come right
    // after what the relay reads in its first turn.
    const std::string filler(32 * 1024, 'x');
    for (int i = 0; i < 8; ++i) ssh_send_ignore(session, filler.c_str());
  }
  for (int i = 0; i < wanted; ++i) {
    ssh_channel channel = ssh_channel_new(session);
    if (!channel) break;
    int rc = ssh_channel_open_forward(channel, dest.c_str(), port, "127.0.0.1", 10000 + i);
    if (rc == SSH_OK) {
      open.push_back(channel);
    } else if (rc == SSH_AGAIN) {
      pending.push_back(channel);
    } else {
      ++counts.refused;
      if (std::strstr(ssh_get_error(session), "error (1)")) ++counts.prohibited;
      ssh_channel_free(channel);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline &&
         !(ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
    std::vector<ssh_channel> still;
    for (ssh_channel channel : pending) {
      int rc = ssh_channel_open_forward(channel, dest.c_str(), port, "127.0.0.1", 0);
      if (rc == SSH_OK) {
        open.push_back(channel);
      } else if (rc == SSH_AGAIN) {
        still.push_back(channel);
      } else {
        ++counts.refused;
        // "Channel opening failure: channel N error (1) ...": 1 is administratively prohibited.
        if (std::strstr(ssh_get_error(session), "error (1)")) ++counts.prohibited;
        ssh_channel_free(channel);
      }
    }
    pending.swap(still);
    if (pending.empty()) break;
    pollfd waiting{ssh_get_fd(session), POLLIN, 0};
    if (waiting.fd < 0) break;
    poll(&waiting, 1, 50);
  }
  counts.unanswered = static_cast<int>(pending.size());
  counts.open = static_cast<int>(open.size());
  // Each accepted channel is a connection to the echo service: all are asked first (a service
  // that serves one connection at a time answers them in turn as each one ends), then read.
  ssh_set_blocking(session, 1);
  for (ssh_channel channel : open) {
    ssh_channel_write(channel, "ping\n", 5);
    ssh_channel_send_eof(channel);
  }
  for (ssh_channel channel : open) {
    std::string got = channel == open.front() ? first_bytes : std::string();
    char buf[256];
    while (std::chrono::steady_clock::now() < deadline) {
      int n = ssh_channel_read_timeout(channel, buf, sizeof buf, 0, 1000);
      if (n > 0) got.append(buf, static_cast<std::size_t>(n));
      if (n < 0 || (n == 0 && ssh_channel_is_eof(channel))) break;
      if (got.find("echo:ping") != std::string::npos) break;
    }
    if (got.find("echo:ping") != std::string::npos) ++counts.served;
  }
  for (ssh_channel channel : open) ssh_channel_free(channel);
  for (ssh_channel channel : pending) ssh_channel_free(channel);
  return counts;
}

// The relay's first line on the control channel after `hello` ("" if none within `limit`).
std::string send_hello(ssh_session session, const std::string& hello, std::chrono::seconds limit) {
  ssh_set_blocking(session, 1);
  ssh_channel channel = ssh_channel_new(session);
  if (!channel) return "";
  std::string line;
  if (ssh_channel_open_session(channel) == SSH_OK &&
      ssh_channel_request_subsystem(channel, "switchboard-agent") == SSH_OK) {
    const std::string text = hello + "\n";
    ssh_channel_write(channel, text.data(), static_cast<std::uint32_t>(text.size()));
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[512];
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      int n = ssh_channel_read_timeout(channel, buf, sizeof buf, 0, 500);
      if (n > 0) line.append(buf, static_cast<std::size_t>(n));
      if (n < 0 || (n == 0 && ssh_channel_is_eof(channel))) break;
    }
  }
  ssh_channel_free(channel);
  return line.substr(0, line.find('\n'));
}

}  // namespace

extern "C" std::size_t strlen(const char* s) {
  using Strlen = std::size_t (*)(const char*);
  static Strlen libc_strlen = nullptr;
  if (g_user && s == g_user) return g_user_size;
  if (!libc_strlen) libc_strlen = reinterpret_cast<Strlen>(dlsym(RTLD_NEXT, "strlen"));
  return libc_strlen(s);
}

int main(int argc, char** argv) {
  if (argc < 6 || (std::string(argv[5]) == "channels" && argc < 7) ||
      (std::string(argv[5]) == "forwards" && argc < 9) ||
      (std::string(argv[5]) == "hello" && argc < 7)) {
    std::cerr << "usage: sb-ssh-probe HOST PORT KEY USER auth|channels N|forwards N DEST "
                 "PORT|hello JSON\n";
    return 2;
  }
  static const std::string user = decode_escapes(argv[4]);
  const std::string mode = argv[5];
  g_user = user.data();
  g_user_size = user.size();

  ssh_session session = ssh_new();
  int port = std::atoi(argv[2]);
  long timeout_s = 10;
  ssh_options_set(session, SSH_OPTIONS_HOST, argv[1]);
  ssh_options_set(session, SSH_OPTIONS_PORT, &port);
  ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout_s);
  ssh_options_set(session, SSH_OPTIONS_USER, "probe");  // replaced by `user` in the request
  if (ssh_connect(session) != SSH_OK) {
    std::cerr << "connect: " << ssh_get_error(session) << "\n";
    ssh_free(session);
    return 1;
  }
  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(argv[3], nullptr, nullptr, nullptr, &key) != SSH_OK) {
    std::cerr << "cannot read key " << argv[3] << "\n";
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  int rc = authenticate(session, key, std::chrono::seconds(timeout_s));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (mode == "channels" && rc == SSH_AUTH_SUCCESS) {
    std::cout << "channels=" << open_channels(session, std::atoi(argv[6])) << std::endl;
  } else if (mode == "forwards" && rc == SSH_AUTH_SUCCESS) {
    const bool busy = argc > 9 && std::string(argv[9]) == "busy";
    auto c = open_forwards(session, std::atoi(argv[6]), argv[7], std::atoi(argv[8]),
                           std::chrono::seconds(timeout_s), busy);
    std::cout << "forwards=" << c.open << " refused=" << c.refused << " prohibited=" << c.prohibited
              << " unanswered=" << c.unanswered << " served=" << c.served << std::endl;
  } else if (mode == "hello" && rc == SSH_AUTH_SUCCESS) {
    std::cout << "reply=" << send_hello(session, argv[6], std::chrono::seconds(timeout_s))
              << std::endl;
  } else
    std::cout << "auth=" << auth_name(rc, session) << " seconds=" << seconds << std::endl;
  ssh_key_free(key);
  ssh_disconnect(session);
  ssh_free(session);
  return 0;
}
