// Shell recordings as an admin sees them: a shared terminal and a private shell, driven through
// OpenSSH `ssh -tt`, leave asciicast v2 files under DATA_DIR/recordings/SESSION/ (mode 0600)
// whose output is exactly what the operator received; `asciinema cat` accepts them and
// `relay replay` plays the same bytes; --record-input adds the typed input; --no-record
// writes nothing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

std::vector<json> events_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<json> events;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) events.push_back(json::parse(line));
  return events;
}

// The concatenated data of every event with this code ("o" output, "i" input).
std::string stream_of(const fs::path& file, const std::string& code) {
  std::string out;
  for (const auto& e : events_of(file))
    if (e[1] == code) out += e[2].get<std::string>();
  return out;
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Recording : public SharedTerminalTest {
 protected:
  void start(std::vector<std::string> relay_args) {
    start_device({"alice", "erin"}, std::move(relay_args));
  }

  // Types `exit` and waits for ssh to end.
  void end_shell(const std::string& name) {
    type(name, "exit");
    EXPECT_TRUE(term(name).wait(10s)) << term(name).out();
  }

  fs::path session_dir() const { return relay_->data_dir() / "recordings" / id_; }
  std::vector<fs::path> recordings() const {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(session_dir(), ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
  }
  fs::path recording_ending(const std::string& suffix) const {
    for (const auto& f : recordings())
      if (f.filename().string().ends_with(suffix)) return f;
    return {};
  }
};

TEST_F(Recording, SharedShellIsRecordedByteForByteAndPlaysInAsciinemaAndReplay) {
  start({});
  open_terminal("alice");
  // Output with UTF-8 (é, €, a 4-byte emoji) typed as ASCII octal escapes, over several lines.
  type("alice",
       R"(printf 'caf\303\251 \342\202\254 \360\237\230\200\nline two\n'; echo DONE-$((6*7)))");
  ASSERT_TRUE(term("alice").wait_for_output("DONE-42", kSee)) << term("alice").out();
  ASSERT_NE(term("alice").out().find("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\r\nline two"),
            std::string::npos)
      << term("alice").out();
  type("alice", "exit 4");
  EXPECT_EQ(term("alice").wait(10s), 4) << term("alice").out();
  ASSERT_EQ(relay_->stop(), 0);  // every recording closed and flushed

  // The shared shell's exit status is in the member's channel row too.
  json story = relay_->admin_json({"session", "show", id_});
  ASSERT_EQ(story["attachments"].size(), 1u) << story.dump(2);
  ASSERT_EQ(story["attachments"][0]["channels"].size(), 1u) << story.dump(2);
  const json& shell = story["attachments"][0]["channels"][0];
  EXPECT_EQ(shell["kind"], "shell");
  EXPECT_EQ(shell["exit_status"], 4) << story.dump(2);

  auto file = recording_ending("_shared.cast");
  ASSERT_FALSE(file.empty()) << "no shared recording in " << session_dir();
  EXPECT_EQ(recordings().size(), 1u);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(session_dir()), 0700u);
  const std::string received = term("alice").out();
  EXPECT_EQ(stream_of(file, "o"), received) << "the recording differs from what alice received";
  EXPECT_TRUE(stream_of(file, "i").empty()) << "input recorded without --record-input";

  // asciinema needs a terminal for its own input: give it one, its output goes to a file.
  auto cat_out = tmp_ / "asciinema.out";
  auto cat =
      run({"/usr/bin/script", "-qec",
           "asciinema cat '" + file.string() + "' > '" + cat_out.string() + "'", "/dev/null"});
  EXPECT_EQ(cat.exit_code, 0) << cat.out << cat.err;
  EXPECT_EQ(read_all(cat_out), received);

  auto replay = relay_->admin({"replay", id_, "--speed", "1000"});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(replay.out, received);

  auto list = relay_->admin_json({"replay", id_, "--list"});
  ASSERT_EQ(list.size(), 1u) << list;
  EXPECT_EQ(list[0]["kind"], "shared");
  EXPECT_EQ(list[0]["path"], "recordings/" + id_ + "/" + file.filename().string());
  EXPECT_EQ(list[0]["bytes"], fs::file_size(file));
  EXPECT_EQ(list[0]["truncated"], false);
  // By its name, as --list shows it, the same recording plays.
  auto by_name = relay_->admin({"replay", file.filename().string(), "--speed", "1000"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(by_name.out, received);
}

TEST_F(Recording, OwnShellGetsItsOwnFileAndRecordInputRecordsTyping) {
  start({"--record-input"});
  open_terminal("alice");
  open_terminal("erin", "+own");
  type("erin", "echo OWN-$((6*7))-erin");
  ASSERT_TRUE(term("erin").wait_for_output("OWN-42-erin", kSee)) << term("erin").out();
  type("alice", "echo SHARED-$((6*7))-alice");
  ASSERT_TRUE(term("alice").wait_for_output("SHARED-42-alice", kSee)) << term("alice").out();
  end_shell("erin");
  end_shell("alice");
  ASSERT_EQ(relay_->stop(), 0);

  auto own = recording_ending("_own-erin.cast");
  auto shared = recording_ending("_shared.cast");
  ASSERT_FALSE(own.empty()) << "no recording of erin's own shell in " << session_dir();
  ASSERT_FALSE(shared.empty()) << "no shared recording in " << session_dir();
  EXPECT_EQ(mode_of(own), 0600u);
  EXPECT_EQ(stream_of(own, "o"), term("erin").out());
  EXPECT_EQ(stream_of(own, "o").find("SHARED-42"), std::string::npos);
  EXPECT_NE(stream_of(own, "i").find("echo OWN-$((6*7))-erin"), std::string::npos)
      << stream_of(own, "i");
  EXPECT_NE(stream_of(shared, "i").find("echo SHARED-$((6*7))-alice"), std::string::npos)
      << stream_of(shared, "i");
  EXPECT_EQ(stream_of(shared, "o").find("OWN-42"), std::string::npos);

  auto list = relay_->admin_json({"replay", id_, "--list"});
  ASSERT_EQ(list.size(), 2u) << list;
  auto own_row = find_by(list, "kind", "own");
  EXPECT_EQ(own_row["operator"], "erin") << list;
}

TEST_F(Recording, NoRecordWritesNothing) {
  start({"--no-record"});
  open_terminal("alice");
  type("alice", "echo QUIET-$((6*7))");
  ASSERT_TRUE(term("alice").wait_for_output("QUIET-42", kSee)) << term("alice").out();
  end_shell("alice");
  ASSERT_EQ(relay_->stop(), 0);
  EXPECT_FALSE(fs::exists(relay_->data_dir() / "recordings"));
  auto replay = relay_->admin({"replay", id_});
  EXPECT_NE(replay.exit_code, 0);
  EXPECT_NE(replay.err.find("no recordings of session"), std::string::npos) << replay.err;
}

TEST_F(Recording, SizeCapEndsTheRecordingWithAMarker) {
  start({"--record-max-size", "8K"});
  open_terminal("alice");
  type("alice",
       "i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxx; i=$((i+1)); done; "
       "echo END-$((6*7))");
  ASSERT_TRUE(term("alice").wait_for_output("END-42", kSee)) << term("alice").err();
  end_shell("alice");
  ASSERT_EQ(relay_->stop(), 0);
  auto file = recording_ending("_shared.cast");
  ASSERT_FALSE(file.empty());
  EXPECT_LE(fs::file_size(file), 8u * 1024);
  auto events = events_of(file);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()[1], "m") << events.back();
  EXPECT_EQ(stream_of(file, "o").find("END-42"), std::string::npos);
  auto list = relay_->admin_json({"replay", id_, "--list"});
  ASSERT_EQ(list.size(), 1u) << list;
  EXPECT_EQ(list[0]["truncated"], true);
  EXPECT_NE(relay_->process().err().find("reached its size limit"), std::string::npos);
}

// `relay replay` on a hand-made file: the pace is the recording's, divided by --speed, with idle
// stretches cut to --max-idle; it needs no relay and no database.
TEST(Replay, HonoursTimingSpeedAndMaxIdle) {
  TempDir tmp;
  auto file = tmp / "paced.cast";
  std::ofstream(file) << R"({"version": 2, "width": 80, "height": 24, "timestamp": 1795000000})"
                      << "\n"
                      << R"([0.0, "o", "one\r\n"])"
                      << "\n"
                      << R"([0.4, "r", "100x30"])"
                      << "\n"
                      << R"([0.4, "o", "two\r\n"])"
                      << "\n"
                      << R"([6.4, "o", "three\r\n"])"
                      << "\n";
  auto timed = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{relay_bin(), "replay", file.string(), "--data-dir",
                                  (tmp / "data").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto begin = std::chrono::steady_clock::now();
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "one\r\ntwo\r\nthree\r\n");
    return std::chrono::steady_clock::now() - begin;
  };
  // 0.4 s, then a 6 s gap cut to 0.5 s: about 0.9 s.
  auto paced = timed({"--max-idle", "500ms"});
  EXPECT_GE(paced, 850ms);
  EXPECT_LT(paced, 4s);
  // Twice as fast: about 0.45 s.
  auto fast = timed({"--max-idle", "500ms", "--speed", "2"});
  EXPECT_GE(fast, 400ms);
  EXPECT_LT(fast, paced);
}

}  // namespace
}  // namespace sb::e2e
