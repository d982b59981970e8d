// File transfer through the relay with plain OpenSSH: scp (SFTP since OpenSSH 9) up and down
// with checksums, scp -r, sftp -b, rsync -e ssh, operator-cli get/put; the device's user asked
// for "files", refusals (declined, no grant); the audit's byte counts and file names; a stalled
// downloader keeps the relay's memory bounded.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "bulk_data.hpp"
#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
constexpr const char* kFilesQuestion = "asks to copy files to and from this machine (sftp)";

std::uintmax_t size_of(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// OpenSSH's clients print this when the relay has not loaded a key registered a moment ago.
bool key_not_loaded_yet(const RunResult& r) {
  return r.exit_code != 0 && contains(r.err, "Permission denied (publickey");
}

// run(argv), again while the relay has not loaded the operator's key yet (up to 10 s).
RunResult run_client(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  RunResult r;
  wait_until(
      [&] {
        r = run(argv, options);
        return !key_not_loaded_yet(r);
      },
      10s);
  return r;
}

class FileTransfer : public OperatorTest {
 protected:
  // The OpenSSH options every client here uses, for operator `name`.
  std::vector<std::string> client_options(const std::string& name) const {
    return {"-i", op(name).key.string(),
            "-o", "IdentitiesOnly=yes",
            "-o", "UserKnownHostsFile=" + known_hosts_.string(),
            "-o", "StrictHostKeyChecking=accept-new",
            "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR"};
  }
  // `scp -F /dev/null -P PORT OPTIONS... ARGS...` (SFTP: OpenSSH 9's default).
  std::vector<std::string> scp(const std::string& name,
                               const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/usr/bin/scp", "-F", "/dev/null", "-P",
                                  std::to_string(relay_->port())};
    auto options = client_options(name);
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // USER@127.0.0.1:PATH, the session by default.
  std::string remote(const fs::path& path, const std::string& user = "") const {
    return (user.empty() ? id_ : user) + "@127.0.0.1:" + path.string();
  }
  // The session's channel.closed events for sftp channels, oldest first, once there are n.
  json sftp_channels(std::size_t n) {
    json found = json::array();
    wait_until([&] {
      found = json::array();
      auto rows = relay().admin_json({"audit", "--session", id_, "--kind", "channel"});
      for (auto it = rows.rbegin(); it != rows.rend(); ++it)
        if ((*it)["detail"].value("command", "") == "sftp") found.push_back((*it)["detail"]);
      return found.size() >= n;
    });
    return found;
  }
  // Runs a download (scp argv writing `target`, `size` bytes), stops scp (SIGSTOP) once 3 MiB
  // arrived until the file has not grown for `quiet`, then lets it finish; the download must
  // succeed. Returns how much the relay's RSS grew during the stall, above what it was when scp
  // stopped (what the relay took in while nobody read; the bulk transfer before the stall grows
  // the allocator's arenas by several MiB, which says nothing about buffering).
  std::size_t stalled_download(const std::vector<std::string>& argv, const fs::path& target,
                               std::size_t size, Millis quiet) {
    Process download(argv);
    EXPECT_TRUE(wait_until([&] { return size_of(target) >= 3 * kMiB; }, 15s))
        << "the download did not start: " << download.err();
    download.signal(SIGSTOP);
    const std::size_t at_stop = rss_of(relay().process().pid());
    std::size_t peak = at_stop;
    std::uintmax_t last = size_of(target);
    int unchanged = 0;
    EXPECT_TRUE(wait_until(
        [&] {
          peak = std::max(peak, rss_of(relay().process().pid()));
          std::uintmax_t now = size_of(target);
          unchanged = now == last ? unchanged + 1 : 0;
          last = now;
          return unchanged * 20ms >= quiet;  // polled every 20 ms
        },
        15s));
    download.signal(SIGCONT);
    EXPECT_EQ(download.wait(30s), 0) << download.err();
    EXPECT_LT(last, size) << "the stall came too late to test anything";
    return peak - at_stop;
  }
  std::size_t files_questions() const {
    std::size_t n = 0;
    for (const auto& q : consent_->questions()) n += q == kFilesQuestion;
    return n;
  }
};

// {"op": op, "path": path} is among the channel's recorded files.
bool names(const json& channel, const std::string& op, const std::string& path) {
  for (const auto& f : channel.value("files", json::array()))
    if (f.value("op", "") == op && f.value("path", "") == path) return true;
  return false;
}

TEST_F(FileTransfer, FiftyMiBUpAndDownWithScpArriveIntactThroughAStalledReader) {
  start_device({"alice"});
  const fs::path source = tmp_ / "source.bin", on_device = tmp_ / "on-device.bin",
                 back = tmp_ / "back.bin";
  write_random_file(source, 50 * kMiB);
  const std::string expected = sha256_of(source);

  auto start = std::chrono::steady_clock::now();
  auto up = run_client(scp("alice", {source.string(), remote(on_device)}));
  const double up_seconds = seconds_since(start);
  ASSERT_EQ(up.exit_code, 0) << up.err;
  RecordProperty("upload_seconds", std::to_string(up_seconds));
  // The download's reader stalls midway; SFTP's own window (at most 64 reads of 32 KiB in
  // flight) bounds what waits anyway, so the relay holds little.
  const std::size_t growth =
      stalled_download(scp("alice", {remote(on_device), back.string()}), back, 50 * kMiB, 500ms);
  if (!sanitized_binaries()) {
    EXPECT_LT(growth, 6 * kMiB) << "relay RSS grew by " << growth << " during the stall";
  }
  RecordProperty("relay_rss_growth_kib", std::to_string(growth / 1024));

  EXPECT_EQ(sha256_of(on_device), expected) << "the upload arrived altered";
  EXPECT_EQ(sha256_of(back), expected) << "the download arrived altered";

  // The device's user was asked for files, once per connection.
  EXPECT_EQ(files_questions(), 2u) << agent().out();

  // The audit: one sftp channel each way, its bytes, and the file it opened.
  auto channels = sftp_channels(2);
  ASSERT_EQ(channels.size(), 2u) << channels.dump(2);
  EXPECT_EQ(channels[0]["kind"], "subsystem");
  EXPECT_GE(channels[0]["bytes_in"].get<std::uint64_t>(), 50 * kMiB);
  EXPECT_LT(channels[0]["bytes_out"].get<std::uint64_t>(), kMiB);
  EXPECT_TRUE(names(channels[0], "write", on_device.string())) << channels[0].dump(2);
  EXPECT_GE(channels[1]["bytes_out"].get<std::uint64_t>(), 50 * kMiB);
  EXPECT_LT(channels[1]["bytes_in"].get<std::uint64_t>(), kMiB);
  EXPECT_TRUE(names(channels[1], "read", on_device.string())) << channels[1].dump(2);
  // The readable trail says the same.
  auto table = relay().admin({"audit", "--session", id_, "--kind", "channel"});
  EXPECT_TRUE(contains(table.out, "subsystem \"sftp\"")) << table.out;
  EXPECT_TRUE(contains(table.out, "write " + on_device.string().substr(0, 20))) << table.out;
}

TEST_F(FileTransfer, ScpRecursiveCopiesADirectoryBothWays) {
  start_device({"alice"});
  const fs::path tree = tmp_ / "tree";
  fs::create_directories(tree / "sub" / "deeper");
  std::ofstream(tree / "a.txt") << "first file\n";
  std::ofstream(tree / "sub" / "b.txt") << "second file\n";
  std::ofstream(tree / "sub" / "deeper" / "empty.txt");
  write_random_file(tree / "sub" / "deeper" / "c.bin", 300 * 1024 + 7);

  const fs::path on_device = tmp_ / "device-tree", back = tmp_ / "back-tree";
  auto up = run_client(scp("alice", {"-r", tree.string(), remote(on_device)}));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  auto down = run_client(scp("alice", {"-r", remote(on_device), back.string()}));
  ASSERT_EQ(down.exit_code, 0) << down.err;

  for (const char* file : {"a.txt", "sub/b.txt", "sub/deeper/empty.txt", "sub/deeper/c.bin"}) {
    EXPECT_EQ(sha256_of(on_device / file), sha256_of(tree / file)) << file;
    EXPECT_EQ(sha256_of(back / file), sha256_of(tree / file)) << file;
  }
  auto channels = sftp_channels(2);
  ASSERT_EQ(channels.size(), 2u);
  EXPECT_TRUE(names(channels[0], "mkdir", (on_device / "sub" / "deeper").string()))
      << channels[0].dump(2);
  EXPECT_TRUE(names(channels[0], "write", (on_device / "sub" / "deeper" / "c.bin").string()));
  EXPECT_TRUE(names(channels[1], "read", (on_device / "sub" / "b.txt").string()))
      << channels[1].dump(2);
}

TEST_F(FileTransfer, SftpBatchModeWorksAndIsNamedInTheAudit) {
  start_device({"alice"});
  const fs::path local = tmp_ / "local.txt", dir = tmp_ / "remote-dir", fetched = tmp_ / "got.txt";
  std::ofstream(local) << "through sftp -b\n";
  const fs::path batch = tmp_ / "batch";
  std::ofstream(batch) << "mkdir " << dir.string() << "\n"
                       << "put " << local.string() << " " << (dir / "f.txt").string() << "\n"
                       << "rename " << (dir / "f.txt").string() << " " << (dir / "g.txt").string()
                       << "\n"
                       << "ls " << dir.string() << "\n"
                       << "get " << (dir / "g.txt").string() << " " << fetched.string() << "\n"
                       << "rm " << (dir / "g.txt").string() << "\n"
                       << "rmdir " << dir.string() << "\n";
  std::vector<std::string> argv{
      "/usr/bin/sftp", "-F", "/dev/null", "-P", std::to_string(relay().port()), "-b",
      batch.string()};
  auto options = client_options("alice");
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(id_ + "@127.0.0.1");
  auto r = run_client(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "g.txt")) << r.out;  // the listing
  EXPECT_EQ(read_text(fetched), "through sftp -b\n");
  EXPECT_FALSE(fs::exists(dir));

  auto channels = sftp_channels(1);
  ASSERT_EQ(channels.size(), 1u);
  const json& c = channels[0];
  EXPECT_TRUE(names(c, "mkdir", dir.string())) << c.dump(2);
  EXPECT_TRUE(names(c, "write", (dir / "f.txt").string())) << c.dump(2);
  EXPECT_TRUE(names(c, "rename", (dir / "f.txt").string())) << c.dump(2);
  EXPECT_TRUE(names(c, "read", (dir / "g.txt").string())) << c.dump(2);
  EXPECT_TRUE(names(c, "remove", (dir / "g.txt").string())) << c.dump(2);
  EXPECT_TRUE(names(c, "rmdir", dir.string())) << c.dump(2);
}

TEST_F(FileTransfer, RsyncOverSshRunsRsyncServerOnTheDevice) {
  if (!fs::exists("/usr/bin/rsync")) GTEST_SKIP() << "rsync is not installed";
  start_device({"alice"});
  const fs::path source = tmp_ / "rsync-src", target = tmp_ / "rsync-dst";
  fs::create_directories(source / "nested");
  std::ofstream(source / "one.txt") << "rsync one\n";
  write_random_file(source / "nested" / "two.bin", 2 * kMiB + 3);

  std::string ssh_command = "/usr/bin/ssh -F /dev/null -p " + std::to_string(relay().port());
  for (const auto& word : client_options("alice")) ssh_command += " " + word;
  auto r = run_client(
      {"/usr/bin/rsync", "-a", "-e", ssh_command, source.string() + "/", remote(target) + "/"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_text(target / "one.txt"), "rsync one\n");
  EXPECT_EQ(sha256_of(target / "nested" / "two.bin"), sha256_of(source / "nested" / "two.bin"));
  // rsync runs `rsync --server ...` on the device: a command, asked for as one.
  bool asked = false;
  for (const auto& q : consent().questions())
    asked = asked || q.starts_with("asks to run a command: rsync --server");
  EXPECT_TRUE(asked) << agent().out();
}

TEST_F(FileTransfer, OperatorCliGetAndPutWrapScp) {
  start_device({"alice"});
  auto cli = [&](const std::string& verb, const fs::path& remote_path, const fs::path& local,
                 std::vector<std::string> extra = {}) {
    auto argv = operator_cli("alice", {verb, spaced_session_id(id_), remote_path.string(),
                                       local.string(), "-o", "BatchMode=yes"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_client(argv);
  };
  const fs::path local = tmp_ / "put-me.bin", on_device = tmp_ / "put-there.bin",
                 back = tmp_ / "got-back.bin";
  write_random_file(local, kMiB + 11);
  auto put = cli("put", on_device, local);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto get = cli("get", on_device, back);
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(sha256_of(back), sha256_of(local));

  // -r copies a directory; scp's own errors and exit status come through.
  const fs::path dir = tmp_ / "dir-to-put";
  fs::create_directories(dir);
  std::ofstream(dir / "x.txt") << "x\n";
  auto recursive = cli("put", tmp_ / "dir-there", dir, {"-r"});
  EXPECT_EQ(recursive.exit_code, 0) << recursive.err;
  EXPECT_EQ(read_text(tmp_ / "dir-there" / "x.txt"), "x\n");
  auto missing = cli("get", tmp_ / "no-such-file", tmp_ / "nothing");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(contains(missing.err, "No such file")) << missing.err;

  // --dry-run shows the scp command line.
  auto dry = run({operator_bin(), "get", id_, "/etc/hostname", "h.txt", "--relay", "127.0.0.1:2222",
                  "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out, "scp -P 2222 -- " + id_ + "@127.0.0.1:/etc/hostname h.txt \n");
}

TEST_F(FileTransfer, RefusedWhenTheDevicesUserSaysNo) {
  start_relay({"alice"});
  start_adhoc_agent({"--shell", "/bin/sh"}, "n");
  const fs::path source = tmp_ / "secret.txt", on_device = tmp_ / "should-not-exist.txt";
  std::ofstream(source) << "nope\n";
  auto up = run_client(scp("alice", {source.string(), remote(on_device)}));
  EXPECT_NE(up.exit_code, 0);
  EXPECT_TRUE(contains(up.err, "declined") || contains(up.err, "refused")) << up.err;
  EXPECT_FALSE(fs::exists(on_device));
  EXPECT_EQ(files_questions(), 1u) << agent().out();
  auto answered = relay().admin_json({"audit", "--session", id_, "--kind", "consent.answered"});
  ASSERT_TRUE(wait_until([&] {
    answered = relay().admin_json({"audit", "--session", id_, "--kind", "consent.answered"});
    return !answered.empty();
  }));
  EXPECT_EQ(answered[0]["detail"]["capability"], "files");
  EXPECT_EQ(answered[0]["detail"]["allow"], false);
}

// A device whose agent serves no SFTP (--sftp-server ""): the copy fails and says why, nothing is
// written, and the agent's log says why too.
TEST_F(FileTransfer, AnAgentWithoutAnSftpServerRefusesTheSubsystem) {
  start_relay({"alice"});
  start_adhoc_agent({"--shell", "/bin/sh", "--sftp-server", ""});
  const fs::path source = tmp_ / "up.txt", on_device = tmp_ / "not-copied.txt";
  std::ofstream(source) << "no sftp here\n";
  auto up = run_client(scp("alice", {source.string(), remote(on_device)}));
  EXPECT_NE(up.exit_code, 0);
  EXPECT_TRUE(contains(up.err, "the device refused the 'sftp' subsystem (it has no server for it"))
      << up.err;
  EXPECT_FALSE(fs::exists(on_device));
  EXPECT_TRUE(agent().wait_for_output("refused subsystem 'sftp': no SFTP server", 10s, true))
      << agent().err();
}

TEST_F(FileTransfer, EnrolledDeviceLetsTheGrantedOperatorInAndNobodyElse) {
  start_relay({"alice", "bob"});
  std::string token = create_enroll_token(relay(), "files-01");
  ASSERT_EQ(relay().admin({"grant", "add", "alice", "files-01"}).exit_code, 0);
  start_enrolled_agent(token);
  const fs::path source = tmp_ / "payload.txt";
  std::ofstream(source) << "granted\n";

  // alice (granted) copies by device name without anybody being asked.
  const fs::path alice_copy = tmp_ / "alice-copy.txt";
  RunResult granted;
  ASSERT_TRUE(wait_until([&] {  // until the relay has loaded the grant
    granted = run(scp("alice", {source.string(), remote(alice_copy, "files-01")}));
    return granted.exit_code == 0;
  })) << granted.err;
  EXPECT_EQ(read_text(alice_copy), "granted\n");

  // bob has a key but no grant: the same answer as an unknown session, nothing written.
  const fs::path bob_copy = tmp_ / "bob-copy.txt";
  auto refused = run_client(scp("bob", {source.string(), remote(bob_copy, "files-01")}));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(contains(refused.err, kNotAvailableText)) << refused.err;
  EXPECT_FALSE(fs::exists(bob_copy));
}

// The old scp protocol (-O: `scp -f` on the device) is a plain stream: while scp is stopped,
// only the relay's backpressure keeps the device from pushing the rest of the file into it.
TEST_F(FileTransfer, StalledStreamDownloadKeepsTheRelayBounded) {
  start_device({"alice"});
  constexpr std::size_t kSize = 20 * kMiB;
  const fs::path source = tmp_ / "big.bin", target = tmp_ / "big-copy.bin";
  write_random_file(source, kSize);
  std::ofstream(tmp_ / "small.txt") << "warm-up\n";
  auto ready =
      run_client(scp("alice", {"-O", (tmp_ / "small.txt").string(), remote(tmp_ / "warm.txt")}));
  ASSERT_EQ(ready.exit_code, 0) << ready.err;  // the relay has the key; scp's path is warm

  const std::size_t growth =
      stalled_download(scp("alice", {"-O", remote(source), target.string()}), target, kSize, 1s);
  EXPECT_EQ(sha256_of(target), sha256_of(source));
  // Without backpressure the relay would take in the 17 MiB scp had not read yet.
  if (!sanitized_binaries()) {
    EXPECT_LT(growth, 6 * kMiB) << "relay RSS grew by " << growth << " during the stall";
  }
  RecordProperty("relay_rss_growth_kib", std::to_string(growth / 1024));
}

}  // namespace
}  // namespace sb::e2e
